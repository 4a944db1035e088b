"""Gradient flow while training: a deep sigmoid stack's early gradients vanish and are warned
about, a healthy network's are not; samples come as configured, with the unscaled, clipped
gradients the step uses and the update the step made."""

from __future__ import annotations

import math

import pytest
import torch

from cnnstudio.engine import to_module
from cnnstudio.engine.training.gradflow import (
    EXPLODING,
    GradientFlow,
    GradientSample,
    diagnose,
    sample_steps,
)
from cnnstudio.engine.training.trainer import Trainer
from cnnstudio.graph import load_graph

from .fakes import TensorData
from .test_trainer import config, frozen, small_graph


def plain_stack(depth: int, activation: str, width: int = 32):
    """``depth`` Linear layers of ``width``, each followed by ``activation``, then a head."""
    nodes = [{"id": "input", "type": "Input", "params": {"shape": [1, 8, 8]}},
             {"id": "flatten", "type": "Flatten"}]
    for i in range(depth):
        nodes += [{"id": f"fc{i}", "type": "Linear", "params": {"out_features": width}},
                  {"id": f"act{i}", "type": activation}]
    nodes.append({"id": "head", "type": "Linear", "params": {"out_features": 3}})
    return load_graph({"format": "cnnstudio.graph", "version": 1, "nodes": nodes})


def samples(trainer: Trainer) -> list[GradientSample]:
    return [e for e in trainer.run() if isinstance(e, GradientSample)]


def test_a_deep_sigmoid_stack_vanishes_and_is_warned_about() -> None:
    found = samples(Trainer(plain_stack(10, "Sigmoid"), config(epochs=1), TensorData()))
    first = found[0]
    assert list(first.layers) == [f"fc{i}" for i in range(10)] + ["head"]  # by depth
    norm = {k: g for k, (g, _) in first.layers.items()}
    assert norm["fc0"] < 1e-4 * norm["head"]  # orders of magnitude through depth
    assert norm["fc0"] < norm["fc5"] < norm["fc9"] < norm["head"]
    assert "fc0" in first.flagged and "head" not in first.flagged
    assert first.warning.startswith("vanishing gradients in fc0, fc1")
    assert "head's norm" in first.warning and "\n" not in first.warning


def test_a_healthy_network_gets_no_warning() -> None:
    found = samples(Trainer(small_graph(), config(epochs=2), TensorData()))
    assert found and all(s.warning is None and not s.flagged for s in found)
    # normalisation layers' scales are left out: the layers with kernels and matrices
    assert [list(s.layers) for s in found] == [["features.conv", "fc"]] * len(found)
    ratios = [r for s in found for _, r in s.layers.values()]
    assert all(0 < r < 1 for r in ratios)


@pytest.mark.parametrize("per_epoch, steps", [(4, [1, 3, 5, 7]), (3, [1, 3, 6]), (0, []),
                                              (20, list(range(1, 9)))])
def test_samples_per_epoch_as_configured(per_epoch: int, steps: list[int]) -> None:
    found = samples(Trainer(small_graph(), config(epochs=2), TensorData(),  # 8 steps an epoch
                            grad_samples=per_epoch))
    assert [(s.epoch, s.step) for s in found] == [(e, k) for e in (1, 2) for k in steps]
    assert all(s.steps == 8 for s in found)


def test_sample_steps_are_evenly_spaced_from_the_first() -> None:
    assert sorted(sample_steps(100, 4)) == [0, 25, 50, 75]
    assert sorted(sample_steps(2, 4)) == [0, 1]
    assert sample_steps(10, 0) == frozenset()


def test_frozen_layers_are_skipped() -> None:
    graph = frozen(small_graph(), "features")
    found = samples(Trainer(graph, config(epochs=1), TensorData()))
    assert found and all(list(s.layers) == ["fc"] for s in found)


def test_the_numbers_are_the_steps_gradient_and_actual_update() -> None:
    graph = small_graph()
    model = to_module(graph, seed=0)
    flow = GradientFlow(model, graph)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = TensorData()
    x, y = data.train.x[:16], data.train.labels[:16]
    torch.nn.functional.cross_entropy(model(x), y).backward()
    grad = math.sqrt(model.fc.weight.grad.norm() ** 2 + model.fc.bias.grad.norm() ** 2)
    weight = math.sqrt(model.fc.weight.detach().norm() ** 2 + model.fc.bias.detach().norm() ** 2)
    watch = flow.watch(optimizer)
    optimizer.step()
    sample = watch.sample(1, 1, 1)
    g, ratio = sample.layers["fc"]
    assert g == pytest.approx(grad, rel=1e-5)
    assert ratio == pytest.approx(0.1 * grad / weight, rel=1e-4)  # plain SGD: Δw = lr·g
    optimizer.step()  # the hooks are gone: a later step changes nothing
    assert watch.sample(1, 1, 1).layers == sample.layers


def with_scaler(monkeypatch) -> None:
    """Train with a GradScaler on the CPU (the trainer makes one for float16 on CUDA)."""
    setup = Trainer._setup

    def scaled(self) -> None:
        setup(self)
        self.scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 12)

    monkeypatch.setattr(Trainer, "_setup", scaled)


def test_amp_gradients_are_read_unscaled(monkeypatch) -> None:
    plain = samples(Trainer(small_graph(), config(epochs=1), TensorData()))
    with_scaler(monkeypatch)
    scaled = samples(Trainer(small_graph(), config(epochs=1), TensorData()))
    assert len(scaled) == len(plain) == 4
    for a, b in zip(plain, scaled):
        for node, (g, r) in a.layers.items():
            assert b.layers[node] == pytest.approx((g, r), rel=1e-4)


@pytest.mark.parametrize("amp", [False, True])
def test_clipped_gradients_are_read_after_clipping(monkeypatch, amp: bool) -> None:
    if amp:
        with_scaler(monkeypatch)
    clip = 1e-3
    free = samples(Trainer(small_graph(), config(epochs=1), TensorData()))
    clipped = samples(Trainer(small_graph(), config(epochs=1, grad_clip=clip), TensorData()))

    def total(sample: GradientSample) -> float:
        return math.sqrt(sum(g * g for g, _ in sample.layers.values()))

    assert total(free[0]) > 10 * clip
    assert all(total(s) <= clip * 1.001 for s in clipped)


def test_diagnose_names_exploding_and_non_finite_layers() -> None:
    flagged, warning = diagnose({"a": (2 * EXPLODING, 0.5), "b": (1.0, 1e-3)})
    assert flagged == ("a",) and warning.startswith("exploding gradients in a")
    flagged, warning = diagnose({"a": (math.inf, 0.0), "b": (math.nan, 0.0), "c": (1.0, 0.0)})
    assert flagged == ("a", "b") and warning == "non-finite gradients in a, b"
    assert diagnose({"a": (1.0, 1e-3), "b": (0.01, 1e-3)}) == ((), None)
    many = {f"l{i}": (1e-9, 0.0) for i in range(6)} | {"top": (1.0, 1e-3)}
    assert "l0, l1, l2, l3 and 2 more" in diagnose(many)[1]
