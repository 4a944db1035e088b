"""One editor per layer parameter, generated from its ``Param`` (kind, range, choices, words,
nullable): text ↔ value parsing, inline validation through ``Param.check``, and the rule that
keeps a field being typed in untouched when the model merely echoes the user's own edit.

An editor shows the parameter's effective value (the default when it is not set). It calls
``on_change(value, new_step)`` with a valid value (``UNSET`` to clear it) and nothing while the
text is invalid; ``new_step`` is False for the keystrokes after the first of one editing
session. ``sync(value, explicit)`` shows the model's value, but only when that differs from
what the editor last showed or sent, so typing, focus and the cursor survive refreshes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from ...graph import UNSET
from ...graph.layers import REQUIRED, Param
from ..style import ERROR_COLOR
from ..widgets import ComboBox, SpinBox

INT_LIMIT = 2**31 - 1
_SPLIT = re.compile(r"\s*[,;×xX*]\s*|\s+")
_INVALID_STYLE = f"border: 1px solid {ERROR_COLOR}; border-radius: 2px;"


# -- text <-> value --------------------------------------------------------------------------
def format_value(value: Any) -> str:
    """A parameter value as the user types it: 3, '3, 5', 'same', '1e-05', '' for None."""
    if value is None or value is REQUIRED or value is UNSET:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ", ".join("none" if v is None else format_value(v) for v in value)
    return str(value)


def _number(token: str, integer: bool, none_ok: bool) -> Any:
    low = token.lower()
    if none_ok and low in ("none", "null", "-", "_"):
        return None
    if low in ("true", "false"):
        return token  # a word, so check() names it
    try:
        return int(token, 10)
    except ValueError:
        pass
    try:
        value = float(token)
    except ValueError:
        return token
    if not integer and value.is_integer() and "." not in token and "e" not in low:
        return int(value)
    return value


def parse_value(param: Param, text: str) -> tuple[Any, str | None]:
    """(value, problem) for what the user typed. Empty text means None for a nullable
    parameter, the default (``UNSET``) for an optional one, and a problem for a required one."""
    t = text.strip()
    if not t:
        if param.nullable:
            return None, None
        if param.required:
            return REQUIRED, "required: type a value"
        return UNSET, None
    bare = t.strip("'\"")
    for word in param.words:
        if bare.lower() == word.lower():
            return word, None
    if param.nullable and bare.lower() in ("none", "null"):
        return None, None
    kind = param.kind
    if kind == "bool":
        low = bare.lower()
        value: Any = {"true": True, "1": True, "yes": True, "false": False, "0": False,
                      "no": False}.get(low, t)
    elif kind == "choice":
        value = bare
    elif kind in ("int", "float"):
        value = _number(t, kind == "int", False)
    else:
        inner = t
        if inner[:1] in "[(" and inner[-1:] in "])":
            inner = inner[1:-1].strip()
        tokens = [tok for tok in _SPLIT.split(inner) if tok]
        integer = kind != "scale"
        items = [_number(tok, integer, param.none_items) for tok in tokens]
        if not items:
            value = []
        elif len(items) == 1 and kind != "shape":
            value = items[0]
        else:
            value = items
    problem = param.check(value)
    return value, problem


# -- editors ---------------------------------------------------------------------------------
class LineEdit(QLineEdit):
    """A line edit that reports Escape (to revert what was typed)."""

    escaped = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Escape:
            self.escaped.emit()
            return
        super().keyPressEvent(event)


class ParamEditor(QWidget):
    """Base: a field for one parameter; subclasses build ``self.field``."""

    def __init__(self, param: Param, on_change: Callable[[Any, bool], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.param = param
        self.on_change = on_change
        self._shown: tuple[bool, Any] | None = None  # (explicit, value) last shown or sent
        self.value: Any = None  # the value last shown or sent
        self._session = False  # an edit of this field is under way (one undo step)
        self.problem: str | None = None
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(4)

    # subclasses ------------------------------------------------------------------------------
    def _display(self, value: Any, explicit: bool) -> None:
        raise NotImplementedError

    def focus_widget(self) -> QWidget:
        return self.field  # type: ignore[attr-defined]

    # shared ----------------------------------------------------------------------------------
    def sync(self, value: Any, explicit: bool) -> None:
        """Show the model's value unless the editor already stands for it."""
        key = (explicit, _freeze(value))
        if key == self._shown:
            return
        self._shown = key
        self.value = value
        self._session = False  # changed elsewhere (undo, canvas): typing starts afresh
        self.set_problem(None)
        self._display(value, explicit)

    def end_session(self) -> None:
        """The user left the field: the next edit starts a new undo step."""
        self._session = False

    def _send(self, value: Any, continuous: bool = False) -> None:
        """Report an edit; ``continuous`` edits (typing, spinning) after the first one of a
        session are flagged as continuing its undo step."""
        new_step = not (continuous and self._session)
        self._session = continuous
        if value is UNSET:
            self.value = self.param.default
            self._shown = (False, _freeze(self.param.default))
        else:
            self.value = value
            self._shown = (True, _freeze(value))
        self.on_change(value, new_step)

    def set_problem(self, problem: str | None) -> None:
        self.problem = problem

    @property
    def invalid(self) -> bool:
        return self.problem is not None


def _default(param: Param) -> Any:
    return None if param.default is REQUIRED else param.default


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return ("list", *map(_freeze, value))
    if value is REQUIRED or value is UNSET:
        return ("unset",)
    return (type(value).__name__, value)


class TextEditor(ParamEditor):
    """A line edit with parsing: float, pair, shape, pad4, scale, words and None."""

    def __init__(self, param: Param, on_change: Callable[[Any, bool], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(param, on_change, parent)
        self.field = LineEdit()
        self.field.textEdited.connect(self._edited)
        self.field.editingFinished.connect(self._finished)
        self.field.escaped.connect(self._revert)
        # an Input shape is committed on Enter: every prefix of "3, 224, 224" is a valid but
        # different shape that would turn the whole graph red while typing
        self.live = param.kind != "shape"
        self.layout_.addWidget(self.field)
        self.on_problem: Callable[[str | None], None] | None = None
        hint = {"pair": "3 or 3, 5", "scale": "2 or 2, 1.5", "pad4": "1 or l, r, t, b",
                "shape": "3, 224, 224"}.get(param.kind, "")
        words = " or ".join(param.words)
        if words:
            hint = f"{hint} or {words}" if hint else words
        self._hint = hint

    def _display(self, value: Any, explicit: bool) -> None:
        if self.field.text() != format_value(value):
            self.field.setText(format_value(value))
        p = self.param
        if p.required and not explicit:
            self.field.setPlaceholderText("required" + (f" ({self._hint})" if self._hint else ""))
        elif value is None:
            self.field.setPlaceholderText("none" + (f" · {self._hint}" if self._hint else ""))
        else:
            self.field.setPlaceholderText(self._hint)

    def _edited(self, text: str) -> None:
        value, problem = parse_value(self.param, text)
        self.set_problem(problem)
        if problem is None and self.live:
            self._send(value, continuous=True)

    def _revert(self) -> None:
        self.set_problem(None)
        self.field.setText(format_value(self.value))

    def _finished(self) -> None:
        self.end_session()
        if not self.live and self.problem is None:
            value, problem = parse_value(self.param, self.field.text())
            if problem is None and _freeze(value) != _freeze(self.value):
                self._send(value)
        if self.problem is None and self._shown is not None:
            # show the value the way the model holds it ("3,5" → "3, 5", "" → the default)
            text = format_value(self.value)
            if self.field.text() != text:
                self.field.setText(text)

    def set_problem(self, problem: str | None) -> None:
        super().set_problem(problem)
        self.field.setStyleSheet(_INVALID_STYLE if problem else "")
        if self.on_problem is not None:
            self.on_problem(problem)


class IntEditor(ParamEditor):
    """A spin box over [min, max]; a nullable or required int gets a special first value
    ('none' / 'required') one below the minimum."""

    def __init__(self, param: Param, on_change: Callable[[Any, bool], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(param, on_change, parent)
        self.field = SpinBox()
        lo = int(param.min) if param.min is not None else -INT_LIMIT
        if param.exclusive_min and param.min is not None:
            lo += 1
        hi = int(param.max) if param.max is not None else INT_LIMIT
        self.special = param.nullable or param.required
        if self.special:
            lo -= 1
            self.field.setSpecialValueText("none" if param.nullable else "required")
        self.field.setRange(lo, hi)
        self.field.setAccelerated(True)
        self.field.valueChanged.connect(self._changed)
        self.field.editingFinished.connect(self.end_session)
        self.layout_.addWidget(self.field)

    def _display(self, value: Any, explicit: bool) -> None:
        self.field.blockSignals(True)
        if value is None or value is REQUIRED or not isinstance(value, int):
            self.field.setValue(self.field.minimum())
        else:
            self.field.setValue(value)
        self.field.blockSignals(False)

    def _changed(self, number: int) -> None:
        if self.special and number == self.field.minimum():
            value: Any = None if self.param.nullable else UNSET
        else:
            value = number
        self._send(value, continuous=True)


class BoolEditor(ParamEditor):
    def __init__(self, param: Param, on_change: Callable[[Any, bool], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(param, on_change, parent)
        self.field = QCheckBox()
        self.field.clicked.connect(lambda checked: self._send(bool(checked)))
        self.layout_.addWidget(self.field)
        self.layout_.addStretch(1)

    def _display(self, value: Any, explicit: bool) -> None:
        self.field.setChecked(bool(value))


class ChoiceEditor(ParamEditor):
    """A combo box of the choices (or none/true/false for a nullable bool)."""

    def __init__(self, param: Param, on_change: Callable[[Any, bool], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(param, on_change, parent)
        self.field = ComboBox()
        if param.kind == "bool":
            self.values: list[Any] = [None, True, False]
            labels = ["none", "true", "false"]
        else:
            self.values = ([None] if param.nullable else []) + list(param.choices)
            labels = ["none" if v is None else str(v) for v in self.values]
        default = _default(param)
        for value, label in zip(self.values, labels):
            self.field.addItem(label + (" (default)" if value == default and
                                        type(value) is type(default) else ""))
        self.field.activated.connect(lambda i: self._send(self.values[i]))
        self.layout_.addWidget(self.field)
        self.layout_.addStretch(1)

    def _display(self, value: Any, explicit: bool) -> None:
        for i, v in enumerate(self.values):
            if v == value and type(v) is type(value):
                self.field.setCurrentIndex(i)
                return
        self.field.setCurrentIndex(-1)


def make_editor(param: Param, on_change: Callable[[Any, bool], None]) -> ParamEditor:
    kind = param.kind
    if kind == "bool":
        return ChoiceEditor(param, on_change) if param.nullable else \
            BoolEditor(param, on_change)
    if kind == "choice":
        return ChoiceEditor(param, on_change)
    if kind == "int" and not param.words and (param.min is not None or
                                              not (param.nullable or param.required)):
        return IntEditor(param, on_change)
    return TextEditor(param, on_change)


def param_label(param: Param) -> QLabel:
    label = QLabel(param.name)
    label.setToolTip(param.help)
    return label


def mark_label(label: QLabel, param: Param, explicit: bool, missing: bool) -> None:
    """Bold when set explicitly (normal at its default), red when required and missing."""
    font = label.font()
    font.setBold(explicit or missing)
    label.setFont(font)
    label.setText(f"{param.name} *" if param.required else param.name)
    label.setStyleSheet(f"color: {ERROR_COLOR};" if missing else "")
    state = ("Required, not set yet" if missing else "Set" if explicit
             else "At its default")
    label.setToolTip(f"{param.help}\n({state})")
