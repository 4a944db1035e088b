"""Small helpers the panels share: colours, icons, rich-text escaping, widgets that ignore the
mouse wheel unless focused (so scrolling a panel never changes a value by accident)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QSpinBox, QWidget

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
            from PySide6.QtCore import QPointF
            from PySide6.QtGui import QPolygonF
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


def esc(text: object) -> str:
    return html.escape(str(text), quote=False)


def colored(text: str, color: str, bold: bool = False) -> str:
    """Rich text: escaped ``text`` in ``color``."""
    weight = "font-weight:600;" if bold else ""
    return f'<span style="color:{color};{weight}">{esc(text)}</span>'


def issue_html(errors: list[str], warnings: list[str]) -> str:
    rows = [f'<p style="margin:0 0 4px 0">{colored("■ Error", ERROR_COLOR, True)} {esc(m)}</p>'
            for m in errors]
    rows += [f'<p style="margin:0 0 4px 0">{colored("▲ Warning", WARNING_COLOR, True)} '
             f'{esc(m)}</p>' for m in warnings]
    return "".join(rows)


def error_label() -> QLabel:
    """A hidden red line under an editor that says why a value was refused."""
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {ERROR_COLOR};")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def show_problem(label: QLabel, problem: str | None) -> None:
    label.setText(problem or "")
    label.setVisible(bool(problem))


def muted_label(text: str = "", wrap: bool = True, small: bool = True) -> QLabel:
    """A secondary label: smaller, dimmer, wrapping, selectable."""
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setForegroundRole(label.foregroundRole())
    set_muted(label, small)
    return label


def set_muted(widget: QWidget, small: bool = True) -> None:
    pal = widget.palette()
    color = pal.color(pal.ColorRole.WindowText)
    color.setAlphaF(0.65)
    pal.setColor(pal.ColorRole.WindowText, color)
    pal.setColor(pal.ColorRole.Text, color)
    widget.setPalette(pal)
    if small:
        font = widget.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        widget.setFont(font)


class WheelGuard:
    """Mixin: the wheel changes the value only when the widget has the keyboard focus."""

    def wheelEvent(self, event):  # noqa: N802 - Qt's name
        if self.hasFocus():  # type: ignore[attr-defined]
            super().wheelEvent(event)  # type: ignore[misc]
        else:
            event.ignore()


class SpinBox(WheelGuard, QSpinBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)


class DoubleSpinBox(WheelGuard, QDoubleSpinBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)


class ComboBox(WheelGuard, QComboBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
