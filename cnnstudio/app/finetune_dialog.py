"""File ▸ Fine-tune a pretrained network: pick a network that torchvision has weights for, the
weights' version, the data and its classes. The project is made on a job of its own (the
weights are downloaded into torch's hub cache when missing, with a progress dialog that can
cancel) and opens as a new project: a new head for the data's classes, every other tensor
kept, the backbone frozen unless the user unticks it. The engine does the work
(``engine.pretrained_project``, as ``cnnstudio new`` does); this module only asks and shows."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSizePolicy,
    QSpacerItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .. import engine
from ..graph import presets
from ..project import ConfigError
from ..project.config import SOURCES
from ..project.data_source import FILE_SOURCES, classes_of, dataset_fields
from .training.settings_forms import CHOICE_LABELS
from .widgets import ComboBox, SpinBox, error_label, muted_label, show_problem
from .workers import Job, describe, run_in_background

VERSION_COLUMNS = ("Weights", "ImageNet top-1", "File", "On this computer")


def pretrained_networks() -> list[str]:
    """The presets that have torchvision's layout, so torchvision's weights fit them."""
    return [p.name for p in sorted(presets.all_presets(), key=lambda p: (p.family, p.name))
            if p.torchvision]


@dataclass(frozen=True)
class FinetuneChoice:
    """What the dialog asks for: ``engine.pretrained_project``'s arguments."""

    preset: str
    weights: str
    classes: int
    data: dict[str, Any]
    freeze_backbone: bool


class FinetuneDialog(QDialog):
    """Choose the network, its weights, the data and the classes; OK starts the job
    (``job``) and closes the dialog."""

    def __init__(self, window: Any, folder: Path) -> None:
        super().__init__(window)
        self.window_ = window
        self.folder = folder
        self.job: FinetuneJob | None = None
        self.setWindowTitle("Fine-tune a pretrained network")
        self.resize(700, 440)
        layout = QVBoxLayout(self)
        self.form = form = QFormLayout()
        self.network = ComboBox()
        self.network.addItems(pretrained_networks())
        form.addRow("Network", self.network)
        self.about = muted_label()
        self.about.setMinimumWidth(520)  # the form sizes a wrapping label by its hint
        form.addRow("", self.about)
        self.versions = QTreeWidget()
        self.versions.setHeaderLabels(list(VERSION_COLUMNS))
        self.versions.setRootIsDecorated(False)
        self.versions.setMinimumHeight(90)
        self.versions.setMaximumHeight(150)
        self.versions.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        form.addRow("Weights", self.versions)
        self.source = ComboBox()
        for key in SOURCES:
            self.source.addItem(CHOICE_LABELS["source"].get(key, key), key)
        form.addRow("Data", self.source)
        self.path = QLineEdit()
        self.path.setPlaceholderText("the image folder (one sub-folder per class)")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        self.path_row = QWidget()
        row = QHBoxLayout(self.path_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path, 1)
        row.addWidget(self.browse)
        form.addRow("Path", self.path_row)
        self.classes = SpinBox()
        self.classes.setRange(1, 100_000)
        self.classes_note = muted_label()
        form.addRow("Classes", self.classes)
        form.addRow("", self.classes_note)
        self.freeze = QCheckBox("Freeze the backbone (train only the new head at first)")
        self.freeze.setChecked(True)
        form.addRow("", self.freeze)
        layout.addLayout(form)
        self.problem = error_label()
        layout.addWidget(self.problem)
        layout.addStretch(1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Make the project")
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.network.currentTextChanged.connect(self._network_changed)
        self.source.currentIndexChanged.connect(self._data_changed)
        self.path.editingFinished.connect(self._data_changed)
        self.network.setCurrentText("resnet18")
        self._network_changed()
        self._data_changed()

    # -- what is shown -----------------------------------------------------------------------
    def _network_changed(self, *_args: Any) -> None:
        """List the network's weights versions, the default one chosen."""
        self.versions.clear()
        show_problem(self.problem, None)
        name = self.network.currentText()
        try:
            infos = engine.pretrained.available(name)
        except engine.PretrainedError as exc:
            show_problem(self.problem, str(exc))
            infos = []
        for info in infos:
            top1 = f"{info.top1:.1f} %" if info.top1 is not None else "—"
            size = f"{info.file_mb:.1f} MB" if info.file_mb is not None else "—"
            here = "downloaded" if engine.pretrained.cached_file(info).is_file() else \
                "to download"
            label = f"{info.name} (default)" if info.is_default else info.name
            item = QTreeWidgetItem([label, top1, size, here])
            item.setData(0, Qt.ItemDataRole.UserRole, info.name)
            item.setToolTip(0, info.full_name)
            item.setToolTip(3, str(engine.pretrained.cached_file(info)))
            for column in (1, 2):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight
                                      | Qt.AlignmentFlag.AlignVCenter)
            self.versions.addTopLevelItem(item)
            if info.is_default:
                self.versions.setCurrentItem(item)
        if infos:
            self.about.setText(f"{presets.get(name).description}. Trained on ImageNet "
                               f"({len(infos[0].categories)} classes); a new head replaces its "
                               "classifier when your data has other classes.")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(infos))

    def _data_changed(self, *_args: Any) -> None:
        """Show the path for a folder or CSV; fill the classes in when the data tells."""
        source = self.source.currentData()
        self.path_row.setVisible(source in FILE_SOURCES)
        label = self.form.labelForField(self.path_row)
        if label is not None:
            label.setVisible(source in FILE_SOURCES)
        self.path.setPlaceholderText("the image folder (one sub-folder per class)"
                                     if source == "folder" else
                                     "the CSV file (one 'path,label' row per image)")
        found = classes_of(source, self.path.text())
        if found is not None:
            self.classes.setValue(found)
            self.classes_note.setText(f"{found} classes in the data")
        elif source == "csv":
            self.classes_note.setText("Give the number of labels in the CSV file.")
        else:
            self.classes_note.setText("Choose the folder to count its classes.")

    def _browse(self) -> None:
        start = self.path.text().strip() or str(self.folder)
        if self.source.currentData() == "csv":
            chosen, _ = QFileDialog.getOpenFileName(self, "The CSV file (path, label)", start,
                                                    "CSV files (*.csv *.tsv *.txt)")
        else:
            chosen = QFileDialog.getExistingDirectory(self, "The image folder", start)
        if chosen:
            self.path.setText(chosen)
            self._data_changed()

    # -- the answer ------------------------------------------------------------------------
    def choice(self) -> FinetuneChoice:
        """The choices; ConfigError when the data cannot be used."""
        item = self.versions.currentItem()
        weights = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else "DEFAULT"
        data = dataset_fields(self.source.currentData(), self.path.text())
        return FinetuneChoice(self.network.currentText(), weights, self.classes.value(), data,
                              self.freeze.isChecked())

    def start(self) -> bool:
        """OK: check the choices, start the job and close (False, with the reason shown, when
        the data cannot be used)."""
        try:
            choice = self.choice()
        except ConfigError as exc:
            show_problem(self.problem, str(exc))
            return False
        self.job = FinetuneJob(self.window_, choice)
        self.accept()
        return True


class FinetuneJob(QObject):
    """The project being made on its own thread, with a progress dialog (bytes downloaded,
    Cancel). Done: it opens in ``window``. Failed: one message whose text can be copied
    (``message``). Cancelled: nothing is kept and the open project stays."""

    def __init__(self, window: Any, choice: FinetuneChoice) -> None:
        super().__init__(window)
        self.window_ = window
        self.choice = choice
        self.message: QMessageBox | None = None
        self._stop = threading.Event()
        self.progress = QProgressDialog(f"Preparing {choice.preset} ({choice.weights})…",
                                        "Cancel", 0, 0, window)
        self.progress.setWindowTitle("Fine-tune a pretrained network")
        self.progress.setWindowModality(Qt.WindowModality.WindowModal)
        self.progress.setMinimumDuration(0)
        self.progress.setAutoClose(False)
        self.progress.setAutoReset(False)
        self.progress.setMinimumWidth(460)
        self.progress.canceled.connect(self.cancel)
        self.progress.show()
        self.task: Job = run_in_background(self._work, on_done=self._done,
                                           on_error=self._failed, on_progress=self._progressed,
                                           parent=self, name="cnnstudio-finetune")

    @property
    def running(self) -> bool:
        return self.task.running

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def cancel(self) -> None:
        """Stop: a download ends at its next chunk and leaves no file; a project made
        meanwhile is dropped."""
        self._stop.set()
        self.progress.setLabelText("Cancelling…")

    def _work(self, report: Any) -> Any:
        def progress(done: int, total: int | None) -> None:
            text = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else \
                f"{done / 1e6:.1f} MB"
            report(done / total if total else -1.0, text)

        c = self.choice
        try:
            return engine.pretrained_project(
                c.preset, c.weights, classes=c.classes, data=c.data,
                freeze_backbone=c.freeze_backbone, progress=progress,
                cancelled=self._stop.is_set)
        except engine.pretrained.Cancelled:
            return None  # the user's wish, not a failure: nothing to log

    def _progressed(self, fraction: float, text: str) -> None:
        if self.cancelled:
            return
        if fraction < 0:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(1000 * fraction))
        done = fraction >= 1
        self.progress.setLabelText(f"Downloading the {self.choice.preset} weights: {text}"
                                   + ("\nLoading them into the network…" if done else ""))

    def _close(self) -> None:
        self.progress.canceled.disconnect(self.cancel)
        self.progress.close()
        self.progress.deleteLater()

    def _done(self, project: Any) -> None:
        self._close()
        w = self.window_
        if project is None or self.cancelled:
            w.statusBar().showMessage("Cancelled: nothing was kept and no project was made",
                                      8000)
            return
        w.open_project(project, None)
        w.document.mark_dirty()  # pretrained weights not saved anywhere yet: closing asks
        c = self.choice
        frozen = " with the backbone frozen" if c.freeze_backbone else ""
        w.statusBar().showMessage(f"{c.preset} with {c.weights} weights, a head for "
                                  f"{c.classes} classes{frozen}: a new, unsaved project", 10000)

    def _failed(self, exc: BaseException) -> None:
        self._close()
        w = self.window_
        if self.cancelled:  # it failed while stopping: the user asked for nothing more
            w.statusBar().showMessage("Cancelled: nothing was kept and no project was made",
                                      8000)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "The project was not made", describe(exc),
                          QMessageBox.StandardButton.Ok, w)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                    | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        grid = box.layout()  # wide enough that the address fits on a line of its own
        if isinstance(grid, QGridLayout):
            grid.addItem(QSpacerItem(620, 0, QSizePolicy.Policy.Minimum,
                                     QSizePolicy.Policy.Expanding),
                         grid.rowCount(), 0, 1, grid.columnCount())
        self.message = box
        box.open()
