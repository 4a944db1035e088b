"""File ▸ Import model: a torchvision or timm model by name (timm's with its pretrained weights
when asked), an ONNX file or an ``nn.Module`` in a Python file (which runs that file's code:
the dialog says so and asks first) becomes a new project with the model's weights, laid out and
grouped by module path. **Preview** shows first what the model will become (its size, which
operations become which layers, the notes) or every operation that cannot come in, with the
reason; Import then keeps that result."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .. import engine
from ..graph.edits import parse_shape
from .style import ERROR_COLOR, WARNING_COLOR
from .widgets import ComboBox
from .workers import Job, run_in_background

KINDS = (("torchvision", "A torchvision model"), ("timm", "A timm model"),
         ("onnx", "An ONNX file"), ("python", "A Python file (nn.Module)"))
BY_NAME = ("torchvision", "timm")
"""The kinds chosen by a model's name (with a number of classes), not a file."""
NOTES = {
    "torchvision": "torchvision models come with random weights here (nothing is downloaded); "
                   "for ImageNet weights use File ▸ Fine-tune a pretrained network…",
    "timm": "timm models come with random weights; with Pretrained weights, timm's are "
            "downloaded from the Hugging Face Hub into its cache (HF_HOME) the first time. "
            "An empty input size is the one the model is made for.",
}
CODE_WARNING = ("Importing a Python file runs its code, with your permissions. Only import "
                "files you trust.")


class ImportDialog(QDialog):
    """Choose what to import; ``imported`` holds the result once the import succeeded."""

    def __init__(self, folder: Path, kind: str = "torchvision",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)

        self.folder = folder
        self.imported: Any = None
        self.name = ""
        self.task: Job | None = None
        self.previewed: tuple[tuple[Any, ...], Any] | None = None  # (options, result)
        self.trusted: set[Path] = set()
        self.timm_missing = ""  # why timm's models cannot be listed (timm not installed)
        self._stop = threading.Event()
        self.setWindowTitle("Import a model")
        self.resize(640, 360)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.kind = ComboBox()
        for key, text in KINDS:
            self.kind.addItem(text, key)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        form.addRow("Import", self.kind)
        self.model = ComboBox()
        self.model.addItems(engine.torchvision_names())
        self.model.setCurrentText("resnet18")
        form.addRow("Model", self.model)
        self.timm_names: list[str] | None = None  # filled when the kind is first chosen
        self.timm_model = ComboBox()
        self.timm_model.setEditable(True)
        self.timm_model.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.timm_model.lineEdit().setPlaceholderText("type to search timm's CNNs")
        form.addRow("Model", self.timm_model)
        self.pretrained = QCheckBox("Pretrained weights")
        self.pretrained.setToolTip("timm's pretrained weights for this model (a tag such as "
                                   "resnet18.a1_in1k picks a version)")
        form.addRow("", self.pretrained)
        self.classes = QSpinBox()
        self.classes.setRange(1, 100000)
        self.classes.setValue(1000)
        form.addRow("Classes", self.classes)
        row = QHBoxLayout()
        self.path = QLineEdit()
        self.path.setPlaceholderText("the file to import")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.file_row = QWidget()
        self.file_row.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        form.addRow("File", self.file_row)
        self.symbol = QLineEdit()
        self.symbol.setPlaceholderText("the nn.Module class or the function that builds it "
                                       "(empty: the only one in the file)")
        form.addRow("Name", self.symbol)
        self.input = QLineEdit("3,224,224")
        form.addRow("Input size", self.input)
        layout.addLayout(form)
        self.warning = QLabel(CODE_WARNING)
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {WARNING_COLOR}; font-weight: bold")
        layout.addWidget(self.warning)
        self.note = QLabel(NOTES["torchvision"])
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.hide()
        layout.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.summary.setMinimumHeight(180)
        self.summary.hide()
        layout.addWidget(self.summary, 1)
        layout.addStretch(1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.preview_button: QAbstractButton = self.buttons.addButton(
            "Preview", QDialogButtonBox.ButtonRole.ActionRole)
        self.preview_button.setToolTip("Show what the model will become before importing it")
        self.preview_button.clicked.connect(self.preview)
        self.import_button = self.buttons.addButton("Import",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.clicked.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.kind.setCurrentIndex([k for k, _ in KINDS].index(kind))
        self._kind_changed()

    @property
    def chosen_kind(self) -> str:
        return self.kind.currentData()

    def _kind_changed(self) -> None:
        kind = self.chosen_kind
        if kind == "timm":
            self._fill_timm()
        for widget, shown in ((self.model, kind == "torchvision"),
                              (self.timm_model, kind == "timm"),
                              (self.pretrained, kind == "timm"),
                              (self.classes, kind in BY_NAME),
                              (self.file_row, kind not in BY_NAME),
                              (self.symbol, kind == "python"),
                              (self.input, kind != "onnx")):
            widget.setVisible(shown)
            label = self._label(widget)
            if label is not None:
                label.setVisible(shown)
        self.warning.setVisible(kind == "python")
        self.note.setVisible(kind in NOTES)
        self.note.setText(NOTES.get(kind, ""))
        self.input.setPlaceholderText("C,H,W (empty: the model's own)" if kind == "timm" else "")
        self.status.clear()
        self.summary.hide()
        if kind == "timm" and self.timm_names is None:
            self._fail(self.timm_missing)

    def _fill_timm(self) -> None:
        """timm's CNNs in the searchable list, once (importing timm takes a moment)."""
        if self.timm_names is not None or self.timm_missing:
            return
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.timm_names = engine.timm_cnn_names()
        except engine.ModelImportError as exc:  # timm is not installed: say how
            self.timm_missing = str(exc)
            return
        finally:
            QApplication.restoreOverrideCursor()
        self.timm_model.addItems(self.timm_names)
        completer = QCompleter(self.timm_names, self.timm_model)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setMaxVisibleItems(12)
        self.timm_model.setCompleter(completer)
        self.timm_model.setCurrentText("resnet18" if "resnet18" in self.timm_names
                                       else self.timm_names[0])

    def _label(self, widget: QWidget) -> QWidget | None:
        for form in self.findChildren(QFormLayout):
            label = form.labelForField(widget)
            if label is not None:
                return label
        return None

    def _browse(self) -> None:
        pattern = "ONNX models (*.onnx)" if self.chosen_kind == "onnx" else \
            "Python files (*.py)"
        chosen, _ = QFileDialog.getOpenFileName(self, "Import", str(self.folder), pattern)
        if chosen:
            self.path.setText(chosen)

    def _fail(self, text: str) -> bool:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {ERROR_COLOR}")
        return False

    def _job(self) -> tuple[tuple[Any, ...], Any] | None:
        """(the options, the function that imports with them), or None with the reason shown
        when an option is wrong or the user does not trust a file's code."""
        kind = self.chosen_kind
        own_size = kind == "timm" and not self.input.text().strip()
        shape = parse_shape(self.input.text()) if kind != "onnx" and not own_size else None
        if kind != "onnx" and not own_size and shape is None:
            self._fail("Input size: write C,H,W with positive integers, e.g. 3,224,224.")
            return None
        if kind == "torchvision":
            name, classes = self.model.currentText(), self.classes.value()
            self.name = name
            return (kind, name, classes, shape), lambda report: engine.from_torchvision(
                name, num_classes=classes, input_shape=shape)
        if kind == "timm":
            return self._timm_job(shape)
        path = Path(self.path.text().strip()).expanduser()
        if not self.path.text().strip() or not path.is_file():
            self._fail("Choose an existing file to import.")
            return None
        self.name = path.stem
        stamp = path.stat().st_mtime_ns
        if kind == "onnx":
            return (kind, path, stamp), lambda report: engine.from_onnx(path)
        if path not in self.trusted and not self.trust(path):
            return None
        self.trusted.add(path)
        symbol = self.symbol.text().strip() or None
        return (kind, path, stamp, symbol, shape), lambda report: engine.from_python_file(
            path, symbol, shape)

    def _timm_job(self, shape: Any) -> tuple[tuple[Any, ...], Any] | None:
        if self.timm_names is None:
            self._fail(self.timm_missing)
            return None
        name = self.timm_model.currentText().strip()
        if not name:
            self._fail("Model: choose or type a timm model's name.")
            return None
        classes, weights = self.classes.value(), self.pretrained.isChecked()
        self.name = name
        self._stop.clear()

        def run(report: Any) -> Any:
            def progress(done: int, total: int | None) -> None:
                mb = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else \
                    f"{done / 1e6:.1f} MB"
                report(done / total if total else -1.0, f"Downloading {name}'s weights: {mb}")

            return engine.from_timm(name, pretrained=weights, num_classes=classes,
                                    input_shape=shape, progress=progress,
                                    cancelled=self._stop.is_set)

        return (self.chosen_kind, name, weights, classes, shape), run

    def start(self) -> bool:
        """Import (False, with the reason shown, when an option is wrong); a preview of the
        same options is kept, not imported again."""
        if self.task is not None:
            return False
        job = self._job()
        if job is None:
            return False
        if self.previewed is not None and self.previewed[0] == job[0]:
            self.imported = self.previewed[1]
            self.accept()
            return True
        return self._run(job[1], self._done, "Importing…")

    def preview(self) -> bool:
        """Import in the background and show what the model becomes, without opening it."""
        if self.task is not None:
            return False
        job = self._job()
        if job is None:
            return False
        options = job[0]
        return self._run(job[1], lambda result: self._previewed(options, result),
                         "Working out what the model becomes…")

    def _run(self, run: Any, on_done: Any, text: str) -> bool:
        self.status.setText(text)
        self.status.setStyleSheet("")
        self.progress.show()
        self.import_button.setEnabled(False)
        self.preview_button.setEnabled(False)
        self.task = run_in_background(run, on_done=on_done, on_error=self._failed,
                                      on_progress=self._progressed, parent=self,
                                      name="cnnstudio-import")
        return True

    def _progressed(self, fraction: float, text: str) -> None:
        """A download's progress (pretrained timm weights): a bar in MB, busy when the size
        is unknown."""
        if fraction < 0:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(1000 * min(fraction, 1.0)))
        self.status.setText(text)

    def _previewed(self, options: tuple[Any, ...], imported: Any) -> None:
        self._finish()
        self.previewed = (options, imported)
        self.status.setText("Import opens it as shown here.")
        self.status.setStyleSheet("")
        self.summary.setPlainText("\n".join(engine.describe_import(imported, self.name)))
        self.summary.show()

    def trust(self, path: Path) -> bool:
        """Ask before running a Python file's code."""
        answer = QMessageBox.warning(
            self, "Run this file's code?", f"{CODE_WARNING}\n\nImport {path.name}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def _finish(self) -> None:
        if self.task is not None:
            self.task.wait()
        self.task = None
        self.progress.hide()
        self.progress.setRange(0, 0)
        self.import_button.setEnabled(True)
        self.preview_button.setEnabled(True)

    def _done(self, imported: Any) -> None:
        self._finish()
        self.imported = imported
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        self.summary.hide()
        self._fail(f"Import failed: {exc}")  # an importer's names every operation and why

    def reject(self) -> None:
        """Close; while a download runs, stop it instead (it keeps no partial file)."""
        if self.task is None:
            super().reject()
        else:
            self._stop.set()
            self.status.setText("Cancelling…")
