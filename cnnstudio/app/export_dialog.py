"""File ▸ Export model: a format, a file and its options; the export runs on a worker thread
with a progress bar and ends with its verification (largest differences measured) or with
the reason it failed and the exporter's own report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .. import engine
from ..graph import analyze, graph_from_dict, graph_to_dict
from ..graph.edits import parse_shape
from .style import ERROR_COLOR
from .widgets import ComboBox
from .workers import Job, run_in_background

OK_COLOR = "#2e9d57"


class ExportDialog(QDialog):
    """Exports the document's network; ``result`` holds the last verified export."""

    def __init__(self, document: Any, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)

        self.formats = engine.FORMATS
        self.document = document
        self.result: Any = None
        self.task: Job | None = None
        self.setWindowTitle("Export the model")
        self.resize(640, 460)
        project = document.project
        self.stem = (document.path.stem if document.path is not None else project.name) \
            or "model"
        self.folder = folder

        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.format = ComboBox()
        for key, fmt in engine.FORMATS.items():
            self.format.addItem(fmt.label, key)
            self.format.setItemData(self.format.count() - 1, fmt.note,
                                    Qt.ItemDataRole.ToolTipRole)
        self.format.currentIndexChanged.connect(self._format_changed)
        form.addRow("Format", self.format)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: palette(mid)")
        form.addRow("", self.note)
        row = QHBoxLayout()
        self.path = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form.addRow("File", row)
        self.weights = ComboBox()
        if project.current_weights is not None:
            self.weights.addItem("Trained weights (the project's current ones)", "trained")
        self.weights.addItem("Fresh weights (seed 0, untrained)", "fresh")
        form.addRow("Weights", self.weights)
        report = analyze(document.graph)
        shape = report.input_shape or []
        self.input = QLineEdit(",".join(str(d) for d in shape))
        self.input.setToolTip("per-sample input size C,H,W; the batch size is separate")
        form.addRow("Input size", self.input)
        self.dynamic = QCheckBox("Any batch size (dynamic batch axis)")
        self.dynamic.setChecked(True)
        form.addRow("Batch", self.dynamic)
        self.opset = QSpinBox()
        self.opset.setRange(7, 30)
        self.opset.setValue(18)
        form.addRow("ONNX opset", self.opset)
        self.script = QCheckBox("Also write train.py (the project's dataset and training)")
        form.addRow("", self.script)
        layout.addLayout(form)

        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.setPlaceholderText("The exporter's report appears here when it fails.")
        self.report.hide()
        layout.addWidget(self.report, 1)
        layout.addStretch(0)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self.reject)
        layout.addWidget(self.buttons)
        if not report.ok:
            self.export_button.setEnabled(False)
            self._say(f"The network has {len(report.errors)} error(s); fix them before "
                      "exporting.", ERROR_COLOR)
        self._format_changed()

    # -- options ---------------------------------------------------------------------------
    @property
    def fmt(self) -> str:
        return self.format.currentData()

    def _format_changed(self) -> None:
        fmt = self.formats[self.fmt]
        self.note.setText(fmt.note)
        current = self.path.text().strip()
        base = Path(current) if current else self.folder / self.stem
        if current and base.suffix:
            base = base.with_suffix("")
        self.path.setText(str(base.with_name(base.name + fmt.suffix)))
        self.opset.setEnabled(self.fmt == "onnx")
        weights_only = self.fmt in ("safetensors", "pth")
        self.dynamic.setEnabled(not weights_only)
        self.input.setEnabled(not weights_only)
        self.script.setEnabled(self.fmt == "python")
        if self.fmt != "python":
            self.script.setChecked(False)

    def _browse(self) -> None:
        fmt = self.formats[self.fmt]
        chosen, _ = QFileDialog.getSaveFileName(
            self, "Export to", self.path.text(), f"{fmt.label} (*{fmt.suffix})")
        if chosen:
            if not chosen.endswith(fmt.suffix):
                chosen += fmt.suffix
            self.path.setText(chosen)

    def _say(self, text: str, color: str | None = None) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {color}" if color else "")

    # -- running ---------------------------------------------------------------------------
    def start(self) -> bool:
        """Start the export (False, with the reason shown, when an option is wrong)."""
        if self.task is not None:
            return False
        text = self.path.text().strip()
        if not text:
            self._say("Choose a file to export to.", ERROR_COLOR)
            return False
        path = Path(text).expanduser()
        shape = None
        if self.input.isEnabled():
            shape = parse_shape(self.input.text())
            if shape is None:
                self._say("Input size: write C,H,W with positive integers, e.g. 3,224,224.",
                          ERROR_COLOR)
                return False
        fmt, opset, dynamic = self.fmt, self.opset.value(), self.dynamic.isChecked()
        trained = self.weights.currentData() == "trained"
        project = self.document.project
        graph = graph_from_dict(graph_to_dict(self.document.graph))
        weights = project.weights.get(project.current_weights) if trained else None
        script_for = project if self.script.isChecked() else None
        if script_for is not None:
            script = engine.training_script(project, model_file=path.name,
                                            weights_file=path.with_suffix(".safetensors").name)
        else:
            script = None

        def run(progress: Any) -> Any:
            from ..fileio import atomic_write

            progress(0.0, "Building the model…")
            state = engine.checkpoint.from_bytes(weights) if weights is not None else None
            g, model = engine.model_to_export(graph, state, shape)
            result = engine.export_model(model, analyze(g).input_shape, fmt, path, graph=g,
                                         opset=opset, dynamic_batch=dynamic, progress=progress)
            if script is not None:
                target = path.with_name("train.py")
                atomic_write(target, script.encode("utf-8"))
                result.paths.append(target)
            return result

        self.result = None
        self.report.clear()
        self.report.hide()
        self.progress.setValue(0)
        self._say("Exporting…")
        self.export_button.setEnabled(False)
        self.close_button.setEnabled(False)
        self.task = run_in_background(run, on_done=self._done, on_error=self._failed,
                                      on_progress=self._progress, parent=self,
                                      name="cnnstudio-export")
        return True

    def _progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(round(100 * fraction)))
        self._say(text)

    def _finish(self) -> None:
        if self.task is not None:
            self.task.wait()
        self.task = None
        self.export_button.setEnabled(True)
        self.close_button.setEnabled(True)

    def _done(self, result: Any) -> None:
        self._finish()
        self.result = result
        self.progress.setValue(100)
        files = ", ".join(p.name for p in result.paths)
        self._say(f"✓ {result.summary()}\nWritten: {files}", OK_COLOR)

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        self.progress.setValue(0)
        self._say(f"Export failed: {exc}\nNothing was written.", ERROR_COLOR)
        report = getattr(exc, "report", "")
        if report:
            self.report.setPlainText(report)
            self.report.show()

    def reject(self) -> None:
        if self.task is None:  # an export in progress finishes first (it cannot be cut short)
            super().reject()
