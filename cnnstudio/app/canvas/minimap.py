"""The overview in a corner of the view: the whole graph as coloured boxes and the visible
rectangle; a click or a drag there moves the view. It never covers the graph: it sits in the
first corner (bottom right, bottom left, top right, top left) with no box, link label or chip
label under it, and steps aside (hides) while every corner has some; a translucent map over
boxes would still hide their text, and moving it is cheaper than shrinking the view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint, QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from .view import GraphView


class Minimap(QWidget):
    SIZE = (200, 150)

    def __init__(self, view: GraphView) -> None:
        super().__init__(view)
        self.view = view
        self.setFixedSize(*self.SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        self._pixmap: QPixmap | None = None
        self._world = QRectF()
        self._scale = 1.0
        self._offset = QPointF()
        self.wanted = True
        self._whole: QRectF | None = None
        self._occupied: list[QRectF] | None = None
        view.graph_scene.contents_moved.connect(self.invalidate)
        view.horizontalScrollBar().valueChanged.connect(self.follow)
        view.verticalScrollBar().valueChanged.connect(self.follow)

    def set_wanted(self, on: bool) -> None:
        """Show the overview (when the graph does not fit the view) or never."""
        self.wanted = on
        self.follow()

    def follow(self) -> None:
        """The view moved or zoomed: redraw the visible rectangle; hide when all is seen."""
        view = self.view
        seen = view.mapToScene(view.viewport().rect()).boundingRect()
        if self._whole is None:
            self._whole = view.graph_scene.units_rect()
        whole = self._whole
        corner = self.free_corner() if self.wanted and not seen.contains(whole) else None
        if corner is not None:
            self.move(corner)
        self.setVisible(corner is not None)
        self.update()

    def invalidate(self) -> None:
        self._pixmap = None
        self._whole = None
        self._occupied = None
        self.follow()

    def reposition(self) -> None:
        self.follow()

    def corners(self) -> list[QPoint]:
        """Where the map may sit, in the view's coordinates, the usual place first."""
        geo = self.view.viewport().geometry()
        left, top = geo.left() + 8, geo.top() + 8
        right, bottom = geo.right() - self.width() - 8, geo.bottom() - self.height() - 8
        return [QPoint(right, bottom), QPoint(left, bottom), QPoint(right, top),
                QPoint(left, top)]

    def covered(self) -> list[QRectF]:
        """What must stay visible, in viewport coordinates: boxes, link and chip labels."""
        view = self.view
        if self._occupied is None:
            self._occupied = [r for r, _ in view.graph_scene.unit_rects()]
            self._occupied += view.graph_scene.link_label_rects()
        rects = self._occupied + [c.rect for c in view.chip_labels().values()]
        return [view.mapFromScene(r).boundingRect().toRectF() for r in rects]

    def free_corner(self) -> QPoint | None:
        """The first corner where the map covers nothing, or None."""
        port = self.view.viewport()
        covered = self.covered()
        for corner in self.corners():
            place = QRectF(port.mapFrom(self.view, corner).toPointF(),
                           QSizeF(self.size())).adjusted(-4, -4, 4, 4)
            if not any(place.intersects(r) for r in covered):
                return corner
        return None

    # -- mapping between the scene and the minimap ---------------------------------------------
    def _layout(self) -> None:
        world = self.view.graph_scene.units_rect().adjusted(-60, -60, 60, 60)
        w, h = self.width() - 8, self.height() - 8
        self._scale = min(w / max(world.width(), 1.0), h / max(world.height(), 1.0))
        self._world = world
        self._offset = QPointF(4 + (w - world.width() * self._scale) / 2,
                               4 + (h - world.height() * self._scale) / 2)

    def to_map(self, p: QPointF) -> QPointF:
        return (p - self._world.topLeft()) * self._scale + self._offset

    def to_scene(self, p: QPointF) -> QPointF:
        return (p - self._offset) / self._scale + self._world.topLeft()

    def _render(self) -> QPixmap:
        self._layout()
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(int(self.width() * ratio), int(self.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        bg = QColor(pal.color(QPalette.ColorRole.Window))
        bg.setAlpha(225)
        painter.setPen(QPen(pal.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(bg)
        painter.drawRoundedRect(QRectF(0.5, 0.5, self.width() - 1, self.height() - 1), 6, 6)
        painter.setPen(Qt.PenStyle.NoPen)
        for rect, color in self.view.graph_scene.unit_rects():
            tl = self.to_map(rect.topLeft())
            w = max(rect.width() * self._scale, 2.0)
            h = max(rect.height() * self._scale, 1.5)
            painter.setBrush(color)
            painter.drawRect(QRectF(tl.x(), tl.y(), w, h))
        painter.end()
        return pixmap

    def paintEvent(self, event: Any) -> None:  # noqa: N802
        if self._pixmap is None:
            self._pixmap = self._render()
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._pixmap)
        seen = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        a, b = self.to_map(seen.topLeft()), self.to_map(seen.bottomRight())
        box = QRectF(a, b).intersected(QRectF(1, 1, self.width() - 2, self.height() - 2))
        highlight = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        painter.setPen(QPen(highlight, 1.5))
        highlight.setAlpha(40)
        painter.setBrush(highlight)
        painter.drawRect(box)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._jump(event.position())
            event.accept()

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._jump(event.position())

    def _jump(self, p: QPointF) -> None:
        if self._pixmap is None:
            self._layout()
        self.view.centerOn(self.to_scene(p))
        self.update()
