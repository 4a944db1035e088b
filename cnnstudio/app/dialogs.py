"""Dialogs: a new network from a preset, with the preset's options."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..graph import presets
from ..graph.edits import parse_shape


class PresetDialog(QDialog):
    """Choose a preset and its options; ``choice()`` → (name, options)."""

    def __init__(self, parent: QWidget | None = None, selected: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New network from a preset")
        self.resize(760, 520)
        layout = QHBoxLayout(self)
        self.list = QListWidget()
        self.list.setMinimumWidth(240)
        for p in sorted(presets.all_presets(), key=lambda p: (p.family, p.name)):
            item = QListWidgetItem(p.name)
            item.setData(Qt.ItemDataRole.UserRole, p.name)
            item.setToolTip(p.description)
            self.list.addItem(item)
        layout.addWidget(self.list)
        right = QVBoxLayout()
        self.about = QLabel()
        self.about.setWordWrap(True)
        right.addWidget(self.about)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        right.addWidget(self.form_host)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #e74c3c")
        right.addWidget(self.problem)
        right.addStretch(1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        right.addWidget(self.buttons)
        layout.addLayout(right, 1)
        self.editors: dict[str, tuple[QWidget, Any]] = {}
        self.list.currentItemChanged.connect(self._show)
        self.list.itemActivated.connect(lambda _item: self._accept())
        names = [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]
        self.list.setCurrentRow(names.index(selected) if selected in names else
                                names.index("resnet18") if "resnet18" in names else 0)

    def _show(self, item: QListWidgetItem | None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors.clear()
        self.problem.clear()
        if item is None:
            return
        preset = presets.get(item.data(Qt.ItemDataRole.UserRole))
        tv = " Same layout and weights as torchvision's model." if preset.torchvision else ""
        self.about.setText(f"<b>{preset.name}</b><br>{preset.description}.{tv}")
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
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole), self.options()

    def _accept(self) -> None:
        try:
            name, options = self.choice()
            presets.build(name, **options)  # check now, so a bad option is said here
        except (ValueError, presets.PresetError) as exc:
            self.problem.setText(str(exc))
            return
        self.accept()
