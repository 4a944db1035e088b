"""Deploy ▸ Quantize to int8 in the window: the panel quantises a trained project on a job and
shows float32 against int8, each layer's SQNR, and the one click that keeps the most sensitive
layers in float32; the canvas paints the SQNR (View ▸ int8 sensitivity map), which follows
edits like the latency heat map. The digits example with drawn weights: the files and figures
are what is checked, not accuracy."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from cnnstudio.app.canvas.heat import MARK, scale_color
from cnnstudio.app.canvas.scene import INT8, LATENCY, NONE
from cnnstudio.app.profiling import profiles_of, sensitivities_of
from cnnstudio.app.quantize_panel import KEEP, LAYER, figures_html, open_quantize
from cnnstudio.engine.compress.quantize import QuantizeResult
from cnnstudio.engine.profile.latency import of_times
from cnnstudio.project.model import graph_hash
from tests.cli.conftest import SIMPLE
from tests.cli.conftest import trained as trained  # noqa: F401 - the fixture, shared

JOB_MS = 240_000


def fake_result(path: Path, sensitivity: dict[str, float], kept: tuple[str, ...] = (),
                int8_accuracy: float = 0.9) -> QuantizeResult:
    return QuantizeResult(path=path, fp32_accuracy=0.95, int8_accuracy=int8_accuracy,
                          fp32_bytes=4000, int8_bytes=1000, fp32=of_times([2.0, 2.2], 1, "cpu"),
                          int8=of_times([1.0, 1.1], 1, "cpu"), calibration=32, evaluated=100,
                          sensitivity=sensitivity, kept_float=kept)


def checked(panel) -> set[str]:
    table = panel.table
    return {table.item(r, LAYER).text() for r in range(table.rowCount())
            if table.item(r, KEEP).checkState() == Qt.CheckState.Checked}


def test_quantise_in_the_panel_paint_the_sensitivity_and_keep_the_worst_in_float(
        qtbot, window, trained):
    window.open_file(trained)
    doc, scene = window.document, window.view.graph_scene
    panel = open_quantize(window)
    assert panel.isVisible() and not panel.isModal()
    out = trained.with_name("simple.int8.onnx")
    assert panel.out.text() == str(out) and panel.calibrate.value() == 256
    panel.calibrate.setValue(32)
    qtbot.mouseClick(panel.quantize_button, Qt.MouseButton.LeftButton)
    assert panel.running and not panel.quantize_button.isEnabled()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=JOB_MS)
    first = panel.result
    assert out.is_file() and first.path == out and first.calibration == 32
    text = panel.figures.text()
    assert "Accuracy" in text and "smaller" in text and "the speed" in text and str(out) in text
    assert panel.before is None and "(before)" not in text
    rows = [panel.table.item(r, LAYER).text() for r in range(panel.table.rowCount())]
    assert rows == [nid for nid, _ in first.most_sensitive(len(first.sensitivity))]

    # the results turn the sensitivity map on: every measured layer tinted, the worst hottest
    assert window.act["sensitivity_map"].isChecked() and scene.overlay == INT8
    assert set(first.sensitivity) <= set(scene.heat)
    worst, low = first.most_sensitive(1)[0]
    assert scene.heat[worst].solid == scale_color(1.0) and scene.heat[worst].label == \
        f"{low:.1f} dB"
    assert scene.heat_top == low and window.view.legend.caption == \
        "int8 SQNR dB, lower is worse"
    window.view.grab()  # every box paints with its tint (no error)

    doc.set_params("block1.conv", {"out_channels": 12})  # the SQNR was of the graph before
    doc.flush()
    assert scene.heat == {} and sensitivities_of(doc).stale
    doc.undo_stack.undo()
    doc.flush()
    assert set(first.sensitivity) <= set(scene.heat)

    # the one click: the three the result names most sensitive kept in float32, quantised again
    names = [nid for nid, _ in first.most_sensitive()]
    assert panel.again.isVisible() and "Keep the 3 most sensitive" in panel.again.text()
    qtbot.mouseClick(panel.again, Qt.MouseButton.LeftButton)
    assert panel.running and checked(panel) == set(names)
    qtbot.waitUntil(lambda: panel.result is not first, timeout=JOB_MS)
    second = panel.result
    assert second.kept_float == tuple(names) and panel.before is first
    assert "(before)" in panel.figures.text() and "3 kept in float32" in panel.figures.text()
    assert checked(panel) == set(names) and set(panel.worst()).isdisjoint(names)
    for nid in names:
        assert scene.heat[nid].label == "fp32" and scene.heat[nid].solid == MARK
    qtbot.waitUntil(lambda: not panel.running)


def test_a_box_in_the_table_edits_the_keep_list(qtbot, window, trained):
    window.open_file(trained)
    panel = open_quantize(window)
    panel.result = fake_result(trained, {"block1.relu": 30.0, "classifier.fc2": 20.0},
                               kept=("block2.relu",))
    panel.show_result()
    rows = [panel.table.item(r, LAYER).text() for r in range(panel.table.rowCount())]
    assert rows == ["classifier.fc2", "block1.relu", "block2.relu"]
    panel.keep.setText("block2.relu")
    assert checked(panel) == {"block2.relu"}
    panel.table.item(0, KEEP).setCheckState(Qt.CheckState.Checked)
    assert panel.keep.text() == "block2.relu, classifier.fc2"
    panel.table.item(2, KEEP).setCheckState(Qt.CheckState.Unchecked)
    assert panel.keep.text() == "classifier.fc2"


def test_what_cannot_be_quantised_is_refused_in_one_red_line(qtbot, window, tmp_path, trained):
    window.new_from_preset("lenet5")  # unsaved
    panel = open_quantize(window)
    assert panel.out.text() == ""
    for setup, words in (
            (lambda: None, "Save the project first"),
            (lambda: window.open_file(Path(shutil.copy(SIMPLE, tmp_path / "untrained.cnnproj"))),
             "no trained weights: train it first"),
            (lambda: window.open_file(trained), None),
            (lambda: panel.keep.setText("block1.conv, nope"), "no layer 'nope'"),
            (lambda: (panel.keep.clear(),
                      window.document.set_params("classifier.fc2", {"out_features": 0}),
                      window.document.flush()), "The network has errors")):
        setup()
        if words is None:
            assert panel.out.text() == str(trained.with_name("simple.int8.onnx"))
            continue
        assert not panel.start() and not panel.running, words
        text = panel.status.text()
        assert words in text and "\n" not in text and "e74c3c" in panel.status.styleSheet()
    assert not list(tmp_path.glob("*.onnx"))


def test_the_overlays_take_turns_and_a_block_shows_its_worst_layer(qtbot, window, trained):
    window.open_file(trained)
    doc, scene, view = window.document, window.view.graph_scene, window.view
    measured = graph_hash(doc.graph)
    result = fake_result(trained, {"block1.conv": 35.0, "block1.relu": 25.0, "block2.relu": 40.0},
                         kept=("classifier.fc1", "classifier.relu", "classifier.dropout",
                               "classifier.fc2"))
    window.act["sensitivity_map"].setChecked(True)
    assert scene.heat == {} and "Deploy ▸ Quantize to int8" in \
        window.statusBar().currentMessage()
    sensitivities_of(doc).set(result, measured)
    assert scene.heat["block1.relu"].solid == scale_color(1.0)  # the lowest dB: hottest
    assert scene.heat["block2.relu"].solid == scale_color(0.0)  # the highest: coolest
    assert (scene.heat_cool, scene.heat_top) == (40.0, 25.0)
    assert view.legend.ends == ("40.0", "25.0")
    view.collapse_all()
    assert scene.boxes
    keys = {gid: box.key for gid, box in scene.boxes.items()}
    assert scene.heat[keys["block1"]].label == "25.0 dB"  # a block is its worst layer
    assert scene.heat[keys["classifier"]].label == "fp32"  # all its layers kept in float32
    window.view.grab()

    window.act["heat_map"].setChecked(True)  # the latency map instead: nothing measured
    assert not window.act["sensitivity_map"].isChecked() and scene.overlay == LATENCY
    assert scene.heat == {} and profiles_of(doc).profile is None
    window.act["heat_map"].setChecked(False)
    assert scene.overlay == NONE and not view.legend.isVisible()


def test_the_figures_set_the_run_before_beside_the_new_one(tmp_path):
    before = fake_result(tmp_path / "a.onnx", {"x": 20.0}, int8_accuracy=0.90)
    after = fake_result(tmp_path / "a.onnx", {"y": 30.0}, kept=("x",), int8_accuracy=0.94)
    html = figures_html(after, before)
    assert "int8 (before)" in html and "int8, 1 kept in float32" in html
    assert "90.00 %</b> (-5.00 points)" in html and "94.00 %</b> (-1.00 points)" in html
    assert "4.0× smaller" in html and "2.00× the speed" in html
    assert "int8 (before)" not in figures_html(after)
    tuned = dataclasses.replace(after, ptq_accuracy=0.88, qat_epochs=2)
    assert "88.00 % before 2 quantisation-aware epochs" in figures_html(tuned)


def test_the_quantisation_aware_epochs_reach_the_engine(qtbot, window, trained):
    window.open_file(trained)
    panel = open_quantize(window)
    assert panel.options()["qat_epochs"] == 0 and panel.qat.text() == "off"
    panel.qat.setValue(2)
    assert panel.options() == {"calibrate": 256, "qat_epochs": 2}


@pytest.fixture(autouse=True)
def no_dialogs(monkeypatch):
    """No file dialog or message box waits for a person."""
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
