"""Linking by dragging between ports, with live feedback on the hovered target: green when
the link fits, orange when it fits the graph but the shapes will clash, red when the graph
refuses it (the reason goes to the status bar and a tooltip). Dropping on a valid port
calls Document.connect; dragging an existing link's end away re-links or unlinks it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtWidgets import QGraphicsItem, QToolTip

from ...graph import analyze
from .block_items import BoxItem
from .edges import WireItem
from .items import NodeItem, PortItem
from .labels import shape_text

if TYPE_CHECKING:
    from .scene import GraphScene

# A target: (src, dst, port, the item to highlight); port None appends a new input.
Target = tuple[str, str, "int | None", QGraphicsItem]


class WireTool:
    def __init__(self, scene: GraphScene) -> None:
        self.scene = scene
        self.active = False
        self.wire: WireItem | None = None
        self.mode = "out"  # "out": the source is fixed, looking for an input; "in": reverse
        self.fixed = ""
        self.relink: tuple[str, str, int] | None = None  # (src, dst, port) picked up
        self.start = QPointF()
        self.target: Target | None = None
        self.refused: tuple[QGraphicsItem, str] | None = None
        self.state: str | None = None  # "ok" | "warn" | "bad" | None
        self.message = ""
        self._lit: PortItem | None = None
        self._cache: dict[tuple, tuple[str, str]] = {}

    # -- the gesture ---------------------------------------------------------------------------
    def begin(self, port: PortItem, pos: QPointF) -> None:
        """A press on a port: start a new link, or pick up the end of an existing one."""
        self.cancel()
        graph = self.scene.doc.graph
        nid = port.node_id
        self.relink = None
        if port.kind == "out":
            self.mode, self.fixed, self.start = "out", nid, port.scenePos()
            hint = f"Drag from {nid} to the input of another layer"
        else:
            inputs = graph.input_map()[nid]
            if port.index < len(inputs):
                src = inputs[port.index]
                self.mode, self.fixed = "out", src
                self.relink = (src, nid, port.index)
                edge = self.scene.edges.get((src, nid))
                if edge is not None:
                    edge.setVisible(False)
                unit = self.scene.unit_item(self.scene.unit_of.get(src, src))
                self.start = unit.out_pos() if unit is not None else port.scenePos()
                hint = f"Drop on another input to re-link {src}, or on empty space to unlink"
            else:
                self.mode, self.fixed, self.start = "in", nid, port.scenePos()
                self.free_port = port.index
                hint = f"Drag from {nid}'s input to the output of a layer"
        self.wire = WireItem(self.scene.theme)
        self.scene.addItem(self.wire)
        self.wire.set_ends(self.start, pos, self.mode == "out")
        self.active = True
        self._cache.clear()
        self._set_feedback(None, None, hint)

    def drag(self, pos: QPointF) -> None:
        if not self.active or self.wire is None:
            return
        self.wire.set_ends(self.start, pos, self.mode == "out")
        target, refused = self._target_at(pos)
        key = (target[:3] if target else None, refused[1] if refused else None)
        old = (self.target[:3] if self.target else None,
               self.refused[1] if self.refused else None)
        if key == old:
            return
        self.target, self.refused = target, refused
        if target is not None:
            state, message = self.check(*target[:3])
            self._set_feedback(target[3], state, message, pos)
        elif refused is not None:
            self._set_feedback(refused[0], "bad", refused[1], pos)
        else:
            self._set_feedback(None, None, "")

    def finish(self, pos: QPointF) -> str | None:
        """The release: link, re-link or unlink. Returns why nothing happened, if refused."""
        if not self.active:
            return None
        self.drag(pos)
        target, state, message, relink = self.target, self.state, self.message, self.relink
        self.cancel(restore=True)
        doc = self.scene.doc
        if target is not None and state in ("ok", "warn"):
            src, dst, port = target[:3]
            if relink is None:
                return doc.connect(src, dst, port)
            if (src, dst) == relink[:2] and port == relink[2]:
                return None
            return doc.relink((relink[0], relink[1]), (src, dst), port)
        if state == "bad":
            self.scene.status_message.emit(message)
            return message
        if relink is not None and target is None:
            doc.disconnect(relink[0], relink[1])
            self.scene.status_message.emit(f"Unlinked {relink[0]} → {relink[1]}")
        return None

    def cancel(self, restore: bool = True) -> None:
        if self.wire is not None:
            self.scene.removeItem(self.wire)
            self.wire = None
        if restore and self.relink is not None:
            edge = self.scene.edges.get(self.relink[:2])
            if edge is not None:
                self.scene.route_new(edge)
        self._highlight(None, None)
        self.active = False
        self.target = self.refused = None
        QToolTip.hideText()

    # -- what is under the mouse ---------------------------------------------------------------
    def _target_at(self, pos: QPointF) -> tuple[Target | None, tuple[Any, str] | None]:
        want = "in" if self.mode == "out" else "out"
        area = QRectF(pos.x() - 7, pos.y() - 7, 14, 14)
        for item in self.scene.items(area):
            if isinstance(item, PortItem) and item.kind == want:
                return self._port_target(item), None
        for item in self.scene.items(pos):
            node = item if isinstance(item, NodeItem) else item.parentItem()
            if isinstance(node, NodeItem):
                if self.mode == "out":
                    port = None
                    if self.relink is not None and self.relink[1] == node.node_id \
                            and not node.multi:
                        port = self.relink[2]  # dropped back where it came from
                    return (self.fixed, node.node_id, port, node), None
                return (node.node_id, self.fixed, self._free(), node), None
            if isinstance(item, BoxItem):
                return None, (item, f"{item.title} is a collapsed block: open it "
                                    "(double-click) to link its layers")
        return None, None

    def _free(self) -> int | None:
        return getattr(self, "free_port", None)

    def _port_target(self, port: PortItem) -> Target:
        nid = port.node_id
        if self.mode == "in":
            return (nid, self.fixed, self._free(), port)
        node = port.node
        if not node.multi or port.index >= len(self.scene.doc.graph.input_map()[nid]):
            index = None
        else:
            index = port.index
        if self.relink is not None and self.relink[1] == nid:
            old = self.relink[2]
            if port.index == old:
                index = old
            elif index is not None and index > old:
                index -= 1
        return (self.fixed, nid, index, port)

    # -- feedback ------------------------------------------------------------------------------
    def check(self, src: str, dst: str, port: int | None) -> tuple[str, str]:
        """("ok" | "warn" | "bad", message) for linking src → dst at port (None: append)."""
        key = (src, dst, port, self.relink)
        if key in self._cache:
            return self._cache[key]
        doc = self.scene.doc
        graph = doc.graph
        trial = None
        if self.relink is not None:
            if (src, dst) == self.relink[:2] and port == self.relink[2]:
                return "ok", f"{src} → {dst}: unchanged"
            trial = graph.copy()
            trial.disconnect(*self.relink[:2])
            problem = trial.connection_problem(src, dst, port)
        else:
            problem = graph.connection_problem(src, dst, port)
        if problem:
            result = ("bad", problem)
        else:
            trial = trial or graph.copy()
            trial.connect(src, dst, port)
            after = analyze(trial).nodes.get(dst)
            before = doc.report.nodes.get(dst)
            old = set(before.errors) if before is not None else set()
            new = [m for m in (after.errors if after is not None else []) if m not in old]
            where = f" (input {port})" if port is not None else ""
            if new:
                result = ("warn", f"{src} → {dst}{where} links, but {dst} will not work: "
                                  f"{new[0]}")
            else:
                shape = shape_text(after.shape) if after is not None else "?"
                result = ("ok", f"{src} → {dst}{where}: {dst} gives {shape}")
        self._cache[key] = result
        return result

    def _set_feedback(self, item: QGraphicsItem | None, state: str | None, message: str,
                      pos: QPointF | None = None) -> None:
        self.state, self.message = state, message
        if self.wire is not None:
            self.wire.set_state(state)
        self._highlight(item, state)
        if message:
            self.scene.status_message.emit(message)
        views = self.scene.views()
        if message and pos is not None and views:
            view = views[0]
            at = view.viewport().mapToGlobal(view.mapFromScene(pos))
            QToolTip.showText(at, message, view.viewport())
        elif not message:
            QToolTip.hideText()

    def _highlight(self, item: QGraphicsItem | None, state: str | None) -> None:
        if isinstance(item, NodeItem):  # over a node's body: its free input, or its output
            item = item.in_ports[-1] if self.mode == "out" and item.in_ports else item.out_port
        old, self._lit = self._lit, item if isinstance(item, PortItem) else None
        if old is not None and old is not self._lit:
            try:
                old.set_state(None)
            except RuntimeError:  # the node went away meanwhile
                pass
        if self._lit is not None:
            self._lit.set_state(state)
