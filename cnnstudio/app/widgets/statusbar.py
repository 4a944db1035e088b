"""A status bar whose messages end in "…" after the last whole word that fits (QStatusBar cuts
a long message mid-letter); the whole message is in its tooltip."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow, QSizeGrip, QStatusBar, QWidget

_MARGIN = 6  # QStatusBar leaves this much left of the message, and twice that on the right
_TRIM = " ,;:·—–-"  # nothing of these before the "…"


class ElidingStatusBar(QStatusBar):
    """``showMessage`` shows what fits beside the permanent widgets; ``full_message`` is all
    of it. A resize fits the message again for the time it has left."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full_message = ""
        self._until: float | None = None  # monotonic end of the message; None: no timeout
        self.messageChanged.connect(self._message_changed)

    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 - Qt's name
        self.full_message = text
        self._until = time.monotonic() + timeout / 1000 if timeout > 0 else None
        shown = self.fit(text)
        super().showMessage(shown, timeout)
        self.setToolTip(text if shown != text else "")

    def fit(self, text: str) -> str:
        """``text``, or its longest start of whole words that fits, with "…"."""
        metrics, room = self.fontMetrics(), self.message_width()
        if metrics.horizontalAdvance(text) <= room:
            return text
        words = text.split(" ")
        while len(words) > 1:
            words.pop()
            cut = " ".join(words).rstrip(_TRIM) + "…"
            if metrics.horizontalAdvance(cut) <= room:
                return cut
        return metrics.elidedText(text, Qt.TextElideMode.ElideRight, room)

    def message_width(self) -> int:
        """The width QStatusBar draws a message in: up to the first permanent widget."""
        right = self.width() - 2 * _MARGIN
        for child in self.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if child.isVisible() and not isinstance(child, QSizeGrip) and child.x() > _MARGIN:
                right = min(right, child.x() - 2)
        return max(0, right - _MARGIN)

    def _message_changed(self, text: str) -> None:
        if not text:
            self.full_message = ""
            self._until = None
            self.setToolTip("")

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt's name
        super().resizeEvent(event)
        if not self.full_message or not self.currentMessage():
            return
        left = 0 if self._until is None else int((self._until - time.monotonic()) * 1000)
        if self._until is None or left > 0:
            until = self._until
            self.showMessage(self.full_message, left)
            self._until = until


def install(window: QMainWindow) -> ElidingStatusBar:
    """Give ``window`` an ElidingStatusBar. Widgets already in its bar were added with
    ``addWidget`` (the training progress line, made before the bar is): they move over, in
    order, rather than go with the old bar."""
    bar = ElidingStatusBar()
    old = window.statusBar()
    for child in old.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
        if not isinstance(child, QSizeGrip):
            hidden = child.isHidden()
            bar.addWidget(child)
            child.setHidden(hidden)
    window.setStatusBar(bar)
    return bar
