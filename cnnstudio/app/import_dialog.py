"""File ▸ Import model: a torchvision model by name, an ONNX file or an ``nn.Module`` in a
Python file (which runs that file's code: the dialog says so and asks first) becomes a new
project with the model's weights, laid out and grouped by module path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
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

KINDS = (("torchvision", "A torchvision model"), ("onnx", "An ONNX file"),
         ("python", "A Python file (nn.Module)"))
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
        self.setWindowTitle("Import a model")
        self.resize(600, 320)
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
        self.note = QLabel("torchvision models come with random weights (nothing is "
                           "downloaded).")
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
        layout.addStretch(1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
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
        for widget, shown in ((self.model, kind == "torchvision"),
                              (self.classes, kind == "torchvision"),
                              (self.file_row, kind != "torchvision"),
                              (self.symbol, kind == "python"),
                              (self.input, kind != "onnx")):
            widget.setVisible(shown)
            label = self._label(widget)
            if label is not None:
                label.setVisible(shown)
        self.warning.setVisible(kind == "python")
        self.note.setVisible(kind == "torchvision")
        self.status.clear()

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

    def start(self) -> bool:
        """Start the import (False, with the reason shown, when an option is wrong)."""
        if self.task is not None:
            return False

        kind = self.chosen_kind
        shape = parse_shape(self.input.text()) if kind != "onnx" else None
        if kind != "onnx" and shape is None:
            return self._fail("Input size: write C,H,W with positive integers, e.g. 3,224,224.")
        if kind == "torchvision":
            name, classes = self.model.currentText(), self.classes.value()
            self.name = name

            def run() -> Any:
                return engine.from_torchvision(name, num_classes=classes, input_shape=shape)
        else:
            path = Path(self.path.text().strip()).expanduser()
            if not self.path.text().strip() or not path.is_file():
                return self._fail("Choose an existing file to import.")
            self.name = path.stem
            if kind == "onnx":
                def run() -> Any:
                    return engine.from_onnx(path)
            else:
                if not self.trust(path):
                    return False
                symbol = self.symbol.text().strip() or None

                def run() -> Any:
                    return engine.from_python_file(path, symbol, shape)
        self.status.setText("Importing…")
        self.status.setStyleSheet("")
        self.progress.show()
        self.import_button.setEnabled(False)
        self.task = run_in_background(run, on_done=self._done, on_error=self._failed,
                                      parent=self, name="cnnstudio-import")
        return True

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
        self.import_button.setEnabled(True)

    def _done(self, imported: Any) -> None:
        self._finish()
        self.imported = imported
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        self._fail(f"Import failed: {exc}")

    def reject(self) -> None:
        if self.task is None:
            super().reject()
