"""Labels and rich text the panels share: escaping, coloured spans, the issue list, the red
line under an editor that says why a value was refused, and dimmed secondary labels."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from ..style import ERROR_COLOR, WARNING_COLOR


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
