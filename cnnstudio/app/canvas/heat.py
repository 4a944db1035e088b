"""The latency heat map: each box tinted from cool to hot by its measured time, with its
milliseconds in a small pill, and the legend in a free corner of the view.

Colours and texts are worked out once per profile (``plan``); a box's paint only looks its
entry up, so a big graph paints as fast with the heat map as without."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QLinearGradient, QPainter, QPalette, QPen
from PySide6.QtWidgets import QWidget

from ..profiling import ms_text
from .block_items import box_key
from .items import PILL_PAD, elide
from .theme import NODE_W, Theme

if TYPE_CHECKING:
    from .view import GraphView

STOPS = ((0.0, "#4575b4"), (0.25, "#74add1"), (0.5, "#fee090"), (0.75, "#f46d43"),
         (1.0, "#d73027"))
"""Cool to hot (ColorBrewer's RdYlBu, reversed): distinct on white and on dark grey, and
each stop keeps black or white text readable."""


def scale_color(t: float) -> QColor:
    """The colour at ``t`` (0 = fastest, 1 = slowest) of the scale."""
    t = min(max(t, 0.0), 1.0)
    for (a, ca), (b, cb) in zip(STOPS, STOPS[1:], strict=False):
        if t <= b:
            f = (t - a) / (b - a)
            c1, c2 = QColor(ca), QColor(cb)
            return QColor.fromRgbF(c1.redF() + (c2.redF() - c1.redF()) * f,
                                   c1.greenF() + (c2.greenF() - c1.greenF()) * f,
                                   c1.blueF() + (c2.blueF() - c1.blueF()) * f)
    return QColor(STOPS[-1][1])


def _mix(base: QColor, over: QColor, amount: float) -> QColor:
    return QColor.fromRgbF(base.redF() + (over.redF() - base.redF()) * amount,
                           base.greenF() + (over.greenF() - base.greenF()) * amount,
                           base.blueF() + (over.blueF() - base.blueF()) * amount)


@dataclass(frozen=True)
class Heat:
    """What a box draws for its time: its body's tint, the pill's colour and text, and the
    first line's text shortened to leave the pill room."""

    fill: QColor
    solid: QColor
    ink: QColor
    label: str
    label_w: float
    first_line: str


def _heat(ms: float, top: float, first_line: str, theme: Theme) -> Heat:
    solid = scale_color(ms / top if top > 0 else 0.0)
    label = f"{ms_text(ms)} ms"
    label_w = QFontMetricsF(theme.small).horizontalAdvance(label) + 2 * PILL_PAD
    ink = QColor("#111111") if solid.lightnessF() > 0.55 else QColor("#ffffff")
    fill = _mix(theme.node_body, solid, 0.42 if theme.dark else 0.30)
    return Heat(fill, solid, ink, label, label_w,
                elide(first_line, theme.font, NODE_W - 14 - label_w - 6))


def plan(scene: Any, profile: Any) -> tuple[dict[str, Heat], float]:
    """Node id (and a collapsed block's key) → its heat, and the time the hottest colour stands
    for: the slowest of the boxes shown (a collapsed block sums its layers), so the colours
    compare what the canvas shows. Nodes that did not run are absent: they stay untinted."""
    theme: Theme = scene.theme
    times = {n.node: n.median_ms for n in profile.nodes}
    blocks = {gid: sum(times.get(m, 0.0) for m in scene.members.get(gid, ()))
              for gid in scene.boxes}
    shown = [ms for nid, ms in times.items() if nid not in scene.unit_of]
    top = max([*shown, *blocks.values()], default=0.0)
    out = {nid: _heat(ms, top, item.ident, theme)
           for nid, item in scene.nodes.items() if (ms := times.get(nid)) is not None}
    out.update({box_key(gid): _heat(ms, top, "", theme) for gid, ms in blocks.items() if ms > 0})
    return out, top


class HeatLegend(QWidget):
    """The scale and what it measures, in the first corner of the view with nothing under it
    (top left, top right, bottom left, bottom right); it steps aside like the minimap."""

    SIZE = (236, 50)

    def __init__(self, view: GraphView) -> None:
        super().__init__(view)
        self.view = view
        self.setFixedSize(*self.SIZE)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.top_ms = 0.0
        self.caption = ""
        self.hide()
        view.horizontalScrollBar().valueChanged.connect(self.follow)
        view.verticalScrollBar().valueChanged.connect(self.follow)

    def set_profile(self, profile: Any | None, top_ms: float) -> None:
        """Show the legend for ``profile`` (None hides it)."""
        self.top_ms = top_ms
        self.caption = "" if profile is None else \
            f"ms per pass, batch {profile.batch_size}, {profile.device}"
        self.follow()
        self.update()

    def follow(self) -> None:
        if not self.caption:
            self.hide()
            return
        corner = self.free_corner()
        if corner is not None:
            self.move(corner)
        self.setVisible(corner is not None)

    def free_corner(self) -> QPoint | None:
        view = self.view
        geo = view.viewport().geometry()
        left, top = geo.left() + 8, geo.top() + 8
        right, bottom = geo.right() - self.width() - 8, geo.bottom() - self.height() - 8
        covered = view.minimap.covered()
        if view.minimap.isVisible():
            covered.append(QRectF(view.viewport().mapFrom(view, view.minimap.pos()).toPointF(),
                                  QSizeF(view.minimap.size())))
        port = view.viewport()
        for corner in (QPoint(left, top), QPoint(right, top), QPoint(left, bottom),
                       QPoint(right, bottom)):
            place = QRectF(port.mapFrom(view, corner).toPointF(),
                           QSizeF(self.size())).adjusted(-4, -4, 4, 4)
            if not any(place.intersects(r) for r in covered):
                return corner
        return None

    def paintEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        bg = QColor(pal.color(QPalette.ColorRole.Window))
        bg.setAlpha(235)
        painter.setPen(QPen(pal.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(bg)
        painter.drawRoundedRect(QRectF(0.5, 0.5, self.width() - 1, self.height() - 1), 6, 6)
        bar = QRectF(10, 8, self.width() - 20, 10)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for t, color in STOPS:
            gradient.setColorAt(t, QColor(color))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(gradient)
        painter.drawRoundedRect(bar, 3, 3)
        painter.setPen(pal.color(QPalette.ColorRole.WindowText))
        font = painter.font()
        font.setPointSizeF(8.0)
        painter.setFont(font)
        line = QFontMetricsF(font).height()
        row = QRectF(bar.left(), bar.bottom() + 2, bar.width(), line)
        painter.drawText(row, Qt.AlignmentFlag.AlignLeft, "0")
        painter.drawText(row, Qt.AlignmentFlag.AlignRight, ms_text(self.top_ms))
        painter.drawText(row.translated(0, line), Qt.AlignmentFlag.AlignCenter, self.caption)
        painter.end()
