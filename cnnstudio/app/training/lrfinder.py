"""The learning-rate finder: the range test (``engine.lrfinder``) on the project's data in the
background, its loss-versus-rate curve with the suggested rate marked, and that rate (or one
dragged to on the plot) set as the optimizer's rate in one undoable step."""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QDoubleValidator, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ... import engine
from ..style import ERROR_COLOR, OK_COLOR
from ..widgets import SpinBox, muted_label
from ..workers import Jobs


class Cancelled(Exception):
    """The user cancelled the range test (raised between two of its batches)."""


class _Watched:
    """The data handed to the range test: its training batches count the steps done and stop
    at the next batch once ``stop`` is set (the engine function has no cancel of its own)."""

    def __init__(self, data: Any, stop: threading.Event) -> None:
        self.wrapped, self.stop = data, stop  # names the engine's Data does not use
        self.done = 0
        self.ready = data is not None
        self.train = _WatchedSplit(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


class _WatchedSplit:
    def __init__(self, owner: _Watched) -> None:
        self.owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.owner.wrapped.train, name)

    def batches(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        owner = self.owner
        for batch in owner.wrapped.train.batches(*args, **kwargs):
            if owner.stop.is_set():
                raise Cancelled()
            owner.done += 1
            yield batch


def _rate(text: str) -> float | None:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return None
    return value if value > 0 and math.isfinite(value) else None


class LrFinderDialog(QDialog):
    """Runs the range test on the document's project; "Use this rate" sets
    ``project.training.optimizer.lr`` through the undo stack."""

    def __init__(self, document: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Find a learning rate")
        self.document = document
        self.jobs = Jobs(self)
        self.result: Any = None  # engine.lrfinder.RangeTest of the last finished test
        self.chosen: float | None = None
        self.message = ""
        self._data: tuple[str, Any] | None = None  # (dataset key, Data) kept between tests
        self._watched: _Watched | None = None
        self._stop = threading.Event()
        self._steps = 100
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._poll)
        self._build()
        self.resize(720, 520)

    def _build(self) -> None:
        import pyqtgraph as pg

        self.start_edit, self.end_edit = QLineEdit("1e-7"), QLineEdit("10")
        for edit in (self.start_edit, self.end_edit):
            edit.setValidator(QDoubleValidator(1e-12, 1e6, 12, edit))
            edit.setMaximumWidth(90)
        self.steps_box = SpinBox()
        self.steps_box.setRange(10, 2000)
        self.steps_box.setValue(100)
        self.steps_box.setMaximumWidth(90)
        self.steps_box.setToolTip("Batches of the test: one rate each, rising exponentially")
        form = QFormLayout()
        rates = QHBoxLayout()
        rates.addWidget(self.start_edit)
        rates.addWidget(QLabel("to"))
        rates.addWidget(self.end_edit)
        rates.addStretch(1)
        form.addRow("Rates from", rates)
        form.addRow("Steps", self.steps_box)
        self.run_button = QPushButton("Run the test")
        self.run_button.clicked.connect(self.run_test)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)

        self.plot = pg.PlotWidget()
        self.plot.setBackground(self.palette().color(QPalette.ColorRole.Base))
        item = self.plot.getPlotItem()
        item.setLogMode(x=True, y=False)
        item.setLabel("bottom", "learning rate")
        item.setLabel("left", "loss (smoothed)")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setMenuEnabled(False)
        self.curve = item.plot([], [], pen=pg.mkPen("#2e86de", width=2))
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.marker = item.plot([], [], pen=None, symbol="o", symbolSize=9,
                                symbolBrush=OK_COLOR, symbolPen=None)
        self.line = pg.InfiniteLine(angle=90, movable=True,
                                    pen=pg.mkPen(OK_COLOR, width=1.5,
                                                 style=Qt.PenStyle.DashLine))
        self.line.hide()
        self.line.sigPositionChanged.connect(self._line_moved)
        item.addItem(self.line)
        self.now_line = pg.InfiniteLine(angle=90, movable=False, label="now",
                                        labelOpts={"position": 0.92, "color": (128, 128, 128)},
                                        pen=pg.mkPen((128, 128, 128), width=1,
                                                     style=Qt.PenStyle.DotLine))
        item.addItem(self.now_line)
        item.setXRange(-7, 1, padding=0.02)  # log10 of the default rates

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.note = muted_label("The test trains a fresh copy of the network for a few "
                                "batches with a rising rate; the project's weights are not "
                                "touched. The suggestion is where the loss falls fastest; "
                                "drag the green line to choose another rate.")
        self.apply_button = QPushButton("Use this rate")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply_suggestion)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(self.apply_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self._show_current()

    # -- the test ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.jobs.busy

    def run_test(self) -> bool:
        """Start the range test in the background; False (with a message) if it cannot."""
        from ...graph import analyze, graph_from_dict, graph_to_dict

        if self.running:
            return False
        start, end = _rate(self.start_edit.text()), _rate(self.end_edit.text())
        if start is None or end is None or start >= end:
            self._say("Give two positive rates, the first below the second.", error=True)
            return False
        report = analyze(self.document.graph)
        if not report.ok or report.input_shape is None:
            self._say("The network has errors (see Problems); fix them first.", error=True)
            return False
        project = self.document.project
        graph_doc = graph_to_dict(project.graph)
        config = copy.deepcopy(project.training)
        dataset = copy.deepcopy(project.dataset)
        base_dir = self.document.path.parent if self.document.path is not None else None
        key = repr((dataset.to_dict(), config.device, str(base_dir), report.input_shape))
        cached = self._data[1] if self._data is not None and self._data[0] == key else None
        steps = self._steps = self.steps_box.value()
        self._stop = threading.Event()
        stop = self._stop
        watched = self._watched = _Watched(None, stop)

        def job() -> tuple[str, Any, Any]:
            from types import SimpleNamespace

            graph = graph_from_dict(graph_doc)
            data = cached or engine.project_data(SimpleNamespace(graph=graph, dataset=dataset),
                                                 base_dir=base_dir,
                                                 device=engine.pick_device(config.device))
            if stop.is_set():
                raise Cancelled()
            watched.wrapped, watched.ready = data, True
            result = engine.lr_range_test(graph, config, watched, start=start, end=end, steps=steps)
            return key, data, result

        self.result = None
        self.curve.setData([], [])
        self.marker.setData([], [])
        self.line.hide()
        self.plot.getPlotItem().setXRange(math.log10(start), math.log10(end), padding=0.02)
        self.progress.setRange(0, 0)  # busy until the data is there
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.apply_button.setEnabled(False)
        self._say("Loading the data…")
        self._timer.start()
        self.jobs.start(job, self._done, self._failed)
        return True

    def cancel(self) -> None:
        """Stop the test at its next batch and forget its answer."""
        if not self.running:
            return
        self._stop.set()
        self.jobs.cancel()
        self._idle()
        self._say("Cancelled.")

    def _poll(self) -> None:
        watched = self._watched
        if watched is None or not watched.ready:
            return
        if self.progress.maximum() == 0:
            self.progress.setRange(0, self._steps)
            self._say("Training with a rising rate…")
        self.progress.setValue(min(watched.done, self._steps))

    def _done(self, answer: tuple[str, Any, Any]) -> None:
        key, data, result = answer
        self._data = (key, data)
        self._idle()
        self.progress.setValue(self.progress.maximum())
        self.result = result
        self.curve.setData(result.lrs, result.losses)
        if result.losses:  # the explosion at the end would flatten the interesting part
            low, first = min(result.losses), result.losses[0]
            high = min(max(result.losses), first + 0.5 * max(first - low, 0.1 * abs(first)))
            item = self.plot.getPlotItem()
            item.setXRange(math.log10(result.lrs[0]), math.log10(result.lrs[-1]), padding=0.02)
            item.setYRange(low, max(high, low + 1e-6), padding=0.05)
        if result.suggested is None:
            self.marker.setData([], [])
            self.line.hide()
            self.chosen = None
            self._say(f"No suggestion: the loss did not fall steadily over {len(result.lrs)} "
                      "steps. Try a wider range of rates or more steps.", error=True)
            return
        i = result.lrs.index(result.suggested)
        self.marker.setData([result.suggested], [result.losses[i]])
        self.line.show()
        self._place_line(result.suggested)
        self._line_moved()

    def _failed(self, message: str) -> None:
        self._idle()
        line = " ".join(message.split())
        self._say(f"The test failed: {line[:200]}", error=True)

    def _idle(self) -> None:
        self._timer.stop()
        self.progress.setRange(0, max(1, self._steps))
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    # -- the chosen rate -----------------------------------------------------------------------
    @property
    def suggested(self) -> float | None:
        """The engine's suggestion, rounded to 2 significant digits (None before a test)."""
        s = self.result.suggested if self.result is not None else None
        return float(f"{s:.2g}") if s is not None else None

    def _place_line(self, lr: float) -> None:
        self.line.blockSignals(True)
        self.line.setValue(math.log10(lr))  # the x axis is log10 of the rate
        self.line.blockSignals(False)

    def _line_moved(self) -> None:
        if self.result is None or self.result.suggested is None:
            return
        value = 10 ** float(self.line.value())
        dragged = not math.isclose(value, self.result.suggested, rel_tol=1e-6)
        self.chosen = float(f"{value:.2g}") if dragged else self.suggested
        self.apply_button.setEnabled(True)
        self.apply_button.setText(f"Use {self.chosen:.2g}")
        self._say(f"Suggested rate: <b>{self.suggested:.2g}</b> (where the loss falls "
                  f"fastest){f' · chosen: <b>{self.chosen:.2g}</b>' if dragged else ''} · "
                  f"now: {self.document.project.training.optimizer.lr:.3g}")

    def apply_suggestion(self) -> bool:
        """Set the chosen (by default the suggested) rate as the optimizer's learning rate, as
        one undoable step; False when there is no rate to apply."""
        lr = self.chosen
        if lr is None:
            return False
        doc = self.document
        if doc.project.training.optimizer.lr == lr:
            self._say(f"The learning rate is {lr:.2g} already.")
            return True
        refused = doc.change_settings("training", {"optimizer.lr": lr}, f"Learning rate {lr:.2g}",
                                      key="optimizer.lr")
        if refused is not None:
            self._say(refused, error=True)
            return False
        schedule = doc.project.training.schedule
        extra = ""
        if schedule.name == "onecycle" and schedule.max_lr is not None:
            extra = f" (the one-cycle schedule still peaks at max_lr {schedule.max_lr:.2g})"
        self.now_line.setValue(math.log10(lr))
        self._say(f"The learning rate is now {lr:.2g}{extra}. Undo (Ctrl+Z) restores it.")
        return True

    def _show_current(self) -> None:
        lr = self.document.project.training.optimizer.lr
        name = self.document.project.training.optimizer.name
        self.now_line.setValue(math.log10(lr))
        self._say(f"Now: {name} with learning rate {lr:.3g}. Run the test to see the loss "
                  "against the rate.")

    def _say(self, text: str, error: bool = False) -> None:
        self.message = text
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {ERROR_COLOR};" if error else "")

    def reject(self) -> None:
        self.cancel()
        super().reject()
