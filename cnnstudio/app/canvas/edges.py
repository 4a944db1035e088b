"""Links on the canvas: the drawn edge (routed around boxes, labelled with the shape it
carries, red into a node with an error) and the loose wire shown while linking."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from .items import LOD_TEXT, lod_of
from .theme import NODE_H, PORT_R, Theme


def rounded_polyline(points: list[QPointF], radius: float) -> QPainterPath:
    path = QPainterPath(points[0])
    for i in range(1, len(points) - 1):
        prev, corner, nxt = points[i - 1], points[i], points[i + 1]
        d1 = corner - prev
        d2 = nxt - corner
        l1 = max(abs(d1.x()) + abs(d1.y()), 1e-6)
        l2 = max(abs(d2.x()) + abs(d2.y()), 1e-6)
        r = min(radius, l1 / 2, l2 / 2)
        path.lineTo(corner - d1 * (r / l1))
        path.quadTo(corner, corner + d2 * (r / l2))
    path.lineTo(points[-1])
    return path


def route(p1: QPointF, p2: QPointF, row: float, lane: float | None = None) -> QPainterPath:
    """A link from an output port (p1, bottom of a box) to an input port (p2, top of one).

    Without a ``lane`` it is an S-curve (neighbouring rows); with one, it leaves its row,
    runs down (or up) the lane, a free vertical strip, and comes back in above the target:
    so skip connections pass beside the boxes, not through them."""
    if lane is None:
        path = QPainterPath(p1)
        bend = max(abs(p2.y() - p1.y()) * 0.5, 24.0)
        path.cubicTo(QPointF(p1.x(), p1.y() + bend), QPointF(p2.x(), p2.y() - bend), p2)
        return path
    gap = max(row - NODE_H, 24.0) / 2
    ya, yb = p1.y() + gap * 0.7, p2.y() - gap * 0.7
    points = [p1, QPointF(p1.x(), ya), QPointF(lane, ya), QPointF(lane, yb),
              QPointF(p2.x(), yb), p2]
    return rounded_polyline(points, 14.0)


class EdgeItem(QGraphicsItem):
    """A link, labelled with the shape of the tensor it carries."""

    def __init__(self, src: str, dst: str) -> None:
        super().__init__()
        self.src, self.dst = src, dst
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(5)
        self.path = QPainterPath()
        self.label = ""
        self.bad = False
        self.dimmed = False
        self._label_rect = QRectF()
        self._bounds = QRectF()
        self._shape: QPainterPath | None = None
        self._end = QPointF()
        self.lane: float | None = None

    def set_label(self, text: str, theme: Theme) -> None:
        if text != self.label:
            self.label = text
            self._place_label(theme)

    def set_bad(self, bad: bool) -> None:
        if bad != self.bad:
            self.bad = bad
            self.update()

    def set_route(self, p1: QPointF, p2: QPointF, row: float, theme: Theme,
                  lane: float | None = None) -> None:
        self.prepareGeometryChange()
        p2 = QPointF(p2.x(), p2.y() - PORT_R - 1)  # the arrow ends on the port, not in it
        self.path = route(p1, p2, row, lane)
        self.lane = lane
        self._end = p2
        self._shape = None
        self._place_label(theme, prepared=True)

    def _place_label(self, theme: Theme, prepared: bool = False) -> None:
        if not prepared:
            self.prepareGeometryChange()
        if self.label and not self.path.isEmpty():
            w = QFontMetricsF(theme.small).horizontalAdvance(self.label) + 10
            if self.lane is None:
                # just under the output, beside the line: clear of the titles of the
                # blocks below (and the links fanning out of one output share it)
                start = self.path.elementAt(0)
                self._label_rect = QRectF(start.x + 5, start.y + 6, w, 15)
            else:
                mid = self.path.pointAtPercent(0.5)
                self._label_rect = QRectF(mid.x() - w / 2, mid.y() - 7.5, w, 15)
        else:
            self._label_rect = QRectF()
        self._bounds = self.path.boundingRect().adjusted(-6, -6, 6, 6).united(
            self._label_rect.adjusted(-1, -1, 1, 1))
        self.update()

    def label_rect(self) -> QRectF:
        """Where the shape label sits (scene coordinates; empty without a label)."""
        return QRectF(self._label_rect)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10)
            self._shape = stroker.createStroke(self.path)
        return self._shape

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        theme: Theme = self.scene().theme
        lod = lod_of(painter, option)
        color = (theme.selection if self.isSelected() else theme.error if self.bad
                 else theme.edge)
        width = (2.6 if self.isSelected() else 1.6) * (1.6 if self.bad else 1.0)
        painter.setPen(QPen(color, max(width, 1.0 / max(lod, 0.01))))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path)
        if lod < LOD_TEXT:
            return
        tip = self._end
        arrow = QPolygonF([tip, QPointF(tip.x() - 4.5, tip.y() - 9),
                           QPointF(tip.x() + 4.5, tip.y() - 9)])
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawPolygon(arrow)
        if self.label and lod >= theme.detail_zoom:
            painter.setBrush(theme.label_bg)
            painter.setPen(QPen(color, 0.8))
            painter.drawRoundedRect(self._label_rect, 7, 7)
            painter.setFont(theme.small)
            painter.setPen(theme.error if self.bad else theme.label_text)
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)


class WireItem(QGraphicsPathItem):
    """The loose link that follows the mouse while wiring; green, orange or red on a target."""

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.theme = theme
        self.setZValue(50)
        self.set_state(None)

    def set_state(self, state: str | None) -> None:
        t = self.theme
        color = {"ok": t.ok, "warn": t.warning, "bad": t.error}.get(state or "", t.selection)
        pen = QPen(color, 2.2)
        if state is None:
            pen.setStyle(Qt.PenStyle.DashLine)
        self.setPen(pen)
        self.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        self.state = state

    def set_ends(self, start: QPointF, end: QPointF, downward: bool) -> None:
        a, b = (start, end) if downward else (end, start)
        path = QPainterPath(a)
        bend = max(abs(b.y() - a.y()) * 0.5, 30.0)
        path.cubicTo(QPointF(a.x(), a.y() + bend), QPointF(b.x(), b.y() - bend), b)
        self.setPath(path)
