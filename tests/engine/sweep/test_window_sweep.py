"""What the window's sweep needs of the engine: runs handed over instead of saved, a stop that
ends the workers and fails their trials at once, a measured-latency objective, and one GPU per
worker where there are several."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from cnnstudio.engine.profile.latency import measure
from cnnstudio.engine.sweep import runner
from cnnstudio.engine.sweep.runner import Settings, run_sweep, start_worker, visible_gpus
from cnnstudio.engine.sweep.study import default_storage
from cnnstudio.engine.sweep.views import sqlite_ready
from cnnstudio.project import load_project
from cnnstudio.project.sweep import Dimension, SweepSpace


def test_runs_go_to_record_and_the_file_is_not_written(tiny) -> None:
    before = tiny.read_bytes()
    got = []
    space = SweepSpace([Dimension("optimizer.lr", "float", 1e-3, 1e-2)], sampler="random",
                       pruner="none")
    result = run_sweep(tiny, 2, storage_url=default_storage(tiny), study_name="tiny",
                       record=got.append, search_space=space)
    assert tiny.read_bytes() == before
    assert sorted(r.extra["sweep"]["trial"] for r in got) == [0, 1]
    assert [t.state for t in result.trials] == ["complete", "complete"]
    assert all(r.epochs and r.weights is None for r in got)


def test_stop_ends_the_workers_and_fails_their_trials_at_once(tiny, tmp_path) -> None:
    stop, got = threading.Event(), []
    space = SweepSpace([Dimension("optimizer.lr", "float", 1e-3, 1e-2)], sampler="random",
                       pruner="none")
    url = default_storage(tiny)

    def started(study: str) -> bool:
        try:
            trials = optuna.load_study(study_name=study, storage=url).trials
        except KeyError:
            return False
        return any(t.state == TrialState.RUNNING and "worker" in t.user_attrs for t in trials)

    def watch() -> None:  # stop as soon as a trial of 300 epochs is under way
        while not stop.wait(0.2):
            if sqlite_ready(Path(url[len("sqlite:///"):])) and started("tiny"):
                stop.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = run_sweep(tiny, 3, storage_url=url, study_name="tiny", epochs=300,
                           record=got.append, stop=stop, processes=True, search_space=space)
    finally:
        stop.set()
        watcher.join()
    trials = optuna.load_study(study_name="tiny", storage=url).trials
    assert [t.state for t in trials] == [TrialState.FAIL]
    assert trials[0].user_attrs["message"] == "stopped"
    assert got == [] and [t.state for t in result.trials] == ["failed"]


def test_a_latency_objective_is_measured_on_the_trained_model(tiny) -> None:
    space = SweepSpace([Dimension("optimizer.lr", "float", 1e-3, 1e-2)], sampler="random",
                       pruner="none", objectives=["val_acc", "latency_ms"])
    result = run_sweep(tiny, 2, search_space=space)
    runs = load_project(tiny).runs
    assert len(result.directions) == 2 and result.directions[1] == "minimize"
    for trial in result.trials:
        assert trial.state == "complete" and trial.values[1] > 0
        run = next(r for r in runs if r.id == trial.run_id)
        assert run.extra["latency_ms"] == trial.values[1]


def test_latency_is_a_median_of_timed_passes_and_keeps_the_mode() -> None:
    module = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Dropout())
    module.train()
    found = measure(module, (1, 16, 16), "cpu", batch_size=4, repeats=5)
    assert module.training
    assert 0 < found.low_ms <= found.median_ms <= found.high_ms
    assert found.per_sample_ms == pytest.approx(found.median_ms / 4)
    with pytest.raises(ValueError):
        measure(module, (1, 16, 16), "cpu", repeats=0)


def test_each_worker_sees_one_gpu_in_turn(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert visible_gpus() == ["3", "5"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert visible_gpus() == ["0", "1"]
    envs = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, env=None, **k: envs.append(env))
    settings = Settings("p.cnnproj", "sqlite:///x.db", "p", {}, 1)
    for i in range(3):
        start_worker(settings, i, ["0", "1"])
    start_worker(settings, 0, ["0"])  # one GPU: left as it is
    assert [e.get("CUDA_VISIBLE_DEVICES") for e in envs] == ["0", "1", "0", None]


def test_no_gpu_means_no_gpu_list(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert visible_gpus() == []
    assert runner._on_gpu(type("P", (), {"training": type("T", (), {"device": "cpu"})})()) \
        is False
