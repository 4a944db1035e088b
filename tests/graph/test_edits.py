"""Whole-graph edits by intent, and the shape text the dialogs and the command line read."""

from __future__ import annotations

import pytest

from cnnstudio.graph import GraphError, presets
from cnnstudio.graph.edits import parse_shape, set_input_shape


@pytest.mark.parametrize("text, shape", [
    ("3,224,224", [3, 224, 224]), ("1x28x28", [1, 28, 28]), ("3×32×32", [3, 32, 32]),
    ("64", [64]), (" 3 , 8 , 8 ", [3, 8, 8]),
])
def test_shapes_in_every_spelling(text: str, shape: list[int]) -> None:
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["", "3,,4", "a,b,c", "0,8,8", "3,-1,8", "1,2,3,4", "3.5,8"])
def test_what_is_not_a_shape_is_none(text: str) -> None:
    assert parse_shape(text) is None


def test_set_input_shape_checks_the_shape() -> None:
    graph = presets.build("lenet5")
    set_input_shape(graph, [1, 32, 32])
    assert graph.node("input").params["shape"] == [1, 32, 32]
    with pytest.raises(GraphError, match="input shape"):
        set_input_shape(graph, [1, 0, 32])


def test_settings_ids_name_a_node_a_block_or_an_id_prefix() -> None:
    from cnnstudio.graph.edits import members_of

    graph = presets.build("resnet18")
    assert members_of(graph, "conv1") == {"conv1"}
    layer1 = members_of(graph, "layer1")
    assert "layer1.0.conv1" in layer1 and all(n.startswith("layer1.") for n in layer1)
    assert members_of(graph, "layer1.0") < layer1
    assert members_of(graph, "layer9") == set() and members_of(graph, "layer") == set()
