"""The trainer: events, learning, exact resume, stop, faults, and every option on a tiny net."""

from __future__ import annotations

import math

import pytest
import torch

from cnnstudio.engine import checkpoint as ckpt
from cnnstudio.engine.training.trainer import (
    BatchEnd,
    CheckpointSaved,
    EpochEnd,
    Failed,
    Finished,
    Started,
    Trainer,
)
from cnnstudio.graph import load_graph
from cnnstudio.graph.edits import members_of
from cnnstudio.project.config import TrainConfig

from .fakes import TensorData


def small_graph(dropout: float = 0.0):
    nodes = [
        {"id": "input", "type": "Input", "params": {"shape": [1, 8, 8]}},
        {"id": "features.conv", "type": "Conv2d",
         "params": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
        {"id": "features.bn", "type": "BatchNorm2d"},
        {"id": "features.relu", "type": "ReLU"},
        {"id": "flatten", "type": "Flatten"},
    ]
    if dropout:
        nodes.append({"id": "drop", "type": "Dropout", "params": {"p": dropout}})
    nodes.append({"id": "fc", "type": "Linear", "params": {"out_features": 3}})
    return load_graph({"format": "cnnstudio.graph", "version": 1, "nodes": nodes})


def frozen(graph, *ids: str):
    """``graph`` with the nodes ``ids`` name (nodes, blocks, id prefixes) frozen."""
    for ident in ids:
        for nid in members_of(graph, ident):
            graph.set_node_attrs(nid, frozen=True)
    return graph


def config(**changes) -> TrainConfig:
    doc = {"epochs": 3, "batch_size": 32, "device": "cpu",
           "optimizer": {"name": "sgd", "lr": 0.05}}
    for key, value in changes.items():
        if isinstance(value, dict):
            doc.setdefault(key, {}).update(value)
        else:
            doc[key] = value
    return TrainConfig.from_dict(doc, "training")


def run_all(trainer: Trainer) -> list:
    return list(trainer.run())


def test_events_in_order_and_the_model_learns() -> None:
    data = TensorData()
    events = run_all(Trainer(small_graph(), config(epochs=4), data, report_interval=0.0))
    kinds = [e.event for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert kinds.count("epoch_end") == 4 and kinds.count("checkpoint") == 4
    assert "batch_end" in kinds
    started = events[0]
    assert isinstance(started, Started)
    assert (started.train_samples, started.val_samples, started.steps_per_epoch) == (256, 64, 8)
    records = [e.record for e in events if isinstance(e, EpochEnd)]
    assert records[-1].train_loss < records[0].train_loss
    assert records[-1].val_acc > 0.9
    assert all(r.samples_per_s > 0 and r.seconds > 0 for r in records)
    batch = next(e for e in events if isinstance(e, BatchEnd))
    assert 0 <= batch.acc <= 1 and batch.lr == pytest.approx(0.05)
    done = events[-1]
    assert isinstance(done, Finished) and done.status == "finished"
    assert done.evaluation["split"] == "validation"
    assert done.evaluation["accuracy"] == pytest.approx(records[-1].val_acc)


def final_weights(events: list) -> dict[str, torch.Tensor]:
    last = [e for e in events if isinstance(e, CheckpointSaved)][-1]
    return ckpt.from_bytes(last.weights)


@pytest.mark.parametrize("stop_after_batches", [3, 8, 13])
def test_stop_and_resume_equal_the_uninterrupted_run_bit_for_bit(stop_after_batches: int) -> None:
    data = TensorData()
    cfg = config(epochs=3, optimizer={"name": "adam", "lr": 0.01},
                 schedule={"name": "cosine", "warmup_epochs": 0.5})
    graph = small_graph(dropout=0.3)  # dropout: the RNG must resume too
    full = run_all(Trainer(graph, cfg, data, report_interval=0.0))

    first = Trainer(graph, cfg, data, report_interval=0.0)
    partial = []
    batches = 0
    for event in first.run():
        partial.append(event)
        if isinstance(event, BatchEnd):
            batches += 1
            if batches == stop_after_batches:
                first.stop()
    assert partial[-1].status == "stopped"
    saved = [e for e in partial if isinstance(e, CheckpointSaved)][-1]
    resumed = run_all(Trainer(graph, cfg, data, resume=saved.checkpoint, report_interval=0.0))
    assert isinstance(resumed[-1], Finished) and resumed[-1].status == "finished"
    a, b = final_weights(full), final_weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    full_records = [e.record for e in full if isinstance(e, EpochEnd)]
    resumed_records = [e.record for e in partial + resumed if isinstance(e, EpochEnd)]
    assert [r.train_loss for r in full_records] == [r.train_loss for r in resumed_records]


def test_nan_loss_stops_with_a_message() -> None:
    data = TensorData()
    data.train.x[7, 0, 3, 3] = float("nan")  # one bad pixel poisons the loss
    events = run_all(Trainer(small_graph(), config(), data, report_interval=0.0))
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.kind == "nan"
    assert "NaN or infinite" in failed.message and "lower the learning rate" in failed.message


def test_injected_nan_keeps_the_last_good_checkpoint() -> None:
    data = TensorData()
    trainer = Trainer(small_graph(), config(epochs=3), data, report_interval=0.0)
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, CheckpointSaved) and event.epoch == 1:
            with torch.no_grad():
                trainer.model.get_submodule("fc").weight.fill_(float("nan"))
    assert isinstance(events[-1], Failed) and events[-1].kind == "nan"
    assert "weights saved after epoch 1 are kept" in events[-1].message
    good = ckpt.from_bytes([e for e in events if isinstance(e, CheckpointSaved)][-1].weights)
    assert all(torch.isfinite(t).all() for t in good.values() if t.is_floating_point())


def test_out_of_memory_suggests_a_smaller_batch(monkeypatch) -> None:
    data = TensorData()
    trainer = Trainer(small_graph(), config(batch_size=64), data)

    def boom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    original = Trainer._setup

    def setup(self):
        original(self)
        monkeypatch.setattr(self.model, "forward", boom)

    monkeypatch.setattr(Trainer, "_setup", setup)
    failed = run_all(trainer)[-1]
    assert isinstance(failed, Failed) and failed.kind == "oom"
    assert failed.suggested_batch_size == 32 and "try 32" in failed.message


def test_any_exception_becomes_a_failed_event(monkeypatch) -> None:
    data = TensorData()

    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(data.train, "batches", broken)
    failed = run_all(Trainer(small_graph(), config(), data))[-1]
    assert isinstance(failed, Failed) and "ValueError: a bug" in failed.message


def test_early_stopping_and_best_epoch() -> None:
    data = TensorData()
    events = run_all(Trainer(small_graph(), config(epochs=30, early_stopping=2,
                                                   optimizer={"lr": 0.5}), data))
    done = events[-1]
    assert done.status == "early_stopped"
    epochs = [e.record for e in events if isinstance(e, EpochEnd)]
    assert len(epochs) < 30
    best = max(epochs, key=lambda r: (r.val_acc, -r.val_loss))
    assert done.best_epoch == best.epoch


@pytest.mark.parametrize("loss", ["cross_entropy", "bce", "focal", "mse", "mae"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "radam"])
def test_every_loss_and_optimizer_trains(loss: str, optimizer: str) -> None:
    lr = {"sgd": 0.1, "adagrad": 0.1}.get(optimizer, 0.01)
    cfg = config(epochs=2, loss={"name": loss, "label_smoothing": 0.1 if loss ==
                                 "cross_entropy" else 0.0, "class_weights": "balanced"},
                 optimizer={"name": optimizer, "lr": lr, "weight_decay": 1e-4,
                            "nesterov": True}, grad_clip=1.0)
    events = run_all(Trainer(small_graph(), cfg, TensorData()))
    assert isinstance(events[-1], Finished), events[-1]
    records = [e.record for e in events if isinstance(e, EpochEnd)]
    assert records[-1].val_acc > 0.6


def test_freeze_unfreeze_and_per_block_learning_rates() -> None:
    cfg = config(epochs=3, transfer={"lr_multipliers": {"fc": 0.1},
                                     "unfreeze": [{"epoch": 3, "nodes": ["features.conv"]}]})
    trainer = Trainer(frozen(small_graph(), "features"), cfg, TensorData())
    before = None
    snapshots = []
    for event in trainer.run():
        if isinstance(event, Started):
            before = trainer.model.get_submodule("features.conv").weight.detach().clone()
            lrs = sorted(g["lr"] for g in trainer.optimizer.param_groups)
            assert lrs == pytest.approx([0.005, 0.05])
        if isinstance(event, EpochEnd):
            snapshots.append(trainer.model.get_submodule("features.conv").weight.detach().clone())
    assert torch.equal(snapshots[1], before)  # frozen for epochs 1-2
    assert not torch.equal(snapshots[2], before)  # unfrozen at epoch 3
    assert not trainer.model.get_submodule("features.bn").weight.requires_grad


def test_pretrained_weights_load_into_matching_layers(tmp_path) -> None:
    from safetensors.torch import save_file

    from cnnstudio.engine import to_module

    source = to_module(small_graph(), seed=42).state_dict()
    source["fc.weight"] = torch.zeros(5, 256)  # another number of classes: not loaded
    path = tmp_path / "pretrained.safetensors"
    save_file(source, str(path))
    trainer = Trainer(small_graph(), config(epochs=1, transfer={"weights": str(path)}),
                      TensorData())
    started = next(e for e in trainer.run() if isinstance(e, Started))
    report = started.weights_report
    assert report["loaded"] == len(source) - 1
    assert report["shape_mismatch"] == [["fc.weight", [5, 256], [3, 256]]]


@pytest.mark.parametrize("name, expected", [
    ("step", [1, 1, 0.1, 0.1]), ("multistep", [1, 0.1, 0.1, 0.01]),
    ("exponential", [1, 0.1, 0.01, 0.001]),
])
def test_step_schedules(name: str, expected: list[float]) -> None:
    from cnnstudio.engine.training.optim import LrSchedule
    from cnnstudio.project.config import ScheduleConfig

    sched = LrSchedule(ScheduleConfig(name=name, step_size=2, milestones=[1, 3], gamma=0.1),
                       0.1, 4, 10)
    assert [sched.factor(e) for e in range(4)] == pytest.approx(expected)


def test_continuous_schedules_and_warmup() -> None:
    from cnnstudio.engine.training.optim import LrSchedule
    from cnnstudio.project.config import ScheduleConfig

    cos = LrSchedule(ScheduleConfig(name="cosine"), 0.1, 10, 100)
    assert cos.factor(0) == 1 and cos.factor(5) == pytest.approx(0.5) and cos.factor(10) == 0
    sgdr = LrSchedule(ScheduleConfig(name="cosine_restarts", t0=2, t_mult=2), 0.1, 10, 10)
    assert sgdr.factor(2) == pytest.approx(1) and sgdr.factor(4) == pytest.approx(0.5)
    one = LrSchedule(ScheduleConfig(name="onecycle", max_lr=1.0), 0.1, 10, 10)
    assert one.factor(3) == pytest.approx(10) and one.factor(0) == pytest.approx(0.4)
    assert one.factor(10) == pytest.approx(10 / 25 / 1e4)
    warm = LrSchedule(ScheduleConfig(warmup_epochs=2), 0.1, 10, 10)
    assert warm.factor(0) == pytest.approx(0.05) and warm.factor(1) == pytest.approx(0.55)
    assert warm.factor(2) == 1
    plateau = LrSchedule(ScheduleConfig(name="plateau", patience=1, factor=0.5), 0.1, 10, 10)
    for loss in (1.0, 0.9, 0.95, 0.95):
        plateau.end_of_epoch(loss)
    assert plateau.factor(4) == 0.5


def test_evaluation_metrics_by_hand() -> None:
    from cnnstudio.engine.training.evaluate import evaluate

    logits = torch.tensor([[3.0, 0, 0], [0, 3, 0], [0, 0, 3], [3, 0, 0], [0, 3, 0.1]])
    labels = torch.tensor([0, 1, 2, 1, 2])
    out = evaluate(logits, labels, ["a", "b", "c"])
    assert out["accuracy"] == 0.6 and out["top_k"]["1"] == 0.6 and out["top_k"]["3"] == 1.0
    assert out["confusion"] == [[1, 0, 0], [1, 1, 0], [0, 1, 1]]
    a = out["per_class"][0]
    assert (a["precision"], a["recall"], a["f1"]) == (0.5, 1.0, pytest.approx(2 / 3))
    assert out["roc"][0]["auc"] == pytest.approx(3.5 / 4)  # a tied negative counts half
    assert all(0 <= r["auc"] <= 1 for r in out["roc"])
    assert not math.isnan(out["macro_auc"])


def test_lr_range_test_finds_a_sensible_rate_and_restores_weights() -> None:
    from cnnstudio.engine import to_module
    from cnnstudio.engine.training.lrfinder import lr_range_test

    model = to_module(small_graph(), seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = lr_range_test(small_graph(), config(batch_size=16), TensorData(), steps=80,
                           model=model)
    assert len(result.lrs) == len(result.losses) > 20
    assert result.lrs == sorted(result.lrs)
    assert 1e-4 < result.suggested < 5
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_the_range_test_takes_the_trainer_s_step_with_its_l1_penalty() -> None:
    from cnnstudio.engine import to_module
    from cnnstudio.engine.training.losses import l1_penalty
    from cnnstudio.engine.training.lrfinder import lr_range_test

    model = to_module(small_graph(), seed=0)
    with torch.no_grad():
        penalty = float(l1_penalty(model, 0.1))
    plain = lr_range_test(small_graph(), config(batch_size=16), TensorData(), steps=12,
                          start=1e-7, end=1e-6, model=model)
    with_l1 = lr_range_test(small_graph(), config(batch_size=16, loss={"l1": 0.1}),
                            TensorData(), steps=12, start=1e-7, end=1e-6, model=model)
    # rates too small to move the weights: the losses differ by the penalty alone
    assert with_l1.losses[0] - plain.losses[0] == pytest.approx(penalty, rel=1e-3)


def test_pause_holds_between_batches_and_resume_continues() -> None:
    import threading
    import time

    trainer = Trainer(small_graph(), config(epochs=2), TensorData(), report_interval=0.0)
    events: list = []
    paused_at: list[int] = []

    def consume() -> None:
        for event in trainer.run():
            events.append(event)
            if isinstance(event, BatchEnd) and not paused_at:
                paused_at.append(len(events))
                trainer.pause()

    worker = threading.Thread(target=consume)
    worker.start()
    deadline = time.monotonic() + 30
    while not paused_at and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    assert trainer.paused and len(events) == paused_at[0]  # nothing happened while paused
    trainer.resume()
    worker.join(timeout=60)
    assert isinstance(events[-1], Finished) and events[-1].status == "finished"
