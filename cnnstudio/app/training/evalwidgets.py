"""The pieces of the evaluation view: the confusion matrix as a coloured table (a model, so a
1000-class matrix costs only the cells on screen), a strip of images with captions, and the
top-5 answer for one image. Plain Qt; images arrive as uint8 numpy arrays ``[C, H, W]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..style import ERROR_COLOR

HIT_COLOR = "#2e86de"
INDEX_ROLE = Qt.ItemDataRole.UserRole


def to_pixmap(image: np.ndarray, size: int) -> QPixmap:
    """A uint8 ``[C, H, W]`` image (1 or 3 channels) scaled to fit ``size`` pixels; small
    images are enlarged without smoothing so their pixels stay visible."""
    image = np.ascontiguousarray(image)
    c, h, w = image.shape
    if c == 1:
        buf = np.ascontiguousarray(image[0])
        qimg = QImage(buf.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    else:
        buf = np.ascontiguousarray(image[:3].transpose(1, 2, 0))
        qimg = QImage(buf.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    smooth = Qt.TransformationMode.SmoothTransformation if max(h, w) > size else \
        Qt.TransformationMode.FastTransformation
    return QPixmap.fromImage(qimg.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, smooth))


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    t = max(0.0, min(1.0, t))
    return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * t,
                           a.greenF() + (b.greenF() - a.greenF()) * t,
                           a.blueF() + (b.blueF() - a.blueF()) * t)


class ConfusionModel(QAbstractTableModel):
    """Counts with true classes as rows and predicted classes as columns. A cell's colour is
    its share of the row (the true class): blue on the diagonal, red off it (the square root
    makes a few mistakes visible)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.counts = np.zeros((0, 0), dtype=np.int64)
        self.classes: list[str] = []
        self.base = QColor("white")
        self.text = QColor("black")

    def set_matrix(self, counts: Sequence[Sequence[int]], classes: Sequence[str],
                   base: QColor, text: QColor) -> None:
        self.beginResetModel()
        self.counts = np.asarray(counts, dtype=np.int64).reshape(len(counts), -1)
        self.classes = [str(c) for c in classes]
        self.base, self.text = QColor(base), QColor(text)
        rows = self.counts.sum(axis=1, keepdims=True)
        self.share = self.counts / np.maximum(rows, 1)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else self.counts.shape[0]

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else self.counts.shape[1]

    def _strength(self, r: int, c: int) -> float:
        share = float(self.share[r, c])
        return share if r == c else min(1.0, share ** 0.5 * 1.2)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        r, c = index.row(), index.column()
        n = int(self.counts[r, c])
        if role == Qt.ItemDataRole.DisplayRole:
            return str(n)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.BackgroundRole:
            if n == 0:
                return None
            return _mix(self.base, QColor(HIT_COLOR if r == c else ERROR_COLOR),
                        0.12 + 0.88 * self._strength(r, c))
        if role == Qt.ItemDataRole.ForegroundRole:
            if n == 0:
                muted = QColor(self.text)
                muted.setAlphaF(0.35)
                return muted
            return QColor("white") if self._strength(r, c) > 0.45 else self.text
        if role == Qt.ItemDataRole.ToolTipRole:
            share = 100 * float(self.share[r, c])
            return (f"true {self.classes[r]}, predicted {self.classes[c]}: {n} image"
                    f"{'' if n == 1 else 's'} ({share:.1f} % of class {self.classes[r]})")
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and section < len(self.classes):
            return self.classes[section]
        if role == Qt.ItemDataRole.ToolTipRole and section < len(self.classes):
            which = "predicted" if orientation == Qt.Orientation.Horizontal else "true"
            return f"{which} class {self.classes[section]}"
        return None


class ConfusionTable(QTableView):
    """The confusion matrix with its cells sized to the room it has: every class in view as
    long as a cell still shows its count in the view's font; scroll bars only below that."""

    WIDE = 44  # a cell's wanted width (wide: a count and a class name)
    MAX_WIDE, MAX_TALL = 90, 44

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setHighlightSections(True)

    def _classes(self) -> int:
        model = self.model()
        return model.rowCount() if model is not None else 0

    def cell_limits(self) -> tuple[int, int, int]:
        """(least width, wanted width, least height) of a cell: the least shows the largest
        count in the view's font, the wanted a class name too (up to ``MAX_WIDE``)."""
        model, fm = self.model(), self.fontMetrics()
        k = self._classes()
        counts = [str(model.data(model.index(r, c))) for r in range(k) for c in range(k)] \
            if k <= 30 else [str(int(getattr(model, "counts", np.zeros(1)).max()))]
        names = [str(model.headerData(c, Qt.Orientation.Horizontal)) for c in range(k)]
        least_w = max((fm.horizontalAdvance(t) for t in counts), default=0) + 12
        name_w = max((fm.horizontalAdvance(t) for t in names), default=0) + 12
        wide = max(least_w, self.WIDE if k <= 12 else 32 if k <= 30 else 22,
                   min(name_w, self.MAX_WIDE))
        return least_w, wide, fm.height() + 4

    def wanted_width(self) -> int:
        """The width that shows every column at its wanted size."""
        wide = self.cell_limits()[1]
        return self.verticalHeader().sizeHint().width() + 2 * self.frameWidth() + \
            self._classes() * wide + self.verticalScrollBar().sizeHint().width()

    def fit_cells(self) -> None:
        """Size the cells to fill the view (up to ``MAX_*``), down to the least a count needs
        where the view is small (it scrolls then)."""
        k = self._classes()
        if not k:
            return
        least_w, _wide, least_h = self.cell_limits()
        room = self.maximumViewportSize()  # the viewport without its scroll bars
        self.horizontalHeader().setDefaultSectionSize(
            max(least_w, min(room.width() // k, self.MAX_WIDE)))
        self.verticalHeader().setDefaultSectionSize(
            max(least_h, min(room.height() // k, self.MAX_TALL)))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.fit_cells()


class CellFrame(QStyledItemDelegate):
    """Draws the clicked cell with a frame (a selection fill would hide its colour)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.cell: tuple[int, int] | None = None

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex) -> None:
        super().paint(painter, option, index)
        if self.cell == (index.row(), index.column()):
            painter.save()
            pen = QPen(option.palette.color(QPalette.ColorRole.Highlight))
            pen.setWidth(3)
            painter.setPen(pen)
            painter.drawRect(option.rect.adjusted(1, 1, -2, -2))
            painter.restore()


class PerClassTable(QTableWidget):
    """Precision, recall, F1 and support per class, then their macro average; values below
    ``LOW`` are tinted."""

    LOW = 0.8

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 5, parent)
        self.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Support"])
        self.verticalHeader().hide()
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

    def show_metrics(self, m: dict[str, Any]) -> None:
        rows = m["per_class"] + [dict(m["macro"], **{"class": "macro average",
                                                    "support": m["samples"]})]
        self.setRowCount(len(rows))
        low = QColor(ERROR_COLOR)
        low.setAlphaF(0.25)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for r, row in enumerate(rows):
            values = [row["precision"], row["recall"], row["f1"]]
            cells = [str(row["class"])] + [f"{v:.3f}" for v in values] + [str(row["support"])]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(right)
                if 1 <= c <= 3 and row["support"] and values[c - 1] < self.LOW:
                    item.setBackground(low)
                if r == len(rows) - 1:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.setItem(r, c, item)
        self.resizeRowsToContents()


class RocPlot(QWidget):
    """One-vs-rest ROC curves, one per class (at most ``MAX``: those with the lowest AUC),
    with the AUC in the legend."""

    MAX = 20

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self.plot = pg.PlotWidget()
        self.plot.setBackground(self.palette().color(QPalette.ColorRole.Base))
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "false positive rate")
        item.setLabel("left", "true positive rate")
        item.setXRange(0, 1, padding=0.02)
        item.setYRange(0, 1.02, padding=0.02)
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setMenuEnabled(False)
        item.plot([0, 1], [0, 1], pen=pg.mkPen((128, 128, 128), width=1,
                                               style=Qt.PenStyle.DashLine))
        item.getAxis("bottom").enableAutoSIPrefix(False)
        back = self.palette().color(QPalette.ColorRole.Base)
        back.setAlpha(225)
        self.legend = item.addLegend(offset=(-8, -8), colCount=2, labelTextSize="8pt",
                                     brush=back)
        self.curves: list[Any] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def show_roc(self, roc: list[dict[str, Any]], classes: Sequence[str]) -> None:
        import pyqtgraph as pg

        order = [c for c in range(len(roc)) if roc[c]["auc"] is not None]
        if len(order) > self.MAX:
            order = sorted(order, key=lambda c: roc[c]["auc"])[:self.MAX]
        for curve in self.curves:
            self.legend.removeItem(curve)
            self.plot.removeItem(curve)
        self.curves = []
        for n, c in enumerate(order):
            pen = pg.mkPen(pg.intColor(n, hues=max(len(order), 1), values=1, maxValue=220),
                           width=1.5)
            self.curves.append(self.plot.plot(roc[c]["fpr"], roc[c]["tpr"], pen=pen,
                                              name=f"{classes[c]} (AUC {roc[c]['auc']:.3f})"))
        # good models hug the top-left corner: show the rates up to where every curve is done
        reach = [next((f for f, t in zip(roc[c]["fpr"], roc[c]["tpr"]) if t >= 1.0), 1.0)
                 for c in order]
        right = min(1.0, max(0.05, 1.25 * max(reach, default=1.0)))
        item = self.plot.getPlotItem()
        item.setXRange(0, right, padding=0.02)
        notes = [f"the {self.MAX} classes with the lowest AUC"] if len(roc) > self.MAX else []
        if right < 1.0:
            notes.append(f"false positive rates up to {right:.2f} (all curves reach 1 there)")
        item.setTitle("One-vs-rest ROC per class" + (" — " + "; ".join(notes) if notes else ""),
                      size="9pt")


class ImageStrip(QListWidget):
    """Images in a wrapping row, each with a caption and its split index."""

    def __init__(self, icon_size: int = 56, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setIconSize(QSize(icon_size, icon_size))
        self.setSpacing(3)
        self.icon_size = icon_size

    def set_images(self, images: np.ndarray, captions: Sequence[str],
                   indices: Sequence[int], tooltips: Sequence[str] | None = None) -> None:
        self.clear()
        for i, (image, caption, index) in enumerate(zip(images, captions, indices)):
            item = QListWidgetItem(QIcon(to_pixmap(image, self.icon_size)), caption)
            item.setData(INDEX_ROLE, int(index))
            item.setToolTip(tooltips[i] if tooltips else caption)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.addItem(item)

    def indices(self) -> list[int]:
        return [int(self.item(i).data(INDEX_ROLE)) for i in range(self.count())]

    def captions(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]


class TopKPanel(QWidget):
    """One image as the model sees it and its most probable classes as bars."""

    def __init__(self, k: int = 5, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QLabel()
        self.image.setFixedSize(144, 144)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setFrameShape(QLabel.Shape.StyledPanel)
        self.title = QLabel("Drop an image here, or press “Predict an image…”.")
        self.title.setWordWrap(True)
        grid = QGridLayout()
        grid.setColumnStretch(2, 1)
        self.names: list[QLabel] = []
        self.bars: list[QProgressBar] = []
        for row in range(k):
            name = QLabel("")
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            bar.setFormat("")
            bar.setValue(0)
            bar.setMinimumWidth(240)
            bar.setMaximumWidth(420)
            grid.addWidget(name, row, 0)
            grid.addWidget(bar, row, 1)
            self.names.append(name)
            self.bars.append(bar)
        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addLayout(grid)
        right.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addWidget(self.image, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(right, 1)

    def show_result(self, image: np.ndarray, title: str,
                    top: Sequence[tuple[str, float]]) -> None:
        self.image.setPixmap(to_pixmap(image, 136))
        self.title.setText(title)
        for row, (name, bar) in enumerate(zip(self.names, self.bars)):
            if row < len(top):
                cls, p = top[row]
                name.setText(f"<b>{cls}</b>" if row == 0 else cls)
                bar.setValue(round(p * 1000))
                bar.setFormat(f"{100 * p:.1f} %")
            else:
                name.setText("")
                bar.setValue(0)
                bar.setFormat("")
