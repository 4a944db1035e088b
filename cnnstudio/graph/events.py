"""Plain-Python change notification, so that views can follow a model that never imports Qt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Signal:
    """A list of callbacks called in connection order with the emitted arguments."""

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        if callback not in self._slots:
            self._slots.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        try:
            self._slots.remove(callback)
        except ValueError:
            pass

    def emit(self, *args: Any) -> None:
        for callback in list(self._slots):
            callback(*args)

    def __len__(self) -> int:
        return len(self._slots)


class GraphEvents:
    """The graph's signals. ``changed`` fires once per edit (once per ``Graph.batch()``)."""

    __slots__ = (
        "node_added", "node_removed", "node_changed", "node_renamed", "edge_added", "edge_removed",
        "group_changed", "changed",
    )

    def __init__(self) -> None:
        self.node_added = Signal()  # (node)
        self.node_removed = Signal()  # (node)
        self.node_changed = Signal()  # (node, what: "params" | "name" | "position" | ...)
        self.node_renamed = Signal()  # (node, old_id)
        self.edge_added = Signal()  # (edge)
        self.edge_removed = Signal()  # (edge)
        self.group_changed = Signal()  # (group_id)
        self.changed = Signal()  # ()
