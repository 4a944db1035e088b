"""``run_sweep``: J worker processes pull trials from one shared Optuna study until it has N
trials with an outcome, while this process, the only one that writes the project file, turns
each finished trial into a Run of the project and saves it.

A trial counts toward N when it completed, was pruned, or failed after training began (its run
is recorded). A trial whose worker died (killed, machine gone) has no run: the heartbeat marks
it FAIL and another trial takes its place, now or when the sweep is run again."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from ...project.archive import load_project, save_project
from ...project.config import ConfigError
from ...project.model import Project, Run
from ...project.sweep import (
    SweepSpace,
    apply_values,
    check_space,
    current_values,
    run_ids,
    store_space,
    trial_copy,
)
from ...project.sweep_suggest import space_of
from .objective import RUN_ATTR, SURPLUS_ATTR, Objective, TrialFailed
from .study import GRACE_S, HEARTBEAT_S, default_storage, open_storage, open_study, quiet

POLL_S = 1.0
"""How often the owner of the project looks for finished trials while workers run."""
STATES = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned",
          TrialState.FAIL: "failed"}


class SweepError(ValueError):
    """Bad input to a sweep (one line, for the user)."""


@dataclass(frozen=True)
class TrialDone:
    """A trial with an outcome, as the sweep reports it."""

    number: int
    state: str
    params: dict[str, Any]
    values: list[float] | None
    run_id: int | None
    message: str | None = None
    event: str = "trial"

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "state": self.state, "params": self.params,
                "values": self.values, "run_id": self.run_id, "message": self.message}


@dataclass
class SweepResult:
    study: str
    storage: str
    directions: list[str]
    trials: list[TrialDone] = field(default_factory=list)
    """Every trial of the study with an outcome, this sweep's and earlier ones'."""
    best: list[TrialDone] = field(default_factory=list)
    """The best trial, or the Pareto front of a multi-objective study."""


@dataclass
class Settings:
    """What every worker needs to join the study (plain values: they cross a process)."""

    project_path: str
    storage_url: str
    study_name: str
    space: dict[str, Any]
    trials: int
    epochs: int | None = None
    jobs: int = 1
    cache_dir: str | None = None
    heartbeat_s: int = HEARTBEAT_S
    grace_s: int = GRACE_S
    tensorboard: str | None = None
    base_dir: str | None = None
    """Where a relative dataset path starts (default: the project file's folder)."""


def run_sweep(project_path: str | Path, trials: int, jobs: int = 1,
              storage_url: str | None = None, study_name: str | None = None,
              epochs: int | None = None,
              on_event: Callable[[TrialDone], None] | None = None, *,
              out: str | Path | None = None, sampler: str | None = None,
              pruner: str | None = None, cache_dir: str | Path | None = None,
              heartbeat_s: int = HEARTBEAT_S, grace_s: int = GRACE_S,
              tensorboard: str | Path | None = None,
              search_space: SweepSpace | None = None,
              record: Callable[[Run], None] | None = None,
              stop: threading.Event | None = None, processes: bool = False,
              base_dir: str | Path | None = None) -> SweepResult:
    """Run (or resume, or join) the study until it has ``trials`` trials with an outcome,
    recording each as a run of the project saved to ``out`` (default: the project itself; an
    existing ``out`` gets the runs added). The storage defaults to a SQLite file beside
    ``out``, the study's name to ``out``'s. SweepError for bad input.

    The window passes ``record`` (each new run goes there instead of into a saved file: the
    window owns its project), ``stop`` (set: the workers are ended and their running trials
    failed at once) and ``processes`` (trials in worker processes even for one job, so the
    window's process stays free)."""
    if trials < 1 or jobs < 1:
        raise SweepError(f"--{'trials' if trials < 1 else 'jobs'} must be at least 1")
    source = Path(project_path)
    try:
        project = load_project(source)
    except (OSError, ValueError) as exc:
        raise SweepError(str(exc)) from None
    space = _space(project, sampler, pruner, search_space)
    out_path = Path(out) if out is not None else source
    same = out_path.resolve() == source.resolve()
    record_project = project if same or not out_path.exists() else _load(out_path)
    if search_space is not None:  # kept with the runs it gave
        store_space(record_project, search_space)
    url = storage_url or default_storage(out_path)  # beside the project that gets written
    name = study_name or out_path.stem
    settings = Settings(str(source.resolve()), url, name, space.to_dict(), trials, epochs, jobs,
                        str(cache_dir) if cache_dir else None, heartbeat_s, grace_s,
                        str(Path(tensorboard).resolve()) if tensorboard else None,
                        str(Path(base_dir).resolve()) if base_dir else None)
    study = _study(settings, space, seed=project.training.seed)
    own = current_values(_base(settings, project), space)
    if own and not study.trials and space.sampler != "grid":  # new: the project as it is first
        study.enqueue_trial(own)
    owner = _Owner(study, record_project, out_path, on_event, record)
    if jobs == 1 and not processes:
        owner.collect()  # runs of earlier trials a crashed owner did not record
        work(study, _objective(settings, project, space), trials, after=owner.collect)
    else:
        gpus = visible_gpus() if _on_gpu(project) else []
        workers = [start_worker(settings, i, gpus) for i in range(jobs)]
        try:
            while alive := [w for w in workers if w.poll() is None]:
                if stop is not None and stop.is_set():
                    end_workers(study, workers)
                    break
                owner.collect()
                try:  # back at once when a worker ends
                    alive[0].wait(timeout=POLL_S)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            for w in workers:  # still running only when this process is being stopped
                if w.poll() is None:
                    w.terminate()
                w.wait()
        failed = [w.returncode for w in workers if w.returncode]
        owner.collect()
        if failed and not (stop is not None and stop.is_set()):
            raise SweepError(f"{len(failed)} of {jobs} worker processes failed (exit status "
                             f"{failed[0]}); their error is above; run the sweep again to "
                             "resume it")
    owner.collect()
    return owner.result(url, space.directions)


def work(study: optuna.Study, objective: Objective, trials: int,
         after: Callable[[], None] | None = None) -> None:
    """Pull trials of ``study`` until it has ``trials`` with an outcome; waits (and fails
    stale ones) while the remaining ones run elsewhere, since a dead worker's trial must be
    done again."""
    objective.admit = lambda trial: _admit(trial, trials)
    while True:
        with quiet():
            optuna.storages.fail_stale_trials(study)
        done, running = _counts(study.get_trials(deepcopy=False))
        if done >= trials:
            return
        if done + running >= trials:
            time.sleep(POLL_S)
            continue
        with quiet():  # optimize fails stale trials too
            study.optimize(objective, n_trials=1, catch=(TrialFailed,))
        if after is not None:
            after()


def counts_toward(trial: FrozenTrial) -> bool:
    """Whether a trial has an outcome that counts toward the study's number of trials."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and RUN_ATTR in trial.user_attrs


def _counts(all_trials: list[FrozenTrial]) -> tuple[int, int]:
    done = sum(counts_toward(t) for t in all_trials)
    running = sum(t.state == TrialState.RUNNING for t in all_trials)
    return done, running


def _admit(trial: optuna.Trial, trials: int) -> bool:
    """Whether the study still has room for this trial, counting the earlier ones that are
    done or running (two workers may have asked for the last place at once)."""
    earlier = [t for t in trial.study.get_trials(deepcopy=False) if t.number < trial.number]
    done, running = _counts(earlier)
    return done + running < trials


def _space(project: Project, sampler: str | None, pruner: str | None,
           given: SweepSpace | None = None) -> SweepSpace:
    try:
        if given is not None:
            check_space(given, project)
        doc = (given or space_of(project)).to_dict()
        doc.update({k: v for k, v in (("sampler", sampler), ("pruner", pruner)) if v})
        return SweepSpace.from_dict(doc)
    except ConfigError as exc:
        raise SweepError(str(exc)) from None


def _load(path: Path) -> Project:
    try:
        return load_project(path)
    except (OSError, ValueError) as exc:
        raise SweepError(str(exc)) from None


def _study(settings: Settings, space: SweepSpace, seed: int | None) -> optuna.Study:
    from .study import StorageError

    try:
        storage = open_storage(settings.storage_url, heartbeat_s=settings.heartbeat_s,
                               grace_s=settings.grace_s)
        return open_study(storage, settings.study_name, space, seed=seed)
    except StorageError as exc:
        raise SweepError(str(exc)) from None
    except ValueError as exc:  # the study exists with other directions
        raise SweepError(f"study {settings.study_name!r}: {exc}") from None


def _base(settings: Settings, project: Project) -> Project:
    """What every trial starts from: a copy of ``project`` with ``--epochs`` set (a dimension
    of the space still wins), leaving the project that gets saved as it was."""
    base = trial_copy(project)
    if settings.epochs is not None:
        try:
            apply_values(base, {"epochs": settings.epochs})
        except ConfigError as exc:
            raise SweepError(str(exc)) from None
    return base


def _objective(settings: Settings, project: Project, space: SweepSpace) -> Objective:
    return Objective(_base(settings, project), space, settings.study_name,
                     base_dir=settings.base_dir or Path(settings.project_path).parent,
                     cache_dir=settings.cache_dir,
                     tensorboard=settings.tensorboard)


def start_worker(settings: Settings, index: int,
                 gpus: list[str] | None = None) -> subprocess.Popen:
    """Worker ``index`` as a process of its own (a fresh interpreter: nothing of this one's
    state, nor its ``__main__``, goes with it). With several ``gpus`` each worker sees one of
    them, in turn: J workers on G GPUs put J/G trials on each."""
    env = dict(os.environ)
    if gpus and len(gpus) > 1:
        env["CUDA_VISIBLE_DEVICES"] = gpus[index % len(gpus)]
    return subprocess.Popen([sys.executable, "-m", f"{__package__}.worker",
                             json.dumps(dataclasses.asdict(settings)), str(index)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)


def visible_gpus() -> list[str]:
    """The CUDA devices this process may use, as CUDA_VISIBLE_DEVICES names them (the user's
    own list, when set, is kept to)."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    names = [n.strip() for n in given.split(",") if n.strip()] if given else []
    return names[:count] if names else [str(i) for i in range(count)]


def _on_gpu(project: Project) -> bool:
    return project.training.device in ("auto", "cuda")


def end_workers(study: optuna.Study, workers: list[subprocess.Popen]) -> None:
    """Stop the workers now (the user asked) and fail the trials they were running, so a resumed
    sweep does them again without waiting out the heartbeat's grace period."""
    for w in workers:
        if w.poll() is None:
            w.terminate()
    for w in workers:
        w.wait()
    pids = {str(w.pid) for w in workers}
    storage = study._storage  # noqa: SLF001 - Optuna's study gives no public handle on it
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get("worker", ""))
        if worker.rpartition(":")[2] in pids:
            storage.set_trial_user_attr(trial._trial_id, "message", "stopped")  # noqa: SLF001
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # noqa: SLF001


def worker_main(settings: Settings, index: int) -> None:
    """A worker process: its share of the cores, its own sampler seed, the shared study."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count() or 1
    torch.set_num_threads(max(1, cores // settings.jobs))
    project = load_project(settings.project_path)
    space = SweepSpace.from_dict(settings.space)
    study = _study(settings, space, seed=project.training.seed + index + 1)
    work(study, _objective(settings, project, space), settings.trials)


class _Owner:
    """The one writer of the project: adds each finished trial's run and saves (or hands the
    run to ``record``, whose owner saves)."""

    def __init__(self, study: optuna.Study, project: Project, out: Path,
                 on_event: Callable[[TrialDone], None] | None,
                 record: Callable[[Run], None] | None = None) -> None:
        self.study, self.project, self.out, self.on_event = study, project, out, on_event
        self.record = record
        self.done: dict[int, TrialDone] = {}

    def collect(self) -> None:
        ids = run_ids(self.project.runs, self.study.study_name)
        changed = False
        for trial in self.study.get_trials(deepcopy=False):
            if trial.state not in STATES or trial.number in self.done or \
                    trial.user_attrs.get(SURPLUS_ATTR):
                continue
            message = trial.user_attrs.get("message")
            doc = trial.user_attrs.get(RUN_ATTR)
            if isinstance(doc, dict) and trial.number not in ids:
                doc = copy.deepcopy(doc)
                doc["id"] = self.project.next_run_id()
                try:  # written by another version, or by hand, on another machine
                    run = Run.from_dict(doc, f"trial {trial.number}'s run")
                except ConfigError as exc:
                    message = f"its run cannot be read: {exc}"
                else:
                    self.project.runs.append(run)
                    ids[trial.number] = run.id
                    changed = True
                    if self.record is not None:
                        self.record(copy.deepcopy(run))
            done = TrialDone(trial.number, STATES[trial.state], dict(trial.params),
                             list(trial.values) if trial.values is not None else None,
                             ids.get(trial.number), message)
            self.done[trial.number] = done
            if self.on_event is not None:
                self.on_event(done)
        if changed and self.record is None:
            save_project(self.project, self.out)

    def result(self, url: str, directions: list[str]) -> SweepResult:
        trials = [self.done[n] for n in sorted(self.done)]
        if len(directions) == 1:
            complete = [t for t in trials if t.state == "complete"]
            best = [self.done[self.study.best_trial.number]] if complete else []
        else:
            best = [self.done[t.number] for t in self.study.best_trials
                    if t.number in self.done]
        return SweepResult(self.study.study_name, url, directions, trials, best)
