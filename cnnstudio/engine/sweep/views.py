"""What the window's Sweep panel draws, read from a study's storage: the trials as plain
dataclasses (no Optuna object leaves this module, so the window never imports optuna) and the
parameters' importance. Reading is safe while workers write: SQLite waits for their locks
(study.SQLITE_TIMEOUT_S) and every error becomes one line (ViewError)."""

from __future__ import annotations

import functools
import math
import sqlite3
import warnings
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from .study import SQLITE_TIMEOUT_S, open_storage, quiet

MIN_COMPLETE = 3
"""Fewer complete trials than this say nothing about which parameter matters."""
STATES = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned",
          TrialState.FAIL: "failed", TrialState.RUNNING: "running",
          TrialState.WAITING: "waiting"}


class ViewError(ValueError):
    """A storage or study that cannot be read (one line, for the user)."""


@dataclass(frozen=True)
class TrialPoint:
    number: int
    state: str
    params: dict[str, Any]
    values: list[float] | None
    started: datetime | None = None


@dataclass(frozen=True)
class ParamInfo:
    """A parameter's axis: numbers (``log`` when sampled on a log scale) or choices, drawn as
    their indices."""

    name: str
    numeric: bool
    log: bool = False
    choices: tuple = ()

    def position(self, value: Any) -> float:
        """Where ``value`` sits on this parameter's axis (log10 for a log axis)."""
        if not self.numeric:
            return float(self.choices.index(value)) if value in self.choices else math.nan
        number = float(value)
        return math.log10(number) if self.log and number > 0 else number


@dataclass(frozen=True)
class StudyData:
    name: str
    directions: list[str]
    trials: list[TrialPoint] = field(default_factory=list)
    params: list[ParamInfo] = field(default_factory=list)

    @property
    def complete(self) -> list[TrialPoint]:
        return [t for t in self.trials if t.state == "complete" and t.values]

    def best_so_far(self, objective: int = 0) -> list[float]:
        """The best value up to each complete trial, in trial order (the history's line)."""
        better = max if self.directions[objective] == "maximize" else min
        out: list[float] = []
        for t in self.complete:
            value = t.values[objective]
            out.append(value if not out else better(out[-1], value))
        return out

    def pareto(self) -> list[int]:
        """Numbers of the complete trials no other complete trial beats on every objective."""
        signs = [1.0 if d == "maximize" else -1.0 for d in self.directions]
        points = [(t.number, [s * v for s, v in zip(signs, t.values)]) for t in self.complete]

        def beaten(a: list[float]) -> bool:
            return any(all(x >= y for x, y in zip(b, a)) and b != a for _, b in points)

        return [n for n, p in points if not beaten(p)]


@dataclass(frozen=True)
class Importance:
    """Each parameter's share of the objective's variance (largest first), or None with why."""

    values: dict[str, float] | None
    reason: str = ""


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (None for other URLs)."""
    prefix = "sqlite:///"
    return Path(url[len(prefix):]) if url.startswith(prefix) else None


@functools.lru_cache(maxsize=4)
def _storage(url: str) -> optuna.storages.RDBStorage:
    """One storage (and connection pool) per URL, not one per refresh."""
    return open_storage(url)


def sqlite_ready(path: Path) -> bool:
    """Whether a SQLite storage file exists and Optuna has finished making its tables. Asked
    read-only: opening a storage that a sweep is creating would create its tables a second
    time, and one of the two would fail ("UNIQUE constraint failed: alembic_version")."""
    if not path.exists():
        return False
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                     timeout=SQLITE_TIMEOUT_S)) as db:
            return db.execute("SELECT count(*) FROM alembic_version").fetchone()[0] > 0
    except sqlite3.DatabaseError as exc:  # not a database at all: Optuna's error says so
        return "no such table" not in str(exc)


def _check_file(url: str) -> None:
    path = sqlite_path(url)
    if path is None:
        return
    if not path.exists():  # opening it would create an empty database
        raise ViewError(f"no sweep yet: {path.name} does not exist")
    if not sqlite_ready(path):
        raise ViewError(f"no sweep yet: {path.name} holds no study (yet)")


def _study(url: str, name: str) -> optuna.Study:
    path = sqlite_path(url)
    _check_file(url)
    try:
        with quiet():
            return optuna.load_study(study_name=name, storage=_storage(url))
    except KeyError:
        names = ", ".join(study_names(url)) or "none"
        raise ViewError(f"no study {name!r} in {path.name if path else url} "
                        f"(studies: {names})") from None
    except ViewError:
        raise
    except Exception as exc:  # SQLAlchemy's and the drivers' errors have no common base
        raise ViewError(_line(exc)) from None


def _line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text


def study_names(url: str) -> list[str]:
    """The studies a storage holds (for the picker); none in a SQLite file not made yet."""
    path = sqlite_path(url)
    if path is not None and not (path.exists() and sqlite_ready(path)):
        return []
    try:
        return [s.study_name for s in _storage(url).get_all_studies()]
    except Exception as exc:
        raise ViewError(_line(exc)) from None


def study_data(storage_url: str, study_name: str) -> StudyData:
    """The study's trials and parameters; ViewError when it cannot be read."""
    study = _study(storage_url, study_name)
    try:
        frozen = study.get_trials(deepcopy=False)
        directions = [d.name.lower() for d in study.directions]
    except Exception as exc:
        raise ViewError(_line(exc)) from None
    trials, params = [], {}
    for t in frozen:
        if t.state not in STATES:
            continue
        trials.append(TrialPoint(t.number, STATES[t.state], dict(t.params),
                                 list(t.values) if t.values is not None else None,
                                 t.datetime_start))
        for name, dist in t.distributions.items():
            if name not in params:
                params[name] = _param(name, dist)
    return StudyData(study_name, directions, trials, list(params.values()))


def _param(name: str, dist: Any) -> ParamInfo:
    if isinstance(dist, CategoricalDistribution):
        return ParamInfo(name, False, choices=tuple(dist.choices))
    return ParamInfo(name, True, log=bool(getattr(dist, "log", False)))


def importance(storage_url: str, study_name: str, objective: int = 0) -> Importance:
    """PED-ANOVA importance of each parameter for objective ``objective`` over the complete
    trials (Optuna's; fast and needs no extra package)."""
    study = _study(storage_url, study_name)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < MIN_COMPLETE:
        return Importance(None, f"{len(complete)} complete trial"
                          f"{'' if len(complete) == 1 else 's'}: importance needs at least "
                          f"{MIN_COMPLETE}")
    # PED-ANOVA asks what makes the target low: a maximised objective is turned around
    sign = -1.0 if study.directions[objective] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    try:
        with quiet(), warnings.catch_warnings():  # its advice on the target's sign is taken
            warnings.simplefilter("ignore", UserWarning)
            values = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.PedAnovaImportanceEvaluator(),
                target=lambda t: sign * t.values[objective])
    except Exception as exc:  # too little spread in the parameters, a single value ...
        return Importance(None, f"importance cannot be computed: {_line(exc)}")
    if not values:
        return Importance(None, "no parameter varies across the complete trials")
    return Importance(dict(sorted(values.items(), key=lambda kv: -kv[1])))


@dataclass(frozen=True)
class Snapshot:
    """One refresh of the panel: the storage's studies, the one shown, its data, importance."""

    names: list[str]
    data: StudyData
    importance: Importance
    """For the first objective."""
    others: tuple[Importance, ...] = ()
    """For the second objective on, in a multi-objective study."""

    def importance_for(self, objective: int) -> Importance:
        return self.importance if objective == 0 else self.others[objective - 1]


def snapshot(storage_url: str, study_name: str) -> Snapshot:
    """The study ``study_name``, or the storage's first one when it has no such study (a sweep
    run with ``--study``); ViewError when there is nothing to show."""
    names = study_names(storage_url)
    if names and study_name not in names:
        study_name = names[0]
    data = study_data(storage_url, study_name)
    return Snapshot(names, data, importance(storage_url, study_name),
                    tuple(importance(storage_url, study_name, i)
                          for i in range(1, len(data.directions))))
