"""A stage's number of repeated blocks: found on the graph, made smaller by dropping trailing
blocks, made larger by copying the last one, and the result still a working network."""

from __future__ import annotations

import pytest

from cnnstudio.graph import Graph, GraphError, analyze, graph_from_dict, graph_to_dict, presets
from cnnstudio.graph.repeat import set_block_count, stages


def resnet(name: str) -> Graph:
    return presets.build(name, num_classes=10, input_shape=(3, 64, 64))


def chain(blocks: int = 2) -> Graph:
    """stem → stage ``s`` of conv+ReLU blocks → an Add that takes the stage at port 0."""
    g = Graph()
    g.add_node("Input", "input", {"shape": [3, 16, 16]})
    g.add_node("Conv2d", "stem", {"out_channels": 8, "kernel_size": 3, "padding": 1})
    g.connect("input", "stem")
    g.add_group("s", "Stage")
    src = "stem"
    for i in range(blocks):
        g.add_group(f"s.{i}", "Block", parent="s")
        g.add_node("Conv2d", f"s.{i}.conv", {"out_channels": 8, "kernel_size": 3, "padding": 1},
                   name=f"conv {i}", group=f"s.{i}")
        g.add_node("ReLU", f"s.{i}.relu", group=f"s.{i}")
        g.connect(src, f"s.{i}.conv")
        g.connect(f"s.{i}.conv", f"s.{i}.relu")
        src = f"s.{i}.relu"
    g.add_node("Add", "join")
    g.connect(src, "join")
    g.connect("stem", "join")
    g.add_node("Output", "out")
    g.connect("join", "out")
    return g


def block(graph: Graph, block_id: str) -> list[tuple]:
    """A block's nodes without their block's id: what a copy must repeat."""
    return [(n.id[len(block_id):], n.type, n.params, n.name) for n in graph
            if n.id.startswith(block_id + ".")]


def test_resnets_have_four_stages_counted_as_built_and_plain_nets_none() -> None:
    assert stages(resnet("resnet18")) == {"layer1": 2, "layer2": 2, "layer3": 2, "layer4": 2}
    assert stages(resnet("resnet34")) == {"layer1": 3, "layer2": 4, "layer3": 6, "layer4": 3}
    assert stages(presets.build("lenet5")) == {}
    assert stages(presets.build("vgg11")) == {}
    assert stages(chain(3)) == {"s": 3}


def test_a_block_that_also_feeds_past_the_next_one_is_no_stage() -> None:
    g = chain(3)
    g.disconnect("stem", "join")
    g.connect("s.0.relu", "join")  # block 0 now feeds block 1 and the rest of the graph
    assert stages(g) == {}


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_every_count_from_one_to_five_gives_a_working_network(name: str) -> None:
    base = resnet(name)
    counts = stages(base)
    for stage in counts:
        for n in range(1, 6):
            graph = base.copy()
            set_block_count(graph, stage, n)
            assert stages(graph) == {**counts, stage: n}, (stage, n)
            report = analyze(graph)
            assert report.ok, (stage, n, [str(i) for i in report.issues][:3])


def test_added_blocks_copy_the_last_one_and_are_numbered_by_the_stage() -> None:
    graph = resnet("resnet18")
    graph.set_param("layer2.1.conv2", "kernel_size", 5)  # an edit the copies must repeat
    set_block_count(graph, "layer2", 4)
    assert block(graph, "layer2.2") == block(graph, "layer2.3") == block(graph, "layer2.1")
    assert graph.node("layer2.3.conv2").params["kernel_size"] == 5
    assert graph.groups["layer2.3"].parent == "layer2"
    assert graph.groups["layer2.3"].name == "Basic block"
    assert graph.inputs("layer2.2.conv1") == ["layer2.1.relu2"]
    assert graph.inputs("layer2.2.add") == ["layer2.2.bn2", "layer2.1.relu2"]
    assert graph.inputs("layer3.0.conv1") == ["layer2.3.relu2"]
    assert graph.inputs("layer3.0.downsample.0") == ["layer2.3.relu2"]
    order = list(graph.nodes)  # the copies sit after the block they copy, as if built so
    assert order.index("layer2.1.relu2") + 1 == order.index("layer2.2.conv1")


def test_a_stage_of_one_block_is_not_grown_from_its_first_block() -> None:
    graph = resnet("resnet50")
    set_block_count(graph, "layer2", 1)  # layer2.0 strides and widens: copying it would too
    before = graph_to_dict(graph)
    with pytest.raises(GraphError, match="has one block"):
        set_block_count(graph, "layer2", 2)
    assert graph_to_dict(graph) == before and stages(graph)["layer2"] == 1


def test_fewer_blocks_drop_the_trailing_ones_and_keep_the_ports() -> None:
    graph = chain(3)
    set_block_count(graph, "s", 2)
    assert [n.id for n in graph] == ["input", "stem", "s.0.conv", "s.0.relu", "s.1.conv",
                                     "s.1.relu", "join", "out"]
    assert set(graph.groups) == {"s", "s.0", "s.1"}
    assert graph.inputs("join") == ["s.1.relu", "stem"]  # port 0, as before
    set_block_count(graph, "s", 3)
    assert graph.inputs("join") == ["s.2.relu", "stem"]
    assert graph.node("s.2.conv").name == "conv 1"
    assert block(graph, "s.2") == block(graph, "s.1")  # names included: a copy of s.1
    set_block_count(graph, "s", 1)
    assert graph.inputs("join") == ["s.0.relu", "stem"] and set(graph.groups) == {"s", "s.0"}
    assert analyze(graph).ok


def test_the_changed_graph_round_trips_through_its_file_format() -> None:
    graph = resnet("resnet34")
    set_block_count(graph, "layer3", 2)
    set_block_count(graph, "layer1", 5)
    again = graph_from_dict(graph_to_dict(graph))
    assert again == graph
    assert stages(again) == {"layer1": 5, "layer2": 4, "layer3": 2, "layer4": 3}


@pytest.mark.parametrize("stage, n, words", [
    ("layer2", 0, "at least 1"),
    ("layer2", 2.5, "whole number"),
    ("layer2", True, "whole number"),
    ("layer2.0", 2, "'layer2.0' is not a stage"),
    ("nope", 2, "'nope' is not a stage"),
])
def test_a_count_below_one_or_a_group_that_is_no_stage_is_refused(stage, n, words) -> None:
    graph = resnet("resnet18")
    with pytest.raises(GraphError, match=words):
        set_block_count(graph, stage, n)
    assert graph == resnet("resnet18")


def test_a_copy_that_would_reuse_an_id_changes_nothing() -> None:
    graph = chain(2)
    graph.rename_node("s.1.conv", "a.conv")  # both end in "conv": their copies would clash
    graph.rename_node("s.1.relu", "b.conv")
    before = graph.copy()
    with pytest.raises(GraphError, match="reuse an id"):
        set_block_count(graph, "s", 3)
    assert graph == before
