"""Training in the main window: the Train menu and toolbar buttons, the training panels (made
when first shown or when a run starts, so the window opens without pyqtgraph or torch), the
progress line in the status bar, the network locked during a run, and what happens to a run
when the window closes or another project is opened."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMenu,
    QMessageBox,
    QProgressBar,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from .controller import IDLE, PAUSED, PREPARING, RUNNING, STOPPING, TrainingController

WIDEST_PROGRESS = "Epoch 100/100 · step 1000/1000 · ETA 1:00:00 · 100,000 samples/s · paused"
"""The progress line the status bar makes room for (longer ones are cut at the right): room
for more would push the network's summary off the right of a 1,000-pixel window."""
ADVICE = {  # where in the window to act; the engine's message says what went wrong
    "nan": "Train → Find a learning rate suggests a rate; gradient clipping is in the Training "
           "panel, BatchNorm in the Layers palette.",
    "oom": "Set a smaller batch size in the Training panel, then train again.",
    "data": "Check the dataset in the Training panel (its source, path and split).",
    "locked": "Wait for that process to finish, or Save As another file and train that one.",
    "save": "Free some space or Save As another folder, then train again.",
    "error": "Check the Training panel's settings; the Problems panel lists what is wrong "
             "with the network.",
}


class LazyPanel(QWidget):
    """A dock's content made on first show (or when asked): keeps pyqtgraph and torch out of
    the window's start."""

    def __init__(self, factory: Callable[[], QWidget]) -> None:
        super().__init__()
        self._factory = factory
        self.widget: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

    def ensure(self) -> QWidget:
        if self.widget is None:
            self.widget = self._factory()
            self.layout().addWidget(self.widget)
        return self.widget

    def in_view(self) -> bool:
        """Shown and not behind another tab (a tabbed dock's isVisible says yes to both)."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def shown(self, visible: bool = True) -> None:
        """Its dock became visible (a tab brought to the front, the dock shown): build it,
        unless it is already out of view again (docks shown in a row flash their tabs)."""
        if visible and self.widget is None:
            QTimer.singleShot(0, lambda: self.ensure() if self.in_view() else None)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


RUN_PANELS = ("Training", "Charts", "Gradients", "Feature maps", "Evaluation", "Runs")
"""The panels made before a run starts, so they hear it from its first event; the Sweep panel
reads its study from storage and is made when first shown."""


class TrainingUi(QObject):
    """The training side of ``window`` (a MainWindow): call ``add_docks`` while the window
    makes its docks, then ``fill_menu`` and ``fill_toolbar``."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.document = window.document
        self.controller = TrainingController(self.document, self)
        self.panels: dict[str, LazyPanel] = {}
        self.act: dict[str, QAction] = {}
        self._sweeps: Any = None  # the SweepRunner, once the Sweep panel is made
        self._t0 = 0.0
        self._first_step: int | None = None
        c = self.controller
        c.state_changed.connect(self._state_changed)
        c.started.connect(self._started)
        c.batch.connect(self._batch)
        c.progress.connect(self._data_progress)
        c.skipped.connect(lambda line: self.window.statusBar().showMessage(
            line[:1].upper() + line[1:], 15000))  # as `train` prints it
        c.failed.connect(self._failed)
        c.finished.connect(self._finished)
        c.saved.connect(self._saved)
        c.epoch.connect(self._unsaved_result)
        self.document.reset.connect(self._update_actions)
        self.document.refused.connect(lambda text: window.statusBar().showMessage(text, 6000))

    # -- panels --------------------------------------------------------------------------------
    def add_docks(self) -> None:
        from ..workspaces import scrolled

        w, c, d = self.window, self.controller, self.document

        def settings() -> QWidget:
            from .settings_panel import TrainingSettings

            return TrainingSettings(d, c)

        def charts() -> QWidget:
            from .charts import TrainingCharts

            return TrainingCharts(d, c)

        def gradients() -> QWidget:
            from .gradients import GradientFlowView

            return GradientFlowView(d, c)

        def features() -> QWidget:
            from .features import FeatureMapsView

            return FeatureMapsView(d, c)

        def evaluation() -> QWidget:
            from .evaluation import EvaluationView

            return EvaluationView(d, c)

        def runs() -> QWidget:
            from .runs import RunsPanel

            return RunsPanel(d, c, start=self.train)  # repeats start runs as Train does

        def show_runs(ids: list[int]) -> None:  # not raised: the Sweep tab stays in front
            self.panel("Runs").select_runs(ids)

        def sweep() -> QWidget:
            from .sweepview import SweepView

            return SweepView(d, select_runs=show_runs,  # a clicked trial selects its run
                             runner=self.sweeps())

        right, bottom = Qt.DockWidgetArea.RightDockWidgetArea, \
            Qt.DockWidgetArea.BottomDockWidgetArea
        for title, factory, area in (("Training", settings, right),
                                     ("Charts", charts, bottom),
                                     ("Gradients", gradients, bottom),
                                     ("Feature maps", features, bottom),
                                     ("Evaluation", evaluation, bottom),
                                     ("Runs", runs, bottom),
                                     ("Sweep", sweep, bottom)):
            panel = LazyPanel(factory)
            self.panels[title] = panel
            w.add_dock(title, scrolled(panel), area)  # a panel's minimum never starves the canvas
            w.docks[title].visibilityChanged.connect(panel.shown)
        w.tabifyDockWidget(w.docks["History"], w.docks["Training"])
        last = w.docks["Problems"]
        for title in ("Charts", "Gradients", "Feature maps", "Evaluation", "Runs", "Sweep"):
            w.tabifyDockWidget(last, w.docks[title])
            last = w.docks[title]

    def sweeps(self) -> Any:
        """The window's sweep runner, made on first use (it imports Optuna)."""
        if self._sweeps is None:
            from .sweeprun import SweepRunner

            self._sweeps = SweepRunner(self.document, self.window)
            self._sweeps.ended.connect(lambda text: self.window.statusBar().showMessage(
                text, 10000))
        return self._sweeps

    def panel(self, title: str) -> QWidget:
        """The widget of a training panel, made now if it was not yet."""
        return self.panels[title].ensure()

    def show_panel(self, title: str) -> None:
        dock = self.window.docks[title]
        dock.show()
        dock.raise_()

    # -- actions -------------------------------------------------------------------------------
    def _action(self, key: str, text: str, slot: Callable[[], Any], shortcut: Any = None,
                icon_name: str | None = None, tip: str = "") -> QAction:
        action = self.window.add_action(key, text, slot, shortcut, icon_name, tip)
        self.act[key] = action
        return action

    def fill_menu(self, menu: QMenu) -> None:
        K = QKeySequence
        a = self._action
        a("train", "&Train", self.train, K(Qt.Key.Key_F5), "train",
          "train the network on the project's dataset (a new run)")
        a("continue", "Train &on from the current weights", lambda: self.train(from_current=True),
          None, None, "a new run that starts from the weights trained so far")
        a("resume", "&Resume the stopped run", lambda: self.train(resume=True), None, None,
          "go on with a run that was stopped, exactly where it stopped")
        a("pause", "&Pause", self.toggle_pause, K("Ctrl+F5"), "pause",
          "pause between two batches; again to go on")
        a("stop", "&Stop", self.controller.stop, K("Shift+F5"), "stop",
          "stop after this batch and save the run (it can be resumed)")
        a("lr_finder", "Find a &learning rate…", self.find_learning_rate, None, None,
          "train briefly with a rising rate and suggest one")
        a("evaluate", "&Evaluate", self.evaluate, None, None,
          "confusion matrix, per-class scores and ROC of the current weights")
        for key in ("train", "continue", "resume", "pause", "stop", None, "lr_finder",
                    "evaluate"):
            menu.addAction(self.act[key]) if key else menu.addSeparator()
        self._update_actions()

    def fill_toolbar(self, bar: QToolBar) -> None:
        bar.addSeparator()
        for key in ("train", "pause", "stop"):
            bar.addAction(self.act[key])
        status = self.window.statusBar()
        self.progress_text = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        # Fixed sizes: a text of another width would lay the whole window out again (every
        # dock, each with a geometry animation, then a paint of the window) at every batch
        # event, 2-3 times a second, on the GUI thread that shares the cores with the run.
        width = self.progress_text.fontMetrics().horizontalAdvance(WIDEST_PROGRESS)
        self.progress_text.setFixedSize(width, self.progress_text.sizeHint().height())
        self.progress_bar.setFixedSize(220, self.progress_bar.sizeHint().height())
        status.addWidget(self.progress_text)
        status.addWidget(self.progress_bar)
        self.progress_text.hide()
        self.progress_bar.hide()

    def _update_actions(self, *_args: Any) -> None:
        if not self.act:
            return
        state, project = self.controller.state, self.document.project
        idle = state == IDLE
        self.act["train"].setEnabled(idle)
        self.act["continue"].setEnabled(idle and project.current_weights is not None)
        self.act["resume"].setEnabled(idle and project.checkpoint is not None)
        self.act["pause"].setEnabled(state in (RUNNING, PAUSED))
        self.act["pause"].setText("&Go on" if state == PAUSED else "&Pause")
        self.act["stop"].setEnabled(state in (PREPARING, RUNNING, PAUSED))
        self.act["lr_finder"].setEnabled(idle)

    # -- starting and controlling a run --------------------------------------------------------
    def train(self, *, resume: bool = False, from_current: bool = False,
              training: Any = None) -> bool:
        """Start a run as Train does (``training``: settings for this run only)."""
        w = self.window
        if self.controller.running:
            return False
        if w.stack.currentWidget() is w.welcome:
            w.statusBar().showMessage("Open or make a network first", 5000)
            return False
        report = self.document.flush()
        if not report.ok:
            first = report.errors[0]
            QMessageBox.warning(w, "The network cannot be trained yet",
                                f"It has {len(report.errors)} error(s), e.g. "
                                f"{first.node + ': ' if first.node else ''}{first.message}\n\n"
                                "The Problems panel lists them all.")
            w.docks["Problems"].raise_()
            return False
        for title in RUN_PANELS:  # they must hear the run from its first event
            self.panel(title)
        if not self._memory_ok():
            return False
        self.document.store_view_state()
        self.controller.train(resume=resume, from_current=from_current, training=training)
        w.workspaces.switch("train")  # the charts large, the network still in view
        self.show_panel("Charts")
        return True

    def _memory_ok(self) -> bool:
        check = getattr(self.panel("Training"), "memory_check", None)
        if check is None:
            return True
        fits, message, suggested = check()
        if fits:
            return True
        box = QMessageBox(QMessageBox.Icon.Warning, "The run may not fit in memory", message,
                          parent=self.window)
        use = box.addButton(f"Use batch {suggested}", QMessageBox.ButtonRole.AcceptRole) \
            if suggested else None
        anyway = box.addButton("Train anyway", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(use if use is not None else cancel)  # Enter: never "anyway"
        box.setEscapeButton(cancel)
        box.exec()
        if use is not None and box.clickedButton() is use:
            self._set_batch(suggested)
            return True
        return box.clickedButton() is anyway

    def _set_batch(self, batch: int) -> None:
        self.document.change_settings("training", {"batch_size": batch}, f"Batch size {batch}")

    def toggle_pause(self) -> None:
        if self.controller.state == PAUSED:
            self.controller.resume()
        else:
            self.controller.pause()

    def find_learning_rate(self) -> None:
        from .lrfinder import LrFinderDialog

        if self.controller.running or not self.document.flush().ok:
            self.window.statusBar().showMessage("The learning-rate finder needs a valid network "
                                                "and no run in progress", 6000)
            return
        LrFinderDialog(self.document, self.window).exec()

    def evaluate(self) -> None:
        view = self.panel("Evaluation")
        self.show_panel("Evaluation")
        getattr(view, "evaluate_now", lambda: None)()

    # -- what the run says ---------------------------------------------------------------------
    def _state_changed(self, state: str) -> None:
        doc = self.document
        doc.set_locked("a training run uses it" if state != IDLE else None)
        self.window.refresh_edit_actions()
        self._update_actions()
        running = state != IDLE
        if running:  # a message shown now would be drawn over the progress line
            self.window.statusBar().clearMessage()
        self.progress_text.setVisible(running)
        self.progress_bar.setVisible(running)
        if state == PREPARING:
            self.progress_text.setText("Preparing the data…")
            self.progress_bar.setRange(0, 0)
        elif state == PAUSED:
            self.progress_text.setText(self.progress_text.text().split(" · paused")[0] +
                                       " · paused")
        elif state == STOPPING:
            self.progress_text.setText("Stopping after this batch…")

    def _started(self, event: Any) -> None:
        self._t0 = time.monotonic()
        self._first_step = None
        self._epochs, self._steps = event.epochs, event.steps_per_epoch
        self.progress_bar.setRange(0, max(1, event.epochs * event.steps_per_epoch))
        self.progress_text.setText(f"Training on {event.device_name}…")
        report = event.weights_report or {}
        if report.get("summary"):  # which of the starting weights fit, which start fresh
            self.window.statusBar().showMessage(f"Weights: {report['summary']}", 15000)

    def _batch(self, event: Any) -> None:
        done = (event.epoch - 1) * event.steps + event.step
        if self._first_step is None:
            self._first_step = done
            self._t0 = time.monotonic()
        total = self._epochs * event.steps
        self.progress_bar.setRange(0, max(1, total))
        self.progress_bar.setValue(done)
        elapsed = time.monotonic() - self._t0
        rate = (done - self._first_step) / elapsed if elapsed > 0 else 0.0
        eta = f" · ETA {_clock((total - done) / rate)}" if rate > 0 else ""
        paused = " · paused" if self.controller.state == PAUSED else ""
        self.progress_text.setText(
            f"Epoch {event.epoch}/{self._epochs} · step {event.step}/{event.steps}{eta} · "
            f"{event.samples_per_s:,.0f} samples/s{paused}")

    def _data_progress(self, event: Any) -> None:
        self.progress_text.setText(f"{event.stage}…")
        if event.total:
            self.progress_bar.setRange(0, event.total)
            self.progress_bar.setValue(event.done)

    def _failed(self, event: Any) -> None:
        advice = ADVICE.get(event.kind, ADVICE["error"])
        kept = "The project and its last good weights are kept." \
            if self.document.project.current_weights else \
            "The project is kept (no weights had been saved yet)."
        message = event.message[:1].upper() + event.message[1:]
        QMessageBox.warning(self.window, "Training stopped", f"{message}\n\n{advice}\n\n{kept}")

    def _finished(self, event: Any) -> None:
        self._unsaved_result()
        best = f"; best epoch {event.best_epoch}" if event.best_epoch else ""
        self.window.statusBar().showMessage(f"Training {event.status}: {event.message}{best}",
                                            10000)

    def _unsaved_result(self, *_args: Any) -> None:
        """A project with no file keeps its run only in memory until the user saves it."""
        if self.document.path is None:
            self.document.mark_dirty()

    def _saved(self, path: str) -> None:
        from pathlib import Path

        doc = self.document
        if doc.path is not None and Path(path) == doc.path:
            doc.mark_saved(doc.path)

    # -- files dropped on the window -----------------------------------------------------------
    def dropped_images(self, paths: list[str]) -> list[str]:
        from .evalsource import IMAGE_SUFFIXES

        return [p for p in paths if p.lower().endswith(IMAGE_SUFFIXES)]

    def predict_images(self, paths: list[str]) -> bool:
        """An image dropped on the window: its top-5 predictions in the Evaluation panel."""
        view = self.panel("Evaluation")
        self.show_panel("Evaluation")
        return bool(view.drop_files(paths))

    # -- the window's questions ----------------------------------------------------------------
    def may_leave(self, what: str) -> bool:
        """Before closing the window or opening another project: a run in progress is
        stopped (and saved) if the user agrees; False when they would rather keep it. So is a
        sweep."""
        if not self._may_leave_sweep(what):
            return False
        c = self.controller
        if not c.running:
            return True
        if not self._agree("A training run is in progress",
                           f"Stop the run before you {what}? It stops after the current batch "
                           "and is kept in the project (you can resume it later)."):
            return False
        c.stop()
        c.wait()
        from PySide6.QtCore import QCoreApplication

        QCoreApplication.processEvents()  # the run's last events reach the window and panels
        if c.running:  # the thread's own end signal may not have been delivered yet
            c.mark_idle()
        return True

    def _may_leave_sweep(self, what: str) -> bool:
        sweeps = self._sweeps
        if sweeps is None or not sweeps.running:
            return True
        if not self._agree("A sweep is running",
                           f"Stop the sweep before you {what}? Its finished trials are kept in "
                           "the project; the ones in progress run again when you start the "
                           "sweep again."):
            return False
        sweeps.stop()
        sweeps.wait()
        from PySide6.QtCore import QCoreApplication

        QCoreApplication.processEvents()  # its last runs reach the project
        return True

    def _agree(self, title: str, question: str) -> bool:
        """Yes to stopping something before leaving (Cancel is the default)."""
        answer = QMessageBox.question(
            self.window, title, question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes
