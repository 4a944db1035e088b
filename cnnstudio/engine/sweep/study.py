"""The Optuna side of a sweep: the storage (a SQLite file beside the project, or any SQLAlchemy
URL), the sampler and pruner a space names, and the study itself. Optuna does the searching;
nothing here samples or prunes by itself."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna

from ...project.sweep import SweepSpace

HEARTBEAT_S = 10
"""Seconds between a running trial's heartbeats in the storage."""
GRACE_S = 30
"""A running trial without a heartbeat for this long is taken for dead (its worker killed or
its machine gone) and marked FAIL by the next worker that asks for a trial."""
SQLITE_TIMEOUT_S = 60
"""How long a SQLite writer waits for another process's lock before giving up."""


@contextmanager
def quiet() -> Iterator[None]:
    """Heartbeats (and failing stale trials) are what makes a sweep crash-safe; Optuna still
    calls them experimental, which is not news to the user each time a trial starts."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


class StorageError(ValueError):
    """A storage URL that cannot be opened (one line, for the user)."""


def default_storage(project_path: str | Path) -> str:
    """The SQLite file beside the project: ``lenet.cnnproj`` → ``lenet.sweep.db``."""
    path = Path(project_path).resolve().with_suffix(".sweep.db")
    return f"sqlite:///{path}"


def open_storage(url: str, *, heartbeat_s: int = HEARTBEAT_S,
                 grace_s: int = GRACE_S) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage at ``url`` with heartbeats on, so a killed worker's trial is failed
    by the others; StorageError for a URL it cannot use."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:"):
        kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    try:
        with quiet():
            storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs,
                                                 heartbeat_interval=heartbeat_s,
                                                 grace_period=grace_s)
    except Exception as exc:  # SQLAlchemy's and the drivers' errors have no common base
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StorageError(f"cannot open the storage {url!r}: {message}") from None
    if url.startswith("sqlite:"):
        _serialise_sqlite(storage.engine)
    return storage


def _serialise_sqlite(engine: Any) -> None:
    """Make every SQLite transaction take the write lock when it begins (SQLAlchemy's recipe
    for pysqlite). Otherwise Python's driver reads outside a transaction, and two workers that
    look at one waiting trial at once both see it waiting and both run it (Optuna relies on
    ``SELECT … FOR UPDATE``, which SQLite ignores; optuna/optuna#4002)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_driver_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver emits no BEGIN of its own

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # the connection that created the tables predates the listeners


def make_sampler(space: SweepSpace, seed: int | None) -> optuna.samplers.BaseSampler:
    if space.sampler == "grid":
        grid = {d.target: d.grid() for d in space.dimensions}
        return optuna.samplers.GridSampler(grid, seed=seed)
    if space.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if space.sampler == "cmaes":  # categorical dimensions fall back to random sampling
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed)  # one or several objectives


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    if name == "median":  # steps are epochs (1, 2 ...): the first is too noisy to judge by
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def open_study(storage: optuna.storages.BaseStorage, name: str, space: SweepSpace, *,
               seed: int | None = None,
               pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    """The study ``name`` in ``storage``, created on first use and joined afterwards (another
    process, another machine, or a resumed sweep)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if seed is not None:  # a resumed sweep must not draw the points it drew before again
        seed += 7919 * _trials_so_far(storage, name)
    return optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                               sampler=make_sampler(space, seed),
                               pruner=pruner or make_pruner(space.pruner),
                               directions=space.directions)


def _trials_so_far(storage: optuna.storages.BaseStorage, name: str) -> int:
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:  # a new study
        return 0
    return len(storage.get_all_trials(study_id, deepcopy=False))
