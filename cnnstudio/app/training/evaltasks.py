"""The evaluation view's pages for the tasks other than classification: per-label precision,
recall, F1 and average precision for a multi-label network, and for a regression the predicted
values against the true ones (with the line where they agree) and the residuals, one target at
a time, beside a table of each target's MAE, RMSE and R². They draw the numbers of
``engine.training.evaluate`` as they are (no torch here)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..widgets import ComboBox, muted_label
from .evalwidgets import HIT_COLOR, PerClassTable


class MultiLabelPage(QWidget):
    """Per-label precision/recall/F1 at p = 0.5 and average precision, and the summary."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.table = PerClassTable()
        self.table.setColumnCount(6)
        self.table.setHorizontalHeaderLabels(["Label", "Precision", "Recall", "F1", "Support",
                                              "Avg. precision"])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(muted_label("A label counts as predicted where its sigmoid is 0.5 or "
                                     "more; support: images carrying it. Average precision "
                                     "ranks the images by that probability."))
        layout.addWidget(self.table, 1)

    def show_metrics(self, m: dict[str, Any]) -> None:
        self.table.show_metrics(m)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        aps = [c["ap"] for c in m["per_class"]] + [m["mean_ap"]]
        for r, ap in enumerate(aps):
            item = QTableWidgetItem("—" if ap is None else f"{ap:.3f}")
            item.setTextAlignment(right)
            item.setFont(self.table.item(r, 0).font())
            self.table.setItem(r, 5, item)
        self.summary.setText(f"Micro-F1 <b>{m['micro_f1']:.3f}</b> · macro F1 "
                             f"{m['macro_f1']:.3f} · subset accuracy (every label right) "
                             f"{100 * m['subset_accuracy']:.1f} % · mean average precision "
                             f"{_or_dash(m['mean_ap'])}")


class RegressionPage(QWidget):
    """Per-target errors, and for the chosen target predicted-vs-true and residuals."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self.metrics: dict[str, Any] | None = None
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Target", "MAE", "RMSE", "R²"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.target_box = ComboBox()
        self.target_box.activated.connect(lambda i: self.show_target(i))
        back = self.palette().color(QPalette.ColorRole.Base)
        self.scatter = pg.PlotWidget()
        self.residuals = pg.PlotWidget()
        for plot, left in ((self.scatter, "predicted"), (self.residuals, "predicted − true")):
            plot.setBackground(back)
            item = plot.getPlotItem()
            item.setLabel("bottom", "true")
            item.setLabel("left", left)
            item.showGrid(x=True, y=True, alpha=0.2)
            item.setMenuEnabled(False)
        dashed = pg.mkPen((128, 128, 128), width=1, style=Qt.PenStyle.DashLine)
        self.diagonal = self.scatter.plot([], [], pen=dashed)
        self.zero = pg.InfiniteLine(pos=0, angle=0, pen=dashed)
        self.residuals.addItem(self.zero)
        brush = pg.mkBrush(HIT_COLOR + "99")
        self.points = pg.ScatterPlotItem(size=5, pen=None, brush=brush)
        self.residual_points = pg.ScatterPlotItem(size=5, pen=None, brush=brush)
        self.scatter.addItem(self.points)
        self.residuals.addItem(self.residual_points)
        self.pick = QWidget()  # shown for two targets or more
        pick = QHBoxLayout(self.pick)
        pick.setContentsMargins(0, 0, 0, 0)
        pick.addWidget(QLabel("Target:"))
        pick.addWidget(self.target_box)
        pick.addStretch(1)
        plots = QHBoxLayout()
        plots.addWidget(self.scatter, 1)
        plots.addWidget(self.residuals, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(self.pick)
        layout.addLayout(plots, 1)

    def show_metrics(self, m: dict[str, Any]) -> None:
        self.metrics = m
        targets = m["targets"]
        rows = targets + ([{"name": "mean", "mae": m["mae"], "rmse": m["rmse"], "r2": m["r2"]}]
                          if len(targets) > 1 else [])
        self.table.setRowCount(len(rows))
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for r, row in enumerate(rows):
            for c, text in enumerate([row["name"], f"{row['mae']:.4g}", f"{row['rmse']:.4g}",
                                      f"{row['r2']:.3f}"]):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(right)
                self.table.setItem(r, c, item)
        self.table.resizeRowsToContents()
        shown = min(len(rows), 6)  # the rest scroll
        table = self.table
        table.setFixedHeight(table.horizontalHeader().sizeHint().height()
                             + 2 * table.frameWidth()
                             + sum(table.rowHeight(r) for r in range(shown)))
        self.target_box.clear()
        for t in targets:
            self.target_box.addItem(t["name"])
        self.pick.setVisible(len(targets) > 1)
        self.show_target(0)

    def show_target(self, index: int) -> None:
        """Draw target ``index``'s predicted-vs-true points and residuals."""
        if self.metrics is None or not 0 <= index < len(self.metrics["targets"]):
            return
        t = self.metrics["targets"][index]
        true, pred = t["true"], t["predicted"]
        self.points.setData(true, pred)
        self.residual_points.setData(true, [p - v for p, v in zip(pred, true)])
        lo, hi = min(true + pred, default=0.0), max(true + pred, default=1.0)
        self.diagonal.setData([lo, hi], [lo, hi])
        self.scatter.getPlotItem().setTitle(f"{t['name']}: predicted against true (R² "
                                            f"{t['r2']:.3f})", size="9pt")
        self.residuals.getPlotItem().setTitle(f"residuals (MAE {t['mae']:.4g})", size="9pt")


def summary_line(m: dict[str, Any]) -> str:
    """The status line's figures for a multi-label or regression evaluation."""
    if m.get("task") == "multilabel":
        return (f"micro-F1 {m['micro_f1']:.3f} · macro F1 {m['macro_f1']:.3f} · subset "
                f"accuracy {100 * m['subset_accuracy']:.1f} % · mAP {_or_dash(m['mean_ap'])}")
    return f"MAE {m['mae']:.4g} · RMSE {m['rmse']:.4g} · R² {m['r2']:.3f}"


def _or_dash(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
