"""GraphScene: the drawn graph. It follows the Document's signals (it never edits the model
itself: every gesture ends in a Document method, so it is one undo step)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from ...graph import Report, layers
from ..document import VIEW_KEY, Document
from ..profiling import profiles_of, sensitivities_of
from . import heat as heatmap
from .block_items import BoxItem, FrameItem
from .edges import EdgeItem
from .gestures import Gestures
from .items import NodeItem
from .placement import Placement
from .theme import BOX_H, BOX_W, NODE_H, NODE_W, Theme
from .units import ROW_STEP, default_collapsed
from .wiring import WireTool

NONE, LATENCY, INT8 = "", "latency", "int8"
"""The overlays the canvas can show (none, the latency heat map, the int8 sensitivity map)."""
SCALES = {LATENCY: heatmap.latency_scale, INT8: heatmap.sensitivity_scale}


class GraphScene(Gestures, Placement, QGraphicsScene):
    status_message = Signal(str)
    node_activated = Signal(str)  # a node was double-clicked (show it in the inspector)
    contents_moved = Signal()  # boxes moved, appeared or vanished (the minimap redraws)
    heat_changed = Signal()  # an overlay appeared, changed or went (the legend)

    def __init__(self, document: Document, parent: Any = None) -> None:
        QGraphicsScene.__init__(self, parent)
        # Items move and links reshape all the time; a BSP index costs more than it saves.
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.doc = document
        self.theme = Theme()
        self.heat: dict[str, heatmap.Heat] = {}
        """Unit key → its measured figure's colours (an overlay on), else empty."""
        self.heat_cool = self.heat_top = 0.0
        """The figures the coolest and the hottest colours stand for."""
        self.heat_scale: heatmap.Scale | None = None
        self.overlay = NONE
        self.profiles = profiles_of(document)
        self.sensitivities = sensitivities_of(document)
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[tuple[str, str], EdgeItem] = {}
        self.boxes: dict[str, BoxItem] = {}
        self.frames: dict[str, FrameItem] = {}
        Placement.__init__(self)
        self._sig: dict[str, Any] = {}
        self._syncing = False
        self._building = False
        self._suspend_blocks = False
        self._blocks_dirty = False
        self._drag_start: dict[QGraphicsItem, QPointF] = {}
        self.wiring = WireTool(self)
        self.profiles.changed.connect(self.refresh_heat)
        self.sensitivities.changed.connect(self.refresh_heat)
        self._moved_timer = QTimer(self)
        self._moved_timer.setSingleShot(True)
        self._moved_timer.setInterval(40)
        self._moved_timer.timeout.connect(self._after_moves)
        d = document
        d.reset.connect(self.rebuild)
        d.node_added.connect(self._on_node_added)
        d.node_removed.connect(self._on_node_removed)
        d.node_changed.connect(self._on_node_changed)
        d.node_renamed.connect(self._on_node_renamed)
        d.edge_added.connect(self._on_edge_added)
        d.edge_removed.connect(self._on_edge_removed)
        d.group_changed.connect(self._on_group_changed)
        d.graph_changed.connect(self._on_graph_changed)
        d.analysis_ready.connect(self.apply_report)
        d.selection_changed.connect(self._apply_selection)
        d.collapsed_changed.connect(self._on_collapsed_changed)
        self.selectionChanged.connect(self._on_scene_selection)
        self.rebuild()

    # -- whole graph ---------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Build every item from the document (a new graph was opened)."""
        self._building = True
        self.wiring.cancel()
        self._drag_start = {}
        self._syncing = True
        self.clear()
        self._syncing = False
        self.nodes.clear()
        self.edges.clear()
        self.boxes.clear()
        self.frames.clear()
        self._sig.clear()
        self.reset_placement()
        graph = self.doc.graph
        if VIEW_KEY not in self.doc.project.extra and not self.doc.collapsed and all(
                n.position is None for n in graph):
            self._suspend_blocks = True
            for gid in sorted(default_collapsed(graph)):
                self.doc.set_collapsed(gid, True)
            self._suspend_blocks = False
        for node in graph:
            item = NodeItem(node, self.theme)
            self.addItem(item)
            self.nodes[node.id] = item
        inputs, outputs = graph.input_map(), graph.output_map()
        for edge in graph.edges():
            self._make_edge(edge.src, edge.dst)
        for nid, item in self.nodes.items():
            item.set_input_count(len(inputs[nid]))
            item.set_output_connected(bool(outputs[nid]))
        self._building = False
        self.refresh_blocks(relayout=True)
        self.apply_report(self.doc.report)
        self._apply_selection(self.doc.selection())
        self._moved_timer.stop()  # just routed: only the scroll area and the minimap follow
        self.update_scene_rect()
        self.contents_moved.emit()
        self.refresh_heat()

    # -- overlays: the latency heat map, the int8 sensitivity map ---------------------------------
    def set_overlay(self, kind: str, on: bool) -> None:
        """Tint the boxes by ``kind``'s figures (while a measurement of this graph exists), or
        stop if ``kind`` is the one shown; the view's menu keeps one at a time."""
        if on:
            self.overlay = kind
        elif self.overlay == kind:
            self.overlay = NONE
        self.refresh_heat()

    def set_heat_map(self, on: bool) -> None:
        self.set_overlay(LATENCY, on)

    def measured(self, kind: str) -> Any:
        """``kind``'s measurement of the graph as it is now, or None."""
        return self.profiles.profile if kind == LATENCY else \
            self.sensitivities.result if kind == INT8 else None

    def refresh_heat(self) -> None:
        """Work the colours out once (a new measurement, an edit, the theme, a new graph)."""
        found = self.measured(self.overlay)
        if found is None and not self.heat:
            return
        self.heat_scale = SCALES[self.overlay](found) if found is not None else None
        self.heat, self.heat_cool, self.heat_top = heatmap.plan(self, self.heat_scale) \
            if self.heat_scale is not None else ({}, 0.0, 0.0)
        self.update()
        self.heat_changed.emit()

    def refresh_blocks(self, relayout: bool = False, anchor: str | None = None) -> None:
        Placement.refresh_blocks(self, relayout, anchor)
        if self.overlay:  # other boxes show: the colours compare them
            self.refresh_heat()

    def refresh_theme(self) -> None:
        self.theme = Theme()
        graph = self.doc.graph
        for nid, item in self.nodes.items():
            item.color = self.theme.category(layers.get(item.type_name).category)
            item.set_node(graph.nodes[nid], self.theme)
        for other in (*self.boxes.values(), *self.frames.values()):
            other.theme = self.theme
        self._sig.clear()
        self.apply_report(self.doc.report)
        self.heat = {}  # its colours mix with the old theme's
        self.refresh_heat()
        self.update()

    # -- model events --------------------------------------------------------------------------
    def _on_node_added(self, node: Any) -> None:
        if node.id in self.nodes:
            return
        item = NodeItem(node, self.theme)
        self.addItem(item)
        self.nodes[node.id] = item
        if node.group is not None:
            self._blocks_dirty = True
        self.position_new(node.id)
        self._moved_timer.start()

    def _on_node_removed(self, node: Any) -> None:
        item = self.nodes.pop(node.id, None)
        if item is not None:
            self.wiring.cancel()
            self._drag_start.pop(item, None)
            self.removeItem(item)
        self._sig.pop(node.id, None)
        self.forget_unit(node.id)
        if node.group is not None:
            self._blocks_dirty = True
        self._moved_timer.start()

    def _on_node_changed(self, node: Any, what: str) -> None:
        item = self.nodes.get(node.id)
        if item is None:
            return
        if what in ("params", "name", "frozen"):
            item.set_node(node, self.theme)
        elif what == "position":
            self.node_position_changed(node.id)
        elif what == "group":
            self._blocks_dirty = True

    def _on_node_renamed(self, node: Any, old: str) -> None:
        item = self.nodes.pop(old, None)
        if item is None:
            return
        self.nodes[node.id] = item
        item.set_node(node, self.theme)
        self._sig[node.id] = self._sig.pop(old, None)
        for (src, dst) in [k for k in self.edges if old in k]:
            edge = self.edges.pop((src, dst))
            edge.src = node.id if src == old else src
            edge.dst = node.id if dst == old else dst
            self.edges[(edge.src, edge.dst)] = edge
        self.rename_unit(old, node.id)

    def _make_edge(self, src: str, dst: str) -> EdgeItem:
        edge = EdgeItem(src, dst)
        self.addItem(edge)
        self.edges[(src, dst)] = edge
        rep = self.doc.report.nodes.get(src)
        edge.set_label(_shape(rep), self.theme)
        dst_rep = self.doc.report.nodes.get(dst)
        edge.set_bad(bool(dst_rep and dst_rep.errors))
        return edge

    def _on_edge_added(self, e: Any) -> None:
        edge = self._make_edge(e.src, e.dst)
        if e.src in self.nodes:
            self.nodes[e.src].set_output_connected(True)
        item = self.nodes.get(e.dst)
        if item is not None:
            item.set_input_count(len(self.doc.graph.input_map()[e.dst]))
            self.reroute_unit(e.dst)
        self.route_new(edge)

    def _on_edge_removed(self, e: Any) -> None:
        edge = self.edges.pop((e.src, e.dst), None)
        if edge is not None:
            self.drop_edge(edge)
            self.removeItem(edge)
        graph = self.doc.graph
        if e.src in self.nodes and e.src in graph.nodes:
            self.nodes[e.src].set_output_connected(bool(graph.output_map()[e.src]))
        item = self.nodes.get(e.dst)
        if item is not None and e.dst in self.doc.graph.nodes:
            item.set_input_count(len(self.doc.graph.input_map()[e.dst]))
            self.reroute_unit(e.dst)

    def _on_group_changed(self, group_id: str) -> None:
        self._blocks_dirty = True

    def _on_graph_changed(self) -> None:
        if self._blocks_dirty and not self._building:
            self._blocks_dirty = False
            self.refresh_blocks()
        self.place_pending()
        self.update_boxes_from_members()

    def _on_collapsed_changed(self, group_id: str, collapsed: bool) -> None:
        if not self._suspend_blocks:
            self.refresh_blocks(relayout=True, anchor=group_id)

    # -- blocks --------------------------------------------------------------------------------
    def set_block_collapsed(self, group_id: str, collapsed: bool) -> None:
        """Collapse or open a block (double-click, context menu). A block whose layers have
        positions of their own pushes what lies below it down as it opens (one undo step);
        one laid out automatically gets a fresh layout around it."""
        box = self.boxes.get(group_id)
        nodes = self.doc.graph.nodes
        placed = box is not None and not collapsed and all(
            nodes[m].position is not None for m in self.members.get(group_id, ()))
        before = box.mapRectToScene(box.boundingRect()) if placed and box else None
        self.doc.set_collapsed(group_id, collapsed)
        if before is not None:
            self.make_room(group_id, before)

    def set_all_collapsed(self, collapsed: bool) -> None:
        """Collapse every block (the outermost ones show) or open them all; one re-layout."""
        self._suspend_blocks = True
        try:
            for gid in list(self.doc.graph.groups):
                self.doc.set_collapsed(gid, collapsed)
        finally:
            self._suspend_blocks = False
        self.refresh_blocks(relayout=True)

    def block_units(self, group_id: str) -> list[QGraphicsItem]:
        """The boxes drawn for a block's layers (its visible nodes and collapsed blocks)."""
        inside = set(self.members.get(group_id, ()))
        items: list[QGraphicsItem] = [self.nodes[n] for n in inside
                                      if n in self.nodes and n not in self.unit_of]
        items += [b for g, b in self.boxes.items() if inside.issuperset(self.members[g])]
        return items

    def graph_groups(self) -> dict[str, Any]:
        return self.doc.graph.groups

    # -- analysis ------------------------------------------------------------------------------
    def apply_report(self, report: Report) -> None:
        """Show the analysis: only the nodes whose numbers changed are touched."""
        theme = self.theme
        graph = self.doc.graph
        outputs, inputs = graph.output_map(), graph.input_map()
        sigs = self._sig
        changed = []
        for nid, item in self.nodes.items():
            rep = report.nodes.get(nid)
            sig = (rep.shape, rep.params, tuple(rep.errors), tuple(rep.warnings)) \
                if rep is not None else None
            if sigs.get(nid, 0) == sig:
                continue
            sigs[nid] = sig
            changed.append(nid)
            if rep is None:
                item.set_report(None, 0, [], [], theme)
                continue
            item.set_report(rep.shape, rep.params, rep.errors, rep.warnings, theme)
            label = _shape(rep)
            for dst in outputs.get(nid, ()):
                edge = self.edges.get((nid, dst))
                if edge is not None:
                    edge.set_label(label, theme)
            bad = bool(rep.errors)
            for src in inputs.get(nid, ()):
                edge = self.edges.get((src, nid))
                if edge is not None:
                    edge.set_bad(bad)
        boxes = {self.unit_of[nid] for nid in changed if nid in self.unit_of}
        if boxes:
            rank = {nid: i for i, nid in enumerate(report.nodes)}
            for key in boxes:
                self.update_box_stats(key[1:], report, rank)

    def update_box_stats(self, group_id: str, report: Report | None = None,
                         rank: dict[str, int] | None = None) -> None:
        box = self.boxes.get(group_id)
        if box is None:
            return
        report = report or self.doc.report
        rank = rank if rank is not None else {n: i for i, n in enumerate(report.nodes)}
        reps = [report.nodes[m] for m in self.members.get(group_id, ()) if m in report.nodes]
        params = sum(r.params for r in reps)
        macs = sum(r.macs for r in reps)
        last = max(reps, key=lambda r: rank.get(r.id, -1)) if reps else None
        rf = last.receptive_field(report.input_hw) if last is not None else None
        errors = [f"{r.id}: {m}" for r in reps for m in r.errors]
        warnings = [f"{r.id}: {m}" for r in reps for m in r.warnings]
        box.set_stats(params, macs, rf, last.shape if last else None, errors, warnings)

    # -- selection -----------------------------------------------------------------------------
    def selected_node_ids(self) -> list[str]:
        """Selected nodes, a selected collapsed block standing for all its members."""
        ids: list[str] = []
        for item in self.selectedItems():
            if isinstance(item, NodeItem):
                ids.append(item.node_id)
            elif isinstance(item, BoxItem):
                ids.extend(self.members.get(item.group_id, ()))
        order = {nid: i for i, nid in enumerate(self.doc.graph.nodes)}
        return sorted(dict.fromkeys(ids), key=lambda n: order.get(n, 0))

    def selected_edges(self) -> list[tuple[str, str]]:
        return [(i.src, i.dst) for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def _on_scene_selection(self) -> None:
        if self._syncing or self._building:
            return
        self._syncing = True
        try:
            self.doc.select(self.selected_node_ids())
        finally:
            self._syncing = False

    def _apply_selection(self, ids: list[str]) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            wanted: set[QGraphicsItem] = set()
            for nid in ids:
                item = self.unit_item(self.unit_of.get(nid, nid))
                if item is not None:
                    wanted.add(item)
            for item in self.selectedItems():
                if item not in wanted:
                    item.setSelected(False)
            for item in wanted:
                item.setSelected(True)
        finally:
            self._syncing = False

    # -- after moves ---------------------------------------------------------------------------
    def unit_moved(self, key: str) -> None:
        if self._building:
            return
        self.reroute_unit(key)
        self.frames_dirty()
        self._moved_timer.start()

    def _after_moves(self) -> None:
        self.reroute_lanes()
        self.update_scene_rect()
        self.contents_moved.emit()

    def update_scene_rect(self) -> None:
        """Room to scroll around the graph (the view's scroll bars follow it)."""
        rect = self.units_rect()
        margin = max(rect.width(), rect.height()) * 0.5 + 800
        self.setSceneRect(rect.adjusted(-margin, -margin, margin, margin))

    def unit_rects(self) -> list[tuple[QRectF, QColor]]:
        """The visible boxes and their colours (for the minimap)."""
        out = []
        for item in self.nodes.values():
            if item.isVisible():
                p = item.pos()
                out.append((QRectF(p.x() - NODE_W / 2, p.y() - NODE_H / 2, NODE_W, NODE_H),
                            item.color))
        for box in self.boxes.values():
            p = box.pos()
            out.append((QRectF(p.x() - BOX_W / 2, p.y() - BOX_H / 2, BOX_W, BOX_H),
                        self.theme.block))
        return out

    def link_label_rects(self) -> list[QRectF]:
        """Where the links' shape labels sit (scene coordinates)."""
        return [r for r in (e.label_rect() for e in self.edges.values() if e.isVisible())
                if not r.isEmpty()]

    def units_rect(self) -> QRectF:
        rect = QRectF()
        for r, _ in self.unit_rects():
            rect = rect.united(r)
        for frame in self.frames.values():
            rect = rect.united(frame.rect)
        return rect if not rect.isNull() else QRectF(-NODE_W, -ROW_STEP, 2 * NODE_W, 2 * ROW_STEP)


def _shape(rep: Any) -> str:
    if rep is None or rep.shape is None:
        return ""
    return "[" + ", ".join(map(str, rep.shape)) + "]"
