"""The parts of the training charts: ``ChartPlots``, four linked pyqtgraph plots (loss,
accuracy, learning rate, throughput against the epoch) with their curves made once and fed
with ``setData``, the best-epoch mark, the hover crosshair, the overlaid runs and one legend
above the plots (so it never hides a curve); and ``RunPicker``, the list of runs to overlay.
They hold no training state; ``TrainingCharts`` does."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...project.config import TASK_SCORES
from ..widgets import color_icon
from ..workers import Jobs
from .rundata import run_label

TRAIN, VAL, BEST = "#2e86de", "#e67e22", "#27ae60"
OVERLAY_COLORS = ("#8e44ad", "#16a085", "#c0392b", "#b7950b", "#d35400", "#5d6d7e",
                  "#e84393", "#00838f")
PLOTS = (("loss", "Loss"), ("acc", "Accuracy (%)"), ("lr", "Learning rate"),
         ("speed", "Throughput (samples/s)"))
# Per plot: the batch buffer column, the epoch keys drawn (train-like, val-like), a scale.
SERIES = {"loss": (2, "train_loss", "val_loss", 1.0), "acc": (3, "train_acc", "val_acc", 100.0),
          "lr": (4, "lr", None, 1.0), "speed": (5, "samples_per_s", None, 1.0)}
BOTTOM_ROW = ("lr", "speed")
AXIS_WIDTH = 56  # the same left axis width in every plot keeps their x axes aligned
SHRINK = 0.4  # a y range is narrowed once the data fill less than this share of it


def nice_bounds(lo: float, hi: float, floor: float | None = None) -> tuple[float, float]:
    """[lo, hi] widened to round numbers, with room above: the y range steps between such
    bounds instead of following every new point, so an axis is laid out again only when
    the data leave its range (a redraw costs a third as much with the axes unchanged)."""
    if floor is not None:
        lo = min(lo, floor)
    if hi <= lo:  # one value: a range around it
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    span = hi - lo
    raw = span / 4
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)
    low = np.floor(lo / step) * step
    high = np.ceil((hi + 0.05 * span) / step) * step
    return float(low), float(high if high > low else low + step)


def style_plot(plot: pg.PlotItem, title: str, text: QColor) -> None:
    """Title and axes in the theme's text colour (pyqtgraph's own grey is for black)."""
    muted = QColor(text)
    muted.setAlpha(140)
    plot.setTitle(title, size="9pt", color=text.name())
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setPen(muted)
        plot.getAxis(axis).setTextPen(text)


def style_legend(legend: pg.LegendItem, text: QColor) -> None:
    legend.setLabelTextColor(text)
    for _, label in legend.items:
        label.setText(label.text, color=text)


class ChartPlots(pg.GraphicsLayoutWidget):
    """Four plots with linked x axes. ``hovered(plot, x)`` while the mouse is over one,
    ``left()`` when it leaves."""

    hovered = Signal(str, float)
    left = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.legend = pg.LegendItem(colCount=5, labelTextSize="8pt")
        self.addItem(self.legend, row=0, col=0, colspan=2)
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.best_lines: dict[str, pg.InfiniteLine] = {}
        self.cross: dict[str, pg.InfiniteLine] = {}
        self.hover_text: dict[str, pg.TextItem] = {}
        self.overlays: dict[str, list[tuple[pg.PlotItem, pg.PlotDataItem]]] = {}
        self.bands: dict[str, list[Any]] = {}  # configuration → its band's items (acc plot)
        self.titles = dict(PLOTS)
        self.anchors: dict[str, pg.PlotDataItem] = {}
        """Per plot, two invisible points at the nice bounds of its data: the plot's own
        autorange (and the user's "View all") then covers them, and stays put between steps."""
        self._spans: dict[tuple[str, str], tuple[float, float]] = {}  # (plot, part) → lo, hi
        self.paint_seconds = 0.0
        """Time spent painting since the owner last read it (the throttle's measure)."""
        for i, (name, title) in enumerate(PLOTS):
            self._add_plot(name, title, self.addPlot(row=1 + i // 2, col=i % 2))
        for name in self.plots:
            self._add_curves(name)
        self._proxy = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=30,
                                     slot=self._mouse_moved)
        self.apply_theme(self.palette())

    def _add_plot(self, name: str, title: str, plot: pg.PlotItem) -> None:
        plot.setTitle(title, size="9pt")
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)
        plot.showGrid(x=True, y=True, alpha=0.15)
        if name in BOTTOM_ROW:  # the x axes are linked: one "epoch" per column is enough
            plot.setLabel("bottom", "epoch")
        plot.getAxis("left").setWidth(AXIS_WIDTH)
        for item in (plot.getAxis("bottom"), plot.titleLabel):  # they rarely change: blit
            item.setCacheMode(item.CacheMode.DeviceCoordinateCache)
        if self.plots:
            plot.setXLink(self.plots["loss"])
        self.plots[name] = plot
        best = pg.InfiniteLine(angle=90, movable=False,
                               pen=pg.mkPen(BEST, width=1.5, style=Qt.PenStyle.DashLine),
                               label="best {value:.0f}" if name in ("loss", "acc") else None,
                               # where the curves are not: high for loss, low for accuracy
                               labelOpts={"position": 0.96 if name == "loss" else 0.06,
                                          "color": BEST,
                                          "anchors": [(-0.05, 0), (-0.05, 0)]})
        best.setVisible(False)
        plot.addItem(best, ignoreBounds=True)
        self.best_lines[name] = best
        cross = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888888", width=1))
        cross.setVisible(False)
        plot.addItem(cross, ignoreBounds=True)
        self.cross[name] = cross
        text = pg.TextItem(anchor=(0, 0), fill=pg.mkBrush(QColor(40, 40, 40, 210)),
                           color="#f0f0f0")
        text.setZValue(30)
        text.setVisible(False)
        self.scene().addItem(text)  # not in the plot: a plot clips it at its edges
        self.hover_text[name] = text

    def _add_curves(self, name: str) -> None:
        plot = self.plots[name]
        self.anchors[name] = plot.plot(pen=pg.mkPen(QColor(0, 0, 0, 0)))
        faint = QColor(TRAIN)
        faint.setAlpha(70)
        self.curves[f"{name}.raw"] = plot.plot(pen=pg.mkPen(faint, width=1))
        self.curves[f"{name}.batch"] = plot.plot(pen=pg.mkPen(TRAIN, width=1))
        self.curves[f"{name}.train"] = plot.plot(
            pen=pg.mkPen(TRAIN, width=2), symbol="o", symbolSize=6, symbolPen=None,
            symbolBrush=TRAIN, connect="finite")
        if SERIES[name][2] is not None:
            self.curves[f"{name}.val"] = plot.plot(
                pen=pg.mkPen(VAL, width=2), symbol="o", symbolSize=6, symbolPen=None,
                symbolBrush=VAL, connect="finite")
        if name == "loss":
            self.legend.addItem(self.curves["loss.batch"], "train (per batch)")
            self.legend.addItem(self.curves["loss.train"], "train (epoch)")
            self.legend.addItem(self.curves["loss.val"], "validation (epoch)")

    def apply_theme(self, pal: QPalette) -> None:
        text = pal.color(QPalette.ColorRole.WindowText)
        self.setBackground(pal.color(QPalette.ColorRole.Base))
        for name, title in self.titles.items():
            style_plot(self.plots[name], title, text)
        style_legend(self.legend, text)

    def set_task(self, task: str) -> None:
        """Title the "acc" plot with the task's per-epoch score."""
        name = TASK_SCORES.get(task, "accuracy")
        title = f"{name[0].upper()}{name[1:]} ({'×100' if task == 'regress' else '%'})"
        if self.titles["acc"] != title:
            self.titles["acc"] = title
            text = self.palette().color(QPalette.ColorRole.WindowText)
            style_plot(self.plots["acc"], title, text)

    def paintEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        start = time.thread_time()
        super().paintEvent(event)
        self.paint_seconds += time.thread_time() - start

    # -- data ------------------------------------------------------------------------------
    def set_batches(self, name: str, x: np.ndarray, line: np.ndarray,
                    raw: np.ndarray | None) -> None:
        """The per-batch curve (smoothed) and, faint under it, the raw one (None: hidden)."""
        self.curves[f"{name}.batch"].setData(x, line)
        if raw is None:
            self.curves[f"{name}.raw"].setData([], [])
        else:
            self.curves[f"{name}.raw"].setData(x, raw)
        self._fit_y(name, "batch", line, raw)

    def set_epochs(self, arrays: dict[str, np.ndarray]) -> None:
        for name, (_, train_key, val_key, scale) in SERIES.items():
            train = arrays[train_key] * scale
            self.curves[f"{name}.train"].setData(arrays["epoch"], train)
            val = None
            if val_key is not None:
                val = arrays[val_key] * scale
                self.curves[f"{name}.val"].setData(arrays["epoch"], val)
            self._fit_y(name, "epoch", train, val)

    def _fit_y(self, name: str, part: str, *values: np.ndarray | None) -> None:
        finite = [v[np.isfinite(v)] for v in values if v is not None]
        finite = [v for v in finite if v.size]
        if finite:
            self._spans[(name, part)] = (min(float(v.min()) for v in finite),
                                         max(float(v.max()) for v in finite))
        else:
            self._spans.pop((name, part), None)
        spans = [span for (plot, _), span in self._spans.items() if plot == name]
        anchor = self.anchors[name]
        if not spans:
            anchor.setData([], [])
            return
        lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
        if not np.isfinite(hi - lo):  # a diverging run's 1e308s: pyqtgraph's own range
            anchor.setData([], [])
            return
        shown = anchor.getOriginalDataset()[1]
        if shown is not None and len(shown) == 2:
            low, high = float(shown[0]), float(shown[1])
            if low <= lo and hi <= high and hi - lo >= SHRINK * (high - low):
                return  # the data still fit and fill the range: the axis stays as it is
        low, high = nice_bounds(lo, hi, floor=0.0 if name in ("lr", "speed") else None)
        anchor.setData([0.0, 0.0], [low, high])

    def set_best(self, epoch: int | None) -> None:
        for line in self.best_lines.values():
            line.setVisible(epoch is not None)
            if epoch is not None:
                line.setValue(float(epoch))

    def fit_x(self, last_epoch: float) -> None:
        self.plots["loss"].setXRange(0, max(last_epoch, 1.0), padding=0.02)

    def add_overlay(self, key: str, arrays: dict[str, np.ndarray], color: str,
                    label: str) -> None:
        """A finished run's epochs, dashed (validation) and dotted (training)."""
        self.remove_overlay(key)
        has_val = not np.all(np.isnan(arrays["val_loss"]))
        items = []
        for name, (_, train_key, val_key, scale) in SERIES.items():
            plot = self.plots[name]
            styles = [(train_key, Qt.PenStyle.DotLine if val_key else Qt.PenStyle.DashLine)]
            if val_key is not None:
                styles.append((val_key, Qt.PenStyle.DashLine))
            for series, style in styles:
                curve = plot.plot(arrays["epoch"], arrays[series] * scale, connect="finite",
                                  pen=pg.mkPen(color, width=2, style=style), symbol="o",
                                  symbolSize=4, symbolPen=None, symbolBrush=color)
                items.append((plot, curve))
                if name == "loss" and series == (val_key if has_val else train_key):
                    self.legend.addItem(curve, label)
        self.overlays[key] = items

    def add_band(self, key: str, curve: Any, color: str, label: str) -> None:
        """A configuration's mean validation accuracy over its seeds (a stats.Curve), with its
        95 % interval as a shaded band; epochs with one run have no width."""
        self.remove_band(key)
        plot = self.plots["acc"]
        x = np.asarray(curve.epochs, dtype=np.float64)
        mean = 100 * np.asarray(curve.mean, dtype=np.float64)
        low, high = (np.where(np.isnan(v), mean, 100 * v)
                     for v in (np.asarray(curve.low), np.asarray(curve.high)))
        edges = [plot.plot(x, v, pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DotLine))
                 for v in (low, high)]
        fill = QColor(color)
        fill.setAlpha(45)
        band = pg.FillBetweenItem(edges[0], edges[1], brush=pg.mkBrush(fill))
        plot.addItem(band)
        line = plot.plot(x, mean, pen=pg.mkPen(color, width=2), symbol="s", symbolSize=4,
                         symbolPen=None, symbolBrush=color)
        self.legend.addItem(line, label)
        self.bands[key] = [*edges, band, line]

    def remove_band(self, key: str) -> None:
        items = self.bands.pop(key, [])
        if items:
            self.legend.removeItem(items[-1])
        for item in items:
            self.plots["acc"].removeItem(item)

    def remove_overlay(self, key: str) -> None:
        for plot, curve in self.overlays.pop(key, []):
            self.legend.removeItem(curve)
            plot.removeItem(curve)

    # -- hover -----------------------------------------------------------------------------
    def _mouse_moved(self, event: tuple[Any, ...]) -> None:
        pos = event[0]
        for name, plot in self.plots.items():
            if plot.vb.sceneBoundingRect().contains(pos):
                self.hovered.emit(name, plot.vb.mapSceneToView(pos).x())
                return
        self.left.emit()

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        self.left.emit()
        super().leaveEvent(event)

    def show_cross(self, name: str, x: float, text: str) -> None:
        """The crosshair at ``x`` in every plot, ``text`` beside it in plot ``name``."""
        for line in self.cross.values():
            line.setValue(x)
            line.setVisible(True)
        for other, item in self.hover_text.items():
            item.setVisible(other == name and bool(text))
        if text:
            item = self.hover_text[name]
            item.setText(text)
            vb = self.plots[name].vb
            (x0, x1), (_, y1) = vb.viewRange()
            at = vb.mapViewToScene(QPointF(x, y1))
            size = item.boundingRect().size()
            left = at.x() + 6 if x < (x0 + x1) / 2 else at.x() - 6 - size.width()
            # inside the widget, even where the plot is smaller than the text
            shown = self.mapToScene(self.viewport().rect()).boundingRect()
            left = max(shown.left(), min(left, shown.right() - size.width()))
            top = max(shown.top(), min(at.y(), shown.bottom() - size.height()))
            item.setPos(left, top)

    def hide_cross(self) -> None:
        for item in (*self.cross.values(), *self.hover_text.values()):
            item.setVisible(False)


class RunPicker(QWidget):
    """The runs to overlay, each with a box to tick: the project's (but the one shown) and
    those of other project files read with "Runs of another project…". Keys: 'p:<id>' for
    the project's runs, 'x:<path>:<id>' for another project's."""

    toggled = Signal(str, bool)
    changed = Signal()  # another project's runs arrived: list them
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: dict[str, tuple[str, Any, str]] = {}  # key → (label, run, short name)
        self.external: dict[str, tuple[str, Any]] = {}  # key → (project name, run)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setToolTip("Tick runs to draw them dashed over the run shown")
        self.list.itemChanged.connect(self._item_changed)
        self.open_button = QPushButton("Runs of another project…")
        self.open_button.setToolTip("Overlay the runs of another project file (e.g. AlexNet "
                                    "versus ResNet on MNIST)")
        self.open_button.clicked.connect(self._ask_project)
        self._jobs = Jobs(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Compare with"))
        layout.addWidget(self.list, 1)
        layout.addWidget(self.open_button)

    def fill(self, runs: list[Any], shown: Any, checked: set[str]) -> list[str]:
        """List ``runs`` (but ``shown``) and the other projects' runs; returns the keys."""
        self.entries = {f"p:{r.id}": (run_label(r), r, f"run {r.id}") for r in runs
                        if r is not shown and r.epochs}
        self.entries.update({k: (run_label(r, f"{name}: "), r, f"{name}: run {r.id}")
                             for k, (name, r) in self.external.items()})
        self.list.blockSignals(True)
        self.list.clear()
        for key, (label, run, _) in self.entries.items():
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if key in checked
                               else Qt.CheckState.Unchecked)
            item.setToolTip(f"{label}: {run.status}, {len(run.epochs)} epochs, seed {run.seed}")
            self.list.addItem(item)
        self.list.blockSignals(False)
        return list(self.entries)

    def keys(self) -> list[str]:
        return list(self.entries)

    def run(self, key: str) -> Any:
        return self.entries[key][1]

    def label(self, key: str) -> str:
        return self.entries[key][0]

    def name(self, key: str) -> str:
        """Short: 'run 2', 'alexnet-mnist: run 1'."""
        return self.entries[key][2]

    def _item(self, key: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == key:
                return self.list.item(i)
        return None

    def set_checked(self, key: str, on: bool) -> None:
        item = self._item(key)
        if item is not None:
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def set_color(self, key: str, color: str | None) -> None:
        item = self._item(key)
        if item is not None:
            self.list.blockSignals(True)
            item.setIcon(color_icon(color or QColor(0, 0, 0, 0)))
            self.list.blockSignals(False)

    def _item_changed(self, item: QListWidgetItem) -> None:
        self.toggled.emit(item.data(Qt.ItemDataRole.UserRole),
                          item.checkState() == Qt.CheckState.Checked)

    def _ask_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Runs of another project", "",
                                              "CNN Studio projects (*.cnnproj)")
        if path:
            self.add_project_runs(path)

    def add_project_runs(self, path: str | Path) -> None:
        """Read another project file (in the background) and list its runs to overlay."""
        from ...project import load_project

        path = Path(path)
        self.message.emit(f"Reading {path.name}…")
        self._jobs.start(lambda: load_project(path), lambda p: self._loaded(path, p),
                         lambda m: self.message.emit(f"Cannot read {path.name}: {m}"))

    def _loaded(self, path: Path, project: Any) -> None:
        runs = [r for r in project.runs if r.epochs]
        for run in runs:
            self.external[f"x:{path}:{run.id}"] = (project.name or path.stem, run)
        self.message.emit(f"{path.name}: {len(runs)} run(s) to compare" if runs
                          else f"{path.name} has no trained runs to compare")
        self.changed.emit()
