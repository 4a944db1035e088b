"""Colours and theme: one place for the category colours (canvas, palette, tables) and the
light/dark palette that follows the system."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QIcon,
    QPainter,
    QPalette,
    QPixmap,
    QPixmapCache,
)
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyleOption

# Hue per layer category, shared by node headers, palette entries and table cells.
CATEGORY_COLORS = {
    "Structure": "#7f8c8d",
    "Convolution": "#2e86de",
    "Pooling": "#16a085",
    "Activation": "#e67e22",
    "Normalization": "#8e44ad",
    "Linear": "#c0392b",
    "Regularization": "#7d6608",
    "Reshape": "#5d6d7e",
}
ERROR_COLOR = "#e74c3c"
WARNING_COLOR = "#f39c12"
OK_COLOR = "#27ae60"


def category_color(category: str) -> QColor:
    return QColor(CATEGORY_COLORS.get(category, "#7f8c8d"))


def system_is_dark() -> bool:
    app = QGuiApplication.instance()
    if app is None:
        return False
    hints = app.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None:
        value = scheme()
        if value == Qt.ColorScheme.Dark:
            return True
        if value == Qt.ColorScheme.Light:
            return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def is_dark() -> bool:
    """Whether the application currently shows the dark theme."""
    app = QGuiApplication.instance()
    if app is None:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def dark_palette() -> QPalette:
    p = QPalette()
    base, text = QColor("#1e1f22"), QColor("#dfe1e5")
    roles = {
        QPalette.ColorRole.Window: QColor("#2b2d30"), QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base, QPalette.ColorRole.AlternateBase: QColor("#26282b"),
        QPalette.ColorRole.Text: text, QPalette.ColorRole.Button: QColor("#2f3134"),
        QPalette.ColorRole.ButtonText: text, QPalette.ColorRole.ToolTipBase: QColor("#3c3f41"),
        QPalette.ColorRole.ToolTipText: text, QPalette.ColorRole.Highlight: QColor("#3574f0"),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.PlaceholderText: QColor("#8c8f94"),
        QPalette.ColorRole.Link: QColor("#589df6"), QPalette.ColorRole.BrightText: QColor("red"),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f737a"))
    return p


DISABLED_ICON_OPACITY = 0.35  # of a disabled icon on a dark background


class DimmedIcons(QProxyStyle):
    """The application's style, with disabled icons faded towards a dark background: the
    style's own disabled icon is a light grey there, as bright as an enabled one."""

    def generatedIconPixmap(self, mode: QIcon.Mode, pixmap: QPixmap,  # noqa: N802 - Qt's
                            option: QStyleOption) -> QPixmap:
        generated = super().generatedIconPixmap(mode, pixmap, option)
        window = option.palette.color(QPalette.ColorRole.Window) if option is not None else None
        if mode != QIcon.Mode.Disabled or window is None or window.lightness() >= 128:
            return generated
        faded = QPixmap(generated.size())
        faded.setDevicePixelRatio(generated.devicePixelRatio())
        faded.fill(Qt.GlobalColor.transparent)
        painter = QPainter(faded)
        painter.setOpacity(DISABLED_ICON_OPACITY)
        painter.drawPixmap(0, 0, generated)
        painter.end()
        return faded


def apply_theme(theme: str) -> None:
    """``theme``: 'system', 'light' or 'dark'. 'system' first puts back the platform's own
    palette, so that the answer does not depend on the theme shown before."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    if not isinstance(app.style(), DimmedIcons):
        app.setStyle(DimmedIcons(app.style().name()))
    QPixmapCache.clear()  # icons' disabled pixmaps are cached as made for the old palette
    if theme == "system":
        app.setPalette(QPalette())  # nothing set: Qt fills every role from the platform
        if system_is_dark() and not is_dark():  # a dark scheme the platform has no palette for
            app.setPalette(dark_palette())
        return
    app.setPalette(dark_palette() if theme == "dark" else app.style().standardPalette())
