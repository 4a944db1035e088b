"""The canvas overlays: each box tinted from cool to hot by a figure measured of its layer, with
the figure in a small pill, and the legend in a free corner of the view. Two figures so far:
the latency profile (hot = slow) and the int8 sensitivity (SQNR in dB, hot = low, where int8
hurts most); each is a ``Scale``.

Colours and texts are worked out once per measurement (``plan``); a box's paint only looks its
entry up, so a big graph paints as fast with an overlay as without."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
    """The colour at ``t`` (0 = coolest: fastest, 1 = hottest: slowest) of the scale."""
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
    """What a box draws for its figure: its body's tint, the pill's colour and text, and the
    first line's text shortened to leave the pill room."""

    fill: QColor
    solid: QColor
    ink: QColor
    label: str
    label_w: float
    first_line: str


@dataclass(frozen=True)
class Scale:
    """What an overlay paints: a figure per graph node and how to read it."""

    values: dict[str, float]
    """Graph node → its figure; nodes absent stay untinted."""
    number: Callable[[float], str]
    unit: str
    caption: str
    """The legend's line: what the colours measure."""
    low_is_hot: bool = False
    cool: float | None = None
    """The figure of the coolest colour; None: the best figure shown."""
    combine: Callable[[list[float]], float] = sum
    """A collapsed block's figure from its layers' (latency: their sum)."""
    marked: dict[str, str] = field(default_factory=dict)
    """Graph node → a pill drawn grey and its body untinted (a layer int8 left alone)."""

    def text(self, value: float) -> str:
        return f"{self.number(value)} {self.unit}"


def latency_scale(profile: Any) -> Scale:
    """The profile's times: 0 ms is the coolest colour, the slowest box shown the hottest."""
    return Scale({n.node: n.median_ms for n in profile.nodes}, ms_text, "ms",
                 f"ms per pass, batch {profile.batch_size}, {profile.device}", cool=0.0)


def db_text(db: float) -> str:
    return f"{db:.1f}"


def sensitivity_scale(result: Any) -> Scale:
    """An int8 quantisation's SQNR per layer: the lowest shown the hottest, the highest the
    coolest, so the colours compare this model's layers as the latency map does (the pills
    say how low); a collapsed block is its worst layer. Layers kept in float32 read "fp32"
    (the noise a neighbour's int8 input adds to their output is not theirs to fix)."""
    kept = set(result.kept_float)
    return Scale({n: db for n, db in result.sensitivity.items() if n not in kept}, db_text,
                 "dB", "int8 SQNR dB, lower is worse", low_is_hot=True, combine=min,
                 marked={n: "fp32" for n in result.kept_float})


MARK = QColor("#8c939d")
"""A marked layer's pill: grey, readable with white text on white and on dark grey."""


def _pill(solid: QColor, fill: QColor, label: str, first_line: str, theme: Theme) -> Heat:
    label_w = QFontMetricsF(theme.small).horizontalAdvance(label) + 2 * PILL_PAD
    ink = QColor("#111111") if solid.lightnessF() > 0.55 else QColor("#ffffff")
    return Heat(fill, solid, ink, label, label_w,
                elide(first_line, theme.font, NODE_W - 14 - label_w - 6))


def _heat(t: float, label: str, first_line: str, theme: Theme) -> Heat:
    solid = scale_color(t)
    fill = _mix(theme.node_body, solid, 0.42 if theme.dark else 0.30)
    return _pill(solid, fill, label, first_line, theme)


def plan(scene: Any, scale: Scale) -> tuple[dict[str, Heat], float, float]:
    """Node id (and a collapsed block's key) → its heat, and the figures the coolest and the
    hottest colours stand for: the ends of the boxes shown (a collapsed block combines its
    layers), so the colours compare what the canvas shows."""
    theme: Theme = scene.theme
    values = scale.values
    blocks = {gid: scale.combine(found) for gid in scene.boxes
              if (found := [values[m] for m in scene.members.get(gid, ()) if m in values])}
    shown = [v for nid, v in values.items() if nid not in scene.unit_of] + list(blocks.values())
    hot = (min if scale.low_is_hot else max)(shown, default=0.0)
    cool = scale.cool if scale.cool is not None else \
        (max if scale.low_is_hot else min)(shown, default=0.0)

    def place(value: float) -> float:
        return (value - cool) / (hot - cool) if hot != cool else 0.0

    out = {nid: _heat(place(v), scale.text(v), item.ident, theme)
           for nid, item in scene.nodes.items() if (v := values.get(nid)) is not None}
    out.update({nid: _pill(MARK, theme.node_body, text, item.ident, theme)
                for nid, item in scene.nodes.items() if (text := scale.marked.get(nid))})
    out.update({box_key(gid): _heat(place(v), scale.text(v), "", theme)
                for gid, v in blocks.items()})
    for gid in scene.boxes:
        members = scene.members.get(gid, ())
        if gid not in blocks and members and all(m in scale.marked for m in members):
            out[box_key(gid)] = _pill(MARK, theme.node_body, scale.marked[members[0]], "",
                                      theme)
    return out, cool, hot


class HeatLegend(QWidget):
    """The scale and what it measures, in the first corner of the view with nothing under it
    (top left, top right, bottom left, bottom right); it steps aside like the minimap."""

    SIZE = (236, 50)

    def __init__(self, view: GraphView) -> None:
        super().__init__(view)
        self.view = view
        self.setFixedSize(*self.SIZE)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.ends = ("", "")
        self.caption = ""
        self.hide()
        view.horizontalScrollBar().valueChanged.connect(self.follow)
        view.verticalScrollBar().valueChanged.connect(self.follow)

    def set_scale(self, scale: Scale | None, cool: float = 0.0, hot: float = 0.0) -> None:
        """Show the legend for ``scale`` between these figures (None hides it)."""
        self.ends = (scale.number(cool), scale.number(hot)) if scale is not None else ("", "")
        self.caption = scale.caption if scale is not None else ""
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
        painter.drawText(row, Qt.AlignmentFlag.AlignLeft, self.ends[0])
        painter.drawText(row, Qt.AlignmentFlag.AlignRight, self.ends[1])
        painter.drawText(row.translated(0, line), Qt.AlignmentFlag.AlignCenter, self.caption)
        painter.end()
