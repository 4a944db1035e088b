"""Graph JSON (DESIGN.md §3.2): round trips, the hand-written forms, and clear errors."""

from __future__ import annotations

import json

import pytest

from cnnstudio.graph import (
    GraphError,
    analyze,
    dumps_graph,
    graph_to_dict,
    load_graph,
    presets,
    save_graph,
)

DESIGN_EXAMPLE = {
    "format": "cnnstudio.graph", "version": 1,
    "nodes": [
        {"id": "input", "type": "Input", "params": {"shape": [3, 128, 128]}},
        {"id": "conv1", "type": "Conv2d",
         "params": {"out_channels": 32, "kernel_size": 5, "padding": 2}},
        {"id": "relu1", "type": "ReLU"},
        {"id": "pool1", "type": "MaxPool2d", "params": {"kernel_size": 2}},
    ],
    "edges": [["input", "conv1"], ["conv1", "relu1"], ["relu1", "pool1"]],
}


def test_design_example_loads_and_analyses() -> None:
    g = load_graph(DESIGN_EXAMPLE)
    report = analyze(g)
    assert report.ok
    assert report.nodes["conv1"].shape == (32, 128, 128)
    assert report.nodes["pool1"].shape == (32, 64, 64)


def test_edges_may_be_omitted_to_chain_the_nodes() -> None:
    doc = dict(DESIGN_EXAMPLE)
    del doc["edges"]
    assert load_graph(doc) == load_graph(DESIGN_EXAMPLE)


@pytest.mark.parametrize("name", presets.names())
def test_every_preset_round_trips(name: str, tmp_path) -> None:
    g = presets.build(name)
    path = tmp_path / f"{name}.json"
    save_graph(g, path)
    again = load_graph(path)
    assert again == g
    assert dumps_graph(again) == path.read_text()


def test_unknown_keys_survive_and_ports_order_concat_inputs(tmp_path) -> None:
    doc = {
        "format": "cnnstudio.graph", "version": 1, "future_top": {"x": 1},
        "metadata": {"author": "a student"},
        "groups": [{"id": "block.inner", "parent": "block", "colour": "red"},
                   {"id": "block", "name": "Block"}],
        "nodes": [
            {"id": "in", "type": "Input", "params": {"shape": [3, 8, 8]}, "note": "hello"},
            {"id": "a", "type": "Conv2d", "params": {"out_channels": 4, "kernel_size": 1},
             "position": [10, 20.5], "group": "block"},
            {"id": "b", "type": "Conv2d", "params": {"out_channels": 6, "kernel_size": 1},
             "group": "block.inner", "frozen": True},
            {"id": "cat", "type": "Concat"},
        ],
        "edges": [["in", "a"], ["in", "b"], ["a", "cat", 1], ["b", "cat", 0]],
    }
    g = load_graph(doc)
    assert g.inputs("cat") == ["b", "a"]
    assert g.node("in").extra == {"note": "hello"}
    assert g.groups["block.inner"].extra == {"colour": "red"}
    assert g.extra == {"future_top": {"x": 1}}
    assert g.node("b").frozen and g.node("a").position == (10.0, 20.5)
    written = graph_to_dict(g)
    assert written["future_top"] == {"x": 1}
    assert written["nodes"][0]["note"] == "hello"
    assert ["b", "cat", 0] in written["edges"] and ["a", "cat", 1] in written["edges"]
    assert load_graph(json.loads(dumps_graph(g))) == g
    report = analyze(g)
    assert report.nodes["cat"].shape == (10, 8, 8)
    assert report.nodes["b"].trainable_params == 0 and report.nodes["b"].params == 24


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format="something"), "format: expected 'cnnstudio.graph'"),
    (lambda d: d.update(version=2), "newer CNN Studio"),
    (lambda d: d.update(version="1"), "version: expected a positive integer"),
    (lambda d: d.update(nodes={}), "nodes: expected a list"),
    (lambda d: d["nodes"][1].update(type="Conv3d"), r"nodes\[1\] \(conv1\): unknown layer type"),
    (lambda d: d["nodes"][1]["params"].update(kernal=3), r"nodes\[1\].*no parameter 'kernal'"),
    (lambda d: d["nodes"][2].update(id="conv1"), r"nodes\[2\].*already exists"),
    (lambda d: d["nodes"][1].update(position=[1]), r"nodes\[1\].position"),
    (lambda d: d["edges"].append(["pool1", "nowhere"]), r"edges\[3\]: no node 'nowhere'"),
    (lambda d: d["edges"].append(["pool1", "conv1"]), r"edges\[3\]:.*already takes its input"),
    (lambda d: d["edges"].append(["relu1", "conv1", "x"]), r"edges\[3\]: the port must be"),
    (lambda d: d.update(groups=[{"id": "g", "parent": "missing"}]), r"groups\[0\].parent"),
])
def test_errors_name_the_field(mutate, message) -> None:
    doc = json.loads(json.dumps(DESIGN_EXAMPLE))
    mutate(doc)
    with pytest.raises(GraphError, match=message):
        load_graph(doc)


def test_cycles_in_a_file_are_refused() -> None:
    doc = {"format": "cnnstudio.graph", "version": 1,
           "nodes": [{"id": "in", "type": "Input"}, {"id": "add", "type": "Add"},
                     {"id": "r", "type": "ReLU"}],
           "edges": [["in", "add"], ["add", "r"], ["r", "add"]]}
    with pytest.raises(GraphError, match="cycle"):
        load_graph(doc)


def test_bad_text_and_files_give_one_clear_error(tmp_path) -> None:
    with pytest.raises(GraphError, match="not valid JSON"):
        load_graph("{ nope")
    with pytest.raises(GraphError, match="nested too deeply"):
        load_graph("[" * 100_000 + "]" * 100_000)
    binary = tmp_path / "x.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(GraphError, match="not a text file"):
        load_graph(binary)
    with pytest.raises(GraphError, match="cannot read it"):
        load_graph(tmp_path / "missing.json")


def test_bad_parameter_values_load_and_show_as_errors_on_the_node() -> None:
    doc = json.loads(json.dumps(DESIGN_EXAMPLE))
    doc["nodes"][1]["params"]["kernel_size"] = 0
    report = analyze(load_graph(doc))
    assert not report.ok
    assert [(i.node, i.message) for i in report.errors] == [
        ("conv1", "kernel_size must be at least 1 (got 0)")]


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path) -> None:
    g = load_graph(DESIGN_EXAMPLE)
    path = tmp_path / "net.json"
    path.write_text("old")
    save_graph(g, path)
    assert load_graph(path) == g
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json"]
