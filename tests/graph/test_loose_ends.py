"""A model with several loose ends gets one warning for the model, naming them, not one per
loose end (issue 21)."""

from __future__ import annotations

from cnnstudio.graph.analysis import analyze
from cnnstudio.graph.model import Graph


def branches(n: int) -> Graph:
    g = Graph()
    g.add_node("Input", "in", {"shape": [3, 8, 8]})
    for i in range(n):
        g.add_node("Conv2d", f"c{i}", {"out_channels": 4, "kernel_size": 3})
        g.connect("in", f"c{i}")
    return g


def loose_end_warnings(report) -> list:
    return [i for i in report.warnings if "loose ends" in i.message]


def test_three_loose_ends_make_one_model_warning_naming_each() -> None:
    report = analyze(branches(3))
    found = loose_end_warnings(report)
    assert len(found) == 1
    assert found[0].node is None  # the model's, not one node's
    assert "3 loose ends" in found[0].message
    assert all(f"c{i}" in found[0].message for i in range(3))
    assert not any("loose ends" in w for n in report.nodes.values() for w in n.warnings)


def test_many_loose_ends_are_named_up_to_six_and_counted() -> None:
    found = loose_end_warnings(analyze(branches(9)))
    assert len(found) == 1
    assert "9 loose ends" in found[0].message and "and 3 more" in found[0].message
    assert "c5" in found[0].message and "c6" not in found[0].message


def test_one_loose_end_is_the_output_and_no_warning() -> None:
    assert loose_end_warnings(analyze(branches(1))) == []
