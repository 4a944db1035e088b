"""Small icons drawn once and cached: colour swatches (layer categories, chart series) and the
error/warning badges."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, QPolygonF

from ..style import ERROR_COLOR, WARNING_COLOR, category_color

_ICONS: dict[str, QIcon] = {}


def color_icon(color: QColor | str, size: int = 10) -> QIcon:
    """A small filled rounded square, cached by colour."""
    key = f"{QColor(color).name()}:{size}"
    icon = _ICONS.get(key)
    if icon is None:
        pix = QPixmap(size, size)
        pix.fill(Qt.GlobalColor.transparent)
        p = QPainter(pix)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(color))
        p.drawRoundedRect(0, 0, size, size, 2, 2)
        p.end()
        icon = _ICONS[key] = QIcon(pix)
    return icon


def category_icon(category: str) -> QIcon:
    return color_icon(category_color(category))


def severity_icon(severity: str, size: int = 14) -> QIcon:
    """A round badge: a red one with '!' for errors, an orange triangle for warnings."""
    key = f"severity:{severity}:{size}"
    icon = _ICONS.get(key)
    if icon is None:
        pix = QPixmap(size, size)
        pix.fill(Qt.GlobalColor.transparent)
        p = QPainter(pix)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
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
        p.end()
        icon = _ICONS[key] = QIcon(pix)
    return icon
