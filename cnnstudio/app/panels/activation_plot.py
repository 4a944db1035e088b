"""The inspector's plot of an element-wise activation: f(x) and f'(x) on [−6, 6] with the node's
own parameters, the regions where it saturates (|f'| < 0.05: the gradient barely passes)
shaded and labelled. The numbers come from torch on a background thread (engine/inference/
activation.py, cached per type and parameters); pyqtgraph is imported when the first plot is
made, so neither slows the window's start. The plot has a fixed height: editing a parameter
redraws it without moving the inspector's rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QGroupBox, QVBoxLayout, QWidget

from ...graph import layers
from ..style import CATEGORY_COLORS, ERROR_COLOR
from ..widgets import colored, esc, muted_label
from ..workers import Jobs

F_COLOR = CATEGORY_COLORS["Activation"]
SLOPE_COLOR = "#2e86de"
PLOT_HEIGHT = 170
NOT_ELEMENTWISE = frozenset({"Softmax", "LogSoftmax", "BranchSoftmax"})  # over an axis
NOTE = (f"{colored('━ f(x)', F_COLOR, True)}&nbsp;&nbsp;{colored('╍ f′(x)', SLOPE_COLOR, True)}"
        + esc(": its slope, what the gradient is multiplied by. Shaded: saturated, |f′| < 0.05."))


def plottable(type_name: str) -> bool:
    """Whether the layer type is an element-wise activation (one number in, one out)."""
    return layers.get(type_name).category == "Activation" and type_name not in NOT_ELEMENTWISE


class ActivationPlot(QGroupBox):
    """Shows one activation's curve; ``show_params`` redraws it for new parameters."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Activation function", parent)
        import pyqtgraph as pg

        self.plot = pg.PlotWidget()
        self.plot.setFixedHeight(PLOT_HEIGHT)
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setXRange(-6, 6, padding=0.02)
        self.f_curve = item.plot([], [], pen=pg.mkPen(F_COLOR, width=2))
        self.slope_curve = item.plot([], [], pen=pg.mkPen(SLOPE_COLOR, width=2,
                                                          style=Qt.PenStyle.DashLine))
        self.regions: list[Any] = []  # the shaded regions and their labels
        self.message = muted_label(NOTE)  # the legend: in the plot it would hide a curve
        self.message.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.plot)
        layout.addWidget(self.message)
        self.jobs = Jobs(self)
        self.key: tuple[str, tuple[tuple[str, Any], ...]] | None = None
        self.curve: Any = None  # engine.inference.activation.Curve shown, None before
        self.title_text = ""
        self._apply_theme()

    def show_params(self, type_name: str, params: Mapping[str, Any]) -> None:
        """Plot ``type_name`` with ``params`` (the node's, unset ones default); the same as
        shown already does nothing."""
        key = (type_name, tuple(sorted(params.items())))
        if key == self.key:
            return
        self.key = key
        given = dict(params)
        formula = getattr(layers.get(type_name), "formula", "")
        self.title_text = f"{type_name}: f(x) = {formula}" if formula else type_name
        self._apply_theme()

        def job() -> Any:
            from ...engine.inference.activation import curve

            return curve(type_name, given)

        self.jobs.start(job, lambda c: self._draw(key, c), lambda why: self._failed(key, why))

    def _draw(self, key: Any, curve: Any) -> None:
        if key != self.key:
            return
        self.curve = curve
        self.f_curve.setData(curve.x, curve.y)
        self.slope_curve.setData(curve.x, curve.slope)
        self._shade(curve.flat)
        self.message.setStyleSheet("")
        self.message.setText(NOTE)

    def _failed(self, key: Any, why: str) -> None:
        if key != self.key:
            return
        self.curve = None
        self.f_curve.setData([], [])
        self.slope_curve.setData([], [])
        self._shade(())
        self.message.setText(esc(f"No curve: {why}"))
        self.message.setStyleSheet(f"color: {ERROR_COLOR};")

    def _shade(self, flat: tuple[tuple[float, float], ...]) -> None:
        """Shade each saturated interval, "saturated" at its top centre."""
        import pyqtgraph as pg

        item = self.plot.getPlotItem()
        for old in self.regions:
            item.removeItem(old)
        self.regions = []
        text = self.palette().color(QPalette.ColorRole.WindowText)
        shade = QColor(text)
        shade.setAlpha(38)
        top = float(max(self.curve.y.max(), self.curve.slope.max())) if flat else 0.0
        for lo, hi in flat:
            region = pg.LinearRegionItem((lo, hi), movable=False, brush=pg.mkBrush(shade),
                                         pen=pg.mkPen(None))
            region.setZValue(-10)
            label = pg.TextItem("saturated", color=text, anchor=(0.5, 0))
            label.setPos((lo + hi) / 2, top)
            for part in (region, label):
                item.addItem(part, ignoreBounds=True)
                self.regions.append(part)
        self.plot.setToolTip("Shaded: saturated, |f′(x)| < 0.05: the gradient barely passes"
                             if flat else "")

    def _apply_theme(self) -> None:
        from ..training.chartplots import style_plot

        pal = self.palette()
        self.plot.setBackground(pal.color(QPalette.ColorRole.Base))
        text = pal.color(QPalette.ColorRole.WindowText)
        style_plot(self.plot.getPlotItem(), self.title_text, text)
        if self.curve is not None:
            self._shade(self.curve.flat)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()
        super().changeEvent(event)
