"""Where the time goes, in the window: the Summary measures the network (its ms and share
columns, the module's and the ONNX file's figures) and the canvas paints the times as a heat
map; both follow edits. Few repeats: the figures' values are never asserted."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

from cnnstudio.app.canvas.heat import scale_color
from cnnstudio.app.document import Document
from cnnstudio.app.panels import SummaryTable
from cnnstudio.app.panels.summary import MS, SHARE
from cnnstudio.app.profiling import ms_text, profiles_of
from cnnstudio.graph import presets
from cnnstudio.project import Project
from cnnstudio.project.model import graph_hash


@pytest.fixture(scope="module")
def lenet_profile():
    """LeNet-5 measured once (two passes, no ONNX), and the hash of the graph measured."""
    from cnnstudio.engine.profile.layers import profile_graph

    graph = presets.build("lenet5")
    return profile_graph(graph, warmup=1, repeats=2, onnx=False), graph_hash(graph)


def ms_cells(table: SummaryTable) -> dict[str, str]:
    model = table.model
    return {model.node_id(r): model.index(r, MS).data() for r in range(model.rowCount())}


def test_measure_fills_the_ms_column_and_the_totals_then_an_edit_hides_them(
        qtbot, window, monkeypatch):
    monkeypatch.setattr(SummaryTable, "PROFILE_WARMUP", 1)
    monkeypatch.setattr(SummaryTable, "PROFILE_REPEATS", 2)
    window.new_from_preset("lenet5")
    doc, table = window.document, window.summary
    profiles = profiles_of(doc)
    assert table.latency_device.itemText(0) == "cpu"
    assert all(text == "" for text in ms_cells(table).values())
    qtbot.mouseClick(table.measure_button, Qt.MouseButton.LeftButton)
    assert not table.measure_button.isEnabled() and "Measuring on cpu" in table.latency.text()
    qtbot.waitUntil(lambda: profiles.profile is not None, timeout=120_000)
    assert table.measure_button.isEnabled()
    profile = profiles.profile
    ran = {n.node for n in profile.nodes}
    assert ran and "input" not in ran  # the input does nothing to time
    cells = ms_cells(table)
    for node in profile.nodes:
        assert cells[node.node] == ms_text(node.median_ms)
        row = table.model.row_of(node.node)
        assert table.model.index(row, SHARE).data().endswith("%")
        tip = table.model.index(row, MS).data(Qt.ItemDataRole.ToolTipRole)
        assert "10th–90th percentile" in tip and ("GMAC/s" in tip or "No multiply" in tip)
    assert cells["input"] == ""
    conv = table.model.row_of("features.c1")
    assert "GMAC/s" in table.model.index(conv, MS).data(Qt.ItemDataRole.ToolTipRole)
    text = table.latency.text()
    assert "PyTorch module:" in text and "samples/s" in text
    assert "ONNX under onnxruntime" in text or "ONNX: not measured" in text
    assert "Random weights" in table.latency_note.text()

    doc.set_params("features.c1", {"out_channels": 8})
    doc.flush()
    assert profiles.profile is None and profiles.stale
    assert all(text == "" for text in ms_cells(table).values())
    assert "before the last edit" in table.latency.text()
    doc.undo_stack.undo()  # the measured graph again: its figures come back
    doc.flush()
    assert profiles.profile is profile and ms_cells(table) == cells


def test_a_network_with_errors_is_not_measured(qtbot):
    doc = Document(Project(graph=presets.build("lenet5")))
    doc.set_params("classifier.f6", {"out_features": 0})
    doc.flush()
    table = SummaryTable(doc)
    qtbot.addWidget(table)
    assert not doc.report.ok
    assert not table.measure() and "fix them first" in table.latency.text()


def test_the_controls_fit_a_narrow_summary(qtbot):
    doc = Document(Project(graph=presets.build("lenet5")))
    table = SummaryTable(doc)
    qtbot.addWidget(table)
    table.resize(300, 700)
    table.show()
    qtbot.waitExposed(table)
    table.scroller.widget().adjustSize()
    for widget in (table.measure_button, table.latency_batch):
        right = widget.mapTo(table, QPoint(widget.width(), 0)).x()
        assert right <= table.width()


def test_heat_map_tints_what_ran_and_goes_with_the_action_or_an_edit(qtbot, window,
                                                                     lenet_profile):
    profile, measured = lenet_profile
    window.new_from_preset("lenet5")
    scene = window.view.graph_scene
    profiles_of(window.document).set(profile, measured)
    assert scene.heat == {}  # measured, but the heat map is off
    action = window.act["heat_map"]
    action.setChecked(True)
    slowest = max(profile.nodes, key=lambda n: n.median_ms)
    fastest = min(profile.nodes, key=lambda n: n.median_ms)
    assert {n.node for n in profile.nodes} <= set(scene.heat)
    assert "input" not in scene.heat  # did not run: untinted
    assert scene.heat[slowest.node].solid != scene.heat[fastest.node].solid
    assert scene.heat[slowest.node].solid == scale_color(1.0)
    assert scene.heat[slowest.node].label == f"{ms_text(slowest.median_ms)} ms"
    assert scene.heat_top == slowest.median_ms
    legend = window.view.legend
    assert legend.isVisible() and "batch 1, cpu" in legend.caption
    window.view.grab()  # every box paints with its tint (no error)

    action.setChecked(False)
    assert scene.heat == {} and not legend.isVisible()
    action.setChecked(True)
    assert scene.heat
    window.document.set_params("features.c1", {"kernel_size": 3})
    window.document.flush()
    assert scene.heat == {} and not legend.isVisible()


def test_a_collapsed_block_sums_its_layers(qtbot, window, lenet_profile):
    profile, measured = lenet_profile
    window.new_from_preset("lenet5")
    scene = window.view.graph_scene
    profiles_of(window.document).set(profile, measured)
    window.act["heat_map"].setChecked(True)
    window.view.collapse_all()
    assert scene.boxes
    gid, box = next(iter(scene.boxes.items()))
    members = set(scene.members[gid])
    total = sum(n.median_ms for n in profile.nodes if n.node in members)
    assert scene.heat[box.key].label == f"{ms_text(total)} ms"
    assert scene.heat_top >= total


def test_the_scale_runs_cool_to_hot_and_clamps():
    cool, hot = scale_color(0.0), scale_color(1.0)
    assert cool.blue() > cool.red() and hot.red() > hot.blue()
    assert scale_color(-1.0) == cool and scale_color(2.0) == hot
    assert scale_color(0.5) not in (cool, hot)


def test_cuda_is_offered_once_torch_sees_a_gpu(qtbot, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    table = SummaryTable(Document(Project(graph=presets.build("lenet5"))))
    qtbot.addWidget(table)
    box = table.latency_device
    assert [box.itemText(i) for i in range(box.count())] == ["cpu"]
    box.showPopup()
    box.hidePopup()
    assert [box.itemText(i) for i in range(box.count())] == ["cpu", "cuda"]
