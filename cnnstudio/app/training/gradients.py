"""The Gradients panel: how the gradient flows through the network while it trains, from the
trainer's GradientSample events (a few an epoch). Three plots share the layers as rows, the
input at the top: each layer's gradient norm at the latest sample (bars, log scale), its update
to weight ratio beside the ~1e-3 rule of thumb, and the norms over training as a heat strip;
the sample's warning above them in the theme's warning colour. Events only store; a timer
draws, as the charts do (charts.py), and nothing is drawn while the panel is hidden."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt, QTimer
from PySide6.QtGui import QFontMetrics, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..style import WARNING_COLOR
from ..widgets import colored, muted_label
from .chartplots import TRAIN, style_plot

REFRESH_MS = 250
GOOD_RATIO = 1e-3  # the rule of thumb for an update's size against its weights
ROW_PIXELS = 14  # the least height a layer's name needs on the axis
NO_SAMPLES = ("No gradients yet: while a run trains, each layer's gradient norm shows here "
              "four times an epoch.")
HINT = ("Bars: each layer's gradient norm at the latest sample, the input at the top (orange: "
        "vanishing or exploding). Dots: the step's update ‖Δw‖/‖w‖; around 1e-3 is healthy, far "
        "below a layer barely learns. Strip: the norms over training.")
PLOTS = (("norm", "Gradient norm (latest)"), ("ratio", "Update / weight (latest)"),
         ("history", "Gradient norm over training"))
TINY = 1e-30  # a zero norm is drawn at this (log scale)
LEVEL_SPAN = 4  # the heat strip's colours span at least this many decades
RATIO_FLOOR = -12.0  # log10: smaller updates (float32 loses them: Δw = 0) are drawn here


class GradientHistory:
    """The samples of one run and their layers in depth order (``rank``: node → position in
    the graph; a layer unfrozen later joins at its depth)."""

    def __init__(self) -> None:
        self.samples: list[Any] = []
        self.layers: list[str] = []

    def clear(self) -> None:
        self.samples, self.layers = [], []

    def add(self, sample: Any, rank: Mapping[str, int]) -> None:
        self.samples.append(sample)
        new = [n for n in sample.layers if n not in self.layers]
        if new:
            seen = self.layers + new
            self.layers = sorted(seen, key=lambda n: (rank.get(n, len(rank)), seen.index(n)))

    @property
    def latest(self) -> Any:
        return self.samples[-1] if self.samples else None

    def x(self) -> np.ndarray:
        """Each sample's place in the run, in epochs (as the charts' x axis)."""
        return np.array([s.epoch - 1 + s.step / max(s.steps, 1) for s in self.samples])

    def values(self, sample: Any, which: int) -> np.ndarray:
        """The latest (or any) sample's norms (0) or ratios (1) by layer; NaN where absent."""
        return np.array([sample.layers[n][which] if n in sample.layers else np.nan
                         for n in self.layers], dtype=np.float64)

    def matrix(self, which: int = 0) -> np.ndarray:
        """samples × layers of norms (0) or ratios (1); NaN where a layer was not sampled."""
        if not self.samples:
            return np.zeros((0, len(self.layers)))
        return np.stack([self.values(s, which) for s in self.samples])


def log10(values: np.ndarray) -> np.ndarray:
    """log10, with zeros drawn at TINY and non-finite values kept NaN."""
    out = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    out[finite] = np.log10(np.maximum(values[finite], TINY))
    return out


def decade_ticks(lo: float, hi: float, most: int = 7) -> list[tuple[float, str]]:
    """Ticks at the powers of ten from ``lo`` to ``hi`` (log10 values), at most ``most``."""
    first, last = math.floor(lo), math.ceil(hi)
    step = max(1, math.ceil((last - first + 1) / most))
    return [(float(k), f"1e{k}") for k in range(first, last + 1, step)]


class GradientPlots(pg.GraphicsLayoutWidget):
    """The three plots, their items made once and fed with ``setOpts``/``setData``."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.plots: dict[str, pg.PlotItem] = {}
        for col, (name, title) in enumerate(PLOTS):
            plot = self.addPlot(row=0, col=col)
            plot.setTitle(title, size="9pt")
            plot.invertY(True)  # the input at the top
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            if name != "history":  # no grid lines across the heat strip
                plot.showGrid(x=True, y=False, alpha=0.15)
            if self.plots:
                plot.setYLink(self.plots["norm"])
                plot.getAxis("left").setStyle(showValues=False)
                plot.getAxis("left").setWidth(4)
            self.plots[name] = plot
        self.ci.layout.setColumnStretchFactor(0, 3)
        self.ci.layout.setColumnStretchFactor(1, 2)
        self.ci.layout.setColumnStretchFactor(2, 4)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[])
        self.plots["norm"].addItem(self.bars)
        self.ratio = self.plots["ratio"].plot(pen=pg.mkPen(TRAIN, width=1), symbol="o",
                                              symbolSize=6, symbolPen=None, symbolBrush=TRAIN)
        self.good = pg.InfiniteLine(math.log10(GOOD_RATIO), angle=90, movable=False,
                                    pen=pg.mkPen("#27ae60", width=1.5,
                                                 style=Qt.PenStyle.DashLine),
                                    label="1e-3", labelOpts={"position": 0.03,
                                                             "color": "#27ae60"})
        self.plots["ratio"].addItem(self.good)
        self.image = pg.ImageItem(axisOrder="col-major")
        self.plots["history"].addItem(self.image)
        self.plots["history"].setLabel("bottom", "epoch")
        self.colorbar = pg.ColorBarItem(values=(-8, 0), colorMap=pg.colormap.get("viridis"),
                                        interactive=False, width=12)
        self.colorbar.setImageItem(self.image)
        self.colorbar.setTitle(" ", size="9pt")  # a title's and an axis' room: level with
        self.colorbar.showAxis("bottom")  # the plots beside it
        self.colorbar.getAxis("bottom").setStyle(showValues=False, tickLength=0)
        self.colorbar.getAxis("bottom").setPen(pg.mkPen(None))
        self.colorbar.setLabel("bottom", " ")
        self.addItem(self.colorbar, row=0, col=3)
        self.apply_theme(self.palette())

    def apply_theme(self, pal: QPalette) -> None:
        text = pal.color(QPalette.ColorRole.WindowText)
        self.setBackground(pal.color(QPalette.ColorRole.Base))
        for name, title in PLOTS:
            style_plot(self.plots[name], title, text)
        base = pal.color(QPalette.ColorRole.Base)
        base.setAlpha(220)
        self.good.label.fill = pg.mkBrush(base)  # readable over the dots beneath it
        self.good.label.update()
        self.colorbar.axis.setPen(text)
        self.colorbar.axis.setTextPen(text)
        self.colorbar.axis.setLabel("log₁₀ norm", color=text.name())

    def show_layers(self, names: list[str]) -> None:
        """The layers' names on the left axis (every k-th where the rows are too thin)."""
        axis = self.plots["norm"].getAxis("left")
        height = max(1.0, self.plots["norm"].vb.height())
        every = max(1, math.ceil(len(names) * ROW_PIXELS / height))
        axis.setTicks([[(float(i), n) for i, n in enumerate(names) if i % every == 0], []])
        metrics = QFontMetrics(self.font())
        widest = max((metrics.horizontalAdvance(n) for n in names), default=20)
        axis.setWidth(min(160, widest + 12))
        self.plots["norm"].setYRange(-0.6, max(len(names), 1) - 0.4, padding=0)

    def set_latest(self, norms: np.ndarray, ratios: np.ndarray, flagged: np.ndarray) -> None:
        n = len(norms)
        y = np.arange(n, dtype=np.float64)
        log = log10(norms)
        broken = ~np.isfinite(norms)
        finite = log[np.isfinite(log)]
        lo = math.floor(float(finite.min())) if finite.size else -8.0
        hi = math.ceil(float(finite.max())) if finite.size else 0.0
        hi = max(hi, lo + 1)
        left = lo - 0.5
        shown = np.where(broken, hi, np.where(np.isnan(log), left, log))  # inf: a full bar
        brushes = [pg.mkBrush(WARNING_COLOR if f else TRAIN) for f in flagged]
        self.bars.setOpts(x0=np.full(n, left), y=y, width=shown - left, height=0.7,
                          brushes=brushes, pens=[pg.mkPen(None)] * n)
        self.plots["norm"].setXRange(left, hi + 0.2, padding=0)
        self.plots["norm"].getAxis("bottom").setTicks([decade_ticks(left, hi), []])
        rlog = np.maximum(log10(ratios), RATIO_FLOOR)
        keep = np.isfinite(rlog)
        self.ratio.setData(rlog[keep], y[keep])
        values = [*rlog[keep].tolist(), math.log10(GOOD_RATIO)]
        rlo, rhi = math.floor(min(values)) - 0.3, math.ceil(max(values)) + 0.3
        self.plots["ratio"].setXRange(rlo, rhi, padding=0)
        self.plots["ratio"].getAxis("bottom").setTicks([decade_ticks(rlo, rhi, 5), []])

    def set_history(self, x: np.ndarray, norms: np.ndarray) -> None:
        """The heat strip: a column per sample (evenly spaced), a row per layer."""
        plot = self.plots["history"]
        if not len(x):
            self.image.clear()
            return
        log = log10(norms)
        width = float(np.diff(x).mean()) if len(x) > 1 else 0.25
        start = float(x[0]) - width / 2
        self.image.setImage(log, autoLevels=False)
        self.image.setRect(QRectF(start, -0.5, width * len(x), norms.shape[1]))
        finite = log[np.isfinite(log)]
        if finite.size:
            hi = math.ceil(float(finite.max()))  # at least LEVEL_SPAN decades: the colours
            lo = min(math.floor(float(finite.min())), hi - LEVEL_SPAN)  # say magnitudes,
            self.colorbar.setLevels((lo, hi))  # not a healthy network's noise
        plot.setXRange(start, start + width * len(x), padding=0.02)

    def empty(self) -> None:
        """No sample drawn. (Not ``clear``: GraphicsLayoutWidget's instance attribute of that
        name removes the plots.)"""
        self.bars.setOpts(x0=[], y=[], width=[], brushes=None, pens=None)
        self.ratio.setData([], [])
        self.image.clear()
        self.plots["norm"].getAxis("left").setTicks(None)


class GradientFlowView(QWidget):
    """The gradient flow of the run being trained (samples arrive with the controller's
    ``gradients`` signal); a finished run keeps its last picture until the next starts."""

    def __init__(self, document: Any, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document, self.controller = document, controller
        self.history = GradientHistory()
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._redraw)
        self.title = QLabel(NO_SAMPLES)
        self.title.setWordWrap(True)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warning.hide()
        self.view = GradientPlots()
        self.view.setMinimumHeight(160)
        self.hint = muted_label(HINT)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.warning)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.hint)
        self._proxy = pg.SignalProxy(self.view.scene().sigMouseMoved, rateLimit=30,
                                     slot=self._mouse_moved)
        document.reset.connect(self.clear)
        controller.started.connect(lambda _event: self.clear())
        controller.gradients.connect(self.add_sample)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.PaletteChange:
            self.view.apply_theme(self.palette())
        super().changeEvent(event)

    def clear(self) -> None:
        self.history.clear()
        self.title.setText(NO_SAMPLES)
        self.warning.hide()
        self.view.empty()
        self._dirty = False

    def add_sample(self, sample: Any) -> None:
        """Store a GradientSample; the timer draws it."""
        graph = self.document.project.graph
        rank = {nid: i for i, nid in enumerate(graph.topological_order())}
        self.history.add(sample, rank)
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._redraw()  # what arrived while hidden

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.history.samples:  # the layers' names thin out or fill in
            self._dirty = True
            self._timer.start()

    def flush(self) -> None:
        """Draw what arrived now, without waiting for the timer."""
        self._timer.stop()
        self._redraw()

    def _redraw(self) -> None:
        if not self._dirty or not self.isVisible():
            return
        self._dirty = False
        latest, history = self.history.latest, self.history
        if latest is None:
            return
        self.title.setText(f"Epoch {latest.epoch}, step {latest.step} of {latest.steps}: "
                           f"{len(latest.layers)} layers with weights, "
                           f"{len(history.samples)} samples")
        self.warning.setText(colored(f"▲ {latest.warning}", WARNING_COLOR, True)
                             if latest.warning else "")
        self.warning.setVisible(bool(latest.warning))
        flagged = np.array([n in latest.flagged for n in history.layers], dtype=bool)
        self.view.show_layers(history.layers)
        self.view.set_latest(history.values(latest, 0), history.values(latest, 1), flagged)
        self.view.set_history(history.x(), history.matrix(0))

    def _mouse_moved(self, event: tuple[Any, ...]) -> None:
        """The layer under the pointer: its numbers in the hint line."""
        latest = self.history.latest
        pos = event[0]
        for plot in self.view.plots.values():
            if latest is not None and plot.vb.sceneBoundingRect().contains(pos):
                row = round(plot.vb.mapSceneToView(pos).y())
                if 0 <= row < len(self.history.layers):
                    node = self.history.layers[row]
                    g, r = latest.layers.get(node, (math.nan, math.nan))
                    self.hint.setText(f"{node}: gradient norm {g:.3g}, update / weight {r:.3g} "
                                      f"(epoch {latest.epoch}, step {latest.step})")
                    return
        self.hint.setText(HINT)
