"""The Data section of the training settings: the source (built-in sets, an image folder, a
CSV), its path, the task (a CSV's: classes, several labels or numbers per image), downloading
a torchvision set now with a progress bar (the engine's own downloader, in a Jobs job; its
progress crosses to the GUI thread as a queued signal), the split, the normalisation and how
images are resized (straight to the input, the shorter side then the centre crop, as
pretrained weights expect, or letterboxed: the whole image scaled to fit and padded)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ... import engine
from ...project import DatasetConfig
from ...project.config import SOURCES
from ..panels.editors import LineEdit
from ..style import ERROR_COLOR
from ..widgets import ComboBox, muted_label
from ..workers import Jobs
from .settings_forms import (
    CHOICE_LABELS,
    FieldForm,
    FieldRow,
    error_label,
    field_label,
    parse_loose,
    show_problem,
    shrinkable,
)

if TYPE_CHECKING:
    from .settings_panel import TrainingSettings

DOWNLOADABLE = ("mnist", "fashion_mnist", "kmnist", "cifar10", "cifar100", "svhn")


class _Progress(QObject):
    """Carries a download's progress from the pool thread to the GUI thread."""

    changed = Signal(str, int, object)


def fetch_dataset(source: str, path: str | None, base_dir: str | None,
                  progress: Any) -> str:
    """Download (if missing) and open a torchvision set where training will look for it."""
    if path:
        root = Path(path).expanduser()
        if base_dir and not root.is_absolute():
            root = Path(base_dir) / root
    else:
        root = engine.default_cache_dir() / source
    arrays = engine.load_torchvision(source, root, True, progress)
    tests = len(arrays.test_labels) if arrays.test_labels is not None else 0
    return f"{arrays.name} is ready in {root}: {len(arrays.labels):,} training, " \
           f"{tests:,} test images."


def _folds(values: dict[str, Any]) -> bool:
    """Cross-validation is on: a validation fold instead of a validation share."""
    return (values.get("folds") or 0) >= 2


def _custom(values: dict[str, Any]) -> bool:
    return values["normalize"] == "custom"


def _numbers(value: Any) -> Any:
    """A mean or std field's value as the config takes it: nothing typed is an empty list,
    one number a list of one (a grey image's); anything else goes as it is, to be checked."""
    if value is None:
        return []
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    return value


def _row(*widgets: QWidget, stretch: int = 1) -> QWidget:
    """Widgets side by side, the first one ``stretch``-ing."""
    row = QWidget()
    box = QHBoxLayout(row)
    box.setContentsMargins(0, 0, 0, 0)
    for i, w in enumerate(widgets):
        box.addWidget(w, stretch if i == 0 else 0)
    return row


def _column(*widgets: QWidget) -> QWidget:
    column = QWidget()
    box = QVBoxLayout(column)
    box.setContentsMargins(0, 0, 0, 0)
    box.setSpacing(1)
    for w in widgets:
        box.addWidget(w)
    return column


class DataGroup(QWidget):
    """Source, its path, downloading, the split and normalisation."""

    def __init__(self, panel: TrainingSettings) -> None:
        super().__init__()
        self.panel = panel
        apply = panel.dataset_apply
        self.source = shrinkable(ComboBox())
        for key in SOURCES:
            self.source.addItem(CHOICE_LABELS["source"].get(key, key), key)
        self.source.setToolTip(DatasetConfig.__dataclass_fields__["source"].metadata["help"])
        self.source.activated.connect(lambda i: self.choose_source(self.source.itemData(i)))
        self.source_problem = error_label()
        self.path_label = QLabel("Path")
        self.path_label.setToolTip(DatasetConfig.__dataclass_fields__["path"].metadata["help"])
        self.path = LineEdit()
        self.path.editingFinished.connect(self._path_edited)
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        self.path_problem = error_label()
        self.download = FieldRow(DatasetConfig, "download", apply)
        self.download.label.setText("Download")
        self.fetch_button = QPushButton("Download now")
        self.fetch_button.setToolTip("Fetch the set into its folder now (verified), so that "
                                     "training and the preview start at once")
        self.fetch_button.clicked.connect(self.fetch)
        self.bar = QProgressBar()
        self.bar.hide()
        self.fetch_status = muted_label()
        self.fetch_status.hide()
        self._source: str | None = None
        self.fetch_jobs = Jobs(self)
        self.relay = _Progress(self)
        self.relay.changed.connect(self._progress)
        when = {"mean": _custom, "std": _custom, "fold": _folds,
                "task": lambda values: values["source"] == "csv" or values["task"] != "classify",
                "standardize": lambda values: values["task"] == "regress",
                "val_fraction": lambda values: not _folds(values),
                "resize": lambda values: values.get("fit") != "pad"}
        # folds first: the rows it shows and hides are below it, so it stays under the cursor
        self.split = FieldForm(DatasetConfig, ["task", "standardize", "folds", "fold",
                                               "val_fraction", "test_fraction",
                                               "split_seed", "limit", "normalize", "mean", "std",
                                               "fit", "resize", "interpolation"],
                               self._apply,
                               when=when,
                               placeholders={"mean": "e.g. 0.485, 0.456, 0.406",
                                             "std": "e.g. 0.229, 0.224, 0.225"})

        self.path_row = _row(self.path, self.browse)
        self.fetch_row = _row(self.download.widget, self.fetch_button)
        self.form = QFormLayout()
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.addRow("Source", _column(self.source, self.source_problem))
        self.form.addRow(self.path_label, _column(self.path_row, self.path_problem))
        self.form.addRow(self.download.label, self.fetch_row)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(self.form)
        box.addWidget(self.bar)
        box.addWidget(self.fetch_status)
        box.addWidget(self.split)

    def sync(self, values: dict[str, Any]) -> None:
        source = values["source"]
        self.source.setCurrentIndex(self.source.findData(source))
        if self.path.text() != (values["path"] or "") and not self.path.isModified():
            self.path.setText(values["path"] or "")  # not while the user is typing a path
        files = source in ("folder", "csv")
        online = source in DOWNLOADABLE
        self.path_label.setText({"folder": "Folder", "csv": "CSV file"}.get(source, "Cache"))
        self.path.setPlaceholderText("" if files else
                                     f"default: ~/.cache/cnnstudio/datasets/{source}")
        self.form.setRowVisible(1, files or online)
        self.form.setRowVisible(2, online)
        fetching = not self.fetch_button.isEnabled()
        if source != self._source and not fetching:
            self.fetch_status.clear()  # what it said was about another set
        self._source = source
        self.bar.setVisible(online and fetching)
        self.fetch_status.setVisible(online and bool(self.fetch_status.text()))
        self.download.sync(values)
        self.split.sync(values)

    def _apply(self, path: str, value: Any, merge: bool) -> str | None:
        """As the panel applies, except: a mean and a std are applied together (one may be
        mid-edit to another channel count), and choosing custom normalisation without values
        starts from ImageNet's for the network's channels."""
        if path in ("mean", "std"):
            other = "std" if path == "mean" else "mean"
            typed = parse_loose(self.split.rows[other].editor.field.text())  # type: ignore
            problem = self.panel.change("dataset", {path: _numbers(value),
                                                    other: _numbers(typed)}, merge)
            if problem is None:  # the other one's refusal is settled too
                show_problem(self.split.rows[other].message, None)
            return problem
        current = self.panel.document.project.dataset
        if path == "normalize" and value == "custom" and not current.mean:
            shape = self.panel.document.report.input_shape or (3,)
            channels = shape[0] if len(shape) == 3 and shape[0] in (1, 3) else 3
            mean, std = engine.fixed_mean_std("imagenet", channels)
            return self.panel.change("dataset", {path: value, "mean": mean, "std": std}, merge)
        return self.panel.dataset_apply(path, value, merge)

    def choose_source(self, source: str) -> None:
        """A folder or a CSV asks for its path first (the config refuses one without)."""
        changes: dict[str, Any] = {"source": source}
        if source in ("folder", "csv"):
            current = self.panel.document.project.dataset
            path = current.path if current.source == source else None
            path = path or self.ask_path(source)
            if not path:
                show_problem(self.source_problem, f"{field_label('source')}: "
                             f"{CHOICE_LABELS['source'][source]} needs a path: choose one")
                self.panel.refresh()
                return
            changes["path"] = path
        else:
            changes["path"] = None
        show_problem(self.source_problem, self.panel.change("dataset", changes, key="source"))

    def ask_path(self, source: str) -> str | None:
        """A file dialog (tests replace it)."""
        start = self.path.text() or str(Path.home())
        if source == "csv":
            path, _ = QFileDialog.getOpenFileName(self, "The CSV file (path, label)", start,
                                                  "CSV files (*.csv);;All files (*)")
        else:
            title = "The image folder (one sub-folder per class)" if source == "folder" \
                else "The folder to keep the downloaded set in"
            path = QFileDialog.getExistingDirectory(self, title, start)
        return path or None

    def _browse(self) -> None:
        path = self.ask_path(self.panel.document.project.dataset.source)
        if path:
            self.path.setText(path)
            self._path_edited()

    def _path_edited(self) -> None:
        self.path.setModified(False)
        value = self.path.text().strip() or None
        if value != self.panel.document.project.dataset.path:
            show_problem(self.path_problem, self.panel.change("dataset", {"path": value}))

    # -- downloading ---------------------------------------------------------------------------
    def fetch(self) -> None:
        cfg = self.panel.document.project.dataset
        if cfg.source not in DOWNLOADABLE:
            return
        relay = self.relay
        source, path, base = cfg.source, cfg.path, self.panel.base_dir()
        self.fetch_button.setEnabled(False)
        self.bar.setRange(0, 0)
        self.bar.show()
        self.fetch_status.show()
        self.fetch_status.setStyleSheet("")
        self.fetch_status.setText(f"Getting {CHOICE_LABELS['source'][source]}…")
        self.fetch_jobs.start(
            lambda: fetch_dataset(source, path, base,
                                  lambda stage, done, total: relay.changed.emit(stage, done,
                                                                                total)),
            self._fetched, self._fetch_failed)

    def _progress(self, stage: str, done: int, total: Any) -> None:
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * done / total))
        else:
            self.bar.setRange(0, 0)
        if stage.startswith("downloading"):
            amount = f"{done / 2**20:.1f}" + (f" of {total / 2**20:.1f}" if total else "")
            self.fetch_status.setText(f"{stage}: {amount} MiB")
        else:
            self.fetch_status.setText(stage)

    def _fetched(self, message: str) -> None:
        self.fetch_button.setEnabled(True)
        self.bar.hide()
        self.fetch_status.setText(message)
        self.fetch_status.show()
        self.panel.augment.refresh_preview()

    def _fetch_failed(self, message: str) -> None:
        self.fetch_button.setEnabled(True)
        self.bar.hide()
        self.fetch_status.setStyleSheet(f"color: {ERROR_COLOR};")
        self.fetch_status.setText(message)
        self.fetch_status.show()
