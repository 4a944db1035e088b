"""The seeds' experiments as presets (issue 24): CIFAR ResNets and their plain twins, the skip
option of the ResNet family, the cs231n pattern, LeNet-5's C3 connection table, ZFNet and
Xception, against the papers' numbers, through the analysis alone (no torch)."""

from __future__ import annotations

import pytest

from cnnstudio.graph import Graph, analyze, presets
from cnnstudio.graph.presets.lenet import C3_TABLE


def _of_type(graph: Graph, type_name: str) -> list[str]:
    return [n.id for n in graph.nodes.values() if n.type == type_name]


def _weighted(graph: Graph) -> int:
    return len(_of_type(graph, "Conv2d")) + len(_of_type(graph, "Linear"))


# -- CIFAR ResNets (He et al. 2016, §4.2) -------------------------------------------------------

@pytest.mark.parametrize("depth, params", [
    (20, 269_722), (32, 464_154), (44, 658_586), (56, 853_018), (110, 1_727_962)])
def test_cifar_resnets_have_the_papers_depth_and_size(depth: int, params: int) -> None:
    graph = presets.build(f"resnet{depth}")
    report = analyze(graph)
    assert report.total_params == params  # the paper: 0.27, 0.46, 0.66, 0.85, 1.7 M
    assert _weighted(graph) == depth  # 6n + 2: option A shortcuts have no weights
    n = (depth - 2) // 6
    assert len(_of_type(graph, "Add")) == 3 * n
    shapes = {nid: report.nodes[nid].shape for nid in ("relu", f"layer1.{n - 1}.relu2",
                                                       f"layer2.{n - 1}.relu2",
                                                       f"layer3.{n - 1}.relu2", "fc")}
    assert list(shapes.values()) == [(16, 32, 32), (16, 32, 32), (32, 16, 16), (64, 8, 8), (10,)]


def test_option_a_pads_with_zero_channels_and_option_b_projects() -> None:
    graph = presets.build("resnet20")
    assert [n.id for n in graph.nodes.values() if n.type == "ChannelAffine"] == \
        ["layer2.0.downsample.zeros", "layer3.0.downsample.zeros"]
    assert graph.node("layer2.0.downsample.zeros").params["scale"] == 0.0
    b = presets.build("resnet20", shortcut="B")
    assert _weighted(b) == 22 and not _of_type(b, "ChannelAffine")
    # two 1×1 projections with their BatchNorms: 16·32 + 64 + 32·64 + 128
    assert analyze(b).total_params - 269_722 == 512 + 64 + 2048 + 128
    with pytest.raises(ValueError, match="6n \\+ 2"):
        presets.get("resnet20").builder(depth=21)
    with pytest.raises(ValueError, match="'A'"):
        presets.build("resnet20", shortcut="C")


@pytest.mark.parametrize("name", ["resnet20", "resnet110", "resnet18", "resnet50",
                                  "resnext50_32x4d", "se_resnet18"])
def test_without_skip_a_resnet_is_a_plain_stack(name: str) -> None:
    residual, plain = presets.build(name), presets.build(name, skip=False)
    assert _of_type(residual, "Add") and not _of_type(plain, "Add")
    assert not [nid for nid in plain.nodes if ".downsample" in nid]
    # the same layers otherwise: every node of the plain net is in the residual one
    assert set(plain.nodes) <= set(residual.nodes)
    assert analyze(plain).ok
    kept = {nid for nid in residual.nodes if ".downsample" not in nid and
            residual.nodes[nid].type != "Add"}
    assert set(plain.nodes) == kept


def test_plain_cifar_nets_keep_the_parameters_of_option_a() -> None:
    assert analyze(presets.build("resnet56", skip=False)).total_params == 853_018


def test_skip_off_leaves_torchvisions_layout() -> None:
    assert presets.build("resnet18").metadata["origin"]["torchvision"] is True
    plain = presets.build("resnet18", skip=False)
    assert plain.metadata["origin"]["torchvision"] is False
    assert plain.metadata["origin"]["options"]["skip"] is False
    assert presets.build("resnet20").metadata["origin"]["torchvision"] is False
    assert presets.build("resnet20").metadata["init"] == {"scheme": "kaiming_normal"}


# -- cs231n ---------------------------------------------------------------------------------------

def test_cs231n_pattern_counts_its_layers() -> None:
    graph = presets.build("cs231n_pattern", n=3, m=2, k=2, width=8, hidden=32)
    report = analyze(graph)
    assert report.ok, report.errors
    assert len(_of_type(graph, "Conv2d")) == 6 and len(_of_type(graph, "MaxPool2d")) == 2
    assert len(_of_type(graph, "Linear")) == 3 and len(_of_type(graph, "ReLU")) == 8
    assert report.nodes["block2.conv3"].shape == (16, 16, 16)  # width doubled after a pool
    assert report.nodes["flatten"].shape == (16 * 8 * 8,)
    assert report.nodes["classifier.output"].shape == (10,)


def test_cs231n_pattern_without_pooling_or_hidden_layers() -> None:
    graph = presets.build("cs231n_pattern", m=3, k=0, pool=False, width=4)
    report = analyze(graph)
    assert not _of_type(graph, "MaxPool2d")
    assert report.nodes["flatten"].shape == (4 * 32 * 32,)
    assert _of_type(graph, "Linear") == ["classifier.output"]
    with pytest.raises(ValueError, match="at least 1"):
        presets.build("cs231n_pattern", n=0)


# -- LeNet-5's C3 table ---------------------------------------------------------------------------

# LeCun et al. 1998, Table I as printed: row = S2 map, column = C3 map, X = connected.
TABLE_I = """
X...XXX..XXXX.XX
XX...XXX..XXXX.X
XXX...XXX..X.XXX
.XXX..XXXX..X.XX
..XXX..XXXX.XX.X
...XXX..XXXX.XXX
"""


def _c3_inputs(graph: Graph) -> list[set[int]]:
    """For each C3 output map, the S2 maps it sees, traced through the Slices, Concats and
    grouped convolutions of the graph."""
    report = analyze(graph)
    inputs = graph.input_map()
    sources: dict[str, list[set[int]]] = {"features.s2": [{c} for c in range(6)]}
    for nid in report.nodes:
        if not nid.startswith("features.c3."):
            continue
        node, ins = graph.nodes[nid], [sources[s] for s in inputs[nid]]
        p = {**node.spec.defaults, **node.params}
        if node.type == "Slice":
            sources[nid] = ins[0][p["start"]:p["end"]]
        elif node.type == "Concat":
            sources[nid] = [c for part in ins for c in part]
        elif node.type == "Conv2d":
            per_in, per_out = len(ins[0]) // p["groups"], p["out_channels"] // p["groups"]
            sources[nid] = [set().union(*ins[0][o // per_out * per_in:(o // per_out + 1) * per_in])
                            for o in range(p["out_channels"])]
    return sources["features.c3.maps"]


def test_c3_table_connects_as_lecuns_table_one() -> None:
    rows = TABLE_I.split()
    expected = [{r for r in range(6) if rows[r][c] == "X"} for c in range(16)]
    assert [set(t) for t in C3_TABLE] == expected
    assert _c3_inputs(presets.build("lenet5", c3_table=True)) == expected


def test_c3_table_has_lecuns_1516_parameters() -> None:
    graph = presets.build("lenet5", c3_table=True)
    report = analyze(graph)
    assert report.ok, report.errors
    c3 = sum(r.params for nid, r in report.nodes.items() if nid.startswith("features.c3."))
    assert c3 == 1_516  # 1,500 weights (60 connections × 25) and 16 biases
    assert report.nodes["features.c3.maps"].shape == (16, 10, 10)
    full = analyze(presets.build("lenet5"))
    assert full.total_params - report.total_params == 2_416 - 1_516


# -- ZFNet and Xception ---------------------------------------------------------------------------

def test_zfnet_follows_zeiler_and_fergus_figure_3() -> None:
    graph = presets.build("zfnet")
    report = analyze(graph)
    conv1 = {**graph.node("features.conv1").spec.defaults, **graph.node("features.conv1").params}
    assert (conv1["kernel_size"], conv1["stride"]) == (7, 2)
    shapes = [report.nodes[f"features.{n}"].shape for n in
              ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5")]
    assert shapes == [(96, 110, 110), (96, 55, 55), (256, 26, 26), (256, 13, 13),
                      (256, 13, 13), (256, 6, 6)]
    assert report.total_params == 62_357_608


def test_xception_has_kerass_parameters_and_flows() -> None:
    graph = presets.build("xception")
    report = analyze(graph)
    # Keras' Xception: 22,910,480 = 22,855,952 trainable + 54,528 BatchNorm statistics
    assert report.trainable_params == 22_855_952
    assert report.nodes["entry.block4.add"].shape == (728, 19, 19)
    assert report.nodes["exit.block13.add"].shape == (1024, 10, 10)
    assert report.nodes["exit.relu4"].shape == (2048, 10, 10)
    middle = [nid for nid in graph.nodes if nid.startswith("middle.") and nid.endswith(".add")]
    assert len(middle) == 8
    depthwise = [nid for nid in _of_type(graph, "Conv2d") if nid.endswith("depthwise")]
    assert len(depthwise) == 34  # 2 + 2 + 2 + 8·3 + 2 + 2 separable convolutions
    smaller = analyze(presets.build("xception", middle_blocks=2))
    assert report.trainable_params - smaller.trainable_params == 6 * 3 * (728 * 9 + 728 * 728
                                                                          + 2 * 728)
