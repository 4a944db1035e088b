"""Dialogs: a new network from a preset (the gallery), with the preset's options."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..graph import presets
from ..graph.edits import parse_shape
from .gallery import Gallery, human_name
from .widgets import error_label, esc, show_problem


class PresetDialog(QDialog):
    """Choose a preset in the gallery and set its options; ``choice()`` → (name, options)."""

    def __init__(self, parent: QWidget | None = None, selected: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New network from a preset")
        self.resize(_size_within(parent))
        layout = QHBoxLayout(self)
        self.gallery = Gallery(selected=selected)
        layout.addWidget(self.gallery, 1)
        right = QVBoxLayout()
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.about.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right.addWidget(self.about)
        options_title = QLabel("<b>Options</b>")
        right.addWidget(options_title)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.form_host)
        self.problem = error_label()
        right.addWidget(self.problem)
        right.addStretch(1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        right.addWidget(self.buttons)
        side = QWidget()
        side.setLayout(right)
        side.setFixedWidth(320)
        layout.addWidget(side)
        self.editors: dict[str, tuple[QWidget, Any]] = {}
        self.gallery.current_changed.connect(self._show)
        self.gallery.activated.connect(lambda _name: self._accept())
        self._show(self.gallery.current)
        self.gallery.search.setFocus()

    def _show(self, name: str) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors.clear()
        show_problem(self.problem, None)
        if not name:
            return
        preset = presets.get(name)
        tv = " Same layout and weights as torchvision's model." if preset.torchvision else ""
        self.about.setText(f"<h3 style='margin:0'>{esc(human_name(preset))}</h3>"
                           f"<p style='margin:2px 0 8px 0'><code>{esc(preset.name)}</code></p>"
                           f"<p>{esc(preset.description)}.{tv}</p>")
        for name, default in preset.options().items():
            editor: QWidget
            if isinstance(default, bool):
                editor = QCheckBox()
                editor.setChecked(default)
            elif isinstance(default, int):
                editor = QSpinBox()
                editor.setRange(0 if name != "num_classes" else 1, 1_000_000)
                editor.setValue(default)
            elif isinstance(default, float):
                editor = QDoubleSpinBox()
                editor.setDecimals(3)
                editor.setRange(0.0, 100.0)
                editor.setSingleStep(0.05)
                editor.setValue(default)
            elif isinstance(default, (tuple, list)):
                editor = QLineEdit(", ".join(map(str, default)))
            else:
                editor = QLineEdit("" if default is None else str(default))
            self.form.addRow(name.replace("_", " "), editor)
            self.editors[name] = (editor, default)

    def options(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, (editor, default) in self.editors.items():
            if isinstance(editor, QCheckBox):
                value: Any = editor.isChecked()
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                value = editor.value()
            elif isinstance(default, (tuple, list)):
                value = parse_shape(editor.text())
                if value is None:
                    raise ValueError(f"{name}: give C, H, W as positive integers, e.g. 3, 224, "
                                     "224")
                value = tuple(value)
            else:
                value = editor.text() if default is not None or editor.text() else None
            if value != default:
                out[name] = value
        return out

    def choice(self) -> tuple[str, dict[str, Any]]:
        return self.gallery.current, self.options()

    def _accept(self) -> None:
        try:
            name, options = self.choice()
            presets.build(name, **options)  # check now, so a bad option is said here
        except (ValueError, presets.PresetError) as exc:
            show_problem(self.problem, str(exc))
            return
        self.accept()


def _size_within(parent: QWidget | None) -> QSize:
    """Most of the parent window (the gallery shows four columns of cards at 1440×900)."""
    if parent is None:
        return QSize(1180, 760)
    return QSize(max(900, min(1320, int(parent.width() * 0.88))),
                 max(600, min(900, int(parent.height() * 0.86))))
