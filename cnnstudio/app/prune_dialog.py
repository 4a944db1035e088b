"""Deploy ▸ Prune channels…: the network with whole channels removed to a MACs target
(engine/compress/prune.py, the same as ``cnnstudio prune``), previewed in the background with its
validation accuracy, the accuracy-against-MACs curve measured on demand (engine/compress/prune.py),
and Apply as one undoable edit: the narrower widths and the pruned weights together.

The runs keep their weights: they are the project's history, undo must find them as they were,
and nothing loads them into the narrower network by accident (the Runs panel and resume refuse
weights of another version of the graph, by its hash). The command line drops them because it
writes a new project, where they would only take room."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ..engine.compress.options import FINETUNE_EPOCHS
from ..graph import UNSET
from ..graph.table import si
from ..project import Project
from ..project.model import graph_hash
from .style import OK_COLOR
from .widgets import ComboBox, SpinBox, error_label, muted_label, show_problem
from .workers import Job, Jobs, describe, run_in_background

TITLE = "Prune channels"
IMPORTANCE_LABELS = {"l1": "L1 norm of the weights", "l2": "L2 norm of the weights",
                     "taylor": "Taylor: |weight × gradient| on a few training batches"}
PREVIEW_DELAY_MS = 300  # a dragged slider prunes once, where it stops
PRUNED_COLOR, TUNED_COLOR = "#2e86de", OK_COLOR


@dataclass(frozen=True)
class Preview:
    """One pruning worked out in the background, with what it was made from."""

    target: float
    importance: str
    pruned: Any  # engine.compress.prune.Pruned
    blob: bytes
    """The pruned weights as safetensors bytes, ready to store."""
    accuracy: float | None
    token: tuple[str, str | None]
    """The graph's hash and the current weights' member when it was made."""


def problem(document: Any) -> str | None:
    """Why the document's network cannot be pruned now (None: it can)."""
    if document.locked:
        return f"The network is read-only while {document.lock_reason}."
    project = document.project
    if not project.current_weights or project.current_weights not in project.weights:
        return ("The project has no trained weights: train it first (pruning ranks the "
                "channels by their trained weights).")
    report = document.flush()
    if not report.ok:
        return (f"The network has {len(report.errors)} error(s) (see Problems); fix them "
                "before pruning.")
    return None


def token(document: Any) -> tuple[str, str | None]:
    return graph_hash(document.graph), document.project.current_weights


def snapshot(document: Any) -> tuple[Project, bytes]:
    """What a job prunes: a scratch project (the graph copied, the settings shared read-only)
    and the current weights' bytes, taken on the GUI thread."""
    project = document.project
    scratch = Project(name=project.name, graph=project.graph.copy(), dataset=project.dataset,
                      training=project.training)
    return scratch, project.weights[project.current_weights]


def member_for(project: Any) -> str:
    """A weights member no other weights use: each pruning keeps its own."""
    n = 1
    while f"weights/pruned-{n}.safetensors" in project.weights:
        n += 1
    return f"weights/pruned-{n}.safetensors"


def apply(document: Any, preview: Preview) -> str | None:
    """The pruned widths and weights as one undo step; returns why not (changing nothing)."""
    why = problem(document)
    if why is None and token(document) != preview.token:
        why = "The network or its weights changed since this preview; it is worked out again."
    if why is not None:
        return why
    graph, pruned = document.graph, preview.pruned
    text = f"Prune to {pruned.macs_kept:.0%} of the MACs"
    with document.macro(text):
        for nid, node in pruned.graph.nodes.items():
            old = graph.nodes[nid].params
            changes = {k: v for k, v in node.params.items() if old.get(k, UNSET) != v}
            if changes:
                document.set_params(nid, changes, merge=False)
        document.set_weights(member_for(document.project), preview.blob, text)
    document.flush()
    return None


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


class PruneDialog(QDialog):
    """The target and importance, a preview worked out in the background, the curve on
    demand, Apply. ``preview`` is the latest pruning for the settings shown."""

    def __init__(self, document: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setWindowTitle(TITLE)
        self.preview: Preview | None = None
        self.points: list[Any] = []
        self.data: Any = None
        self.data_problem: str | None = None
        self.accuracy_before: float | None = None
        self.start_run: Callable[[Any], bool] | None = None
        """Starts a run from the current weights with the given settings (the window's Train;
        None: the dialog cannot start runs)."""
        self.jobs = Jobs(self)
        self.curve_job: Job | None = None
        self._stop = threading.Event()
        self._data_lock = threading.Lock()  # the preview's and the curve's jobs share the data
        self._base = document.path.parent if document.path is not None else None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.update_preview)
        self._build()
        self.resize(680, 620)
        self.update_preview()

    # -- building ----------------------------------------------------------------------------
    def _build(self) -> None:
        import pyqtgraph as pg

        form = QFormLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(10, 95)
        self.target = SpinBox()
        self.target.setRange(10, 95)
        self.target.setSuffix(" %")
        self.target.setValue(50)
        self.slider.setValue(50)
        self.slider.valueChanged.connect(self.target.setValue)
        self.target.valueChanged.connect(self.slider.setValue)
        self.target.valueChanged.connect(self._settings_changed)
        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.target)
        form.addRow("MACs to keep", row)
        self.importance = ComboBox()
        for key, label in IMPORTANCE_LABELS.items():
            self.importance.addItem(label, key)
        self.importance.currentIndexChanged.connect(self._settings_changed)
        form.addRow("Importance", self.importance)
        self.shape_line = QLabel("…")
        self.shape_line.setWordWrap(True)
        self.shape_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Pruned", self.shape_line)
        self.accuracy_line = QLabel("…")
        form.addRow("Validation accuracy", self.accuracy_line)
        self.problem = error_label()

        self.epochs = SpinBox()
        self.epochs.setRange(0, 100)
        self.epochs.setValue(0)
        self.epochs.setToolTip("Fine-tune each point of the curve for this many epochs (a "
                               "tenth of the learning rate, cosine); 0: no fine-tuning")
        self.measure_button = QPushButton("Measure curve")
        self.measure_button.setToolTip("Prune to 90, 75, 50, 35 and 25 % of the MACs and score "
                                       "each on the validation split")
        self.measure_button.clicked.connect(self.measure_curve)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_curve)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        curve_row = QHBoxLayout()
        curve_row.addWidget(self.measure_button)
        curve_row.addWidget(QLabel("fine-tuning epochs per point"))
        curve_row.addWidget(self.epochs)
        curve_row.addWidget(self.cancel_button)
        curve_row.addWidget(self.progress, 1)
        curve_row.addStretch(0)
        self.progress.hide()  # shown while measuring

        self.plot = pg.PlotWidget()
        self.plot.setBackground(self.palette().color(QPalette.ColorRole.Base))
        self.plot.setMinimumHeight(240)
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "MACs kept (%)")
        item.setLabel("left", "validation accuracy (%)")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setMenuEnabled(False)
        item.addLegend(offset=(-10, -10))  # bottom right: the curves fall to the left
        self.pruned_curve = item.plot([], [], pen=pg.mkPen(PRUNED_COLOR, width=2), symbol="o",
                                      symbolSize=8, symbolBrush=PRUNED_COLOR, symbolPen=None,
                                      name="pruned")
        self.tuned_curve = item.plot([], [], pen=pg.mkPen(TUNED_COLOR, width=2), symbol="s",
                                     symbolSize=8, symbolBrush=TUNED_COLOR, symbolPen=None,
                                     name="fine-tuned")
        for c in (self.pruned_curve, self.tuned_curve):
            c.sigPointsClicked.connect(self._point_clicked)
        self.target_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(
            (128, 128, 128), width=1, style=Qt.PenStyle.DashLine))
        self.target_line.setValue(self.target.value())
        item.addItem(self.target_line)
        item.setXRange(20, 100, padding=0.04)
        self.plot_note = muted_label("Measure the curve to see what each target costs; click a "
                                     "point to prune to it.")

        self.status = muted_label()
        self.status.setMinimumWidth(520)  # the layout sizes a wrapping label by its hint
        self.finetune_epochs = SpinBox()
        self.finetune_epochs.setRange(1, 1000)
        self.finetune_epochs.setValue(FINETUNE_EPOCHS)
        self.finetune_epochs.setSuffix(" epochs")
        self.finetune_button = QPushButton("Fine-tune")
        self.finetune_button.setToolTip("Train on from the pruned weights at a tenth of the "
                                        "learning rate on a cosine schedule (the project keeps "
                                        "its own settings; the run records these)")
        self.finetune_button.clicked.connect(self.finetune)
        self.finetune_row = QWidget()
        tune = QHBoxLayout(self.finetune_row)
        tune.setContentsMargins(0, 0, 0, 0)
        tune.addWidget(self.finetune_button)
        tune.addWidget(self.finetune_epochs)
        tune.addStretch(1)
        self.finetune_row.hide()  # shown once pruned weights are the current ones
        self.apply_button = QPushButton("Apply")
        self.apply_button.setEnabled(False)
        self.apply_button.setToolTip("Narrow the layers and replace the current weights with "
                                     "the pruned ones (one step: Edit ▸ Undo restores both)")
        self.apply_button.clicked.connect(self.apply)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(self.apply_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addLayout(curve_row)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.plot_note)
        layout.addWidget(self.status)
        layout.addWidget(self.finetune_row)
        layout.addWidget(buttons)

    # -- the preview -------------------------------------------------------------------------
    def _settings_changed(self, *_args: Any) -> None:
        self.target_line.setValue(self.target.value())
        self.apply_button.setEnabled(False)
        self._timer.start()

    def _data(self, project: Any) -> Any:
        """On a job: the project's data, loaded once (None, with the reason kept, when it
        cannot be read without downloading)."""
        from ..engine.inference.model import InferenceError, project_data

        with self._data_lock:
            if self.data is None and self.data_problem is None:
                try:
                    self.data = project_data(project, base_dir=self._base)
                except InferenceError as exc:
                    self.data_problem = str(exc)
            return self.data

    def update_preview(self) -> None:
        """Work out the pruning for the settings shown, in the background."""
        self._timer.stop()
        self.preview = None
        self.apply_button.setEnabled(False)
        why = problem(self.document)
        if why is not None:
            show_problem(self.problem, why)
            return
        project, blob = snapshot(self.document)
        made = token(self.document)
        target, importance = self.target.value() / 100, self.importance.currentData()
        self.shape_line.setText("working it out…")

        def work() -> Preview:
            from ..engine import checkpoint
            from ..engine.compress.prune import PruneError, accuracy, prune_project

            state = checkpoint.from_bytes(blob)
            data = self._data(project)
            if self.accuracy_before is None and data is not None:
                self.accuracy_before = accuracy(project.graph, state, data)
            if importance == "taylor" and data is None:
                raise PruneError(f"Taylor importance needs the training data: "
                                 f"{self.data_problem}")
            pruned = prune_project(project, state, target, data, importance=importance)
            after = accuracy(pruned.graph, pruned.state, data) if data is not None else None
            return Preview(target, importance, pruned, checkpoint.to_bytes(pruned.state),
                           after, made)

        self.jobs.start(work, self._preview_ready, self._preview_failed)

    def _preview_ready(self, preview: Preview) -> None:
        self.preview = preview
        show_problem(self.problem, None)
        p = preview.pruned
        layers = ", ".join(f"{nid} {a}→{b}" for nid, (a, b) in list(p.changed.items())[:4])
        more = f", … ({len(p.changed)} in all)" if len(p.changed) > 4 else ""
        self.shape_line.setText(
            f"MACs {si(p.macs_before)} → {si(p.macs_after)} ({p.macs_kept:.1%} kept), "
            f"parameters {si(p.params_before)} → {si(p.params_after)}; "
            f"{len(p.changed)} layers narrower: {layers}{more}")
        why = "" if self.data is not None else f" (no data: {self.data_problem})"
        self.accuracy_line.setText(f"{_pct(self.accuracy_before)} → {_pct(preview.accuracy)}"
                                   f" pruned{why}")
        current = (self.target.value() / 100, self.importance.currentData())
        self.apply_button.setEnabled(current == (preview.target, preview.importance))

    def _preview_failed(self, message: str) -> None:
        self.preview = None
        self.shape_line.setText("—")
        show_problem(self.problem, message)

    # -- applying ----------------------------------------------------------------------------
    def apply(self) -> bool:
        """Apply the preview as one undo step; False (and why, shown) when it cannot be."""
        if self.preview is None:
            return False
        why = apply(self.document, self.preview)
        if why is not None:
            show_problem(self.problem, why)
            self.update_preview()
            return False
        p = self.preview.pruned
        self.preview = None
        self.apply_button.setEnabled(False)
        self.accuracy_before = None
        self.points = []
        self.status.setText(
            f"Pruned to {p.macs_kept:.1%} of the MACs (Edit ▸ Undo restores the network and "
            "its weights). Fine-tune to win back accuracy: a run from the pruned weights at a "
            "tenth of the learning rate, cosine (what `cnnstudio prune --finetune-epochs` "
            "does). The runs keep their weights, which fit the network before pruning only.")
        self.finetune_row.setVisible(self.start_run is not None)
        self.update_preview()  # what pruning the network as it is now would do
        return True

    def finetune(self) -> bool:
        """Start the fine-tuning run in the window (its charts show it); False when it
        cannot start (a run is going, the network has errors: the window says why)."""
        if self.start_run is None:
            return False
        from ..engine.compress.options import finetune_config

        recipe = finetune_config(self.document.project.training, self.finetune_epochs.value())
        started = bool(self.start_run(recipe))
        if started:
            self.finetune_row.hide()
        return started

    # -- the curve ---------------------------------------------------------------------------
    def measure_curve(self) -> bool:
        """Measure the curve in the background; False (and why) when it cannot start."""
        why = problem(self.document)
        if why is not None or (self.curve_job is not None and self.curve_job.running):
            show_problem(self.problem, why)
            return False
        from ..engine.compress.prune import DEFAULT_TARGETS

        project, blob = snapshot(self.document)
        importance, epochs = self.importance.currentData(), self.epochs.value()
        base = self._base
        stop = self._stop = threading.Event()

        def work(report: Any) -> list[Any]:
            from ..engine import checkpoint
            from ..engine.compress.prune import curve

            data = self._data(project)
            if data is None:
                raise ValueError(f"the curve needs the project's data: {self.data_problem}")
            return curve(project, checkpoint.from_bytes(blob), data, DEFAULT_TARGETS,
                         importance=importance, finetune_epochs=epochs, base_dir=base,
                         progress=report, cancelled=stop.is_set)

        self.measure_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.show()
        self.plot_note.setText("Measuring…")
        self.curve_job = run_in_background(work, on_done=self._curve_ready,
                                           on_error=self._curve_failed,
                                           on_progress=self._curve_progress, parent=self,
                                           name="cnnstudio-prune-curve")
        return True

    def cancel_curve(self) -> None:
        self._stop.set()
        self.plot_note.setText("Cancelling after this point…")

    def _curve_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(round(100 * fraction))
        self.plot_note.setText(f"Measuring: {text}…")

    def _curve_done(self) -> None:
        self.measure_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.hide()

    def _curve_ready(self, points: list[Any]) -> None:
        self._curve_done()
        self.show_points(points)
        stopped = " (cancelled: the points so far)" if self._stop.is_set() else ""
        self.plot_note.setText(f"{len(points) - 1} targets measured{stopped}; click a point "
                               "to prune to it.")

    def _curve_failed(self, exc: BaseException) -> None:
        self._curve_done()
        self.plot_note.setText("")
        show_problem(self.problem, describe(exc))

    def show_points(self, points: list[Any]) -> None:
        self.points = points
        xs = [100 * p.macs_kept for p in points]
        self.pruned_curve.setData(xs, [100 * (p.accuracy or 0) for p in points])
        tuned = [p for p in points if p.finetuned is not None]
        self.tuned_curve.setData([100 * p.macs_kept for p in tuned],
                                 [100 * p.finetuned for p in tuned])
        self.plot.getPlotItem().enableAutoRange()

    def _point_clicked(self, _item: Any, spots: Any, *_args: Any) -> None:
        if len(spots):
            self.choose_point(spots[0].pos().x())

    def choose_point(self, macs_percent: float) -> None:
        """The target of the measured point nearest ``macs_percent`` (the unpruned one aside)."""
        pruned = [p for p in self.points if p.target < 1]
        if pruned:
            nearest = min(pruned, key=lambda p: abs(100 * p.macs_kept - macs_percent))
            self.target.setValue(round(100 * nearest.target))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.PaletteChange:  # a new theme: the plot follows
            self.plot.setBackground(self.palette().color(QPalette.ColorRole.Base))
        super().changeEvent(event)

    def done(self, result: int) -> None:
        """Closing drops the jobs' answers and stops the curve after its current point."""
        self._timer.stop()
        self.jobs.cancel()
        self._stop.set()
        super().done(result)


def open_prune(window: Any) -> PruneDialog | None:
    """The dialog for the window's document, or None (and why, in a message box) when the
    network cannot be pruned now."""
    why = problem(window.document)
    if why is not None:
        QMessageBox.warning(window, TITLE, why)
        return None
    dialog = window.findChild(PruneDialog)
    if dialog is None:
        dialog = PruneDialog(window.document, window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.start_run = lambda training: window.training.train(from_current=True,
                                                                  training=training)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
