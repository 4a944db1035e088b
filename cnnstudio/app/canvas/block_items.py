"""Blocks on the canvas: the translucent frame around an open block's members, and the single
box that stands for a collapsed block (its rolled-up numbers)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from . import labels
from .items import (
    _BOX_FLAGS,
    _MOVED,
    LOD_TEXT,
    BadgeItem,
    draw_chip,
    draw_pill,
    draw_snowflake,
    elide,
    lod_of,
)
from .theme import BOX_H, BOX_W, FRAME_TITLE, HEADER_H, PORT_R, Theme


def box_key(group_id: str) -> str:
    """The unit key of a collapsed block (node ids cannot contain '#')."""
    return "#" + group_id


class BoxItem(QGraphicsItem):
    """A collapsed block drawn as one box: name, size, parameters, MACs, RF, output shape."""

    def __init__(self, group_id: str, theme: Theme) -> None:
        super().__init__()
        self.group_id = group_id
        self.setFlags(_BOX_FLAGS)
        self.setZValue(10)
        self._rect = QRectF(-BOX_W / 2, -BOX_H / 2, BOX_W, BOX_H)
        self.title = self.sub = self.name = ""
        self.lines = ("", "", "")
        self.errors: list[str] = []
        self.badge = BadgeItem(self)
        self.badge.setPos(BOX_W / 2 - 12, -BOX_H / 2 + HEADER_H / 2)
        self.theme = theme

    @property
    def key(self) -> str:
        return box_key(self.group_id)

    def set_group(self, name: str, layers_count: int, blocks_count: int) -> None:
        """``blocks_count``: the blocks directly inside it (a ResNet stage: its residual
        blocks, 3-4-6-3 in ResNet-50), ``layers_count``: all its layers."""
        self.name = name
        self.title = elide(name, self.theme.bold, BOX_W - 40)
        inner = f"{blocks_count} block{'s' if blocks_count != 1 else ''} · " \
            if blocks_count else ""
        self.sub = f"{self.group_id} — {inner}{layers_count} layer" \
                   f"{'s' if layers_count != 1 else ''}"
        self.sub = elide(self.sub, self.theme.font, BOX_W - 14)
        self.setToolTip(f"<b>{name}</b> ({self.group_id}), a collapsed block of "
                        f"{layers_count} layers.<br>Double-click to open it.")
        self.update()

    def set_stats(self, params: int, macs: int, rf: Any, shape: Any, errors: list[str],
                  warnings: list[str]) -> None:
        self.lines = (
            f"{labels.count(params)} params · {labels.count(macs)} MACs",
            labels.rf_text(rf),
            labels.shape_text(shape),
        )
        self.errors = errors
        self.badge.set_issues(errors, warnings, self.theme)
        self.show_frozen()

    def show_frozen(self) -> None:
        """Redraw the frozen mark and its line in the tooltip (a member was (un)frozen)."""
        frozen, weighted = self.frozen_layers()
        tip = self.toolTip().split("<br><i>Frozen", 1)[0]
        if frozen:
            tip += f"<br><i>Frozen: {frozen} of its {weighted} layers with weights are not " \
                   "trained.</i>"
        self.setToolTip(tip)
        self.update()

    def frozen_layers(self) -> tuple[int, int]:
        """(frozen, with weights) among the block's layers: a frozen backbone shows on its
        collapsed blocks (the snowflake, as on a frozen layer)."""
        scene = self.scene()
        if scene is None:
            return 0, 0
        report = scene.doc.report
        weighted = [m for m in scene.members.get(self.group_id, ())
                    if m in report.nodes and report.nodes[m].params and m in scene.nodes]
        return sum(1 for m in weighted if scene.nodes[m].frozen), len(weighted)

    def in_pos(self, port: int = 0) -> QPointF:
        return self.scenePos() + QPointF(0, -BOX_H / 2)

    def out_pos(self) -> QPointF:
        return self.scenePos() + QPointF(0, BOX_H / 2)

    def box_rect(self) -> QRectF:
        """The box itself, in item coordinates (without ports and shadows)."""
        return QRectF(self._rect)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect.adjusted(-3, -PORT_R - 3, 9, PORT_R + 3)

    def itemChange(self, change: Any, value: Any) -> Any:  # noqa: N802
        if change is _MOVED:
            scene = self.scene()
            if scene is not None:
                scene.unit_moved(self.key)
        return super().itemChange(change, value)

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        theme = self.theme
        scene = self.scene()
        heat = scene.heat.get(self.key) if scene is not None and scene.heat else None
        r = self._rect
        lod = lod_of(painter, option)
        selected = self.isSelected()
        border = theme.selection if selected else theme.error if self.errors else theme.block
        width = 2.4 if selected or self.errors else 1.2
        if lod < theme.detail_zoom:
            draw_chip(painter, r, heat.solid if heat else theme.block, border, width, lod)
            return
        # A stack of cards: the block holds several layers.
        painter.setPen(QPen(theme.block, 1.0))
        painter.setBrush(heat.fill if heat else theme.node_body)
        for off in (6.0, 3.0):
            painter.drawRoundedRect(r.translated(off, off), 6, 6)
        painter.setPen(QPen(border, width))
        painter.drawRoundedRect(r, 6, 6)
        header = QRectF(r.x(), r.y(), r.width(), HEADER_H)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.block)
        painter.drawRoundedRect(header.adjusted(0.5, 0.5, -0.5, 0), 5.5, 5.5)
        painter.drawRect(header.adjusted(0.5, HEADER_H / 2, -0.5, 0))
        painter.setFont(theme.bold)
        painter.setPen(theme.header_text)
        painter.drawText(header.adjusted(7, 0, -28, 0), Qt.AlignmentFlag.AlignVCenter,
                         "▸ " + self.title)
        if self.frozen_layers()[0]:
            x = r.right() - (30 if self.badge.isVisible() else 12)
            draw_snowflake(painter, QPointF(x, r.y() + HEADER_H / 2), theme.header_text)
        body = r.adjusted(7, HEADER_H + 2, -7, -4)
        line = body.height() / 4
        sub = elide(self.sub, theme.font, body.width() - heat.label_w - 6) if heat else self.sub
        texts = ((theme.font, theme.text_dim, sub),
                 (theme.font, theme.text, self.lines[0]),
                 (theme.font, theme.text, self.lines[1]),
                 (theme.bold, theme.error if self.errors else theme.text, self.lines[2]))
        for i, (font, color, text) in enumerate(texts):
            painter.setFont(font)
            painter.setPen(color)
            painter.drawText(QRectF(body.x(), body.y() + i * line, body.width(), line),
                             Qt.AlignmentFlag.AlignVCenter, text)
        if heat:  # collapsed blocks are few: eliding here costs nothing that shows
            draw_pill(painter, heat, body.right(), body.y() + line / 2, theme)
        painter.setPen(QPen(theme.port, 1.4))
        painter.setBrush(theme.port)
        painter.drawEllipse(QPointF(0, r.top()), PORT_R, PORT_R)
        painter.drawEllipse(QPointF(0, r.bottom()), PORT_R, PORT_R)

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802
        self.scene().set_block_collapsed(self.group_id, False)


class FrameItem(QGraphicsItem):
    """The translucent frame around an open block; its title bar takes clicks, the inside
    lets them through (rubber-band selection works within a block)."""

    def __init__(self, group_id: str, depth: int, theme: Theme) -> None:
        super().__init__()
        self.group_id = group_id
        self.depth = depth
        self.theme = theme
        self.rect = QRectF()
        self.title = group_id
        self._press = QPointF()
        self._starts: dict[QGraphicsItem, QPointF] = {}
        self.setZValue(-20 + depth)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setAcceptHoverEvents(True)

    def set_title(self, name: str) -> None:
        self.title = name
        self.setToolTip(f"<b>{name}</b> ({self.group_id})<br>Drag the title to move the "
                        "block; double-click it to collapse the block into one box.")
        self.update()

    def set_rect(self, rect: QRectF) -> None:
        if rect != self.rect:
            self.prepareGeometryChange()
            self.rect = rect

    def title_rect(self) -> QRectF:
        return QRectF(self.rect.x(), self.rect.y(), self.rect.width(), FRAME_TITLE)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self.rect.adjusted(-1, -1, 1, 1)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self.title_rect())
        return path

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        theme = self.theme
        lod = lod_of(painter, option)
        painter.setPen(QPen(theme.frame_border(), 1.2 if lod >= LOD_TEXT else 1.5 / lod,
                            Qt.PenStyle.DashLine if lod >= LOD_TEXT else Qt.PenStyle.SolidLine))
        painter.setBrush(theme.frame_fill(self.depth))
        painter.drawRoundedRect(self.rect, 10, 10)
        if lod < theme.title_zoom:  # too small to read: the view labels the block instead
            return
        painter.setFont(theme.title)
        painter.setPen(theme.frame_title)
        text = elide("▾ " + self.title, theme.title, self.rect.width() - 30)
        painter.drawText(self.title_rect().adjusted(10, 2, -26, 0),
                         Qt.AlignmentFlag.AlignVCenter, text)

    # The title bar: a click selects the block's layers, a drag moves them (one undo step),
    # a double-click collapses the block.
    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        self._press = event.scenePos()
        self._starts = {i: i.pos() for i in self.scene().block_units(self.group_id)}
        event.accept()

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802
        d = event.scenePos() - self._press
        for item, pos in self._starts.items():
            item.setPos(pos + d)

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802
        scene = self.scene()
        starts, self._starts = self._starts, {}
        if event.scenePos() == self._press:
            scene.doc.select(scene.members.get(self.group_id, []))
        else:
            scene.commit_drag(starts)

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802
        self.scene().set_block_collapsed(self.group_id, True)
