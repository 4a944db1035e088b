"""RegNet and MnasNet presets, checked through the analysis alone (no torch): RegNet's stage
widths, depths and group widths from its four numbers, the blocks built from them, MnasNet's
width scaling, and the torchvision init rules of both families."""

from __future__ import annotations

import math

import pytest

from cnnstudio.graph import analyze, presets
from cnnstudio.graph import init as inits
from cnnstudio.graph.presets import mnasnet, regnet

# (width, blocks, group width) per stage, as torchvision's BlockParams.from_init_params gives
# them (printed from torchvision 0.2x: BlockParams.widths, depths, group_widths).
STAGES = {
    "regnet_x_400mf": [(32, 1, 16), (64, 2, 16), (160, 7, 16), (400, 12, 16)],
    "regnet_x_800mf": [(64, 1, 16), (128, 3, 16), (288, 7, 16), (672, 5, 16)],
    "regnet_x_1_6gf": [(72, 2, 24), (168, 4, 24), (408, 10, 24), (912, 2, 24)],
    "regnet_x_3_2gf": [(96, 2, 48), (192, 6, 48), (432, 15, 48), (1008, 2, 48)],
    "regnet_x_8gf": [(80, 2, 80), (240, 5, 120), (720, 15, 120), (1920, 1, 120)],
    "regnet_x_16gf": [(256, 2, 128), (512, 6, 128), (896, 13, 128), (2048, 1, 128)],
    "regnet_x_32gf": [(336, 2, 168), (672, 7, 168), (1344, 13, 168), (2520, 1, 168)],
    "regnet_y_400mf": [(48, 1, 8), (104, 3, 8), (208, 6, 8), (440, 6, 8)],
    "regnet_y_800mf": [(64, 1, 16), (144, 3, 16), (320, 8, 16), (784, 2, 16)],
    "regnet_y_1_6gf": [(48, 2, 24), (120, 6, 24), (336, 17, 24), (888, 2, 24)],
    "regnet_y_3_2gf": [(72, 2, 24), (216, 5, 24), (576, 13, 24), (1512, 1, 24)],
    "regnet_y_8gf": [(224, 2, 56), (448, 4, 56), (896, 10, 56), (2016, 1, 56)],
    "regnet_y_16gf": [(224, 2, 112), (448, 4, 112), (1232, 11, 112), (3024, 1, 112)],
    "regnet_y_32gf": [(232, 2, 232), (696, 5, 232), (1392, 12, 232), (3712, 1, 232)],
    "regnet_y_128gf": [(528, 2, 264), (1056, 7, 264), (2904, 17, 264), (7392, 1, 264)],
}
MNASNETS = ["mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"]


def _fixed(name: str) -> dict:
    return presets.get(name).fixed


@pytest.mark.parametrize("name", list(STAGES))
def test_regnet_stages_follow_from_the_four_numbers(name: str) -> None:
    f = _fixed(name)
    got = regnet.stages(f["depth"], f["w_0"], f["w_a"], f["w_m"], f["group_width"])
    assert [tuple(s) for s in got] == STAGES[name]
    assert sum(s.depth for s in got) == f["depth"]


@pytest.mark.parametrize("name", ["regnet_x_8gf", "regnet_y_400mf", "regnet_y_128gf"])
def test_regnet_blocks_have_the_stage_widths_and_groups(name: str) -> None:
    graph = presets.build(name)
    report = analyze(graph)
    assert report.ok, report.errors
    width_in = 32
    for s, (width, depth, group_width) in enumerate(STAGES[name], start=1):
        stage = f"trunk_output.block{s}"
        blocks = [g for g, grp in graph.groups.items() if grp.parent == stage]
        assert blocks == [f"{stage}.block{s}-{i}" for i in range(depth)]
        first = blocks[0]
        conv_b = graph.nodes[f"{first}.f.b.0"]
        assert conv_b.params.get("groups", 1) == width // group_width  # x_8gf: 1 group
        assert conv_b.params["stride"] == 2
        assert report.nodes[f"{first}.f.c.1"].shape[0] == width
        assert f"{first}.proj.0" in graph.nodes  # every stage's first block projects
        if "regnet_y" in name:  # SE squeezes to a quarter of the block's input width
            fc1 = graph.nodes[f"{first}.f.se.fc1"]
            assert fc1.params["out_channels"] == round(0.25 * width_in)
        else:
            assert not any(".se." in nid for nid in graph.nodes)
        width_in = width
    assert report.output_shapes == [(1000,)]


def test_regnet_parameter_counts_and_the_128gf_input() -> None:
    x400 = analyze(presets.build("regnet_x_400mf"))
    assert (x400.total_params, x400.macs) == (5_495_976, 413_812_608)
    assert x400.nodes["fc"].params == 400 * 1000 + 1000
    y400 = analyze(presets.build("regnet_y_400mf", num_classes=10))
    assert y400.total_params == 4_344_144 - 440 * 990 - 990
    big = analyze(presets.build("regnet_y_128gf"))  # analysis only: 645 M parameters
    assert big.total_params == 644_812_894
    assert presets.get("regnet_y_128gf").options()["input_shape"] == (3, 384, 384)
    assert big.nodes["trunk_output.block4.block4-0.activation"].shape == (7392, 12, 12)


def test_regnet_refuses_settings_torchvision_refuses() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        regnet.block_widths(10, 30, 20.0, 2.5)
    with pytest.raises(ValueError, match="w_m > 1"):
        regnet.block_widths(10, 32, 20.0, 1.0)


@pytest.mark.parametrize("alpha, widths", [
    (0.5, [16, 8, 16, 24, 40, 48, 96, 160]),
    (0.75, [24, 16, 24, 32, 64, 72, 144, 240]),
    (1.0, [32, 16, 24, 40, 80, 96, 192, 320]),
    (1.3, [40, 24, 32, 56, 104, 128, 248, 416]),
])
def test_mnasnet_widths_scale_with_alpha(alpha: float, widths: list[int]) -> None:
    assert mnasnet.depths(alpha) == widths


@pytest.mark.parametrize("name, params, macs", [
    ("mnasnet0_5", 2_218_512, 104_455_968),
    ("mnasnet1_0", 4_383_312, 314_415_872),
])
def test_mnasnet_parameters_and_macs(name: str, params: int, macs: int) -> None:
    report = analyze(presets.build(name))
    assert report.ok, report.errors
    assert (report.total_params, report.macs) == (params, macs)
    assert report.nodes["layers.16"].shape == (1280, 7, 7)


def test_mnasnet_blocks_stages_and_skips() -> None:
    graph = presets.build("mnasnet1_0")
    stages = [g for g, grp in graph.groups.items() if grp.parent is None and g.startswith("layers")]
    assert stages == [f"layers.{i}" for i in range(8, 14)]
    repeats = [sum(1 for g in graph.groups.values() if g.parent == s) for s in stages]
    assert repeats == [3, 3, 3, 2, 4, 1]
    # a skip in every block but each stage's first (which changes width or resolution)
    assert sum(1 for n in graph if n.type == "Add") == sum(r - 1 for r in repeats)
    assert graph.nodes["layers.9.0.layers.3"].params["kernel_size"] == 5
    assert graph.nodes["layers.1"].params["momentum"] == pytest.approx(3e-4)
    assert {graph.nodes[f"layers.{i}"].group for i in range(8)} == {"stem"}
    assert {graph.nodes[f"layers.{i}"].group for i in (14, 15, 16)} == {"head"}


def test_torchvision_init_rules_for_regnet_and_mnasnet() -> None:
    sqrt2 = math.sqrt(2)
    reg = presets.build("regnet_y_400mf")
    conv = inits.Draw("weight", "normal_fan", sqrt2, "fan_out")
    assert inits.draws(reg, "stem.0") == [conv]
    assert inits.draws(reg, "trunk_output.block1.block1-0.f.se.fc1") == [conv]  # bias kept
    assert inits.draws(reg, "fc") == [inits.Draw("weight", "normal", 0.01),
                                      inits.Draw("bias", "constant", 0.0)]
    assert inits.draws(reg, "stem.1")[0] == inits.Draw("weight", "constant", 1.0)
    mnas = presets.build("mnasnet0_5")
    assert mnas.metadata["init"] == {"scheme": "torchvision", "family": "mnasnet"}
    assert inits.draws(mnas, "layers.0")[0] == conv
    assert inits.draws(mnas, "classifier.1")[0] == inits.Draw("weight", "uniform_fan",
                                                              math.sqrt(3), "fan_out")
    assert "N(0, 0.01²)" in inits.formula({"scheme": "torchvision", "family": "regnet"})
    assert "√(3/out_features)" in inits.formula({"scheme": "torchvision", "family": "mnasnet"})
