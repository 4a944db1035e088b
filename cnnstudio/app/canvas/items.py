"""What the canvas draws for layers and links: node boxes with ports and badges, edges, and
the loose wire shown while linking. Items only draw and forward gestures to the scene."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from ...graph import Node
from . import labels
from .theme import HEADER_H, NODE_H, NODE_W, PORT_R, Theme

_MOVED = QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
_BOX_FLAGS = (QGraphicsItem.GraphicsItemFlag.ItemIsMovable
              | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
              | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
LOD_TEXT = 0.45  # below this zoom, links carry no arrow heads
COUNT_GAP = 4.0  # between a node's shape and its parameter count
PILL_PAD = 4.0  # either side of a measured time's text (the latency heat map)


def detailed(painter: QPainter, option: QStyleOptionGraphicsItem, theme: Theme) -> bool:
    """Whether the text inside boxes is readable at this zoom; else a box is a chip whose
    label the view draws at a constant size (semantic zoom, GraphView.drawForeground)."""
    return lod_of(painter, option) >= theme.detail_zoom


def draw_chip(painter: QPainter, rect: QRectF, color: QColor, border: QColor,
              width: float, lod: float) -> None:
    """A box drawn without text: its colour and outline, a constant width on screen."""
    painter.setPen(QPen(border, max(width, 1.2) / max(lod, 0.01)))
    painter.setBrush(color)
    painter.drawRoundedRect(rect, 8, 8)


def elide(text: str, font: QFont, width: float) -> str:
    return QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, width)


def lod_of(painter: QPainter, option: QStyleOptionGraphicsItem) -> float:
    return option.levelOfDetailFromTransform(painter.worldTransform())


def draw_badge(painter: QPainter, centre: QPointF, color: QColor, theme: Theme) -> None:
    painter.setPen(QPen(QColor("#ffffff"), 1.2))
    painter.setBrush(color)
    painter.drawEllipse(centre, 7.0, 7.0)
    painter.setFont(theme.bold)
    painter.drawText(QRectF(centre.x() - 7, centre.y() - 7, 14, 14),
                     Qt.AlignmentFlag.AlignCenter, "!")


def draw_pill(painter: QPainter, heat: Any, right: float, mid_y: float, theme: Theme) -> None:
    """A measured figure (heat.Heat) on a box's first line, right-aligned at ``right``."""
    h = QFontMetricsF(theme.small).height() + 2
    rect = QRectF(right - heat.label_w, mid_y - h / 2, heat.label_w, h)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(heat.solid)
    painter.drawRoundedRect(rect, h / 2, h / 2)
    painter.setFont(theme.small)
    painter.setPen(heat.ink)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, heat.label)


def draw_snowflake(painter: QPainter, centre: QPointF, color: QColor) -> None:
    painter.setPen(QPen(color, 1.3))
    for dx, dy in ((0.0, 5.5), (4.8, 2.75), (4.8, -2.75)):
        painter.drawLine(QPointF(centre.x() - dx, centre.y() - dy),
                         QPointF(centre.x() + dx, centre.y() + dy))


class BadgeItem(QGraphicsItem):
    """The error (red) or warning (orange) mark on a node; its tooltip lists the messages."""

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.color = QColor()
        self.setVisible(False)

    def set_issues(self, errors: list[str], warnings: list[str], theme: Theme) -> None:
        if not errors and not warnings:
            self.setVisible(False)
            return
        self.color = theme.error if errors else theme.warning
        lines = [f"Error: {m}" for m in errors] + [f"Warning: {m}" for m in warnings]
        self.setToolTip("\n".join(lines))
        self.setVisible(True)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return QRectF(-8, -8, 16, 16)

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        scene = self.scene()
        if scene is not None:
            draw_badge(painter, QPointF(0, 0), self.color, scene.theme)


class PortItem(QGraphicsItem):
    """An input (top) or output (bottom) port; dragging from it draws a new link."""

    def __init__(self, node: NodeItem, kind: str, index: int) -> None:
        super().__init__(node)
        self.node = node
        self.kind = kind  # "in" | "out"
        self.index = index
        self.connected = False
        self.state: str | None = None  # "ok" | "warn" | "bad" while a wire hovers it
        self.number = ""  # shown for ordered inputs (Concat)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(2)

    @property
    def node_id(self) -> str:
        return self.node.node_id

    def set_state(self, state: str | None) -> None:
        if state != self.state:
            self.state = state
            self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(-10, -17, 31, 27)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(QPointF(0, 0), 9.0, 9.0)
        return path

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        theme: Theme = self.scene().theme
        if self.state is None and not detailed(painter, option, theme):
            return
        colors = {"ok": theme.ok, "warn": theme.warning, "bad": theme.error}
        fill = colors.get(self.state or "", theme.port if self.connected else theme.port_fill)
        painter.setPen(QPen(colors.get(self.state or "", theme.port), 1.4))
        painter.setBrush(fill)
        painter.drawEllipse(QPointF(0, 0), PORT_R + (2 if self.state else 0),
                            PORT_R + (2 if self.state else 0))
        if self.number:  # the input's place (Concat), beside the port
            painter.setFont(theme.small)
            painter.setPen(theme.text_dim)
            painter.drawText(QRectF(6, -16, 14, 10), Qt.AlignmentFlag.AlignLeft, self.number)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.scene().wiring.begin(self, event.scenePos())
            event.accept()
        else:
            event.ignore()

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802
        self.scene().wiring.drag(event.scenePos())

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802
        self.scene().wiring.finish(event.scenePos())


class NodeItem(QGraphicsItem):
    """A layer: a rounded box with a header in its category's colour."""

    def __init__(self, node: Node, theme: Theme) -> None:
        super().__init__()
        spec = node.spec
        self.node_id = node.id
        self.type_name = node.type
        self.color = theme.category(spec.category)
        self.multi = spec.max_inputs is None or spec.max_inputs > 1
        self.ordered = spec.ordered_inputs
        self.setFlags(_BOX_FLAGS)
        self.setZValue(10)
        self._rect = QRectF(-NODE_W / 2, -NODE_H / 2, NODE_W, NODE_H)
        self.help = spec.help
        self.title = self.ident = self.params_text = self.name = ""
        self.shape_str = self.count_str = ""
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.frozen = False
        self.in_ports: list[PortItem] = []
        self.out_port = PortItem(self, "out", 0) if node.type != "Output" else None
        if self.out_port is not None:
            self.out_port.setPos(0, NODE_H / 2)
        self.takes_input = spec.max_inputs != 0
        self.badge = BadgeItem(self)
        self.badge.setPos(NODE_W / 2 - 12, -NODE_H / 2 + HEADER_H / 2)
        self.set_node(node, theme)
        self.set_input_count(0)

    # -- contents ----------------------------------------------------------------------------
    def set_node(self, node: Node, theme: Theme) -> None:
        """Texts that follow the node itself (type, name, id, parameters, frozen)."""
        self.node_id = node.id
        self.name = node.name or ""
        title = node.type if not node.name else f"{node.type} · {node.name}"
        self.title = elide(title, theme.bold, NODE_W - 44)
        self.ident = elide(node.id, theme.font, NODE_W - 14)
        self.params_text = elide(labels.key_params(node.type, node.params), theme.font,
                                 NODE_W - 14)
        refrozen = self.frozen != node.frozen
        self.frozen = node.frozen
        scene = self.scene()
        if refrozen and scene is not None:  # a collapsed block around it shows it too
            key = scene.unit_of.get(node.id)
            box = scene.boxes.get(key[1:]) if key else None
            if box is not None:
                box.show_frozen()
        tip = f"<b>{node.type}</b> — {node.id}<br>{self.help}"
        if node.frozen:
            tip += "<br><i>Frozen: its weights are not trained.</i>"
        self.setToolTip(tip)
        self.update()

    def set_report(self, shape: Any, params: int, errors: list[str], warnings: list[str],
                   theme: Theme) -> None:
        self.shape_str = labels.shape_text(shape)
        self.count_str = f"{labels.count(params)} params" if params else ""
        self.errors, self.warnings = errors, warnings
        self.badge.set_issues(errors, warnings, theme)
        self.update()

    def set_output_connected(self, connected: bool) -> None:
        if self.out_port is not None and self.out_port.connected != connected:
            self.out_port.connected = connected
            self.out_port.update()

    def set_input_count(self, connected: int) -> None:
        """One port per connected input, plus a free one where another input fits."""
        if not self.takes_input:
            wanted = 0
        elif self.multi:
            wanted = connected + 1
        else:
            wanted = 1
        while len(self.in_ports) < wanted:
            self.in_ports.append(PortItem(self, "in", len(self.in_ports)))
        while len(self.in_ports) > wanted:
            port = self.in_ports.pop()
            port.setParentItem(None)
            if port.scene() is not None:
                port.scene().removeItem(port)
        for i, port in enumerate(self.in_ports):
            port.setPos(-NODE_W / 2 + NODE_W * (i + 1) / (wanted + 1), -NODE_H / 2)
            port.connected = i < connected
            port.number = str(i) if self.ordered and self.multi else ""
            port.update()

    # -- geometry ------------------------------------------------------------------------------
    def in_pos(self, port: int) -> QPointF:
        if not self.in_ports:
            return self.scenePos() + QPointF(0, -NODE_H / 2)
        return self.in_ports[min(port, len(self.in_ports) - 1)].scenePos()

    def out_pos(self) -> QPointF:
        return self.scenePos() + QPointF(0, NODE_H / 2)

    def box_rect(self) -> QRectF:
        """The box itself, in item coordinates (without ports and shadows)."""
        return QRectF(self._rect)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect.adjusted(-3, -3, 3, 3)

    def itemChange(self, change: Any, value: Any) -> Any:  # noqa: N802
        if change is _MOVED:
            scene = self.scene()
            if scene is not None:
                scene.unit_moved(self.node_id)
        return super().itemChange(change, value)

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        scene = self.scene()
        theme: Theme = scene.theme
        heat = scene.heat.get(self.node_id) if scene.heat else None
        r = self._rect
        lod = lod_of(painter, option)
        selected = self.isSelected()
        border = (theme.selection if selected else theme.error if self.errors
                  else theme.node_border)
        width = 2.4 if selected or self.errors else 1.0
        if lod < theme.detail_zoom:
            draw_chip(painter, r, heat.solid if heat else self.color, border, width, lod)
            return
        painter.setPen(QPen(border, width))
        painter.setBrush(heat.fill if heat else theme.node_body)
        painter.drawRoundedRect(r, 6, 6)
        header = QRectF(r.x(), r.y(), r.width(), HEADER_H)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.color)
        painter.drawRoundedRect(header.adjusted(0.5, 0.5, -0.5, 0), 5.5, 5.5)
        painter.drawRect(header.adjusted(0.5, HEADER_H / 2, -0.5, 0))
        painter.setFont(theme.bold)
        painter.setPen(theme.header_text)
        painter.drawText(header.adjusted(7, 0, -28, 0), Qt.AlignmentFlag.AlignVCenter,
                         self.title)
        if self.frozen:
            x = r.right() - (30 if self.badge.isVisible() else 12)
            draw_snowflake(painter, QPointF(x, r.y() + HEADER_H / 2), theme.header_text)
        body = r.adjusted(7, HEADER_H + 2, -7, -4)
        line = (body.height()) / 3
        painter.setFont(theme.font)
        painter.setPen(theme.text_dim)
        painter.drawText(QRectF(body.x(), body.y(), body.width(), line),
                         Qt.AlignmentFlag.AlignVCenter, heat.first_line if heat else self.ident)
        if heat:
            draw_pill(painter, heat, body.right(), body.y() + line / 2, theme)
            painter.setFont(theme.font)
        painter.setPen(theme.text)
        painter.drawText(QRectF(body.x(), body.y() + line, body.width(), line),
                         Qt.AlignmentFlag.AlignVCenter, self.params_text)
        third = QRectF(body.x(), body.y() + 2 * line, body.width(), line)
        # The count on the right, the shape in what is left: huge numbers never overlap.
        count_w = QFontMetricsF(theme.small).horizontalAdvance(self.count_str) + COUNT_GAP \
            if self.count_str else 0.0
        painter.setPen(theme.error if self.errors else theme.text)
        painter.setFont(theme.bold)
        painter.drawText(third.adjusted(0, 0, -count_w, 0), Qt.AlignmentFlag.AlignVCenter,
                         elide(self.shape_str, theme.bold, third.width() - count_w))
        painter.setFont(theme.small)
        painter.setPen(theme.text_dim)
        painter.drawText(third, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                         self.count_str)

    def text_fits(self, theme: Theme) -> bool:
        """Whether every line of text fits its room in the box (no overlap, no clipping)."""
        room = NODE_W - 14
        shape_w = QFontMetricsF(theme.bold).horizontalAdvance(self.shape_str)
        count_w = QFontMetricsF(theme.small).horizontalAdvance(self.count_str) + COUNT_GAP \
            if self.count_str else 0.0
        return (QFontMetricsF(theme.bold).horizontalAdvance(self.title) <= NODE_W - 44
                and QFontMetricsF(theme.font).horizontalAdvance(self.params_text) <= room
                and shape_w + count_w <= room)

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802
        self.scene().node_activated.emit(self.node_id)
