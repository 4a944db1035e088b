"""The welcome page: start blank, from a preset or by fine-tuning pretrained weights, open a
file, an example project or a recent file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ..project import ProjectError, load_project
from ..project.examples import examples
from . import preferences
from .gallery import Facts, StripView, facts_of
from .widgets import muted_label

# The lists' side padding is the list's, not the items': an item's padding is left out of the
# width its text wraps to, which pushed long descriptions past the edge under a scroll bar.
LIST_STYLE = ("QListWidget { padding: 0px 6px; background: palette(base); } "
              "QListWidget::item { padding: 6px 0px; }")
CARD_STYLE = ("QFrame#exampleCard { border: 1px solid palette(mid); border-radius: 7px; "
              "background: palette(base); } "
              "QFrame#exampleCard:focus { border: 2px solid palette(highlight); }")

TRAIN_TIMES_MEASURED = "2026-12-06, 2 CPU threads (a shared 2-core machine)"
TRAIN_TIMES = {
    "lenet5-digits.cnnproj": 28,
    "simple-cnn-digits.cnnproj": 93,
    "plain56-digits.cnnproj": 48,  # 2026-12-07, 1 thread: 2 spin-wait on the busy 2 cores
    "resnet56-digits.cnnproj": 42,
    "alexnet-mnist.cnnproj": 9008,
    "resnet18-cifar10.cnnproj": 74030,
    "resnet18-mnist.cnnproj": 11673,
}
"""Seconds each example trains for its configured epochs on a CPU, as
benchmarks/example_train_times.py measured them (the digits ones trained for real, the
download-backed ones timed per step and multiplied out); rerun it after changing an example."""


def duration(seconds: float) -> str:
    """``about 30 s``, ``about 4 min``, ``about 2.5 h``."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h".replace(".0 h", " h")


def train_time_text(path: Path, epochs: int) -> str:
    """What the card says about how long the example trains on a CPU."""
    seconds = TRAIN_TIMES.get(path.name)
    if seconds is None:
        return "CPU training time not measured yet (benchmarks/example_train_times.py)."
    return (f"Trains in {duration(seconds)} on a CPU ({epochs} epochs; measured "
            f"{TRAIN_TIMES_MEASURED}).")


_GRAPH_FACTS: dict[tuple[str, float], tuple[Facts, int]] = {}
"""(path, modified time) → the example's facts and epochs, so refreshing reads each once."""


def example_facts(path: Path) -> tuple[Facts, int] | None:
    """The example's graph facts and its configured epochs; None when it cannot be read."""
    try:
        key = (str(path), path.stat().st_mtime)
        if key not in _GRAPH_FACTS:
            project = load_project(path)
            _GRAPH_FACTS[key] = (facts_of(project.graph), project.training.epochs)
    except (OSError, ProjectError):
        return None
    return _GRAPH_FACTS[key]


class ExampleCard(QFrame):
    """One example project: its name, a strip of its layers, what it teaches, how long it
    trains on a CPU and a button that opens a copy (so does a double-click or Enter)."""

    opened = Signal(str)

    def __init__(self, path: Path, name: str, description: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.setObjectName("exampleCard")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip(str(path))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 12)
        layout.setSpacing(6)
        top = QHBoxLayout()
        self.title = QLabel(name)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.title.setFont(font)
        top.addWidget(self.title, 1)
        self.open_button = QPushButton("Open a copy")
        self.open_button.setToolTip("Open a copy of this example (the example stays as it is)")
        self.open_button.clicked.connect(lambda: self.opened.emit(str(path)))
        top.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        facts = example_facts(path)
        self.strip = StripView(path.name, facts[0].strip if facts else ())
        layout.addWidget(self.strip)
        self.description = QLabel(description)
        self.description.setWordWrap(True)
        layout.addWidget(self.description)
        self.time = muted_label(train_time_text(path, facts[1]) if facts else "")
        layout.addWidget(self.time)

    def mouseDoubleClickEvent(self, _event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        self.opened.emit(str(self.path))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.opened.emit(str(self.path))
        else:
            super().keyPressEvent(event)


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
        left.addWidget(QLabel("<h3>Example projects</h3><p>Open a copy of one to see how it is "
                              "built and train it.</p>"))
        self.examples = QScrollArea()
        self.examples.setWidgetResizable(True)
        self.examples.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.examples.setFrameShape(QFrame.Shape.NoFrame)
        self.cards_host = QWidget()
        self.cards_host.setBackgroundRole(QPalette.ColorRole.Window)
        self.cards_layout = QVBoxLayout(self.cards_host)
        self.cards_layout.setContentsMargins(0, 0, 8, 0)
        self.cards_layout.setSpacing(10)
        self.examples.setWidget(self.cards_host)
        self.example_cards: list[ExampleCard] = []
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
        for view, style in ((self.recent, LIST_STYLE), (self.cards_host, CARD_STYLE)):
            view.setStyleSheet("")  # a style sheet keeps the colours it was set with
            view.setStyleSheet(style)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """A theme switch reaches the page as a palette change; the lists follow it."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._style_lists()

    def refresh(self) -> None:
        while self.cards_layout.count():
            widget = self.cards_layout.takeAt(0).widget()
            if widget is not None:  # gone at once, not when the event loop deletes it
                widget.hide()
                widget.setParent(None)
                widget.deleteLater()
        self.example_cards = []
        for path, name, description in examples():
            card = ExampleCard(path, name, description)
            card.opened.connect(self.open_example.emit)
            self.cards_layout.addWidget(card)
            self.example_cards.append(card)
        if not self.example_cards:
            self.cards_layout.addWidget(muted_label("No example projects were found beside this "
                                                    "installation."))
        self.cards_layout.addStretch(1)
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
