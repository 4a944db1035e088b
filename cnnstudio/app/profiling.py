"""The network's measured latency profile, shared by the Summary (its figures) and the canvas
(the heat map): one per document, found with ``profiles_of``.

A profile belongs to the graph it measured (``graph_hash``: ids, types, parameters, links):
after an edit it is hidden, not greyed, because a changed layer's time is unknown and a stale
figure next to it would read as measured; undoing back to the measured graph shows it again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from ..project.model import graph_hash

if TYPE_CHECKING:
    from ..engine.profile.layers import Profile


class Profiles(QObject):
    """The latest profile and the hash of the graph it measured; ``changed`` when what is
    shown changes (a new profile, or an edit hides or an undo restores it)."""

    changed = Signal()

    def __init__(self, document: Any) -> None:
        super().__init__(document)
        self.document = document
        self._profile: Profile | None = None
        self._hash = ""
        self._current = False
        document.analysis_ready.connect(self._check)

    @property
    def profile(self) -> Profile | None:
        """The profile of the graph as it is now, or None."""
        return self._profile if self._current else None

    @property
    def stale(self) -> bool:
        """A profile exists, of the graph before the last edits."""
        return self._profile is not None and not self._current

    def set(self, profile: Profile | None, measured_hash: str) -> None:
        """A new measurement of the graph whose hash was ``measured_hash``."""
        self._profile, self._hash = profile, measured_hash
        self._current = profile is not None and graph_hash(self.document.graph) == measured_hash
        self.changed.emit()

    def _check(self, *_args: Any) -> None:
        if self._profile is None:
            return
        current = graph_hash(self.document.graph) == self._hash
        if current != self._current:
            self._current = current
            self.changed.emit()


def profiles_of(document: QObject) -> Profiles:
    """The document's profile store, made on first use (a child of the document)."""
    found = document.findChild(Profiles)
    return found if found is not None else Profiles(document)


def ms_text(ms: float) -> str:
    """Milliseconds with three significant digits or so: 0.042, 1.27, 13.4, 245."""
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}" if ms >= 1 \
        else f"{ms:.3f}"
