"""How links run on the canvas: which edge items show (a collapsed block shows one link per
neighbour), and their routes: S-curves between neighbouring rows, lanes beside the boxes for
links that span rows. A mixin of GraphScene, beside Placement."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF

from .block_items import BoxItem
from .edges import EdgeItem
from .items import NodeItem
from .theme import BOX_H, BOX_W, NODE_H, NODE_W
from .units import ROW_STEP

if TYPE_CHECKING:
    from ..document import Document
    from .theme import Theme

_BIN = 64.0  # width of the buckets of the obstacle index
Bins = dict[int, list[tuple[float, float, float, float, Any]]]


class Links:
    doc: Document
    theme: Theme
    nodes: dict[str, NodeItem]
    edges: dict[tuple[str, str], EdgeItem]
    boxes: dict[str, BoxItem]
    unit_of: dict[str, str]
    _unit_edges: dict[str, set[EdgeItem]]
    _bins: Bins | None

    def unit_item(self, key: str) -> NodeItem | BoxItem | None:
        if key.startswith("#"):
            return self.boxes.get(key[1:])
        return self.nodes.get(key)

    def edge_units(self, edge: EdgeItem) -> tuple[str, str]:
        return self.unit_of.get(edge.src, edge.src), self.unit_of.get(edge.dst, edge.dst)

    def route_all(self) -> None:
        self._bins = None
        self._unit_edges = {}
        seen: set[tuple[str, str]] = set()
        for edge in self.edges.values():
            self._place_edge(edge, seen)

    def route_new(self, edge: EdgeItem) -> None:
        self._bins = None
        us, ud = self.edge_units(edge)
        seen = {self.edge_units(e) for e in self._unit_edges.get(us, ()) if e.isVisible()}
        self._place_edge(edge, seen)

    def drop_edge(self, edge: EdgeItem) -> None:
        us, ud = self.edge_units(edge)
        for key in (us, ud):
            self._unit_edges.get(key, set()).discard(edge)
        if edge.isVisible() and (us.startswith("#") or ud.startswith("#")):
            for other in self.edges.values():  # a twin link may now have to show
                if other is not edge and self.edge_units(other) == (us, ud):
                    other.setVisible(True)
                    self._unit_edges.setdefault(us, set()).add(other)
                    self._unit_edges.setdefault(ud, set()).add(other)
                    self._route(other, us, ud)
                    break

    def _place_edge(self, edge: EdgeItem, seen: set[tuple[str, str]]) -> None:
        us, ud = self.edge_units(edge)
        if us == ud or self.unit_item(us) is None or self.unit_item(ud) is None:
            edge.setVisible(False)
            return
        if us.startswith("#") or ud.startswith("#"):
            if (us, ud) in seen:
                edge.setVisible(False)
                return
            seen.add((us, ud))
        self._unit_edges.setdefault(us, set()).add(edge)
        self._unit_edges.setdefault(ud, set()).add(edge)
        edge.setVisible(True)
        self._route(edge, us, ud)

    def _route(self, edge: EdgeItem, us: str, ud: str) -> None:
        a, b = self.unit_item(us), self.unit_item(ud)
        if a is None or b is None:
            return
        port = 0
        if not ud.startswith("#"):
            srcs = self.doc.graph.input_map().get(edge.dst, [])
            port = srcs.index(edge.src) if edge.src in srcs else 0
        p1, p2 = a.out_pos(), b.in_pos(port)
        edge.set_route(p1, p2, ROW_STEP, self.theme, self._lane(p1, p2, a, b))

    def _lane(self, p1: QPointF, p2: QPointF, a: Any, b: Any) -> float | None:
        """Where a link that spans rows runs: straight down its source's or target's column
        when that is free, else in the first free strip beside the boxes."""
        dy = p2.y() - p1.y()
        if 0 < dy <= ROW_STEP * 1.6:
            return None
        top, bottom = sorted((p1.y() + 14, p2.y() - 14))
        x1, x2 = p1.x(), p2.x()
        cands = [x1, x2] if dy > 0 else []
        off = max(NODE_W, BOX_W) / 2 + 22
        right, left = max(x1, x2) + off, min(x1, x2) - off
        for k in range(8):
            side = [right + 60 * k, left - 60 * k]
            cands += side if x2 >= x1 else side[::-1]
        bins = self._obstacle_bins()
        for x in cands:
            if not any(l0 < x + 14 and x - 14 < r0 and t0 < bottom and top < b0
                       and item is not a and item is not b
                       for l0, r0, t0, b0, item in bins.get(int(x // _BIN), ())):
                return x
        return right

    def _obstacle_bins(self) -> Bins:
        """The visible boxes bucketed by x (rebuilt after anything moved)."""
        if self._bins is None:
            bins: Bins = {}
            items = [i for i in self.nodes.values() if i.isVisible()]
            for item in (*items, *self.boxes.values()):
                p = item.pos()
                w, h = (BOX_W, BOX_H) if isinstance(item, BoxItem) else (NODE_W, NODE_H)
                entry = (p.x() - w / 2, p.x() + w / 2, p.y() - h / 2, p.y() + h / 2, item)
                for k in range(int((entry[0] - 14) // _BIN), int((entry[1] + 14) // _BIN) + 1):
                    bins.setdefault(k, []).append(entry)
            self._bins = bins
        return self._bins

    def reroute_lanes(self) -> None:
        """Links that run in lanes look for free ones again (after boxes moved or came)."""
        self._bins = None
        for edge in self.edges.values():
            if edge.isVisible() and edge.lane is not None:
                self._route(edge, *self.edge_units(edge))

    def reroute_unit(self, key: str) -> None:
        self._bins = None
        for edge in list(self._unit_edges.get(key, ())):
            if edge.isVisible():
                self._route(edge, *self.edge_units(edge))
