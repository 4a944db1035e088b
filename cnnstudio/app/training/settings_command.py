"""The one undoable edit of the dataset and training settings: a section of the project
(``dataset`` or ``training``) replaced by another, both held as plain dicts.

Views learn about it from ``settings_events().changed(document, section)``, a module-level
signal emitted after every redo and undo (also for the first redo, when the command is
pushed). A view compares the document with its own and refreshes; nothing else edits these
sections behind the undo stack's back (a new project arrives through ``document.reset``).

Consecutive edits of the same field merge into one undo step when the later one says so
(``merge=True``: the keystrokes or spin-box steps after the first of one editing session).
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand

from ...project import DatasetConfig, TrainConfig

SECTIONS = {"dataset": DatasetConfig, "training": TrainConfig}
_COMMAND_ID = 0x5E77  # QUndoCommand.id shared by every SetSettings (merging needs one)


class SettingsEvents(QObject):
    """``changed(document, section)``: a section of that document's project was replaced."""

    changed = Signal(object, str)


_EVENTS: SettingsEvents | None = None


def settings_events() -> SettingsEvents:
    """The process-wide relay (created on first use, after the QApplication)."""
    global _EVENTS
    if _EVENTS is None:
        _EVENTS = SettingsEvents()
    return _EVENTS


def section_dict(document: Any, section: str) -> dict[str, Any]:
    """The section of the document's project as a fresh dict."""
    return getattr(document.project, section).to_dict()


class SetSettings(QUndoCommand):
    """Replace ``document.project.<section>`` by ``after`` (undo: by ``before``). ``key`` names
    the edited field (e.g. ``"optimizer.lr"``); ``merge`` lets this command join the one before
    it when that edited the same field."""

    def __init__(self, document: Any, section: str, before: dict[str, Any],
                 after: dict[str, Any], text: str, *, key: str = "", merge: bool = False) -> None:
        super().__init__(text)
        if section not in SECTIONS:
            raise ValueError(f"unknown settings section {section!r}")
        self.document = document
        self.section = section
        self.before = copy.deepcopy(before)
        self.after = copy.deepcopy(after)
        self.key = key
        self.merge = merge

    def _apply(self, values: dict[str, Any]) -> None:
        cls = SECTIONS[self.section]
        setattr(self.document.project, self.section,
                cls.from_dict(copy.deepcopy(values), self.section))
        settings_events().changed.emit(self.document, self.section)

    def redo(self) -> None:
        self._apply(self.after)

    def undo(self) -> None:
        self._apply(self.before)

    def id(self) -> int:  # noqa: A003 - Qt's name
        return _COMMAND_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not (isinstance(other, SetSettings) and other.merge and other.key
                and other.key == self.key and other.section == self.section
                and other.document is self.document):
            return False
        self.after = copy.deepcopy(other.after)
        self.setText(other.text())
        if self.after == self.before:
            self.setObsolete(True)
        return True
