"""Semantic zoom: when the boxes are too small for their text to be read, the view labels them
at a constant size on screen, the way a map labels places. Blocks come first (outer before
inner, with their totals), then the boxes no block holds, then the others; a label goes where
it covers no label placed before it (on the box, else beside it), else it is left out and the
block around the box speaks for it. Plain geometry over the scene, planned once per zoom (the
view caches it), so panning costs nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontMetricsF

from . import labels

if TYPE_CHECKING:
    from .scene import GraphScene

PAD_X, PAD_Y = 5.0, 2.0  # room around a label's text, in screen pixels
GAP = 4.0  # between a box and a label beside it, in screen pixels
CELL = 120.0  # the size of the buckets the collision test uses, in screen pixels
MAX_W = 260.0  # the longest label line, in screen pixels (longer ones are elided)


@dataclass(frozen=True)
class Chip:
    """A label: ``key`` a node id, '#block' (collapsed) or '[block' (open), its lines (the
    first bold) and its place in scene coordinates at the zoom it was planned for."""

    key: str
    lines: tuple[str, ...]
    rect: QRectF


def totals(scene: GraphScene, group_id: str) -> str:
    """A block's parameters and MACs, from the last analysis."""
    report = scene.doc.report
    reps = [report.nodes[m] for m in scene.members.get(group_id, ()) if m in report.nodes]
    params = sum(r.params for r in reps)
    macs = sum(r.macs for r in reps)
    return f"{labels.count(params)} params · {labels.count(macs)} MACs"


class _Taken:
    """Rectangles already labelled, bucketed on a grid (hundreds of labels stay fast)."""

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], list[QRectF]] = {}

    def _keys(self, r: QRectF) -> list[tuple[int, int]]:
        return [(i, j) for i in range(int(r.left() // CELL), int(r.right() // CELL) + 1)
                for j in range(int(r.top() // CELL), int(r.bottom() // CELL) + 1)]

    def free(self, r: QRectF) -> bool:
        return not any(r.intersects(o) for k in self._keys(r) for o in self.cells.get(k, ()))

    def take(self, r: QRectF) -> None:
        for k in self._keys(r):
            self.cells.setdefault(k, []).append(r)


def plan(scene: GraphScene, zoom: float) -> dict[str, Chip]:
    """The labels to draw at ``zoom``, by key."""
    theme = scene.theme
    bold, plain = QFontMetricsF(theme.chip_bold), QFontMetricsF(theme.chip)
    line_h = max(bold.height(), plain.height())

    def size(lines: tuple[str, ...]) -> tuple[tuple[str, ...], float, float]:
        shown = tuple((bold if i == 0 else plain).elidedText(
            t, Qt.TextElideMode.ElideRight, MAX_W) for i, t in enumerate(lines))
        w = max((bold if i == 0 else plain).horizontalAdvance(t) for i, t in enumerate(shown))
        return shown, w + 2 * PAD_X, line_h * len(shown) + 2 * PAD_Y

    # (priority, key, lines, box in screen pixels, places to try)
    wanted: list[tuple[tuple[float, ...], str, tuple[str, ...], QRectF, str]] = []
    for gid, frame in scene.frames.items():
        if frame.isVisible() and not frame.rect.isNull():
            r = _px(frame.rect, zoom)
            name = scene.graph_groups()[gid].name or gid if gid in scene.graph_groups() else gid
            wanted.append(((0, frame.depth, r.top(), r.left()), "[" + gid, (name, totals(
                scene, gid)), r, "corner"))
    for gid, box in scene.boxes.items():
        if box.isVisible():
            r = _px(box.mapRectToScene(box.box_rect()), zoom)
            loose = scene.graph_groups()[gid].parent is None if gid in scene.graph_groups() \
                else True
            wanted.append(((1 if loose else 2, 0, r.top(), r.left()), "#" + gid,
                           (box.name or gid, totals(scene, gid)), r, "around"))
    for nid, item in scene.nodes.items():
        if item.isVisible():
            r = _px(item.mapRectToScene(item.box_rect()), zoom)
            loose = scene.doc.graph.nodes[nid].group is None  # no block speaks for it
            wanted.append(((1 if loose else 3, 0, r.top(), r.left()), nid, (
                f"{item.type_name} · {item.name or nid}",), r, "around"))
    wanted.sort(key=lambda w: w[0])

    taken = _Taken()
    out: dict[str, Chip] = {}
    for _, key, lines, box, how in wanted:
        shown, w, h = size(lines)
        if how == "corner":  # a block: in its title bar, else beside its top
            tries = [QRectF(box.left() + GAP, box.top() + 1, w, h),
                     QRectF(box.left() - GAP - w, box.top() + 1, w, h),
                     QRectF(box.right() + GAP, box.top() + 1, w, h)]
        else:  # on the box, else beside it, else a little above or below that
            tries = []
            for dy in (0.0, -h / 2 - 1, h / 2 + 1, -h - 1, h + 1, -1.5 * h - 1, 1.5 * h + 1,
                       -2 * h - 2, 2 * h + 2):  # crowded heads: up to two lines away
                cy = box.center().y() - h / 2 + dy
                tries += [QRectF(box.center().x() - w / 2, cy, w, h),
                          QRectF(box.right() + GAP, cy, w, h),
                          QRectF(box.left() - GAP - w, cy, w, h)]
        for r in tries:
            if taken.free(r):
                taken.take(r)
                out[key] = Chip(key, shown, QRectF(r.x() / zoom, r.y() / zoom,
                                                    r.width() / zoom, r.height() / zoom))
                break
    return out


def _px(rect: QRectF, zoom: float) -> QRectF:
    return QRectF(rect.x() * zoom, rect.y() * zoom, rect.width() * zoom, rect.height() * zoom)

