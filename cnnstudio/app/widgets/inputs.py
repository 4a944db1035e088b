"""Input widgets that ignore the mouse wheel unless focused, so scrolling a panel never changes
a value by accident; spin boxes that keep what was typed, even outside their range."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox, QWidget

from ..style import ERROR_COLOR

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class WheelGuard:
    """Mixin: the wheel changes the value only when the widget has the keyboard focus."""

    def wheelEvent(self, event):  # noqa: N802 - Qt's name
        if self.hasFocus():  # type: ignore[attr-defined]
            super().wheelEvent(event)  # type: ignore[misc]
        else:
            event.ignore()


class RangeGuard(WheelGuard):
    """Mixin for spin boxes. Qt drops a keystroke that leaves the range (a minus sign where
    the minimum is 0: −5 becomes 5) and puts the old value back on Enter or focus out,
    without a word. Here a typed number stays as typed; out of range it is written in red and
    its tooltip says the allowed range and the value kept, until it is corrected."""

    _pattern = _INT
    _plain_tip: str | None = None

    def _guard_range(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # type: ignore[attr-defined]
        self.lineEdit().textChanged.connect(self._show_validity)  # type: ignore[attr-defined]

    def validate(self, text: str, pos: int) -> Any:
        result = super().validate(text, pos)  # type: ignore[misc]
        if result[0] == QValidator.State.Invalid and (self._number(text) is not None
                                                      or text.strip() in ("-", "+")):
            return QValidator.State.Intermediate, text, pos
        return result

    def _number(self, text: str) -> str | None:
        """The typed number without prefix, suffix and group separators, or None."""
        box: Any = self
        body = text
        if box.prefix() and body.startswith(box.prefix()):
            body = body[len(box.prefix()):]
        if box.suffix() and body.endswith(box.suffix()):
            body = body[:-len(box.suffix())]
        locale = box.locale()
        body = body.strip().replace(locale.groupSeparator(), "")
        body = body.replace(locale.decimalPoint(), ".")
        return body if self._pattern.fullmatch(body) else None

    def typed_out_of_range(self) -> bool:
        """Whether the text is a number the box cannot take (its value is the last one it
        could)."""
        box: Any = self
        text = box.lineEdit().text()
        state = super().validate(text, box.lineEdit().cursorPosition())[0]  # type: ignore[misc]
        return state != QValidator.State.Acceptable and self._number(text) is not None

    def allowed(self) -> str:
        """The allowed range in words, as the box writes numbers."""
        box: Any = self
        low = box.minimum()
        if box.specialValueText():
            low += 1 if isinstance(low, int) else 10 ** -box.decimals()
        words = f"{box.textFromValue(low)} to {box.textFromValue(box.maximum())}"
        if box.specialValueText():
            words += f", or {box.specialValueText()}"
        if isinstance(box, QDoubleSpinBox):
            words += f", at most {box.decimals()} decimals"
        return words

    def _show_validity(self, _text: str = "") -> None:
        box: Any = self
        if self.typed_out_of_range():
            if self._plain_tip is None:
                self._plain_tip = box.toolTip()
            box.lineEdit().setStyleSheet(f"color: {ERROR_COLOR};")  # the box keeps its frame
            box.setToolTip(f"Not allowed here: {self.allowed()}. The value stays "
                           f"{box.textFromValue(box.value())} until it is corrected.")
        elif self._plain_tip is not None:
            box.lineEdit().setStyleSheet("")
            box.setToolTip(self._plain_tip)
            self._plain_tip = None

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if event.key() in _ENTER and self.typed_out_of_range():
            event.accept()  # not taken: neither the old value back nor a dialog's OK
            return
        super().keyPressEvent(event)  # type: ignore[misc]

    def focusOutEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        box: Any = self
        if not self.typed_out_of_range():
            super().focusOutEvent(event)  # type: ignore[misc]
            return
        # QAbstractSpinBox would write the old value over the text: skip that part only
        box.lineEdit().event(event)
        QWidget.focusOutEvent(box, event)
        box.editingFinished.emit()


class SpinBox(RangeGuard, QSpinBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._guard_range()


class DoubleSpinBox(RangeGuard, QDoubleSpinBox):
    _pattern = _FLOAT

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._guard_range()


class ComboBox(WheelGuard, QComboBox):
    MIN_CHARACTERS = 12
    """What a combo box asks for at least (its longest item otherwise: one long choice made
    the Inspector wider than its dock, clipped). It grows with its layout, and its list opens
    as wide as its longest item."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(self.MIN_CHARACTERS)

    def showPopup(self) -> None:  # noqa: N802 - Qt's name
        view = self.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + 2 * view.frameWidth() + 24)
        super().showPopup()

