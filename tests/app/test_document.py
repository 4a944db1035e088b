"""The Document: every edit is one undo step that undoes and redoes exactly; the live analysis
follows; selection and blocks stay consistent."""

from __future__ import annotations

import pytest

from cnnstudio.app.document import Document
from cnnstudio.graph import UNSET, graph_to_dict, presets
from cnnstudio.project import Project


@pytest.fixture
def doc(qtbot):
    return Document(Project(graph=presets.build("lenet5")))


def snapshot(doc: Document) -> dict:
    return graph_to_dict(doc.graph)


def undo_redo_round_trip(doc: Document, before: dict) -> None:
    after = snapshot(doc)
    doc.undo_stack.undo()
    assert snapshot(doc) == before
    doc.undo_stack.redo()
    assert snapshot(doc) == after


def test_each_edit_is_one_step_that_undoes_and_redoes(doc) -> None:
    edits = [
        lambda: doc.add_node("ReLU", (10.0, 20.0)),
        lambda: doc.set_params("features.c1", {"out_channels": 8}),
        lambda: doc.set_params("features.c1", {"stride": UNSET}),
        lambda: doc.set_name("features.c1", "first conv"),
        lambda: doc.set_frozen(["features.c1", "features.c3"], True),
        lambda: doc.rename("features.c1", "features.first"),
        lambda: doc.move({"input": (None, (5.0, 5.0))}),
        lambda: doc.make_block(["classifier.f6", "classifier.f6_act"], "Head"),
        lambda: doc.dissolve_block("features"),
        lambda: doc.delete(["features.s2"]),
        lambda: doc.paste(doc.copy(["features.c3", "features.c3_act"])),
        lambda: doc.relink(("features.c5_act", "flatten"), ("features.c5", "flatten")),
    ]
    for edit in edits:
        before = snapshot(doc)
        count = doc.undo_stack.count()
        edit()
        assert doc.undo_stack.count() == count + 1, edit
        undo_redo_round_trip(doc, before)


def test_refused_links_and_renames_change_nothing(doc) -> None:
    before = snapshot(doc)
    assert "takes no inputs" in doc.connect("flatten", "input")
    assert "already exists" in doc.rename("features.c1", "flatten")
    assert "cycle" in doc.relink(("features.c1", "features.c1_act"),
                                 ("classifier.output", "features.c1_act"))
    assert snapshot(doc) == before and doc.undo_stack.count() == 0


def test_typing_merges_and_a_new_session_does_not(doc) -> None:
    for value in (1, 12, 128):
        doc.set_params("features.c1", {"out_channels": value})
    assert doc.undo_stack.count() == 1
    doc.set_params("features.c1", {"out_channels": 7}, merge=False)
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert doc.graph.node("features.c1").params["out_channels"] == 128
    doc.undo_stack.undo()
    assert doc.graph.node("features.c1").params["out_channels"] == 6


def test_the_analysis_follows_edits_and_undo(doc, qtbot) -> None:
    with qtbot.waitSignal(doc.analysis_ready) as blocker:
        doc.set_params("features.c1", {"out_channels": 8})
    assert blocker.args[0].nodes["features.c1"].shape == (8, 28, 28)
    with qtbot.waitSignal(doc.analysis_ready) as blocker:
        doc.undo_stack.undo()
    assert blocker.args[0].total_params == 61_706


def test_selection_drops_removed_and_follows_renamed_ids(doc) -> None:
    nid = doc.add_node("ReLU")
    doc.select([nid, "flatten"])
    doc.undo_stack.undo()
    assert doc.selection() == ["flatten"]
    doc.rename("flatten", "flat")
    assert doc.selection() == ["flat"]
    doc.undo_stack.undo()
    assert doc.selection() == ["flatten"]


def test_dirty_state_and_view_state(doc, tmp_path) -> None:
    assert not doc.dirty
    doc.set_params("features.c1", {"out_channels": 8})
    assert doc.dirty
    doc.undo_stack.undo()
    assert not doc.dirty
    doc.mark_dirty()
    assert doc.dirty
    doc.set_collapsed("features", True)
    doc.store_view_state()
    assert doc.project.extra["view"] == {"collapsed": ["features"]}
    reopened = Document(doc.project)
    assert reopened.collapsed == {"features"} and not reopened.dirty


def test_a_locked_network_refuses_edits_but_not_moves(doc) -> None:
    before = snapshot(doc)
    refused: list[str] = []
    doc.refused.connect(refused.append)
    doc.set_locked("a training run uses it")
    assert doc.locked
    doc.set_params("features.c1", {"out_channels": 8})
    doc.add_node("ReLU", (0.0, 0.0))
    doc.delete(["features.c1"])
    doc.paste(doc.copy(["features.c1"]))
    doc.make_block(["classifier.f6"], "Head")
    doc.set_frozen(["features.c1"], True)
    assert snapshot(doc) == before and doc.undo_stack.count() == 0
    assert refused and "read-only while a training run uses it" in refused[0]
    doc.move({"input": (None, (5.0, 5.0))})  # the layout is not the network
    assert doc.graph.nodes["input"].position == (5.0, 5.0)
    doc.set_locked(None)
    doc.set_params("features.c1", {"out_channels": 8})
    assert doc.graph.nodes["features.c1"].params["out_channels"] == 8
