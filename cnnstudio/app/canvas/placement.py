"""Where things sit on the canvas: which units are visible (nodes, collapsed blocks), their
positions (the model's, or an automatic layered one for nodes that have none), the frames of
open blocks and the routes of the links. A mixin of GraphScene."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRectF, QTimer

from ...graph.layout import contracted_edges
from .block_items import BoxItem, FrameItem, box_key
from .edges import EdgeItem
from .items import NodeItem
from .links import Links
from .theme import BOX_H, BOX_W, FRAME_PAD, FRAME_TITLE, NODE_H, NODE_W
from .units import (
    ROW_STEP,
    ancestry,
    inner_layout,
    layered_units,
    members_by_group,
    outer_collapsed,
    top_centre,
)

if TYPE_CHECKING:
    from ..document import Document
    from .theme import Theme

Pos = tuple[float, float]


class Placement(Links):
    doc: Document
    theme: Theme
    nodes: dict[str, NodeItem]
    edges: dict[tuple[str, str], EdgeItem]
    boxes: dict[str, BoxItem]
    frames: dict[str, FrameItem]

    def __init__(self) -> None:
        self.unit_of: dict[str, str] = {}  # hidden node → key of the collapsed box showing it
        self.members: dict[str, list[str]] = {}
        self._auto: dict[str, Pos] = {}  # positions of nodes the model has none for
        self._pending: list[str] = []
        self._unit_edges: dict[str, set[EdgeItem]] = {}
        self._frame_order: list[str] = []
        self._frame_children: dict[str, tuple[list[str], list[str], list[str]]] = {}
        self._boxes_dirty: set[str] = set()
        self._bins: dict[int, list[tuple[float, float, float, float, Any]]] | None = None
        self._frame_timer = QTimer()
        self._frame_timer.setSingleShot(True)
        self._frame_timer.setInterval(0)
        self._frame_timer.timeout.connect(self.update_frames)

    def reset_placement(self) -> None:
        self.unit_of, self.members, self._auto = {}, {}, {}
        self._pending.clear()
        self._unit_edges.clear()
        self._frame_order, self._frame_children = [], {}
        self._boxes_dirty.clear()

    # -- positions -----------------------------------------------------------------------------
    def position(self, nid: str) -> Pos | None:
        """Where a node sits: the model's position, else the automatic one."""
        node = self.doc.graph.nodes.get(nid)
        if node is None:
            return None
        return node.position if node.position is not None else self._auto.get(nid)

    def box_centre(self, group_id: str) -> Pos:
        anchor = self.group_anchor(group_id) or (0.0, -BOX_H / 2)
        return anchor[0], anchor[1] + BOX_H / 2

    def group_anchor(self, group_id: str) -> Pos | None:
        """The middle of the top edge of a block's members: a collapsed block's box starts
        there, so collapsing and opening keep the block in place."""
        pts = (self.position(m) for m in self.members.get(group_id, ()))
        return top_centre(p for p in pts if p is not None)

    def position_new(self, nid: str) -> None:
        item = self.nodes[nid]
        p = self.position(nid)
        if p is None:
            self._pending.append(nid)
        else:
            item.setPos(*p)

    def node_position_changed(self, nid: str) -> None:
        key = self.unit_of.get(nid)
        if key is not None:
            self._boxes_dirty.add(key[1:])
            return
        p = self.position(nid)
        if p is None:
            self._pending.append(nid)
            return
        item = self.nodes[nid]
        if (item.pos().x(), item.pos().y()) != p:
            item.setPos(*p)

    def update_boxes_from_members(self) -> None:
        for gid in self._boxes_dirty:
            box = self.boxes.get(gid)
            if box is not None:
                box.setPos(*self.box_centre(gid))
        self._boxes_dirty.clear()

    def place_pending(self) -> None:
        """Nodes that arrived without a position go beside their neighbours."""
        graph = self.doc.graph
        for nid in self._pending:
            if nid not in graph.nodes or self.position(nid) is not None:
                if nid in self.nodes and nid not in self.unit_of:
                    p = self.position(nid)
                    if p is not None:
                        self.nodes[nid].setPos(*p)
                continue
            if nid in self.unit_of:
                self._auto[nid] = self.box_centre(self.unit_of[nid][1:])
                continue
            self._auto[nid] = self._free_spot(nid)
            self.nodes[nid].setPos(*self._auto[nid])
        self._pending.clear()

    def _free_spot(self, nid: str) -> Pos:
        graph = self.doc.graph
        near = [self.unit_centre(self.unit_of.get(s, s)) for s in graph.input_map()[nid]]
        below = [p for p in near if p is not None]
        above = [self.unit_centre(self.unit_of.get(d, d)) for d in graph.output_map()[nid]]
        above = [p for p in above if p is not None]
        if below:
            x, y = below[0][0], max(p[1] for p in below) + ROW_STEP
        elif above:
            x, y = above[0][0], min(p[1] for p in above) - ROW_STEP
        else:
            rect = self.units_rect()  # type: ignore[attr-defined]
            x, y = rect.right() + NODE_W, rect.top() + NODE_H / 2
        taken = [(p.x(), p.y()) for item in (*self.nodes.values(), *self.boxes.values())
                 if item.isVisible() and (p := item.pos()) is not None
                 and not (isinstance(item, NodeItem) and item.node_id == nid)]
        for _ in range(200):
            if not any(abs(tx - x) < NODE_W + 20 and abs(ty - y) < NODE_H + 20
                       for tx, ty in taken):
                break
            x += NODE_W + 40
        return x, y

    def unit_centre(self, key: str) -> Pos | None:
        if key.startswith("#"):
            return self.box_centre(key[1:])
        return self.position(key)

    # -- visible units and the automatic layout ------------------------------------------------
    def visible_units(self) -> list[str]:
        """Keys of what is drawn as one box: node ids, and '#block' for collapsed blocks."""
        seen: dict[str, None] = {}
        for nid in self.doc.graph.nodes:
            seen.setdefault(self.unit_of.get(nid, nid), None)
        return list(seen)

    def _layered(self) -> tuple[list[str], dict[str, Pos]]:
        graph = self.doc.graph
        units = self.visible_units()
        edges = contracted_edges(graph, self.unit_of)
        return units, layered_units(graph, edges, units)

    def _unit_positions(self, key: str, centre: Pos, only_unplaced: bool) -> dict[str, Pos]:
        """Positions for the members of a unit whose box is centred at ``centre``."""
        if not key.startswith("#"):
            return {key: centre}
        nodes = self.doc.graph.nodes
        members = self.members.get(key[1:], [])
        rel = inner_layout(self.doc.graph, key[1:], members, self.doc.collapsed)
        top = centre[1] - BOX_H / 2
        return {m: (centre[0] + rel[m][0], top + rel[m][1]) for m in members
                if not only_unplaced or nodes[m].position is None}

    def auto_layout(self, anchor: str | None = None, before: Pos | None = None) -> None:
        """Lay out the units that have no position of their own (a fresh preset: all)."""
        nodes = self.doc.graph.nodes
        units, pos = self._layered()

        def fixed(u: str) -> bool:
            members = self.members.get(u[1:], []) if u.startswith("#") else [u]
            return all(nodes[m].position is not None for m in members)

        placed = [u for u in units if fixed(u)]
        if len(placed) == len(units):
            return
        dx = dy = 0.0
        if placed:
            actual = [(self.unit_centre(u), pos[u]) for u in placed]
            dx = sum(a[0] - p[0] for a, p in actual if a) / len(actual)
            dy = sum(a[1] - p[1] for a, p in actual if a) / len(actual)
        for u in units:
            if u not in placed:
                x, y = pos[u]
                self._auto.update(self._unit_positions(u, (x + dx, y + dy), True))
        if anchor is not None and before is not None and not placed:
            after = self.group_anchor(anchor)
            if after is not None:
                sx, sy = before[0] - after[0], before[1] - after[1]
                self._auto = {k: (p[0] + sx, p[1] + sy) for k, p in self._auto.items()}

    def arranged_positions(self) -> dict[str, Pos]:
        """Every node's position in a fresh layered layout of the visible units, the first
        unit staying where it is."""
        units, pos = self._layered()
        if not units:
            return {}
        here = self.unit_centre(units[0])
        sx, sy = ((here[0] - pos[units[0]][0], here[1] - pos[units[0]][1]) if here
                  else (0.0, 0.0))
        out: dict[str, Pos] = {}
        for u in units:
            centre = (pos[u][0] + sx, pos[u][1] + sy)
            out.update(self._unit_positions(u, centre, False))
        return {k: (round(v[0], 1), round(v[1], 1)) for k, v in out.items()}

    def refresh_blocks(self, relayout: bool = False, anchor: str | None = None) -> None:
        """Recompute what is visible after blocks changed (collapsed, made, dissolved)."""
        graph = self.doc.graph
        before = self.group_anchor(anchor) if anchor and anchor in self.members else None
        self.members = members_by_group(graph)
        if before is None and anchor:
            before = self.group_anchor(anchor)
        outer = outer_collapsed(graph, self.doc.collapsed)
        self.unit_of = {n.id: box_key(outer[n.group]) for n in graph
                        if n.group is not None and n.group in outer}
        shown = {g for g, o in outer.items() if g == o and self.members.get(g)}
        self._syncing = True
        try:
            for gid in [g for g in self.boxes if g not in shown]:
                self.removeItem(self.boxes.pop(gid))  # type: ignore[attr-defined]
            for gid in shown:
                box = self.boxes.get(gid)
                if box is None:
                    box = self.boxes[gid] = BoxItem(gid, self.theme)
                    self.addItem(box)  # type: ignore[attr-defined]
                inner = sum(1 for g in graph.groups.values() if g.parent == gid)
                box.set_group(graph.groups[gid].name or gid, len(self.members[gid]), inner)
            for nid, item in self.nodes.items():
                visible = nid not in self.unit_of
                if item.isVisible() != visible:
                    item.setVisible(visible)
        finally:
            self._syncing = False
        if relayout:
            self.auto_layout(anchor, before)
        self._building = True
        for nid, item in self.nodes.items():
            p = self.position(nid)
            if nid not in self.unit_of and p is not None:
                item.setPos(*p)
        for gid, box in self.boxes.items():
            box.setPos(*self.box_centre(gid))
        self._building = False
        self._make_frames(outer)
        self.route_all()
        self.update_frames()
        for gid in self.boxes:
            self.update_box_stats(gid)  # type: ignore[attr-defined]
        self._apply_selection(self.doc.selection())  # type: ignore[attr-defined]
        self._moved_timer.start()  # type: ignore[attr-defined]

    def make_room(self, group_id: str, before: QRectF) -> None:
        """A block opened where its box was: move what lies below down by what it grew."""
        frame = self.frames.get(group_id)
        if frame is None:
            return
        grown = frame.rect.bottom() + FRAME_PAD - before.bottom()
        if grown <= 1:
            return
        inside = set(self.members.get(group_id, ()))
        nodes = self.doc.graph.nodes
        moves: dict[str, tuple[Any, Any]] = {}
        for u in self.visible_units():
            members = self.members.get(u[1:], []) if u.startswith("#") else [u]
            centre = self.unit_centre(u)
            if inside.intersection(members) or centre is None or \
                    centre[1] <= before.center().y():
                continue
            for m in members:
                p = self.position(m)
                if p is not None and nodes[m].position is None:
                    self._auto[m] = (p[0], p[1] + grown)
                elif p is not None:
                    moves[m] = (nodes[m].position, (p[0], p[1] + grown))
        name = self.doc.graph.groups[group_id].name or group_id
        self.doc.move(moves, f"Make room for {name}")
        self.refresh_blocks()

    # -- frames of open blocks -----------------------------------------------------------------
    def _make_frames(self, outer: dict[str, str]) -> None:
        graph = self.doc.graph
        wanted = [g for g in graph.groups if g not in outer and self.members.get(g)]
        direct: dict[str, list[str]] = {g: [] for g in wanted}
        for node in graph:
            if node.group in direct:
                direct[node.group].append(node.id)
        for gid in [g for g in self.frames if g not in direct]:
            self.removeItem(self.frames.pop(gid))  # type: ignore[attr-defined]
        depth = {g: len(ancestry(graph, g)) - 1 for g in wanted}
        self._frame_children = {}
        for gid in wanted:
            kids = [g for g, grp in graph.groups.items() if grp.parent == gid]
            self._frame_children[gid] = (direct[gid], [k for k in kids if k in self.boxes],
                                         [k for k in kids if k in direct])
            frame = self.frames.get(gid)
            if frame is None or frame.depth != depth[gid]:
                if frame is not None:
                    self.removeItem(frame)  # type: ignore[attr-defined]
                frame = self.frames[gid] = FrameItem(gid, depth[gid], self.theme)
                self.addItem(frame)  # type: ignore[attr-defined]
            frame.set_title(graph.groups[gid].name or gid)
        self._frame_order = sorted(wanted, key=lambda g: -depth[g])

    def frames_dirty(self) -> None:
        if self._frame_order:
            self._frame_timer.start()

    def update_frames(self) -> None:
        for gid in self._frame_order:
            frame = self.frames.get(gid)
            if frame is None:
                continue
            node_ids, box_ids, frame_ids = self._frame_children[gid]
            rect = QRectF()
            for nid in node_ids:
                p = self.nodes[nid].pos()
                rect = rect.united(QRectF(p.x() - NODE_W / 2, p.y() - NODE_H / 2,
                                          NODE_W, NODE_H))
            for bid in box_ids:
                p = self.boxes[bid].pos()
                rect = rect.united(QRectF(p.x() - BOX_W / 2, p.y() - BOX_H / 2,
                                          BOX_W + 6, BOX_H + 6))
            for fid in frame_ids:
                if self.frames[fid].isVisible():
                    rect = rect.united(self.frames[fid].rect)
            frame.setVisible(not rect.isNull())
            frame.set_rect(rect.adjusted(-FRAME_PAD, -FRAME_PAD - FRAME_TITLE,
                                         FRAME_PAD, FRAME_PAD))

    def forget_unit(self, nid: str) -> None:
        self._unit_edges.pop(nid, None)

    def rename_unit(self, old: str, new: str) -> None:
        if old in self._auto:
            self._auto[new] = self._auto.pop(old)
        if old in self.unit_of:
            self.unit_of[new] = self.unit_of.pop(old)
        if old in self._unit_edges:
            self._unit_edges[new] = self._unit_edges.pop(old)
        for members in self.members.values():
            if old in members:
                members[members.index(old)] = new
