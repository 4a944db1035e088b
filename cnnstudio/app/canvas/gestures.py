"""Mouse gestures on the scene that end in one Document edit: a drag of boxes is recorded
once, on release (Document.move); a layer dropped from the palette is added where it lands.
A mixin of GraphScene (wiring has its own tool, wiring.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QGraphicsItem

from ..mime import LAYER_MIME, decode_layer
from .block_items import BoxItem
from .items import NodeItem, PortItem

if TYPE_CHECKING:
    from ..document import Document

"""Drag-and-drop type of a layer from the palette; the data is the type name (utf-8)."""


class Gestures:
    """Mixed in before QGraphicsScene: ``super()`` reaches the scene's own handlers."""

    doc: Document
    members: dict[str, list[str]]
    _drag_start: dict[QGraphicsItem, QPointF]

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and \
                not isinstance(self.mouseGrabberItem(), PortItem):
            self._drag_start = {i: i.pos() for i in self.selectedItems()
                                if isinstance(i, (NodeItem, BoxItem))}

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self._drag_start:
            start, self._drag_start = self._drag_start, {}
            self.commit_drag(start)

    def commit_drag(self, start: dict[QGraphicsItem, QPointF]) -> None:
        """Record a finished drag as one Document.move."""
        nodes = self.doc.graph.nodes
        moves: dict[str, tuple[Any, Any]] = {}
        for item, old in start.items():
            new = item.pos()
            if item.scene() is not self or new == old:
                continue
            if isinstance(item, NodeItem) and item.node_id in nodes:
                moves[item.node_id] = (nodes[item.node_id].position, (new.x(), new.y()))
            elif isinstance(item, BoxItem):
                d = new - old
                for m in self.members.get(item.group_id, ()):
                    p = self.position(m) or (old.x(), old.y())
                    moves[m] = (nodes[m].position, (p[0] + d.x(), p[1] + d.y()))
        if moves:
            self.doc.move(moves)

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasFormat(LAYER_MIME):
            payload = bytes(event.mimeData().data(LAYER_MIME).data()).decode("utf-8")
            if self.add_layer(payload, event.scenePos()) is not None:
                event.acceptProposedAction()
        else:
            super().dropEvent(event)

    def add_layer(self, payload: str, pos: QPointF) -> str | None:
        """Add a layer at ``pos`` (a drop from the palette: a type name or a recipe, see
        ``app.mime``) and select it."""
        try:
            type_name, params = decode_layer(payload)
        except ValueError as exc:
            self.status_message.emit(str(exc))
            return None
        nid = self.doc.add_node(type_name, (round(pos.x()), round(pos.y())), params=params)
        self.doc.select([nid])
        self.status_message.emit(f"Added {type_name} {nid}: drag from a port to link it")
        return nid
