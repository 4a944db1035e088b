"""Structured pruning: about the MACs asked for are left, residual additions and depthwise
convolutions stay consistent (the edited graph analyses ok and takes the sliced weights
strictly), the classifier keeps its classes, and kept channels keep their weights."""

from __future__ import annotations

import pytest
import torch

from cnnstudio.engine import to_module
from cnnstudio.engine.prune import PruneError, prune
from cnnstudio.graph import analyze, presets


@pytest.mark.parametrize("name, options", [
    ("simple_cnn", {}),
    ("resnet18", {"num_classes": 10, "input_shape": (1, 32, 32)}),
    ("mobilenet_v2", {"num_classes": 10, "input_shape": (3, 32, 32)}),
])
def test_half_the_macs_are_left_and_the_graph_takes_the_weights(name, options) -> None:
    graph = presets.build(name, **options)
    result = prune(graph, None, 0.5)
    assert abs(result.macs_kept - 0.5) < 0.03
    report = analyze(result.graph)
    assert report.ok and report.macs == result.macs_after < result.macs_before
    module = to_module(result.graph)
    module.load_state_dict(result.state, strict=True)
    out = module.eval()(torch.randn(2, *report.input_shape))
    assert out.shape == (2, 10)  # the classes are kept
    assert result.changed and all(after < before for before, after in result.changed.values())
    assert graph.node(next(iter(result.changed))).params != \
        result.graph.node(next(iter(result.changed))).params  # the original is left as it was


def test_the_kept_channels_are_the_heaviest_and_keep_their_weights() -> None:
    graph = presets.build("simple_cnn")
    module = to_module(graph)
    state = {k: v.clone() for k, v in module.state_dict().items()}
    weight = state["block1.conv.weight"]
    weight[:8] *= 100  # eight filters far heavier than the rest
    result = prune(graph, state, 0.5)
    kept = result.state["block1.conv.weight"]
    assert kept.shape[0] < weight.shape[0]
    for i in range(8):  # each heavy filter survives, unchanged
        assert any(torch.equal(weight[i], k) for k in kept)


def test_bad_targets_are_refused() -> None:
    graph = presets.build("lenet5")
    for keep in (0, 1, 1.5, -0.2):
        with pytest.raises(PruneError, match="between 0 and 1"):
            prune(graph, None, keep)
    with pytest.raises(PruneError, match="importance"):
        prune(graph, None, 0.5, importance="taylor")
