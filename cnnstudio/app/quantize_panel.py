"""Deploy ▸ Quantize to int8: the project's model as an int8 ONNX file
(engine/compress/quantize.py, the same as ``cnnstudio quantize``), its accuracy, size and speed
against float32, and each layer's quantisation noise, listed and painted on the canvas
(View ▸ int8 sensitivity map).

A non-modal dialog rather than a dock: quantising is an occasional step before deployment, not
a view one keeps beside the canvas, so it stays out of the workspaces' layouts; non-modal so
the canvas, painted with the sensitivity, stays usable beside it while the figures are read."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..engine.compress.options import CALIBRATE, MAX_CALIBRATE, MAX_QAT_EPOCHS, WORST
from ..graph.table import size
from ..project.model import graph_hash
from .canvas.heat import db_text
from .profiling import ms_text, sensitivities_of
from .style import ERROR_COLOR
from .widgets import SpinBox
from .widgets.text import esc, muted_label
from .workers import Job, describe, run_in_background

KEEP, LAYER, SQNR = range(3)


def default_out(path: Path | None) -> str:
    """Beside the project: NAME.int8.onnx (empty for an unsaved project)."""
    return "" if path is None else str(path.with_name(f"{path.stem}.int8.onnx"))


def node_ids(text: str) -> tuple[str, ...]:
    """Node ids separated by commas (or spaces), each once, in order."""
    return tuple(dict.fromkeys(n for n in text.replace(",", " ").split() if n))


class QuantizePanel(QDialog):
    """Quantises the document's model on a job; ``result`` holds the latest int8 file's
    figures and ``before`` the run before it on the same network (the gain of keeping
    layers in float32 shows as the two side by side)."""

    results_shown = Signal()  # a new result is shown (the window turns the sensitivity map on)

    def __init__(self, document: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Quantize to int8")
        self.setModal(False)
        self.resize(620, 720)
        self.document = document
        self.sensitivities = sensitivities_of(document)
        self.result: Any = None
        self.before: Any = None
        self.task: Job | None = None
        self._measured = ""
        self._default = default_out(document.path)

        self.calibrate = SpinBox()
        self.calibrate.setRange(1, MAX_CALIBRATE)
        self.calibrate.setValue(CALIBRATE)
        self.calibrate.setToolTip("Training images the quantiser sees to choose each "
                                  "activation's range")
        self.out = QLineEdit(self._default)
        self.out.setPlaceholderText("the int8 .onnx file to write")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)
        self.keep = QLineEdit()
        self.keep.setPlaceholderText("layer ids, separated by commas")
        self.keep.setToolTip("Layers left in float32: the sensitive ones the table names")
        self.keep.textChanged.connect(self._sync_checks)
        self.qat = SpinBox()
        self.qat.setRange(0, MAX_QAT_EPOCHS)
        self.qat.setValue(0)
        self.qat.setSpecialValueText("off")
        self.qat.setSuffix(" epochs")
        self.qat.setToolTip("When int8 loses more than a point of accuracy: fine-tune this many "
                            "epochs with int8 simulated (quantisation-aware), then quantise "
                            "again and keep the better")
        form = QFormLayout()
        form.addRow("Calibration images", self.calibrate)
        form.addRow("Quantisation-aware", self.qat)
        form.addRow("Output file", out_row)
        form.addRow("Keep in float32", self.keep)

        self.quantize_button = QPushButton("Quantize")
        self.quantize_button.setDefault(True)
        self.quantize_button.clicked.connect(lambda: self.start())
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: the quantiser reports steps, not fractions
        self.progress.setTextVisible(False)
        self.progress.hide()
        run_row = QHBoxLayout()
        run_row.addWidget(self.quantize_button)
        run_row.addWidget(self.progress, 1)
        run_row.addStretch(0)  # the button keeps its size while the bar is hidden
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.figures = QLabel()
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.figures.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.figures.setWordWrap(True)
        self.note = muted_label()

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Keep in float32", "Layer", "SQNR (dB)"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(KEEP, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(LAYER, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(SQNR, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setToolTip("Signal-to-quantisation-noise ratio of each layer's output in "
                              "the int8 model against the float32 one; lowest first")
        self.table.itemChanged.connect(self._check_changed)
        self.again = QPushButton()
        self.again.clicked.connect(self.keep_worst)
        self.again.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(run_row)
        layout.addWidget(self.status)
        layout.addWidget(self.figures)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.again)
        self.show_result()
        document.reset.connect(self._on_reset)
        document.path_changed.connect(self._on_path)

    # -- options ---------------------------------------------------------------------------
    def options(self) -> dict[str, Any]:
        """``quantize_project``'s keywords from the controls (one place for them)."""
        return {"calibrate": self.calibrate.value(), "qat_epochs": self.qat.value()}

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getSaveFileName(self, "Write the int8 model to",
                                                self.out.text(), "ONNX (*.onnx)")
        if chosen:
            self.out.setText(chosen if chosen.endswith(".onnx") else chosen + ".onnx")

    def _on_path(self, path: Path | None) -> None:
        """Saved elsewhere: a default output follows the project; a chosen one stays."""
        if self.out.text().strip() in ("", self._default):
            self.out.setText(default_out(path))
        self._default = default_out(path)

    def _on_reset(self) -> None:
        """Another network: the last one's figures go, a running job's answer is dropped."""
        if self.task is not None:
            self.task.cancel()
            self._finish()
        self.result = self.before = None
        self.keep.clear()
        self._on_path(self.document.path)
        self.show_result()
        self._say("")

    # -- running ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.task is not None

    def refusal(self, keep: tuple[str, ...]) -> str | None:
        """Why the model cannot be quantised now, in one line, or None."""
        doc = self.document
        project = doc.project
        if doc.path is None:
            return "Save the project first: its data and the int8 file go beside it."
        if not doc.report.ok:
            return "The network has errors (see Problems); fix them first."
        if project.current_weights is None:
            return "The project has no trained weights: train it first."
        unknown = [n for n in keep if n not in doc.graph]
        if unknown:
            return f"Keep in float32: the network has no layer {unknown[0]!r}."
        if not self.out.text().strip():
            return "Choose the int8 file to write."
        return None

    def start(self, keep: tuple[str, ...] | None = None) -> bool:
        """Quantise in the background, the layers ``keep`` (default: the Keep field's) left in
        float32; False, with the reason in red, when it cannot start."""
        if self.running:
            return False
        keep = node_ids(self.keep.text()) if keep is None else keep
        why = self.refusal(keep)
        if why is not None:
            self._say(why, error=True)
            return False
        doc = self.document
        project = doc.project
        key = project.current_weights
        snapshot = SimpleNamespace(  # the job's own copy: the document may change meanwhile
            graph=doc.graph.copy(), dataset=copy.deepcopy(project.dataset),
            training=copy.deepcopy(project.training), weights={key: project.weights[key]},
            current_weights=key)
        measured = graph_hash(snapshot.graph)
        out = Path(self.out.text().strip()).expanduser()
        base_dir, options = doc.path.parent, self.options()

        def job(progress: Callable[[float, str], None]) -> Any:
            from ..engine.compress.quantize import quantize_project

            return quantize_project(snapshot, out, base_dir=base_dir, keep_float=keep,
                                    progress=lambda text: progress(0.0, text), **options)

        self._measured = measured
        self.quantize_button.setEnabled(False)
        self.again.setEnabled(False)
        self.progress.show()
        self._say("Starting…")
        self.task = run_in_background(job, on_done=self._done, on_error=self._failed,
                                      on_progress=self._progress, parent=self,
                                      name="cnnstudio-quantize")
        return True

    def keep_worst(self) -> bool:
        """The one click: the layers the last result names most sensitive (the three the
        command line names too) join those kept in float32, and it quantises again."""
        if self.result is None:
            return False
        keep = tuple(dict.fromkeys([*self.result.kept_float, *self.worst()]))
        self.keep.setText(", ".join(keep))
        return self.start(keep)

    def worst(self) -> list[str]:
        """The ``WORST`` lowest SQNR layers of the last result not kept in float32 yet."""
        r = self.result
        if r is None:
            return []
        return [nid for nid, _db in r.most_sensitive(len(r.sensitivity))
                if nid not in r.kept_float][:WORST]

    def _progress(self, _fraction: float, text: str) -> None:
        self._say(f"{text[:1].upper()}{text[1:]}…")

    def _finish(self) -> None:
        self.task = None
        self.quantize_button.setEnabled(True)
        self.again.setEnabled(True)
        self.progress.hide()

    def _done(self, result: Any) -> None:
        self._finish()
        same = self.result is not None and self.sensitivities.result is self.result
        self.before = self.result if same else None  # the run before, on the same network
        self.result = result
        self._say("")
        self.sensitivities.set(result, self._measured)
        self.show_result()
        self.results_shown.emit()

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        self._say(f"Could not quantise: {describe(exc)}", error=True)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {ERROR_COLOR}" if error else "")
        self.status.setVisible(bool(text))

    # -- results ---------------------------------------------------------------------------
    def show_result(self) -> None:
        r = self.result
        self.figures.setVisible(r is not None)
        self.note.setVisible(r is not None)
        self.table.setVisible(r is not None)
        worst = self.worst()
        self.again.setVisible(bool(worst))
        if r is None:
            self.table.setRowCount(0)
            return
        self.figures.setText(figures_html(r, self.before))
        self.note.setText(
            f"Scored on {r.evaluated} validation images; {r.calibration} training images "
            "calibrated. Latency: one image under onnxruntime on this CPU, median (10th–90th "
            "percentile)" + ("; each int8 speed is against the float32 file timed in turn with "
                             "it, the steadier figure on a busy machine" if self.before else "")
            + ". SQNR: the signal-to-quantisation-noise ratio of each layer's output, lower is "
            "worse; View ▸ int8 sensitivity map paints it on the canvas.")
        self.again.setText(f"Keep the {len(worst)} most sensitive in float32 and quantise "
                           "again")
        self.again.setToolTip("Adds " + ", ".join(worst) + " to Keep in float32")
        self._fill_table(r)

    def _fill_table(self, r: Any) -> None:
        rows = [(nid, db_text(db)) for nid, db in r.most_sensitive(len(r.sensitivity))
                if nid not in r.kept_float]
        rows += [(nid, "float32") for nid in r.kept_float]
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        for row, (nid, text) in enumerate(rows):
            check = QTableWidgetItem()
            check.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            check.setData(Qt.ItemDataRole.UserRole, nid)
            self.table.setItem(row, KEEP, check)
            self.table.setItem(row, LAYER, QTableWidgetItem(nid))
            value = QTableWidgetItem(text)
            value.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, SQNR, value)
        self.table.blockSignals(False)
        self._sync_checks()

    def _sync_checks(self) -> None:
        """The table's boxes show the Keep field (the one list; the boxes edit it)."""
        kept = set(node_ids(self.keep.text()))
        self.table.blockSignals(True)
        for row in range(self.table.rowCount()):
            item = self.table.item(row, KEEP)
            on = item.data(Qt.ItemDataRole.UserRole) in kept
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.table.blockSignals(False)

    def _check_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != KEEP:
            return
        nid = item.data(Qt.ItemDataRole.UserRole)
        kept = [n for n in node_ids(self.keep.text()) if n != nid]
        if item.checkState() == Qt.CheckState.Checked:
            kept.append(nid)
        self.keep.setText(", ".join(kept))


def figures_html(r: Any, before: Any = None) -> str:
    """float32 against int8 (and the int8 run before, when there is one) as a small table."""
    runs = [before, r] if before is not None else [r]

    def head(run: Any) -> str:
        kept = len(run.kept_float)
        return "int8" + (f", {kept} kept in float32" if kept else "") + \
            (" (before)" if run is before else "")

    def accuracy(run: Any) -> str:
        points = 100 * (run.int8_accuracy - run.fp32_accuracy)
        text = f"<b>{100 * run.int8_accuracy:.2f} %</b> ({points:+.2f} points)"
        if run.ptq_accuracy is not None:
            text += (f"<br>{100 * run.ptq_accuracy:.2f} % before {run.qat_epochs} "
                     "quantisation-aware epochs")
        return text

    def latency(ms: Any) -> str:
        return f"{ms_text(ms.median_ms)} ms ({ms_text(ms.low_ms)}–{ms_text(ms.high_ms)})"

    rows = [("", ["float32", *(head(run) for run in runs)]),
            ("Accuracy", [f"{100 * r.fp32_accuracy:.2f} %", *map(accuracy, runs)]),
            ("Size", [size(r.fp32_bytes),
                      *(f"{size(run.int8_bytes)} ({run.smaller:.1f}× smaller)" for run in runs)]),
            ("Latency", [latency(r.fp32),
                         *(f"{latency(run.int8)}, {run.faster:.2f}× the speed" for run in runs)])]
    cells = "".join(
        "<tr>" + f"<td><b>{esc(name)}</b></td>" + "".join(
            f'<td style="padding-left:14px">{text if i else f"<b>{esc(text)}</b>"}</td>'
            for text in values) + "</tr>"
        for i, (name, values) in enumerate(rows))
    return f"<table>{cells}</table><p>Written: {esc(r.path)}</p>"


def open_quantize(window: Any) -> QuantizePanel:
    """The window's one panel, made on first use and brought forward; its results turn the
    canvas's int8 sensitivity map on."""
    panel = window.findChild(QuantizePanel)
    if panel is None:
        panel = QuantizePanel(window.document, window)
        panel.results_shown.connect(lambda: window.act["sensitivity_map"].setChecked(True))
    panel.show()
    panel.raise_()
    panel.activateWindow()
    return panel
