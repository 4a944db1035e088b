"""Structured pruning: about the MACs asked for are left, residual additions and depthwise
convolutions stay consistent (the edited graph analyses ok and takes the sliced weights
strictly), the classifier keeps its classes, and kept channels keep their weights."""

from __future__ import annotations

import pytest
import torch

from cnnstudio.engine import to_module
from cnnstudio.engine.compress.prune import PruneError, prune
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
        prune(graph, None, 0.5, importance="fisher")
    with pytest.raises(PruneError, match="taylor importance needs training data"):
        prune(graph, None, 0.5, importance="taylor")
    with pytest.raises(PruneError, match="at least one batch"):
        prune(graph, None, 0.5, importance="taylor", batches=[])
    wider = graph.copy()
    wider.set_param("classifier.f6", "out_features", 90)
    with pytest.raises(PruneError, match="weights do not fit the graph.*f6"):
        prune(wider, to_module(graph).state_dict(), 0.5)


def test_taylor_drops_heavy_channels_that_change_nothing() -> None:
    """Eight filters far heavier than the rest whose outputs the next layer ignores: L1 keeps
    them, Taylor (|w·∂L/∂w|, zero for them) removes them; the result reaches the target, its
    weights load, and the frozen flags and BatchNorm statistics of the source are untouched."""
    graph = presets.build("simple_cnn")
    module = to_module(graph, seed=1)
    state = {k: v.clone() for k, v in module.state_dict().items()}
    state["block1.conv.weight"][:8] *= 100
    state["block2.conv.weight"][:, :8] = 0
    source = {k: v.clone() for k, v in state.items()}
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(16, 1, 28, 28, generator=gen),
                torch.randint(0, 10, (16,), generator=gen)) for _ in range(2)]

    def heavy_kept(result) -> int:
        kept = result.state["block1.conv.weight"]
        return sum(any(torch.equal(state["block1.conv.weight"][i], k) for k in kept)
                   for i in range(8))

    assert heavy_kept(prune(graph, state, 0.5)) == 8
    result = prune(graph, state, 0.5, importance="taylor", batches=iter(batches))
    assert heavy_kept(result) == 0
    assert abs(result.macs_kept - 0.5) < 0.03
    to_module(result.graph).load_state_dict(result.state, strict=True)
    assert all(torch.equal(state[k], source[k]) for k in state)


def test_taylor_prunes_a_residual_network_with_batchnorm() -> None:
    graph = presets.build("resnet18", num_classes=10, input_shape=(3, 32, 32))
    batches = [(torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,)))]
    result = prune(graph, None, 0.6, importance="taylor", batches=batches)
    assert abs(result.macs_kept - 0.6) < 0.03 and result.changed
    to_module(result.graph).load_state_dict(result.state, strict=True)
