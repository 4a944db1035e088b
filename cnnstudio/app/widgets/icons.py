"""Small icons drawn once and cached: colour swatches (layer categories, chart series) and the
error/warning badges."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, QPolygonF

from ..style import ERROR_COLOR, WARNING_COLOR, category_color

_ICONS: dict[str, QIcon] = {}


def _drawn(key: str, size: int, draw: Callable[[QPainter, QPixmap], None]) -> QIcon:
    """The icon ``key``, painted by ``draw`` on a transparent square the first time."""
    icon = _ICONS.get(key)
    if icon is None:
        pix = QPixmap(size, size)
        pix.fill(Qt.GlobalColor.transparent)
        p = QPainter(pix)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        draw(p, pix)
        p.end()
        icon = _ICONS[key] = QIcon(pix)
    return icon


def color_icon(color: QColor | str, size: int = 10) -> QIcon:
    """A small filled rounded square, cached by colour."""
    def draw(p: QPainter, _pix: QPixmap) -> None:
        p.setBrush(QColor(color))
        p.drawRoundedRect(0, 0, size, size, 2, 2)

    return _drawn(f"{QColor(color).name()}:{size}", size, draw)


def category_icon(category: str) -> QIcon:
    return color_icon(category_color(category))


def severity_icon(severity: str, size: int = 14) -> QIcon:
    """A round badge: a red one with '!' for errors, an orange triangle for warnings."""
    def draw(p: QPainter, pix: QPixmap) -> None:
        if severity == "error":
            p.setBrush(QColor(ERROR_COLOR))
            p.drawEllipse(0, 0, size, size)
        else:
            p.setBrush(QColor(WARNING_COLOR))
            p.drawPolygon(QPolygonF([QPointF(size / 2, 0), QPointF(size, size),
                                     QPointF(0, size)]))
        p.setPen(QColor("white"))
        font = p.font()
        font.setBold(True)
        font.setPixelSize(max(8, size - 4))
        p.setFont(font)
        p.drawText(pix.rect().adjusted(0, 1 if severity != "error" else 0, 0, 0),
                   Qt.AlignmentFlag.AlignCenter, "!")

    return _drawn(f"severity:{severity}:{size}", size, draw)
