"""A numpy image shown pixel-exact: scaled without smoothing, with rectangles drawn over it in
image pixels and clicks reported in image pixels (feature maps, filters, Grad-CAM)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget


class PixelView(QWidget):
    """An RGB numpy image drawn scaled without smoothing (aspect kept), with rectangles over it
    in image pixels; a click reports the image pixel (y, x) under the mouse."""

    clicked = Signal(float, float)

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.placeholder = placeholder
        self.image: QImage | None = None
        self._buffer: Any = None  # the numpy array the QImage reads
        self.rects: list[tuple[float, float, float, float, str]] = []
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(260, 260)

    def set_array(self, rgb: Any) -> None:
        """uint8 ``[H, W, 3]`` (C-contiguous) or None; the array is kept while shown."""
        self._buffer = rgb
        self.rects = []
        if rgb is None:
            self.image = None
        else:
            h, w = rgb.shape[:2]
            self.image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self.update()

    def pixmap(self) -> QPixmap:
        return QPixmap.fromImage(self.image) if self.image is not None else QPixmap()

    def target(self) -> QRectF:
        if self.image is None:
            return QRectF()
        w, h = self.image.width(), self.image.height()
        scale = min((self.width() - 4) / w, (self.height() - 4) / h)
        if scale >= 2:
            scale = float(int(scale))  # whole pixels: every cell the same size
        return QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2,
                      w * scale, h * scale)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        if self.image is None:
            p.setPen(self.palette().color(self.palette().ColorRole.PlaceholderText))
            p.drawText(self.rect().adjusted(8, 8, -8, -8),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        frame = self.target()
        sx, sy = frame.width() / self.image.width(), frame.height() / self.image.height()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, sx < 2)  # shrunk: smooth
        p.drawImage(frame, self.image)
        for top, left, bottom, right, color in self.rects:
            p.setPen(QPen(QColor(color), 2))
            box = QRectF(frame.left() + left * sx, frame.top() + top * sy,
                         (right - left) * sx, (bottom - top) * sy)
            if box.width() < 7 or box.height() < 7:  # a single unit: still visible
                box = QRectF(box.center().x() - 3.5, box.center().y() - 3.5, 7, 7)
            p.drawRect(box)
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        frame = self.target()
        if self.image is None or not frame.contains(event.position()):
            return super().mousePressEvent(event)
        pos = event.position()
        self.clicked.emit((pos.y() - frame.top()) * self.image.height() / frame.height(),
                          (pos.x() - frame.left()) * self.image.width() / frame.width())
