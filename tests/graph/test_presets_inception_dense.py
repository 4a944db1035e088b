"""GoogLeNet and DenseNet presets, checked through the analysis alone (no torch): the seeds'
Inception shapes, the training-only auxiliary classifiers, DenseNet's channel arithmetic and the
order of its dense connections."""

from __future__ import annotations

import pytest

from cnnstudio.graph import analyze, presets


@pytest.fixture(scope="module")
def googlenet():
    graph = presets.build("googlenet")
    return graph, analyze(graph)


# The seeds' GoogLeNet table at 224×224, as [C, H, W].
@pytest.mark.parametrize(("node", "shape"), [
    ("maxpool2", (192, 28, 28)),
    ("inception3a.cat", (256, 28, 28)),
    ("inception3b.cat", (480, 28, 28)),
    ("maxpool3", (480, 14, 14)),
    ("inception4a.cat", (512, 14, 14)),
    ("inception4b.cat", (512, 14, 14)),
    ("inception4c.cat", (512, 14, 14)),
    ("inception4d.cat", (528, 14, 14)),
    ("inception4e.cat", (832, 14, 14)),
    ("maxpool4", (832, 7, 7)),
    ("inception5a.cat", (832, 7, 7)),
    ("inception5b.cat", (1024, 7, 7)),
    ("avgpool", (1024, 1, 1)),
    ("fc", (1000,)),
])
def test_googlenet_shapes_match_the_seeds(googlenet, node: str, shape: tuple[int, ...]) -> None:
    _, report = googlenet
    assert report.ok, report.errors
    assert report.nodes[node].shape == shape


def test_inception_module_stacks_its_four_branches_in_order(googlenet) -> None:
    graph, report = googlenet
    assert graph.inputs("inception3a.cat") == [
        "inception3a.branch1.relu", "inception3a.branch2.1.relu",
        "inception3a.branch3.1.relu", "inception3a.branch4.1.relu"]
    # 64 (1×1) + 128 (3×3) + 32 (5×5 slot) + 32 (pool projection) = 256
    assert [s[0] for s in report.nodes["inception3a.cat"].in_shapes] == [64, 128, 32, 32]
    assert graph.nodes["inception3a.branch4.0"].params["ceil_mode"] is True
    assert graph.nodes["inception3a.branch1.bn"].params["eps"] == 0.001


def test_auxiliary_classifiers_are_training_only_outputs(googlenet) -> None:
    graph, report = googlenet
    # torchvision returns (logits, aux2, aux1) in training mode
    assert report.output_ids == ["output", "aux2.output", "aux1.output"]
    assert not graph.nodes["output"].params.get("training_only", False)
    for aux, tap in (("aux1", "inception4a.cat"), ("aux2", "inception4d.cat")):
        assert graph.nodes[f"{aux}.output"].params.get("training_only") is True
        assert graph.inputs(f"{aux}.avgpool") == [tap]
        assert graph.inputs(f"{aux}.output") == [f"{aux}.fc2"]
        assert report.nodes[f"{aux}.conv.relu"].shape == (128, 4, 4)
        assert report.nodes[f"{aux}.flatten"].shape == (2048,)
        assert report.nodes[f"{aux}.output"].shape == (1000,)


def test_without_auxiliary_classifiers(googlenet) -> None:
    graph, report = googlenet
    assert report.total_params == 13_004_888
    small_graph = presets.build("googlenet", aux_logits=False)
    small = analyze(small_graph)
    assert small.ok, small.errors
    assert small.total_params == 6_624_904
    assert not [n.id for n in small_graph if n.id.startswith("aux")]
    assert not [n.id for n in small_graph if n.type == "Output"]
    assert small.output_ids == ["fc"]
    assert len(graph) - len(small_graph) == 2 * 10 + 1  # two aux heads of 10 nodes, the main Output


@pytest.mark.parametrize(("name", "params"), [
    ("densenet121", 7_978_856),
    ("densenet161", 28_681_000),
    ("densenet169", 14_149_480),
    ("densenet201", 20_013_928),
])
def test_densenet_parameters_equal_torchvision(name: str, params: int) -> None:
    report = analyze(presets.build(name))
    assert report.ok, report.errors
    assert report.total_params == params


# Channels after denseblock1, transition1, ..., denseblock4 (c₀ + L·k, then halved).
@pytest.mark.parametrize(("name", "channels"), [
    ("densenet121", (256, 128, 512, 256, 1024, 512, 1024)),
    ("densenet161", (384, 192, 768, 384, 2112, 1056, 2208)),
    ("densenet169", (256, 128, 512, 256, 1280, 640, 1664)),
    ("densenet201", (256, 128, 512, 256, 1792, 896, 1920)),
])
def test_densenet_channels_per_block_and_transition(name: str, channels: tuple[int, ...]) -> None:
    report = analyze(presets.build(name))
    stages = ["features.denseblock1.cat", "features.transition1.pool",
              "features.denseblock2.cat", "features.transition2.pool",
              "features.denseblock3.cat", "features.transition3.pool",
              "features.denseblock4.cat"]
    assert tuple(report.nodes[s].shape[0] for s in stages) == channels
    sizes = [report.nodes[s].shape[1:] for s in stages]
    assert sizes == [(56, 56), (28, 28), (28, 28), (14, 14), (14, 14), (7, 7), (7, 7)]
    assert report.nodes["classifier"].in_shapes == [(channels[-1],)]


def test_dense_layer_concatenates_block_input_then_earlier_layers_in_order() -> None:
    graph = presets.build("densenet121")
    report = analyze(graph)
    block = "features.denseblock1"
    # the first layer takes the block input directly, without a Concat
    assert f"{block}.denselayer1.cat" not in graph
    assert graph.inputs(f"{block}.denselayer1.norm1") == ["features.pool0"]
    assert graph.inputs(f"{block}.denselayer3.cat") == [
        "features.pool0", f"{block}.denselayer1.conv2", f"{block}.denselayer2.conv2"]
    assert graph.inputs(f"{block}.denselayer3.norm1") == [f"{block}.denselayer3.cat"]
    assert [s[0] for s in report.nodes[f"{block}.denselayer3.cat"].in_shapes] == [64, 32, 32]
    assert graph.inputs(f"{block}.cat") == ["features.pool0"] + [
        f"{block}.denselayer{i}.conv2" for i in range(1, 7)]
    # later blocks start from the transition before them
    assert graph.inputs("features.denseblock2.denselayer2.cat") == [
        "features.transition1.pool", "features.denseblock2.denselayer1.conv2"]
    assert report.nodes["features.denseblock2.denselayer1.conv1"].shape == (128, 28, 28)


def test_densenet_drop_rate_adds_a_dropout_after_each_layer() -> None:
    assert not [n for n in presets.build("densenet121") if n.type == "Dropout"]
    graph = presets.build("densenet121", drop_rate=0.2)
    dropouts = [n for n in graph if n.type == "Dropout"]
    assert len(dropouts) == 6 + 12 + 24 + 16
    assert all(n.params["p"] == 0.2 for n in dropouts)
    block = "features.denseblock1"
    assert graph.inputs(f"{block}.denselayer1.dropout") == [f"{block}.denselayer1.conv2"]
    assert graph.inputs(f"{block}.denselayer2.cat") == [
        "features.pool0", f"{block}.denselayer1.dropout"]
    assert analyze(graph).total_params == 7_978_856
