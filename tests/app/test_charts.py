"""The live training charts: events reach the curves through the controller's signals (drawn
by the timer, never per event), smoothing, the best-epoch mark, overlaid runs, hover values,
PNG and CSV files, and a real short training."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from cnnstudio.app.document import Document
from cnnstudio.app.training.chartplots import nice_bounds
from cnnstudio.app.training.charts import TrainingCharts
from cnnstudio.app.training.controller import TrainingController
from cnnstudio.app.training.rundata import Buffer, ema, epoch_arrays, values_near
from cnnstudio.engine.training.trainer import BatchEnd, EpochEnd, Finished, Started
from cnnstudio.project import EpochRecord, Project, Run, load_project, save_project
from cnnstudio.project.model import graph_hash

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


def make_run(project: Project, run_id: int, lr: float, val_loss: list[float],
             best: int | None = None) -> Run:
    training = project.training.to_dict()
    training["optimizer"] = dict(training["optimizer"], lr=lr)
    run = Run(id=run_id, started="2025-01-02T03:04:05+00:00", graph_revision=1,
              graph_hash=graph_hash(project.graph), seed=0, training=training,
              dataset={"config": project.dataset.to_dict()}, status="finished")
    for i, loss in enumerate(val_loss, start=1):
        run.epochs.append(EpochRecord(i, loss + 0.1, 1 - loss / 3, loss, 1 - loss / 2, lr,
                                      1.0, 1000.0 + i))
    run.best_epoch = best or len(val_loss)
    return run


@pytest.fixture
def project() -> Project:
    return load_project(EXAMPLE)


@pytest.fixture
def charts(qtbot, project):
    doc = Document(project)
    controller = TrainingController(doc)
    widget = TrainingCharts(doc, controller)
    qtbot.addWidget(widget)
    widget.resize(1000, 640)
    with qtbot.waitExposed(widget):
        widget.show()
    return widget


def data(widget: TrainingCharts, curve: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = widget.view.curves[curve].getOriginalDataset()
    return (np.array([]), np.array([])) if x is None else (np.asarray(x), np.asarray(y))


def start(widget: TrainingCharts, epochs: int = 3) -> None:
    widget.controller.started.emit(Started(1, epochs, 10, 1, 0, "cpu", "CPU", 100, 20, 1000))


BATCHES = [BatchEnd(1, s, 10, 2.0 / s, 0.1 * s, 0.01, 100.0 + s) for s in (2, 4, 6, 8, 10)]


# -- plain helpers ---------------------------------------------------------------------------
def test_buffer_grows_by_doubling_and_keeps_rows():
    buf = Buffer(2, capacity=2)
    for i in range(5):
        buf.append((i, None if i == 3 else 10 * i))
    assert len(buf) == 5
    assert buf.column(0).tolist() == [0, 1, 2, 3, 4]
    assert math.isnan(buf.column(1)[3]) and buf.column(1)[4] == 40
    buf.clear()
    assert len(buf) == 0 and buf.column(0).size == 0


def test_ema_starts_at_the_first_value_and_continues():
    values = np.array([1.0, 3.0, math.nan, 5.0])
    out = ema(values, 0.5)
    assert out.tolist() == [1.0, 2.0, 2.0, 3.5]
    assert ema(np.array([4.0]), 0.5, previous=2.0).tolist() == [3.0]
    assert ema(values, 0.0).tolist()[:2] == [1.0, 3.0]


def test_ema_starts_again_where_asked():
    out = ema(np.array([1.0, 3.0, 10.0, 20.0]), 0.5, restart=np.array([True, False, True,
                                                                        False]))
    assert out.tolist() == [1.0, 2.0, 10.0, 15.0]


def test_values_near_picks_the_nearest_batch_and_epoch():
    records = [EpochRecord(1, 0.5, 0.8, 0.4, 0.9), EpochRecord(2, 0.3, 0.9, 0.2, 0.95)]
    rows = values_near(1.7, np.array([0.5, 1.0, 1.5, 2.0]), np.array([4.0, 3.0, 2.0, 1.0]),
                       [("", records)], ("train_loss", "val_loss"), 1.0, "{:.2f}")
    assert rows == [("train (batch)", "2.00"), ("train (epoch 2)", "0.30"),
                    ("val (epoch 2)", "0.20")]


# -- live events -----------------------------------------------------------------------------
def test_batches_reach_the_curves_by_the_timer_with_smoothing(qtbot, charts):
    charts.set_smoothing(0.5)
    start(charts)
    for event in BATCHES:
        charts.controller.batch.emit(event)
    assert data(charts, "loss.batch")[0].size == 0  # nothing drawn per event
    assert charts._timer.isActive()  # the timer draws (at most 4 times a second)
    qtbot.waitUntil(lambda: data(charts, "loss.batch")[0].size == 5, timeout=8000)
    x, smooth = data(charts, "loss.batch")
    assert x.tolist() == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    losses = [e.loss for e in BATCHES]
    assert data(charts, "loss.raw")[1].tolist() == pytest.approx(losses)
    expected, last = [], None
    for v in losses:
        last = v if last is None else 0.5 * last + 0.5 * v
        expected.append(last)
    assert smooth.tolist() == pytest.approx(expected)
    assert data(charts, "acc.raw")[1].tolist() == pytest.approx([100 * e.acc for e in BATCHES])
    assert data(charts, "lr.batch")[1].tolist() == pytest.approx([0.01] * 5)
    assert data(charts, "speed.raw")[1].tolist() == pytest.approx([e.samples_per_s
                                                                   for e in BATCHES])
    charts.set_smoothing(0.0)  # raw values, the faint curve hidden
    charts.flush()
    assert data(charts, "loss.raw")[0].size == 0
    assert data(charts, "loss.batch")[1].tolist() == pytest.approx(losses)


def test_smoothing_starts_again_with_each_epoch(qtbot, charts):
    """The trainer reports each epoch's running averages: the smoothing restarts there."""
    charts.set_smoothing(0.5)
    start(charts)
    for event in (BatchEnd(1, 5, 10, 2.0, 0.5, 0.01, 100.0), BatchEnd(1, 10, 10, 1.0, 0.6,
                                                                        0.01, 100.0),
                  BatchEnd(2, 5, 10, 0.4, 0.8, 0.01, 100.0), BatchEnd(2, 10, 10, 0.2, 0.9,
                                                                        0.01, 100.0)):
        charts.controller.batch.emit(event)
        charts.flush()  # smoothed in pieces, as the timer does
    assert data(charts, "loss.batch")[1].tolist() == pytest.approx([2.0, 1.5, 0.4, 0.3])


def test_epoch_points_and_the_best_epoch_mark(qtbot, charts):
    start(charts)
    val = [0.5, 0.3, 0.4]
    for epoch, loss in enumerate(val, start=1):
        record = EpochRecord(epoch, loss + 0.1, 0.8, loss, 0.9 - loss / 10, 0.01, 1.0, 500.0)
        charts.controller.epoch.emit(EpochEnd(record, best=epoch == 2))
    charts.flush()
    assert data(charts, "loss.val")[0].tolist() == [1.0, 2.0, 3.0]
    assert data(charts, "loss.val")[1].tolist() == pytest.approx(val)
    assert data(charts, "acc.val")[1].tolist() == pytest.approx([100 * (0.9 - v / 10)
                                                                 for v in val])
    assert charts.best_epoch == 2
    for line in charts.view.best_lines.values():
        assert line.isVisible() and line.value() == 2.0
    charts.controller.finished.emit(Finished("finished", 2, None, "done"))
    assert not charts.live


@pytest.mark.parametrize(("lo", "hi", "floor", "expected"), [
    (0.13, 2.31, None, (0.0, 3.0)),
    (61.0, 99.2, None, (60.0, 110.0)),
    (0.0031, 0.0031, 0.0, (0.0, 0.004)),
    (0.5, 0.5, None, (0.45, 0.6)),
    (-3.0, -1.0, None, (-3.0, -0.5)),
])
def test_nice_bounds_are_round_and_hold_the_data(lo, hi, floor, expected):
    low, high = nice_bounds(lo, hi, floor)
    assert (low, high) == pytest.approx(expected)
    assert low <= lo and hi < high


def test_the_y_range_steps_only_when_the_data_leave_or_shrink_in_it(qtbot, charts):
    view = charts.view

    def bounds() -> list[float]:
        return list(view.anchors["loss"].getOriginalDataset()[1])

    x = np.arange(4.0)
    view.set_batches("loss", x, np.array([2.3, 1.9, 1.4, 1.2]), None)
    first = bounds()
    assert first == pytest.approx([1.0, 2.5])
    view.set_batches("loss", np.arange(5.0), np.array([2.3, 1.9, 1.4, 1.2, 1.1]), None)
    assert bounds() == first  # inside and filling it: the axes stay
    view.set_batches("loss", np.arange(6.0), np.array([2.3, 1.9, 1.4, 1.2, 1.1, 0.6]), None)
    assert bounds()[0] <= 0.6 and bounds()[1] >= 2.3  # left it: a new step
    view.set_batches("loss", x, np.array([0.31, 0.3, 0.3, 0.29]), None)
    assert bounds()[1] < 1.0  # shrunk to a corner of it: narrowed
    view.set_batches("loss", x, np.array([1e308, -1e308, 0.0, 1.0]), None)
    assert view.anchors["loss"].getOriginalDataset()[1] is None or bounds() == []


def test_hidden_charts_draw_when_shown(qtbot, charts):
    charts.hide()
    start(charts)
    charts.controller.batch.emit(BATCHES[0])
    qtbot.wait(400)
    assert data(charts, "loss.batch")[0].size == 0
    charts.show()
    assert data(charts, "loss.batch")[0].size == 1


def test_the_throttle_slows_down_when_a_redraw_is_slow(charts):
    charts.update_cost = 0.0
    assert charts.refresh_ms() == 250
    charts.update_cost = 0.02  # 20 ms a redraw: one every 4 s keeps it at 0.5 %
    assert charts.refresh_ms() == 4000
    charts.update_cost = 0.001  # a fast machine: at most 4 a second
    assert charts.refresh_ms() == 250
    charts.update_cost = 1.0
    assert charts.refresh_ms() == 5000


def test_a_runs_first_epoch_shows_at_once_however_slow_the_throttle(qtbot, charts):
    charts.update_cost = 1.0  # one redraw every 5 s
    start(charts)
    charts.controller.batch.emit(BATCHES[0])
    qtbot.wait(400)
    assert data(charts, "loss.batch")[0].size == 0  # batches wait for the throttle ...
    record = EpochRecord(1, 0.5, 0.8, 0.4, 0.9, 0.01, 1.0, 500.0)
    charts.controller.epoch.emit(EpochEnd(record, best=True))
    assert data(charts, "loss.batch")[0].size == 1  # ... the first epoch does not
    assert list(data(charts, "loss.val")[1]) == [0.4]
    charts.controller.batch.emit(BATCHES[1])
    charts.controller.epoch.emit(EpochEnd(EpochRecord(2, 0.3, 0.9, 0.2, 0.95, 0.01, 1.0, 500.0),
                                          best=True))
    assert list(data(charts, "loss.val")[1]) == [0.4]  # later epochs keep to the throttle


def test_the_paint_before_a_run_is_not_taken_for_a_redraw(qtbot, charts):
    charts.controller.batch.emit(BATCHES[0])  # no run: ignored
    charts.update_cost = 0.02
    charts._last_setdata = 0.004
    charts.view.paint_seconds = 0.09  # the charts' first show, as Train opens them
    start(charts)
    assert charts.update_cost == 0.02
    assert charts.busy_seconds >= 0.09  # counted as the charts' time all the same


# -- runs of the project ---------------------------------------------------------------------
@pytest.fixture
def with_runs(qtbot, project):
    project.runs = [make_run(project, 1, 0.01, [0.9, 0.6, 0.5, 0.45]),
                    make_run(project, 2, 0.003, [0.7, 0.4, 0.35], best=2)]
    doc = Document(project)
    widget = TrainingCharts(doc, TrainingController(doc))
    qtbot.addWidget(widget)
    widget.resize(1000, 640)
    with qtbot.waitExposed(widget):
        widget.show()
    return widget


def test_a_project_opens_with_its_last_run_and_the_others_to_overlay(qtbot, with_runs):
    charts = with_runs
    assert charts.run.id == 2
    assert data(charts, "loss.val")[1].tolist() == pytest.approx([0.7, 0.4, 0.35])
    assert charts.view.best_lines["loss"].value() == 2.0
    assert charts.overlay_keys() == ["p:1"]
    charts.set_overlay("p:1", True)
    items = charts.view.overlays["p:1"]
    curves = {id(c) for _, c in items}
    val = next(c for _, c in items if np.allclose(c.getOriginalDataset()[1],
                                                  [0.9, 0.6, 0.5, 0.45]))
    assert id(val) in curves
    assert val.opts["pen"].style().name == "DashLine"
    labels = [label.text for _, label in charts.view.legend.items]
    assert any(text.startswith("run 1 (adam lr 0.01") for text in labels)
    charts.set_overlay("p:1", False)
    assert "p:1" not in charts.view.overlays
    assert not any(text.startswith("run 1") for _, label in charts.view.legend.items
                   for text in [label.text])


def test_load_run_shows_a_finished_run(qtbot, with_runs):
    charts = with_runs
    run1 = charts.document.project.run(1)
    charts.load_run(run1)
    assert charts.run is run1 and "run 1" in charts.title.text()
    assert data(charts, "loss.val")[1].tolist() == pytest.approx([0.9, 0.6, 0.5, 0.45])
    assert charts.view.best_lines["acc"].value() == 4.0
    assert charts.overlay_keys() == ["p:2"]


def test_a_new_run_keeps_the_run_shown_overlaid(qtbot, with_runs):
    charts = with_runs
    assert charts.run.id == 2 and not charts.overlays
    charts.controller.started.emit(Started(3, 3, 10, 1, 0, "cpu", "CPU", 100, 20, 1000))
    assert charts.live and "p:2" in charts.overlays and "p:1" not in charts.overlays


def test_hover_shows_the_values_at_the_cursor(qtbot, with_runs):
    charts = with_runs
    charts.set_overlay("p:1", True)
    rows = dict(charts.values_at("loss", 2.2))
    assert rows["val (epoch 2)"] == "0.4"
    assert rows["run 1 val (epoch 2)"] == "0.6"
    charts.show_hover("loss", 2.2)
    assert charts.view.cross["acc"].isVisible() and charts.view.cross["acc"].value() == 2.2
    assert charts.view.hover_text["loss"].isVisible()
    assert "run 1 val (epoch 2): 0.6" in charts.view.hover_text["loss"].toPlainText()
    charts.view.hide_cross()
    assert not charts.view.cross["loss"].isVisible()


def test_save_csv_holds_every_series(qtbot, with_runs, tmp_path):
    charts = with_runs
    charts.set_overlay("p:1", True)
    path = tmp_path / "charts.csv"
    assert charts.save_csv(path)
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["run", "series", "epoch", "step", "train_loss", "train_acc",
                             "val_loss", "val_acc", "lr", "samples_per_s"]
    own = [r for r in rows if r["run"] == "2"]
    other = [r for r in rows if r["run"] == "1"]
    assert [float(r["val_loss"]) for r in own] == pytest.approx([0.7, 0.4, 0.35])
    assert [float(r["val_loss"]) for r in other] == pytest.approx([0.9, 0.6, 0.5, 0.45])
    assert float(other[0]["lr"]) == 0.01 and other[0]["series"] == "epoch"
    assert charts.save_csv(tmp_path / "missing" / "x.csv") is False
    assert "Cannot write" in charts.message.text()


def test_save_csv_has_the_batches_of_a_live_run(qtbot, charts, tmp_path):
    start(charts)
    for event in BATCHES[:2]:
        charts.controller.batch.emit(event)
    path = tmp_path / "live.csv"
    assert charts.save_csv(path)
    rows = [r for r in csv.DictReader(path.open()) if r["series"] == "batch"]
    assert [float(r["epoch"]) for r in rows] == pytest.approx([0.2, 0.4])
    assert [int(r["step"]) for r in rows] == [2, 4]
    assert [float(r["train_loss"]) for r in rows] == pytest.approx([1.0, 0.5])


def test_save_png_writes_the_charts(qtbot, with_runs, tmp_path):
    path = tmp_path / "charts.png"
    assert with_runs.save_png(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(path))
    assert image.width() > 300 and image.height() > 200
    colors = {image.pixel(x, y) for x in range(0, image.width(), 7)
              for y in range(0, image.height(), 7)}
    assert len(colors) > 5  # curves, axes and text, not a blank image


def test_runs_of_another_project_can_be_overlaid(qtbot, with_runs, tmp_path, project):
    other = load_project(EXAMPLE)
    other.name = "alexnet-mnist"
    other.runs = [make_run(other, 1, 0.05, [1.0, 0.8])]
    save_project(other, tmp_path / "other.cnnproj")
    with_runs.add_project_runs(tmp_path / "other.cnnproj")
    key = f"x:{tmp_path / 'other.cnnproj'}:1"
    qtbot.waitUntil(lambda: key in with_runs.overlay_keys(), timeout=10000)
    with_runs.set_overlay(key, True)
    assert "alexnet-mnist: run 1 val (epoch 2)" in dict(with_runs.values_at("loss", 2))
    with_runs.add_project_runs(tmp_path / "nothing.cnnproj")
    qtbot.waitUntil(lambda: "Cannot read" in with_runs.message.text(), timeout=10000)


def test_a_new_project_clears_the_charts(qtbot, charts, project):
    start(charts)
    charts.controller.batch.emit(BATCHES[0])
    charts.flush()
    assert data(charts, "loss.batch")[0].size == 1
    charts.document.replace(Project(), None)
    assert charts.run is None and len(charts.batches) == 0
    assert data(charts, "loss.batch")[0].size == 0 and charts.overlay_keys() == []


# -- a real training -------------------------------------------------------------------------
def test_a_real_training_reaches_the_charts(qtbot, project):
    project.training.epochs = 1
    project.dataset.limit = 200
    doc = Document(project)
    controller = TrainingController(doc)
    charts = TrainingCharts(doc, controller)
    qtbot.addWidget(charts)
    with qtbot.waitExposed(charts):
        charts.show()
    epochs: list[EpochEnd] = []
    batches: list[BatchEnd] = []
    controller.epoch.connect(epochs.append)
    controller.batch.connect(batches.append)
    assert controller.train()
    qtbot.waitUntil(lambda: controller.state == "idle", timeout=90_000)
    assert len(epochs) == 1 and charts.run is project.runs[-1]
    charts.flush()
    record = epochs[0].record
    assert data(charts, "loss.val")[1].tolist() == pytest.approx([record.val_loss])
    assert charts.best_epoch == 1 and charts.view.best_lines["loss"].value() == 1.0
    arrays = epoch_arrays(project.runs[-1].epochs)
    assert arrays["train_loss"].tolist() == pytest.approx([record.train_loss])
    x, _ = data(charts, "lr.batch")  # the batches reported (a fast run may report none)
    assert x.tolist() == pytest.approx([e.step / e.steps for e in batches])


def test_the_training_views_do_not_import_torch():
    code = ("import sys; import cnnstudio.app.training.charts, cnnstudio.app.training.runs; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
