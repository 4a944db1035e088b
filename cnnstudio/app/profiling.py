"""What was measured of the network, per document, shared by the panels that show figures and
the canvas that paints them: the latency profile (the Summary's Measure, ``profiles_of``) and
the int8 sensitivity (Deploy ▸ Quantize to int8, ``sensitivities_of``).

A measurement belongs to the graph it measured (``graph_hash``: ids, types, parameters,
links): after an edit it is hidden, not greyed, because a changed layer's figure is unknown and
a stale one next to it would read as measured; undoing back to the measured graph shows it
again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, Signal

from ..project.model import graph_hash

if TYPE_CHECKING:
    from ..engine.compress.quantize import QuantizeResult
    from ..engine.profile.layers import Profile


class Measured(QObject):
    """The latest measurement and the hash of the graph it measured; ``changed`` when what is
    shown changes (a new measurement, or an edit hides or an undo restores it)."""

    changed = Signal()

    def __init__(self, document: Any) -> None:
        super().__init__(document)
        self.document = document
        self._value: Any = None
        self._hash = ""
        self._current = False
        document.analysis_ready.connect(self._check)

    @property
    def value(self) -> Any:
        """The measurement of the graph as it is now, or None."""
        return self._value if self._current else None

    @property
    def stale(self) -> bool:
        """A measurement exists, of the graph before the last edits."""
        return self._value is not None and not self._current

    def set(self, value: Any, measured_hash: str) -> None:
        """A new measurement of the graph whose hash was ``measured_hash``."""
        self._value, self._hash = value, measured_hash
        self._current = value is not None and graph_hash(self.document.graph) == measured_hash
        self.changed.emit()

    def _check(self, *_args: Any) -> None:
        if self._value is None:
            return
        current = graph_hash(self.document.graph) == self._hash
        if current != self._current:
            self._current = current
            self.changed.emit()


class Profiles(Measured):
    """The latency profile (engine.profile.layers.Profile) of the Summary's Measure."""

    @property
    def profile(self) -> Profile | None:
        return self.value


class Sensitivities(Measured):
    """The latest int8 quantisation (engine.compress.quantize.QuantizeResult): its per-layer
    SQNR and the layers it kept in float32."""

    @property
    def result(self) -> QuantizeResult | None:
        return self.value


M = TypeVar("M", bound=Measured)


def store_of(document: QObject, kind: type[M]) -> M:
    """The document's store of ``kind``, made on first use (a child of the document)."""
    found = document.findChild(kind)
    return found if found is not None else kind(document)


def profiles_of(document: QObject) -> Profiles:
    return store_of(document, Profiles)


def sensitivities_of(document: QObject) -> Sensitivities:
    return store_of(document, Sensitivities)


def ms_text(ms: float) -> str:
    """Milliseconds with three significant digits or so: 0.042, 1.27, 13.4, 245."""
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}" if ms >= 1 \
        else f"{ms:.3f}"
