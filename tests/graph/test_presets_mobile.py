"""MobileNet and EfficientNet presets, checked through the analysis alone (no torch): the
published parameter counts, the width multiplier, depthwise convolutions, the seeds'
depthwise-separable saving, and EfficientNet's compound scaling."""

from __future__ import annotations

import pytest

from cnnstudio.graph import Graph, analyze, presets

EFFICIENTNETS = [f"efficientnet_b{i}" for i in range(8)]


def test_mobilenet_v1_has_the_papers_4_2_million_parameters() -> None:
    report = analyze(presets.build("mobilenet_v1"))
    assert report.ok, report.errors
    assert report.issues == []
    # 3,206,976 in the convolutions and batch norms, 1,025,000 in the classifier.
    assert report.total_params == 4_231_976
    assert report.nodes["fc"].params == 1024 * 1000 + 1000
    assert report.macs == 568_740_352  # the paper's 569 million mult-adds
    assert report.output_shapes == [(1000,)]
    assert report.nodes["features.13.pw_relu"].shape == (1024, 7, 7)


def test_mobilenet_v1_blocks_are_named_groups() -> None:
    graph = presets.build("mobilenet_v1")
    blocks = [g for g in graph.groups if g.startswith("features.") and g != "features.0"]
    assert len(blocks) == 13
    assert graph.nodes["features.4.dw_conv"].group == "features.4"


def test_width_multiplier_cuts_parameters_about_fourfold() -> None:
    full = analyze(presets.build("mobilenet_v1"))
    half = analyze(presets.build("mobilenet_v1", width_mult=0.5))
    assert half.total_params == 1_331_592
    # Convolutions scale with α² (3,206,976 → 818,592, 3.9×); the classifier only with α
    # (1,025,000 → 513,000), so the whole network shrinks 3.2×, as in the paper (1.3 M).
    body = full.total_params - full.nodes["fc"].params
    half_body = half.total_params - half.nodes["fc"].params
    assert (body, half_body) == (3_206_976, 818_592)
    assert 3.8 < body / half_body < 4.0
    assert 3.1 < full.total_params / half.total_params < 3.3
    assert half.macs == 149_497_088  # ≈ 4× fewer than 568.7 M
    assert half.nodes["features.13.pw_conv"].shape == (512, 7, 7)


def test_depthwise_convolution_has_one_3x3_filter_per_channel() -> None:
    report = analyze(presets.build("mobilenet_v1"))
    for block, channels in (("features.1", 32), ("features.5", 256), ("features.13", 1024)):
        dw = report.nodes[f"{block}.dw_conv"]
        assert dw.shape[0] == channels
        assert dw.params == 3 * 3 * channels  # no bias: BatchNorm follows
        assert report.nodes[f"{block}.dw_bn"].params == 2 * channels
        assert report.nodes[f"{block}.dw_bn"].buffers == 2 * channels + 1
    # a standard 3×3 convolution of the same width would hold C times more
    pw = report.nodes["features.5.pw_conv"]
    assert pw.params == 256 * 256


def test_depthwise_separable_saving_from_the_seeds() -> None:
    # Input 7×7×3, 256 output channels; 49 output positions.
    graph = Graph()
    graph.add_node("Input", "input", {"shape": [3, 7, 7]})
    graph.add_node("Conv2d", "standard", {"out_channels": 256, "kernel_size": 3, "padding": 1,
                                          "bias": False})
    graph.add_node("Conv2d", "depthwise", {"out_channels": 3, "kernel_size": 3, "padding": 1,
                                           "groups": 3, "bias": False})
    graph.add_node("Conv2d", "pointwise", {"out_channels": 256, "kernel_size": 1,
                                           "bias": False})
    graph.connect("input", "standard")
    graph.connect("input", "depthwise")
    graph.connect("depthwise", "pointwise")
    report = analyze(graph)
    assert report.ok, report.errors
    positions = 7 * 7
    standard = report.nodes["standard"].macs
    separable = report.nodes["depthwise"].macs + report.nodes["pointwise"].macs
    assert report.nodes["standard"].shape == report.nodes["pointwise"].shape == (256, 7, 7)
    assert standard == 6_912 * positions  # 3·3·3·256
    assert report.nodes["depthwise"].macs == 27 * positions  # 3·3·3
    assert report.nodes["pointwise"].macs == 768 * positions  # 1·1·3·256
    assert separable == 795 * positions
    assert 8.6 < standard / separable < 8.8  # "8.7× fewer operations"
    assert report.nodes["standard"].params == 6_912
    assert report.nodes["depthwise"].params + report.nodes["pointwise"].params == 795


@pytest.mark.parametrize(("name", "params", "mmacs"), [
    ("mobilenet_v2", 3_504_872, 301),
    ("mobilenet_v3_large", 5_483_032, 217),
    ("mobilenet_v3_small", 2_542_856, 57),
    ("efficientnet_b0", 5_288_548, 386),
    ("efficientnet_b7", 66_347_960, 37_746),
    ("efficientnet_v2_s", 21_458_488, 8_366),
])
def test_torchvision_figures(name: str, params: int, mmacs: int) -> None:
    report = analyze(presets.build(name))
    assert report.ok, report.errors
    assert report.total_params == params  # torchvision's weights meta "num_params"
    assert round(report.macs / 1e6) == mmacs  # and its "_ops" (GFLOPs counted as MACs)


def test_mobilenet_v2_residuals_where_the_shape_is_kept() -> None:
    graph = presets.build("mobilenet_v2")
    adds = sorted(int(n.split(".")[1]) for n, node in graph.nodes.items() if node.type == "Add")
    assert adds == [3, 5, 6, 8, 9, 10, 12, 13, 15, 16]


def test_mobilenet_v3_squeeze_excitation_gates_channels() -> None:
    report = analyze(presets.build("mobilenet_v3_large"))
    se = "features.4.block.2"
    assert report.nodes[f"{se}.avgpool"].shape == (72, 1, 1)
    assert report.nodes[f"{se}.fc1"].shape == (24, 1, 1)
    assert report.nodes[f"{se}.scale_activation"].type == "Hardsigmoid"
    assert report.nodes[f"{se}.scale"].in_shapes == [(72, 28, 28), (72, 1, 1)]
    assert report.nodes[f"{se}.scale"].shape == (72, 28, 28)


def test_efficientnet_grows_from_b0_to_b7() -> None:
    reports = [analyze(presets.build(name)) for name in EFFICIENTNETS]
    params = [r.total_params for r in reports]
    assert params == [5_288_548, 7_794_184, 9_109_994, 12_233_232, 19_341_616, 30_389_784,
                      43_040_704, 66_347_960]
    assert all(a < b for a, b in zip(params, params[1:]))
    macs = [r.macs for r in reports]
    assert all(a < b for a, b in zip(macs, macs[1:]))


@pytest.mark.parametrize(("name", "size", "dropout"), [
    ("efficientnet_b0", 224, 0.2), ("efficientnet_b1", 240, 0.2),
    ("efficientnet_b2", 288, 0.3), ("efficientnet_b3", 300, 0.3),
    ("efficientnet_b4", 380, 0.4), ("efficientnet_b5", 456, 0.4),
    ("efficientnet_b6", 528, 0.5), ("efficientnet_b7", 600, 0.5),
    ("efficientnet_v2_s", 384, 0.2), ("efficientnet_v2_m", 480, 0.3),
    ("efficientnet_v2_l", 480, 0.4),
])
def test_efficientnet_default_resolution_and_dropout(name: str, size: int,
                                                     dropout: float) -> None:
    options = presets.get(name).options()
    assert tuple(options["input_shape"]) == (3, size, size)
    assert options["dropout"] == dropout
    graph = presets.build(name)
    assert analyze(graph).input_shape == (3, size, size)
    assert graph.nodes["classifier.0"].params.get("p", 0.5) == dropout


def test_efficientnet_stochastic_depth_grows_with_depth() -> None:
    graph = presets.build("efficientnet_b0")
    probs = [node.params["p"] for node in graph.nodes.values()
             if node.type == "StochasticDepth"]
    # 16 blocks; only the 9 that keep their shape have a residual branch to drop.
    assert len(probs) == 9
    assert probs == sorted(probs) and probs[0] > 0 and probs[-1] == pytest.approx(0.2 * 14 / 16)
    sd = "features.2.1.stochastic_depth"
    assert graph.input_map()["features.2.1.add"] == [sd, "features.2.0.block.3.1"]
