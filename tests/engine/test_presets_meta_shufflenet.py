"""The ShuffleNet V2 presets' options, and the initialisation torchvision's builder draws
(torch's defaults: ShuffleNetV2 has no init loop of its own)."""

from __future__ import annotations

import pytest
import torch
import torchvision

from cnnstudio.engine import to_module
from cnnstudio.graph import analyze, init, presets


def test_builder_options_change_the_head_and_the_input() -> None:
    report = analyze(presets.build("shufflenet_v2_x1_0", num_classes=10,
                                   input_shape=(3, 64, 64)))
    assert report.ok, report.errors
    assert report.nodes["fc"].shape == (10,)
    assert report.nodes["conv5.0"].shape == (1024, 2, 2)


@pytest.mark.parametrize("name", ["shufflenet_v2_x0_5", "shufflenet_v2_x1_5"])
def test_to_module_draws_what_torchvisions_builder_draws(name: str) -> None:
    """The torchvision scheme for this family keeps torch's defaults, and the graph builds its
    layers in torchvision's order: the same seed gives the very same weights."""
    graph = presets.build(name)
    assert graph.metadata["init"] == {"scheme": "torchvision", "family": "shufflenet"}
    assert init.plan(graph) == {}
    assert "torch's default" in init.formula(graph.metadata["init"])
    built = to_module(graph, seed=11).state_dict()
    torch.manual_seed(11)
    reference = torchvision.models.get_model(name, weights=None).state_dict()
    assert list(built) == list(reference)
    assert all(torch.equal(built[k], reference[k]) for k in reference)
    conv = built["stage3.1.branch2.0.weight"]  # 1×1, fan_in = channels / 2
    fan_in = conv.shape[1]
    assert conv.std().item() == pytest.approx((1 / (3 * fan_in)) ** 0.5, rel=0.05)
    assert torch.equal(built["stage3.1.branch2.1.weight"], torch.ones(conv.shape[0]))
