"""Tools ▸ Initialisation lab: the open network built once per weight scheme (zeros, normal σ,
Xavier, He, LeCun, orthogonal), one batch forward and backward on a background job
(engine/inference/initlab.py), and the classic figures: the spread of the activations and of
their gradients against depth, one line per scheme on a log scale, the activations' histograms
layer by layer for one scheme, and the numbers in a table.

A dialog, not a dock: it is an experiment run on demand, minutes apart from editing, that needs
room for three views; it does not follow the selection. It is modeless, so the network can be
changed between runs; a run always uses the network as it was when it started.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..graph import analyze
from .style import ERROR_COLOR
from .widgets import ComboBox, DoubleSpinBox, SpinBox, muted_label
from .workers import Job, describe, run_in_background

TITLE = "Initialisation lab"
COLORS = {"zeros": "#7f8c8d", "normal": "#c0392b", "xavier_normal": "#2e86de",
          "kaiming_normal": "#27ae60", "lecun_normal": "#8e44ad", "orthogonal": "#e67e22"}
"""One colour per scheme, readable on the light and the dark background."""
MAX_HISTOGRAMS = 16  # small multiples; a deeper network shows this many, evenly spread
HISTOGRAM_COLUMNS = 8
FIRST_SHOWN = "kaiming_normal"
COLUMNS = ("#", "Layer", "Type", "Activation mean", "Activation std", "Gradient mean",
           "Gradient std", "Unit spread")
NOTE = ("Each scheme draws a fresh copy of the network (your weights and settings are not "
        "touched), sets every layer's weights with it and passes one batch forward and "
        "backward in training mode: BatchNorm normalises each layer with the batch's own "
        "statistics, so networks with it hardly care about the scheme. Zeros: every unit of a "
        "layer computes the same (unit spread 0) and no gradient reaches the hidden layers. A "
        "small σ shrinks the signal layer after layer; Xavier keeps a tanh network's spread, "
        "He a ReLU network's.")


class InitLabDialog(QDialog):
    """Runs the lab on the document's network; ``runs`` holds the last run's SchemeRuns."""

    def __init__(self, document: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.setModal(False)
        self.document = document
        self.runs: list[Any] = []
        self.source = ""
        self.task: Job | None = None
        self._stop = threading.Event()
        self._batch: tuple[str, Any] | None = None  # (key, LabInput) kept between runs
        self._build()
        self.resize(1080, 820)
        document.reset.connect(self._on_reset)

    def _build(self) -> None:
        import pyqtgraph as pg

        self.sigma = DoubleSpinBox()
        self.sigma.setDecimals(4)
        self.sigma.setRange(0.0001, 10.0)
        self.sigma.setSingleStep(0.01)
        self.sigma.setValue(0.01)
        self.sigma.setToolTip("Standard deviation σ of the Normal scheme's weights")
        self.batch = SpinBox()
        self.batch.setRange(1, 256)
        self.batch.setValue(8)
        self.batch.setToolTip("Samples in the batch passed through the network")
        self.run_button = QPushButton("Run")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Normal σ"))
        row.addWidget(self.sigma)
        row.addSpacing(12)
        row.addWidget(QLabel("Batch"))
        row.addWidget(self.batch)
        row.addSpacing(12)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        self.status = QLabel()
        self.status.setWordWrap(True)

        self.depth = pg.GraphicsLayoutWidget()
        self.depth.setMinimumHeight(250)
        self.legend = pg.LegendItem(colCount=len(COLORS), labelTextSize="8pt")
        self.depth.addItem(self.legend, row=0, col=0, colspan=2)
        self.std_plots: dict[str, Any] = {}
        for col, (key, title) in enumerate((("act", "Activation std through depth"),
                                            ("grad", "Gradient std through depth"))):
            plot = self.depth.addPlot(row=1, col=col)
            plot.setLogMode(x=False, y=True)
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setMenuEnabled(False)
            plot.setLabel("bottom", "layer (depth)")
            plot.setTitle(title, size="9pt")
            self.std_plots[key] = plot
        self.std_plots["grad"].setXLink(self.std_plots["act"])
        self.lines: dict[str, dict[str, Any]] = {"act": {}, "grad": {}}

        self.scheme = ComboBox()
        self.scheme.currentIndexChanged.connect(lambda _i: self._show_scheme())
        scheme_row = QHBoxLayout()
        scheme_row.addWidget(QLabel("Scheme"))
        scheme_row.addWidget(self.scheme)
        scheme_row.addStretch(1)
        self.histograms = pg.GraphicsLayoutWidget()
        self.histograms.setMinimumHeight(220)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.horizontalHeaderItem(len(COLUMNS) - 1).setToolTip(
            "The spread across the layer's units (channels) of each unit's mean output: 0 when "
            "every unit computes the same thing, the symmetry zero weights cannot break")
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.histograms, "Activation histograms")
        self.tabs.addTab(self.table, "Numbers")
        self.note = muted_label(NOTE)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.depth, 3)
        layout.addLayout(scheme_row)
        layout.addWidget(self.tabs, 3)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self._apply_theme()
        self._say("Run the lab to compare the schemes on this network.")

    # -- running -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.task is not None

    def run(self) -> bool:
        """Start the lab in the background; False (with the reason) when it cannot."""
        if self.running:
            return False
        doc = self.document
        report = analyze(doc.graph)
        if not report.ok or report.input_shape is None:
            self._say("The network has errors (see Problems); fix them first.", error=True)
            return False
        graph = doc.graph.copy()  # the job's own: the document may change meanwhile
        dataset = copy.deepcopy(doc.project.dataset)
        base_dir = doc.path.parent if doc.path is not None else None
        size, sigma = self.batch.value(), self.sigma.value()
        key = repr((dataset.to_dict(), str(base_dir), report.input_shape, size))
        cached = self._batch[1] if self._batch is not None and self._batch[0] == key else None
        self._stop = threading.Event()
        stop = self._stop

        def job(progress: Callable[[float, str], None]) -> tuple[str, Any, list[Any]]:
            from ..engine.inference import initlab

            progress(0.0, "Loading a batch of the data")
            batch = cached or initlab.lab_input(graph, dataset, base_dir=base_dir,
                                                batch_size=size)
            runs = initlab.run_lab(graph, initlab.lab_schemes(sigma), batch,
                                   progress=progress, stop=stop.is_set)
            return key, batch, runs

        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self._say("Starting…")
        self.task = run_in_background(job, on_done=self._done, on_error=self._failed,
                                      on_progress=self._progress, parent=self,
                                      name="cnnstudio-initlab")
        return True

    def cancel(self) -> None:
        """Stop after the scheme being run and drop the answer."""
        if self.task is None:
            return
        self._stop.set()
        self.task.cancel()
        self._idle()
        self._say("Cancelled.")

    def _progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self._say(f"{text}…" if not text.endswith("…") else text)

    def _idle(self) -> None:
        self.task = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _done(self, answer: tuple[str, Any, list[Any]]) -> None:
        key, batch, runs = answer
        self._idle()
        self._batch = (key, batch)
        self.progress.setValue(1000)
        self.runs = runs
        self.source = batch.source
        depth = len(runs[0].layers) if runs else 0
        self._say(f"Input: {batch.source}. {depth} layers followed in order: each activation "
                  "layer's output, then the scores.")
        self._show_depth()
        chosen = self.scheme.currentData() or FIRST_SHOWN
        self.scheme.blockSignals(True)
        self.scheme.clear()
        for run in runs:
            self.scheme.addItem(run.label, run.init["scheme"])
        index = self.scheme.findData(chosen)
        self.scheme.setCurrentIndex(max(index, 0))
        self.scheme.blockSignals(False)
        self._show_scheme()

    def _failed(self, exc: BaseException) -> None:
        self._idle()
        self._say(f"The lab failed: {' '.join(describe(exc).split())[:200]}", error=True)

    def _on_reset(self) -> None:
        """Another network: the figures of the last one go."""
        if self.task is not None:
            self.cancel()
        self._batch = None
        self.runs = []
        self._show_depth()
        self.scheme.clear()
        self._show_scheme()
        self._say("Run the lab to compare the schemes on this network.")

    # -- views -----------------------------------------------------------------------------
    def _show_depth(self) -> None:
        """One line per scheme in each plot; a scheme whose values are all 0 (zeros) cannot
        be drawn on a log axis, and its legend entry says so."""
        import pyqtgraph as pg

        self.legend.clear()
        for key, plot in self.std_plots.items():
            for line in self.lines[key].values():
                plot.removeItem(line)
            self.lines[key] = {}
            for run in self.runs:
                name = run.init["scheme"]
                values = np.array([s.act_std if key == "act" else s.grad_std
                                   for s in run.layers], dtype=np.float64)
                zero = not (values > 0).any()
                shown = np.where(values > 0, values, np.nan)
                x = np.arange(1, len(values) + 1, dtype=np.float64)
                color = COLORS.get(name, "#5d6d7e")
                line = plot.plot(x[:0] if zero else x, shown[:0] if zero else shown,
                                 pen=pg.mkPen(color, width=2), symbol="o", symbolSize=5,
                                 symbolPen=None, symbolBrush=color, connect="finite")
                self.lines[key][name] = line
                if key == "act":
                    self.legend.addItem(line, run.label + (" (all 0)" if zero else ""))
            depth = len(self.runs[0].layers) if self.runs else 0
            step = max(1, math.ceil(depth / 16))
            plot.getAxis("bottom").setTicks([[(i, str(i)) for i in range(1, depth + 1, step)],
                                             []] if depth else None)
        self._apply_theme()

    def _show_scheme(self) -> None:
        """The chosen scheme's histograms (small multiples) and numbers."""
        import pyqtgraph as pg

        self.histograms.clear()
        run = next((r for r in self.runs if r.init["scheme"] == self.scheme.currentData()),
                   None)
        self.table.setRowCount(0)
        if run is None:
            return
        color = QColor(COLORS.get(run.init["scheme"], "#5d6d7e"))
        fill = QColor(color)
        fill.setAlpha(150)
        text = self.palette().color(QPalette.ColorRole.WindowText)
        layers = list(enumerate(run.layers, start=1))
        if len(layers) > MAX_HISTOGRAMS:
            picks = np.linspace(0, len(layers) - 1, MAX_HISTOGRAMS).round().astype(int)
            layers = [layers[i] for i in sorted(set(picks.tolist()))]
        for i, (depth, stats) in enumerate(layers):
            plot = self.histograms.addPlot(row=i // HISTOGRAM_COLUMNS,
                                           col=i % HISTOGRAM_COLUMNS)
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.hideAxis("left")
            plot.setTitle(f"{depth}. {_short(stats.node_id)}", size="8pt", color=text.name())
            axis = plot.getAxis("bottom")
            axis.setTextPen(text)
            axis.setStyle(tickTextOffset=2)
            total = max(sum(stats.counts), 1)
            heights = np.asarray(stats.counts, dtype=np.float64) / total
            edges = np.asarray(stats.edges)
            plot.plot(edges, heights, stepMode="center", fillLevel=0,
                      brush=pg.mkBrush(fill), pen=pg.mkPen(color, width=1))
            _cut_spike(plot, edges, heights, text)
        self._fill_table(run)

    def _fill_table(self, run: Any) -> None:
        self.table.setRowCount(len(run.layers))
        for r, stats in enumerate(run.layers):
            cells = (str(r + 1), stats.node_id, stats.type, _num(stats.act_mean),
                     _num(stats.act_std), _num(stats.grad_mean), _num(stats.grad_std),
                     _num(stats.spread))
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if c >= 3 or c == 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()

    def _apply_theme(self) -> None:
        from .training.chartplots import style_legend, style_plot

        pal = self.palette()
        text = pal.color(QPalette.ColorRole.WindowText)
        for widget in (self.depth, self.histograms):
            widget.setBackground(pal.color(QPalette.ColorRole.Base))
        for plot in self.std_plots.values():
            style_plot(plot, plot.titleLabel.text, text)
            plot.getAxis("bottom").setLabel("layer (depth)", color=text.name())
        style_legend(self.legend, text)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()
            self._show_scheme()
        super().changeEvent(event)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {ERROR_COLOR};" if error else "")

    def reject(self) -> None:
        self.cancel()
        super().reject()


def _cut_spike(plot: Any, edges: np.ndarray, heights: np.ndarray, text: QColor) -> None:
    """A bin over 3 times the next tallest (ReLU's zeros) would flatten the rest: the y axis
    stops above the next tallest and the cut bin's share is written beside it."""
    import pyqtgraph as pg

    second, first = np.sort(heights)[-2:] if len(heights) > 1 else (0.0, 0.0)
    if not 0 < 3 * second < first:
        return
    top = 1.6 * second
    plot.setYRange(0, top, padding=0)
    i = int(np.argmax(heights))
    label = pg.TextItem(f"{first:.0%}↑", color=text, anchor=(0, 0))
    label.setPos(edges[i + 1], top)
    plot.addItem(label, ignoreBounds=True)


def _short(node_id: str) -> str:
    """The last two parts of a module path (``layer4.1.relu`` → ``1.relu``)."""
    return ".".join(node_id.split(".")[-2:])


def _num(value: float) -> str:
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"


def open_initlab(window: Any) -> InitLabDialog:
    """The window's one lab, made on first use and brought forward."""
    dialog = window.findChild(InitLabDialog)
    if dialog is None:
        dialog = InitLabDialog(window.document, window)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
