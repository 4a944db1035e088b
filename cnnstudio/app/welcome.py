"""The welcome page: start blank, from a preset or by fine-tuning pretrained weights, open a
file, an example project or a recent file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import cnnstudio

from ..project import ProjectError, load_project
from . import preferences

# The lists' side padding is the list's, not the items': an item's padding is left out of the
# width its text wraps to, which pushed long descriptions past the edge under a scroll bar.
LIST_STYLE = ("QListWidget { padding: 0px 6px; background: palette(base); } "
              "QListWidget::item { padding: 6px 0px; }")


def examples_folder() -> Path | None:
    """The example projects beside the package (a source checkout)."""
    folder = Path(cnnstudio.__file__).resolve().parents[1] / "projects"
    return folder if folder.is_dir() else None


def examples() -> list[tuple[Path, str, str]]:
    """(path, name, description) of each example project, the offline ones first."""
    folder = examples_folder()
    if folder is None:
        return []
    found = []
    for path in sorted(folder.glob("*.cnnproj")):
        try:
            project = load_project(path)
        except ProjectError:
            continue
        offline = project.dataset.source in ("digits", "folder", "csv")
        found.append((not offline, path, project.name, project.description))
    return [(p, n, d) for _, p, n, d in sorted(found, key=lambda t: (t[0], t[1].name))]


class WelcomePage(QWidget):
    new_blank = Signal()
    new_from_preset = Signal()
    new_finetune = Signal()
    open_requested = Signal()
    open_example = Signal(str)
    open_recent = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(48, 36, 48, 36)
        title = QLabel("<h1>CNN Studio</h1><p>Design a convolutional network, see what every "
                       "layer does to the data, train it and export it.</p>")
        title.setWordWrap(True)
        outer.addWidget(title)
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for key, text, tip, signal in (
                ("blank", "New blank network", "An empty canvas", self.new_blank),
                ("preset", "New from a preset…", "Start from LeNet, AlexNet, VGG, ResNet, …",
                 self.new_from_preset),
                ("finetune", "Fine-tune a pretrained network…", "ImageNet weights, a new "
                 "head for your data's classes, the backbone frozen", self.new_finetune),
                ("open", "Open…", "A project (.cnnproj) or a graph file (.json)",
                 self.open_requested)):
            button = self.buttons[key] = QPushButton(text)
            button.setMinimumHeight(34)
            button.setToolTip(tip)
            button.clicked.connect(signal.emit)
            buttons.addWidget(button)
        buttons.addStretch(1)
        outer.addLayout(buttons)
        columns = QHBoxLayout()
        outer.addLayout(columns, 1)

        left = QVBoxLayout()
        left.addWidget(QLabel("<h3>Example projects</h3><p>Double-click one to open a copy of "
                              "it.</p>"))
        self.examples = QListWidget()
        self.examples.setWordWrap(True)
        self.examples.setAlternatingRowColors(True)
        self.examples.itemActivated.connect(
            lambda item: self.open_example.emit(item.data(Qt.ItemDataRole.UserRole)))
        left.addWidget(self.examples)
        columns.addLayout(left, 3)

        right = QVBoxLayout()
        right.addWidget(QLabel("<h3>Recent files</h3>"))
        self.recent = QListWidget()
        self.recent.itemActivated.connect(
            lambda item: self.open_recent.emit(item.data(Qt.ItemDataRole.UserRole)))
        right.addWidget(self.recent)
        columns.addLayout(right, 2)
        self._style_lists()
        self.refresh()

    def _style_lists(self) -> None:
        for view in (self.examples, self.recent):
            view.setStyleSheet("")  # a style sheet keeps the colours it was set with
            view.setStyleSheet(LIST_STYLE)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """A theme switch reaches the page as a palette change; the lists follow it."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._style_lists()

    def refresh(self) -> None:
        self.examples.clear()
        for path, name, description in examples():
            item = QListWidgetItem(f"{name}\n{description}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            self.examples.addItem(item)
        if not self.examples.count():
            self.examples.addItem("(no example projects found beside this installation)")
        self.recent.clear()
        for path in preferences.recent_files():
            item = QListWidgetItem(f"{Path(path).name}\n{Path(path).parent}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            if not Path(path).exists():
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip(f"{path} (missing)")
            self.recent.addItem(item)
        if not self.recent.count():
            item = QListWidgetItem("Nothing yet: files you open or save appear here.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(item)
