"""The canvas' colours and fonts, read from the application palette (light or dark)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QFontInfo, QGuiApplication, QPalette

from .. import style

NODE_W = 190.0
NODE_H = 78.0
HEADER_H = 20.0
BOX_W = 210.0
BOX_H = 92.0
PORT_R = 5.0
FRAME_PAD = 12.0
FRAME_TITLE = 18.0
BLOCK_COLOR = "#5c6bc0"
READABLE_PX = 9.0  # the smallest text height (pixels on screen) the canvas ever draws


def text_px(font: QFont) -> float:
    """The height of a font's em in pixels at zoom 1."""
    return float(QFontInfo(font).pixelSize())


class Theme:
    """Colours for one palette; the scene makes a new one when the palette changes."""

    def __init__(self) -> None:
        app = QGuiApplication.instance()
        pal = app.palette() if app is not None else QPalette()
        self.dark = style.is_dark()
        text = pal.color(QPalette.ColorRole.Text)
        base = pal.color(QPalette.ColorRole.Base)
        self.background = base.darker(115) if self.dark else QColor("#f4f5f7")
        self.grid = self.background.lighter(112) if self.dark else self.background.darker(106)
        self.node_body = QColor("#2f3237") if self.dark else QColor("#ffffff")
        self.node_border = QColor("#4a4e55") if self.dark else QColor("#b9bec7")
        self.text = text
        self.text_dim = QColor("#9aa0a8") if self.dark else QColor("#6b7280")
        self.header_text = QColor("#ffffff")
        self.selection = pal.color(QPalette.ColorRole.Highlight)
        self.edge = QColor("#8b9099") if self.dark else QColor("#7b8190")
        self.label_bg = QColor(43, 45, 48, 230) if self.dark else QColor(255, 255, 255, 230)
        self.label_text = QColor("#c8ccd2") if self.dark else QColor("#4b5260")
        self.port = QColor("#c9ced6") if self.dark else QColor("#5f6673")
        self.port_fill = self.node_body
        self.error = QColor(style.ERROR_COLOR)
        self.warning = QColor(style.WARNING_COLOR)
        self.ok = QColor(style.OK_COLOR)
        self.block = QColor(BLOCK_COLOR)
        self.frame_title = QColor("#aab2ff") if self.dark else QColor("#3f4aa0")
        self.font = QFont()
        self.font.setPointSizeF(9.0)  # 12 px: readable (READABLE_PX) from zoom 0.75
        self.bold = QFont(self.font)
        self.bold.setBold(True)
        self.small = QFont(self.font)
        self.small.setPointSizeF(7.5)
        self.title = QFont(self.font)
        self.title.setPointSizeF(10.0)
        self.title.setBold(True)
        # Labels of chips (semantic zoom): a constant size on screen, whatever the zoom.
        self.chip = QFont(self.font)
        self.chip.setPixelSize(12)
        self.chip_bold = QFont(self.chip)
        self.chip_bold.setBold(True)
        # Below this zoom the text inside a box would be under READABLE_PX: boxes become
        # chips and the view draws their labels at a constant size (GraphView.drawForeground).
        # Less a hair: zooming back by steps lands on 0.7499999… for 0.75, which must count
        # as readable in the items and the view alike (labels were drawn twice).
        self.detail_zoom = READABLE_PX / text_px(self.font) - 1e-6
        self.title_zoom = READABLE_PX / text_px(self.title)

    def frame_fill(self, depth: int) -> QColor:
        c = QColor(self.block)
        c.setAlpha(22 + 10 * min(depth, 3) if not self.dark else 26 + 12 * min(depth, 3))
        return c

    def frame_border(self) -> QColor:
        c = QColor(self.block)
        c.setAlpha(140)
        return c

    def category(self, name: str) -> QColor:
        return style.category_color(name)
