"""The generated train.py and the trainer train alike (issue 18): for every schedule (with and
without warm-up) the script sets the learning rates the trainer sets, step by step, for every
loss variant (plain, label smoothing, class weights, soft labels, auxiliary heads, an L1 penalty)
its loss on one fixed batch is the trainer's, and every optimizer (with and without Lookahead)
moves the weights as the trainer's does."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from cnnstudio.engine.build import to_module
from cnnstudio.engine.codegen.model import load_generated, model_source
from cnnstudio.engine.codegen.train import training_script
from cnnstudio.engine.training.trainer import BatchEnd, EpochEnd, Failed, Trainer
from cnnstudio.graph import Graph, load_graph
from cnnstudio.project import DatasetConfig, Project, TrainConfig
from cnnstudio.project.config import LOSSES, OPTIMIZERS, SCHEDULES

from .fakes import TensorData, TensorSplit

CLASSES = 3


def graph(aux: bool = False, classes: int = CLASSES) -> Graph:
    """A tiny convolutional net on 1×8×8 images; with ``aux``, a training-only auxiliary
    classifier on its features, as GoogLeNet has."""
    nodes = [
        {"id": "input", "type": "Input", "params": {"shape": [1, 8, 8]}},
        {"id": "conv", "type": "Conv2d", "params": {"out_channels": 4, "kernel_size": 3,
                                                     "padding": 1}},
        {"id": "relu", "type": "ReLU"},
        {"id": "flatten", "type": "Flatten"},
        {"id": "fc", "type": "Linear", "params": {"out_features": classes}},
        {"id": "out", "type": "Output"},
    ]
    edges = [["input", "conv"], ["conv", "relu"], ["relu", "flatten"], ["flatten", "fc"],
             ["fc", "out"]]
    if aux:
        nodes += [
            {"id": "aux.pool", "type": "AdaptiveAvgPool2d", "params": {"output_size": 2}},
            {"id": "aux.flatten", "type": "Flatten"},
            {"id": "aux.fc", "type": "Linear", "params": {"out_features": classes}},
            {"id": "aux.out", "type": "Output", "params": {"training_only": True}},
        ]
        edges += [["relu", "aux.pool"], ["aux.pool", "aux.flatten"],
                  ["aux.flatten", "aux.fc"], ["aux.fc", "aux.out"]]
    return load_graph({"format": "cnnstudio.graph", "version": 1, "nodes": nodes,
                       "edges": edges})


def config(training: dict) -> TrainConfig:
    doc = {"batch_size": 16, "device": "cpu", "optimizer": {"name": "sgd", "lr": 0.1}}
    return TrainConfig.from_dict({**doc, **training}, "training")


def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, g: Graph,
              cfg: TrainConfig) -> ModuleType:
    """The project's train.py, imported as a module beside its generated model."""
    project = Project(name="parity", graph=g, dataset=DatasetConfig.from_dict(
        {"source": "digits"}, "dataset"), training=cfg)
    (tmp_path / "parity_net.py").write_text(model_source(g), encoding="utf-8")
    (tmp_path / "train.py").write_text(training_script(project, model_file="parity_net.py"),
                                       encoding="utf-8")
    monkeypatch.setitem(sys.modules, "parity_net", load_generated(tmp_path / "parity_net.py"))
    return load_generated(tmp_path / "train.py")


def run(trainer: Trainer) -> list:
    events = list(trainer.run())
    assert not any(isinstance(e, Failed) for e in events), events[-1]
    return events


# -- learning rates ----------------------------------------------------------------------------
@pytest.mark.parametrize("warmup", [0.0, 1.5])
@pytest.mark.parametrize("schedule", [*SCHEDULES, "cyclic:triangular2", "cyclic:exp_range"])
def test_learning_rates_match(tmp_path, monkeypatch, schedule: str, warmup: float) -> None:
    epochs, steps = 6, 4
    name, _, mode = schedule.partition(":")
    cfg = config({"epochs": epochs, "schedule": {
        "name": name, "warmup_epochs": warmup, "step_size": 2, "milestones": [1, 3],
        "gamma": 0.5, "eta_min": 0.01, "t0": 2, "t_mult": 2, "patience": 0, "factor": 0.5,
        "min_lr": 0.03, "max_lr": 0.4, "power": 2.0, "cycle_epochs": 1.5,
        "cycle_mode": mode or "triangular"}})
    data = TensorData(n=steps * cfg.batch_size, classes=CLASSES, val=32)
    # Validation labels that disagree with training's: the better the net learns, the worse
    # its validation loss, so reduce-on-plateau has epochs to act on.
    data.val = TensorSplit(data.val.x, (data.val.labels + 1) % CLASSES)
    events = run(Trainer(graph(), cfg, data, report_interval=0.0))
    trainer_lrs = [e.lr for e in events if isinstance(e, BatchEnd)]
    records = [e.record for e in events if isinstance(e, EpochEnd)]
    assert len(trainer_lrs) == epochs * steps and len(records) == epochs

    script = generated(tmp_path, monkeypatch, graph(), cfg)
    assert script.EPOCHS == epochs
    plateau = {"scale": 1.0, "best": None, "bad": 0}  # as the script's main() keeps it
    script_lrs, epoch_lrs = [], []
    for epoch in range(script.EPOCHS):
        for step in range(steps):
            factor = script.lr_factor(script.SCHEDULE, epoch + step / steps, script.EPOCHS,
                                      steps, script.LR, plateau["scale"])
            script_lrs.append(script.LR * factor)
        epoch_lrs.append(script_lrs[-1])
        if name == "plateau":
            script.plateau_step(plateau, records[epoch].val_loss, script.SCHEDULE)
    assert script_lrs == pytest.approx(trainer_lrs, rel=1e-12, abs=0)
    assert epoch_lrs == pytest.approx([r.lr for r in records], rel=1e-12, abs=0)
    if name != "none" or warmup:  # the schedule did change the rate: the test can tell
        assert len(set(trainer_lrs)) > 1
    if name == "plateau":
        assert plateau["scale"] < 1  # the run had epochs without improvement
        assert plateau["scale"] * script.LR < 0.03  # scaled below min_lr, held at it:
        assert epoch_lrs[-1] == pytest.approx(0.03)


# -- the loss on one batch ---------------------------------------------------------------------
def soft(labels: torch.Tensor) -> torch.Tensor:
    """Mixup-like soft labels: 70 % the class, 30 % the next one."""
    eye = torch.eye(CLASSES)
    return 0.7 * eye[labels] + 0.3 * eye[(labels + 1) % CLASSES]


VARIANTS = {
    "plain": ({}, False, False),
    "label_smoothing": ({"label_smoothing": 0.2}, False, False),
    "balanced_weights": ({"class_weights": "balanced"}, False, False),
    "given_weights": ({"class_weights": [0.5, 1.0, 2.0]}, False, False),
    "soft_labels": ({"label_smoothing": 0.1, "class_weights": "balanced"}, False, True),
    "aux_heads": ({"label_smoothing": 0.1}, True, False),
    "aux_heads_soft_weighted": ({"class_weights": [1.0, 2.0, 3.0]}, True, True),
    "l1_penalty": ({"l1": 0.01}, True, False),
    **{f"{loss}_weighted": ({"name": loss, "class_weights": "balanced"}, False, True)
       for loss in LOSSES if loss != "cross_entropy"},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_loss_on_one_batch_matches(tmp_path, monkeypatch, variant: str) -> None:
    loss_settings, aux, soft_labels = VARIANTS[variant]
    g = graph(aux)
    cfg = config({"epochs": 1, "loss": loss_settings})
    batch = cfg.batch_size
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(batch, 1, 8, 8, generator=gen)
    labels = torch.tensor([0] * 9 + [1] * 5 + [2] * 2)  # unbalanced, so weights matter
    data = TensorData(n=batch, classes=CLASSES, val=0)
    data.train = TensorSplit(x, soft(labels) if soft_labels else labels)
    data.class_counts = torch.bincount(labels, minlength=CLASSES).tolist()
    weights = to_module(g, seed=11).state_dict()
    # One step: the epoch's training loss is the loss of the one batch, before the update.
    events = run(Trainer(g, cfg, data, initial_weights=weights))
    (record,) = [e.record for e in events if isinstance(e, EpochEnd)]

    script = generated(tmp_path, monkeypatch, g, cfg)
    model = script.build_model()
    model.load_state_dict(weights, strict=True)
    model.train()
    counts = torch.bincount(labels, minlength=CLASSES).tolist()  # as main() counts them
    loss_fn = script.loss_function(script.LOSS, CLASSES, counts, torch.device("cpu"))
    target = soft(labels) if soft_labels else labels
    with torch.no_grad():
        out = model(x)
        assert isinstance(out, tuple) == aux
        loss, logits = script.training_loss(out, target, loss_fn, script.AUX_WEIGHT)
        if script.LOSS["l1"]:
            loss = loss + script.l1_penalty(model, script.LOSS["l1"])
    assert logits.shape == (batch, CLASSES)
    assert float(loss) == pytest.approx(record.train_loss, rel=1e-5)
    if aux:  # the auxiliary head's loss is part of it
        assert float(loss) > float(loss_fn(logits, target))


# -- the optimizer ----------------------------------------------------------------------------
@pytest.mark.parametrize("lookahead_k", [0, 2])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_match(tmp_path, monkeypatch, name: str, lookahead_k: int) -> None:
    """The script's make_optimizer is written by the code generator, not copied: over five
    steps on the same gradients it moves the weights exactly as the trainer's optimizer."""
    from cnnstudio.engine.training.optim import make_optimizer

    if name == "lamb":
        pytest.importorskip("timm")
    cfg = config({"optimizer": {"name": name, "lr": 0.05, "momentum": 0.5, "nesterov": True,
                                "weight_decay": 0.01, "rho": 0.8, "beta1": 0.8,
                                "lookahead_k": lookahead_k, "lookahead_alpha": 0.3}})
    script = generated(tmp_path, monkeypatch, graph(), cfg)
    x = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    weights = []
    for make in (lambda ps: make_optimizer(cfg.optimizer, [{"params": ps, "lr": 0.05}]),
                 lambda ps: script.make_optimizer([{"params": ps, "lr": 0.05}])):
        model = to_module(graph(), seed=3)
        optimizer = make(list(model.parameters()))
        for _ in range(5):
            optimizer.zero_grad()
            model(x).pow(2).mean().backward()
            optimizer.step()
        weights.append(model.state_dict())
    for key, value in weights[0].items():
        torch.testing.assert_close(weights[1][key], value, rtol=0, atol=0)


@pytest.mark.parametrize("grad_clip", [None, 0.05])
def test_optimizer_step_clips_the_unscaled_gradients(grad_clip: float | None) -> None:
    """Through a float16 GradScaler (as on GPUs without bfloat16) a step equals the plain one:
    the gradients are clipped after unscaling, so the clip means the same norm either way."""
    from cnnstudio.engine.training.optim import optimizer_step

    x = torch.randn(8, 5, generator=torch.Generator().manual_seed(0))
    after = []
    for scaler in (None, torch.amp.GradScaler("cpu", init_scale=1024.0)):
        torch.manual_seed(0)
        model = torch.nn.Linear(5, 3)
        before = model.weight.detach().clone()
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        optimizer_step(optimizer, model(x).pow(2).mean(), model.parameters(), grad_clip,
                       scaler)
        after.append(model.weight.detach())
        if grad_clip:  # SGD with lr 1 moves the weights by the clipped gradient
            moved = torch.cat([(before - model.weight.detach()).flatten(),
                               model.bias.grad.flatten()])
            assert float(moved.norm()) == pytest.approx(grad_clip, rel=1e-4)
    torch.testing.assert_close(after[0], after[1])
