"""The graph model: ids, links and their checks, events, and the inverses undo relies on."""

from __future__ import annotations

import pytest

from cnnstudio.graph import UNSET, Edge, Graph, GraphError


def chain(*types: str) -> Graph:
    g = Graph()
    prev = None
    for i, t in enumerate(types):
        params = {"Conv2d": {"out_channels": 8, "kernel_size": 3},
                  "Linear": {"out_features": 10}}.get(t, {})
        node = g.add_node(t, f"n{i}", params)
        if prev:
            g.connect(prev, node.id)
        prev = node.id
    return g


def test_ids_are_stable_strings_and_generated_ids_are_fresh() -> None:
    g = Graph()
    a = g.add_node("Conv2d", params={"out_channels": 4, "kernel_size": 3})
    b = g.add_node("Conv2d", params={"out_channels": 4, "kernel_size": 3})
    assert (a.id, b.id) == ("conv2d1", "conv2d2")
    g.remove_node("conv2d1")
    c = g.add_node("Conv2d", params={"out_channels": 4, "kernel_size": 3})
    assert c.id not in ("conv2d2",) and c.id in g


@pytest.mark.parametrize("bad, fragment", [
    ("", "non-empty"), ("a..b", "each dot-separated part"), ("has space", "each dot-separated"),
    ("layer.forward", "reserved"), ("_private", "reserved"), (3, "non-empty string"),
])
def test_bad_ids_are_refused(bad, fragment) -> None:
    with pytest.raises(GraphError, match=fragment):
        Graph().add_node("ReLU", bad)


def test_ids_cannot_nest_inside_another_layer() -> None:
    g = Graph()
    g.add_node("ReLU", "block.relu")
    with pytest.raises(GraphError, match="block path"):
        g.add_node("ReLU", "block")
    g.add_node("ReLU", "top")
    with pytest.raises(GraphError, match="inside the layer 'top'"):
        g.add_node("ReLU", "top.inner")


def test_unknown_type_and_parameter_are_refused_with_suggestions() -> None:
    g = Graph()
    with pytest.raises(GraphError, match="did you mean Conv2d"):
        g.add_node("Conv2D")
    with pytest.raises(GraphError, match="did you mean 'kernel_size'"):
        g.add_node("Conv2d", "c", {"kernal_size": 3})
    g.add_node("Conv2d", "c", {"kernel_size": 3})
    with pytest.raises(GraphError, match="no parameter 'size'"):
        g.set_param("c", "size", 3)


def test_connection_checks_refuse_cycles_duplicates_and_second_inputs() -> None:
    g = chain("Input", "Conv2d", "ReLU", "Add")
    g.add_node("ReLU", "after")
    g.connect("n3", "after")
    with pytest.raises(GraphError, match="cycle"):
        g.connect("after", "n3")
    with pytest.raises(GraphError, match="already feeds"):
        g.connect("n1", "n2")
    with pytest.raises(GraphError, match="already takes its input from n0"):
        g.connect("n3", "n1")
    with pytest.raises(GraphError, match="cannot feed itself"):
        g.connect("n2", "n2")
    with pytest.raises(GraphError, match="takes no inputs"):
        g.connect("n2", "n0")
    assert g.connection_problem("n1", "n3") is None  # Add takes many inputs
    g.connect("n1", "n3")
    assert g.inputs("n3") == ["n2", "n1"]


def test_links_keep_port_order_and_disconnect_shifts_ports() -> None:
    g = Graph()
    for nid in ("a", "b", "c"):
        g.add_node("ReLU", nid)
    g.add_node("Concat", "cat")
    g.connect("a", "cat")
    g.connect("c", "cat")
    g.connect("b", "cat", 1)
    assert g.inputs("cat") == ["a", "b", "c"]
    assert g.disconnect("b", "cat") == Edge("b", "cat", 1)
    assert g.inputs("cat") == ["a", "c"]
    with pytest.raises(GraphError, match="port 5"):
        g.connect("b", "cat", 5)


def test_remove_and_restore_node_put_everything_back() -> None:
    g = Graph()
    for nid in ("a", "b", "c", "d"):
        g.add_node("ReLU", nid)
    g.add_node("Concat", "cat")
    g.add_node("Add", "add")
    for src in ("a", "b", "c"):
        g.connect(src, "cat")
    g.connect("b", "add")
    g.connect("d", "add")
    before = g.copy()
    removed = g.remove_node("b")
    assert "b" not in g and g.inputs("cat") == ["a", "c"] and g.inputs("add") == ["d"]
    g.restore_node(removed)
    assert g == before


def test_events_fire_once_per_edit_and_once_per_batch() -> None:
    g = Graph()
    seen: list[tuple] = []
    g.events.node_added.connect(lambda n: seen.append(("added", n.id)))
    g.events.edge_added.connect(lambda e: seen.append(("edge", e)))
    g.events.node_changed.connect(lambda n, what: seen.append(("changed", n.id, what)))
    changed = []
    g.events.changed.connect(lambda: changed.append(1))
    g.add_node("Input", "in", {"shape": [1, 8, 8]})
    g.add_node("ReLU", "r")
    assert len(changed) == 2
    with g.batch():
        g.connect("in", "r")
        g.set_node_attrs("r", name="activation", position=(10.0, 20.0))
    assert len(changed) == 3
    assert ("edge", Edge("in", "r", 0)) in seen
    assert ("changed", "r", "name") in seen and ("changed", "r", "position") in seen


def test_set_params_returns_old_values_for_undo() -> None:
    g = chain("Input", "Conv2d")
    old = g.set_params("n1", {"stride": 2, "kernel_size": 5})
    assert old == {"stride": UNSET, "kernel_size": 3}
    rev = g.node("n1").rev
    g.set_params("n1", old)
    assert g.node("n1").params == {"out_channels": 8, "kernel_size": 3}
    assert g.node("n1").rev != rev


def test_rename_keeps_links_and_place() -> None:
    g = chain("Input", "Conv2d", "ReLU")
    g.rename_node("n1", "features.conv")
    assert list(g.nodes) == ["n0", "features.conv", "n2"]
    assert g.inputs("n2") == ["features.conv"] and g.outputs("n0") == ["features.conv"]
    with pytest.raises(GraphError, match="already exists"):
        g.rename_node("n2", "n0")


def test_groups_nest_and_dissolve_into_their_parent() -> None:
    g = Graph()
    g.add_group("layer1", "Stage 1")
    g.add_group("layer1.0", "Block", parent="layer1")
    g.add_node("ReLU", "layer1.0.relu", group="layer1.0")
    assert g.group_members("layer1") == ["layer1.0.relu"]
    removed = g.remove_group("layer1.0")
    assert g.node("layer1.0.relu").group == "layer1"
    g.restore_group(*removed)
    assert list(g.groups) == ["layer1", "layer1.0"]
    assert g.node("layer1.0.relu").group == "layer1.0"
    with pytest.raises(GraphError, match="inside itself"):
        g.set_group_attrs("layer1", parent="layer1.0")


def test_topological_order_follows_insertion_where_possible() -> None:
    g = Graph()
    for nid in ("in", "a", "b", "c"):
        g.add_node("Input" if nid == "in" else "ReLU", nid)
    g.add_node("Add", "add")
    g.connect("in", "a")
    g.connect("in", "c")
    g.connect("a", "b")
    g.connect("b", "add")
    g.connect("c", "add")
    assert g.topological_order() == ["in", "a", "b", "c", "add"]


def test_copy_is_independent_and_equal() -> None:
    g = chain("Input", "Conv2d", "ReLU")
    g.metadata["note"] = "x"
    other = g.copy()
    assert other == g
    other.set_param("n1", "out_channels", 16)
    assert other != g and g.node("n1").params["out_channels"] == 8
