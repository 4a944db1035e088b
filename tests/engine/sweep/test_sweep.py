"""Sweeps on Optuna as they run: trials become runs of the project, the study lives in its
SQLite storage, samplers and pruners do what they say, several processes share one study, a
killed worker's trial is failed and replaced, and a sweep resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from cnnstudio.engine.sweep.objective import Objective
from cnnstudio.engine.sweep.runner import Settings, run_sweep, work
from cnnstudio.engine.sweep.study import (
    default_storage,
    make_pruner,
    make_sampler,
    open_storage,
    open_study,
)
from cnnstudio.project import load_project, save_project
from cnnstudio.project.sweep import Dimension, SweepSpace, store_space


@pytest.mark.parametrize("name, cls", [
    ("tpe", optuna.samplers.TPESampler), ("random", optuna.samplers.RandomSampler),
    ("grid", optuna.samplers.GridSampler), ("cmaes", optuna.samplers.CmaEsSampler)])
def test_each_sampler_is_optuna_s_own(name, cls) -> None:
    space = SweepSpace([Dimension("epochs", "int", 1, 3)], sampler=name)
    assert isinstance(make_sampler(space, seed=0), cls)


def test_each_pruner_is_optuna_s_own() -> None:
    assert isinstance(make_pruner("median"), optuna.pruners.MedianPruner)
    assert isinstance(make_pruner("hyperband"), optuna.pruners.HyperbandPruner)
    assert isinstance(make_pruner("none"), optuna.pruners.NopPruner)


def load_study(project: Path) -> optuna.Study:
    return optuna.load_study(study_name=project.stem, storage=default_storage(project))


def sweep_runs(project: Path) -> dict[int, dict]:
    """Trial number → the sweep mark of its run in the project."""
    marks = [r.extra["sweep"] for r in load_project(project).runs]
    numbers = [m["trial"] for m in marks]
    assert len(numbers) == len(set(numbers)), "a trial recorded twice"
    return {m["trial"]: m for m in marks}


def with_space(path: Path, space: SweepSpace) -> None:
    project = load_project(path)
    store_space(project, space)
    save_project(project, path)


def test_three_random_trials_become_three_runs_and_three_complete_trials(tiny) -> None:
    seen = []
    result = run_sweep(tiny, 3, sampler="random", on_event=seen.append)
    assert [t.number for t in seen] == [0, 1, 2]
    assert tiny.with_suffix(".sweep.db").is_file()
    study = load_study(tiny)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    # the first trial is the project's own settings, where the space holds them (its batch
    # size 16 and weight decay 0 are outside the default space)
    assert study.trials[0].params["optimizer.lr"] == 0.003
    assert study.trials[0].params["optimizer.name"] == "adam"
    project = load_project(tiny)
    assert [r.id for r in project.runs] == [1, 2, 3]
    for run, trial in zip(project.runs, study.trials):
        assert run.extra["sweep"] == {"study": "tiny", "trial": trial.number,
                                      "params": trial.params, "state": "complete"}
        assert run.status == "finished" and len(run.epochs) == 1
        assert run.training["optimizer"]["lr"] == trial.params["optimizer.lr"]
        assert run.training["batch_size"] == trial.params["batch_size"]
        assert run.epochs[-1].val_acc == trial.value  # the objective is the validation accuracy
        assert run.weights is None  # trials keep their metrics, not their weights
    assert result.best[0].number == study.best_trial.number
    assert result.best[0].run_id == project.runs[study.best_trial.number].id


def test_the_grid_sampler_visits_every_point_of_a_2x2_space(tiny) -> None:
    with_space(tiny, SweepSpace([
        Dimension("batch_size", "choice", choices=[32, 64]),
        Dimension("node:features.c1.out_channels", "int", 4, 6, step=2),
    ], sampler="grid", pruner="none"))
    run_sweep(tiny, 4)
    points = {(t.params["batch_size"], t.params["node:features.c1.out_channels"])
              for t in load_study(tiny).trials}
    assert points == {(32, 4), (32, 6), (64, 4), (64, 6)}
    runs = load_project(tiny).runs
    widths = {r.extra["sweep"]["params"]["node:features.c1.out_channels"]: r.graph_hash
              for r in runs}
    assert len(set(widths.values())) == 2  # each width trained a different network


def test_a_pruned_trial_is_marked_pruned_and_stops_early(tiny) -> None:
    project = load_project(tiny)
    project.training.epochs = 3
    space = SweepSpace([Dimension("optimizer.lr", "float", 1e-3, 1e-2, log=True)])
    storage = open_storage(default_storage(tiny))
    # validation accuracy can never exceed 1.0: this pruner stops every trial after epoch 1
    study = open_study(storage, "pruned", space, pruner=optuna.pruners.ThresholdPruner(
        upper=1.5, lower=1.01))
    objective = Objective(project, space, "pruned", base_dir=tiny.parent)
    work(study, objective, 1)
    trial = study.trials[0]
    assert trial.state == TrialState.PRUNED
    run = json.loads(json.dumps(trial.user_attrs["run"]))
    assert run["sweep"]["state"] == "pruned" and run["status"] == "stopped"
    assert len(run["epochs"]) == 1 < project.training.epochs


def test_an_invalid_graph_prunes_the_trial_with_the_analysis_message(tiny) -> None:
    with_space(tiny, SweepSpace([
        Dimension("node:features.c1.kernel_size", "choice", choices=[40]),  # > 32 pixels
    ], sampler="random", pruner="none"))
    result = run_sweep(tiny, 1)
    (trial,) = result.trials
    assert trial.state == "pruned" and trial.run_id is None
    assert "features.c1" in trial.message


def test_two_objectives_give_a_pareto_front(tiny) -> None:
    with_space(tiny, SweepSpace([
        Dimension("node:features.c1.out_channels", "int", 2, 8, step=2),
    ], sampler="random", pruner="none", objectives=["val_acc", "params"]))
    result = run_sweep(tiny, 3)
    assert result.directions == ["maximize", "minimize"]
    study = load_study(tiny)
    assert {t.number for t in result.best} == {t.number for t in study.best_trials}
    front = [t.values for t in result.best]
    for acc, params in front:  # no point of the front is beaten on both counts by a trial
        for t in result.trials:
            assert not (t.values[0] > acc and t.values[1] < params)
    assert all(len(t.values) == 2 and t.values[1] > 1000 for t in result.trials)


def test_resuming_runs_only_the_missing_trials(tiny) -> None:
    run_sweep(tiny, 2, sampler="random")
    assert sorted(sweep_runs(tiny)) == [0, 1]
    result = run_sweep(tiny, 3, sampler="random")  # the same command with more trials
    assert sorted(sweep_runs(tiny)) == [0, 1, 2]
    assert len(load_study(tiny).trials) == 3
    assert [t.number for t in result.trials] == [0, 1, 2]
    params = [json.dumps(t.params, sort_keys=True) for t in load_study(tiny).trials]
    assert len(set(params)) == 3  # the resumed sampler does not draw the same points again
    run_sweep(tiny, 3, sampler="random")  # nothing is missing: nothing runs
    assert len(load_study(tiny).trials) == 3 and len(load_project(tiny).runs) == 3


def test_two_worker_processes_share_one_study_and_run_no_trial_twice(tiny) -> None:
    result = run_sweep(tiny, 4, jobs=2, sampler="random", pruner="none", epochs=3)
    study = load_study(tiny)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    assert sorted(sweep_runs(tiny)) == [0, 1, 2, 3]
    assert len({json.dumps(t.params, sort_keys=True) for t in study.trials}) == 4
    assert [t.number for t in result.trials] == [0, 1, 2, 3]
    # both processes (started together, each trial a few seconds) took trials
    assert len({t.user_attrs["worker"] for t in study.trials}) == 2
    assert all(len(r.epochs) == 3 for r in load_project(tiny).runs)


def test_a_killed_worker_s_trial_is_failed_and_replaced_on_resume(tiny) -> None:
    space = SweepSpace([Dimension("optimizer.lr", "float", 1e-3, 1e-2)], sampler="random",
                       pruner="none")
    with_space(tiny, space)
    settings = Settings(str(tiny), default_storage(tiny), "tiny", space.to_dict(),
                        trials=2, epochs=200, heartbeat_s=1, grace_s=2)
    worker = subprocess.Popen([sys.executable, "-m", "cnnstudio.engine.sweep.worker",
                               json.dumps(settings.__dict__), "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        storage = open_storage(settings.storage_url)
        deadline = time.monotonic() + 120
        while True:  # until its trial runs and beats
            assert worker.poll() is None and time.monotonic() < deadline
            studies = optuna.get_all_study_names(storage)
            if studies and any(t.state == TrialState.RUNNING
                               for t in optuna.load_study(study_name="tiny",
                                                          storage=storage).trials):
                break
            time.sleep(0.2)
        time.sleep(1.5)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait()
    result = run_sweep(tiny, 2, epochs=1, heartbeat_s=1, grace_s=2)
    states = [t.state for t in load_study(tiny).trials]
    assert states[0] == TrialState.FAIL  # the killed one, failed by its missing heartbeat
    assert states.count(TrialState.COMPLETE) == 2 and len(states) == 3
    assert sorted(sweep_runs(tiny)) == [t.number for t in result.trials
                                        if t.state == "complete"]
    killed = [t for t in result.trials if t.number == 0]
    assert killed and killed[0].state == "failed" and killed[0].run_id is None
