"""The receptive field of the selected node drawn over its input: an input-sized frame, the
window of input pixels one output unit sees, the grid of unit centres when it is sparse, and
optionally one training image of the project's dataset underneath (loaded in a thread; torch
is imported there, lazily, and only when asked).

Geometry comes straight from the analysis' per-axis (r, jump, start) tuples: along an axis,
unit i's field is centred at ``start + i·jump`` (input pixel p covers [p, p + 1)) and is ``r``
pixels wide.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ... import engine
from ...graph.analysis import Report
from ..style import ERROR_COLOR, OK_COLOR
from ..workers import Job, describe, run_in_background

RF_COLOR = "#2e86de"
CENTRES_MAX = 48  # draw the grid of unit centres up to this many units per axis


@dataclass(frozen=True)
class RFGeometry:
    """Where one output unit looks, in input pixels (rows h, columns w)."""

    node: str
    input_hw: tuple[int, int]
    map_shape: tuple[int, ...]  # the [C, H, W] the unit belongs to
    unit: tuple[int, int]  # (i, k): row and column of the unit in its map
    size: tuple[float, float]  # r per axis
    jump: tuple[float, float]
    start: tuple[float, float]
    whole: bool = False
    via: str | None = None  # the node whose map is shown, when not the node itself (Flatten)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.start[0] + self.unit[0] * self.jump[0],
                self.start[1] + self.unit[1] * self.jump[1])

    @property
    def rect(self) -> tuple[float, float, float, float]:
        """(top, left, bottom, right) of the field, unclipped."""
        if self.whole:
            return 0.0, 0.0, float(self.input_hw[0]), float(self.input_hw[1])
        (ch, cw), (rh, rw) = self.centre, self.size
        return ch - rh / 2, cw - rw / 2, ch + rh / 2, cw + rw / 2

    @property
    def clipped(self) -> tuple[float, float, float, float]:
        top, left, bottom, right = self.rect
        h, w = self.input_hw
        return max(0.0, top), max(0.0, left), min(float(h), bottom), min(float(w), right)

    @property
    def extends_past(self) -> bool:
        """Part of the field lies outside the input (it sees padding there)."""
        return self.rect != self.clipped

    @property
    def map_hw(self) -> tuple[int, int]:
        return (self.map_shape[1], self.map_shape[2]) if len(self.map_shape) == 3 else (1, 1)

    def centres(self, axis: int) -> list[float]:
        n = self.map_hw[axis]
        return [self.start[axis] + i * self.jump[axis] for i in range(n)]

    def describe(self) -> str:
        shape = "[" + ", ".join(map(str, self.map_shape)) + "]"
        i, k = self.unit
        if self.whole:
            return (f"every unit of {shape} sees the whole "
                    f"{self.input_hw[0]}×{self.input_hw[1]} input")
        rh, rw = (_num(v) for v in self.size)
        jh, jw = (_num(v) for v in self.jump)
        jump = f"{jh} px apart" if jh == jw else f"{jh} px apart down, {jw} across"
        where = f" (via {self.via})" if self.via else ""
        text = (f"unit ({i}, {k}) of {shape}{where} sees a {rh}×{rw} window of the input "
                f"({jump})")
        if self.extends_past:
            top, left, bottom, right = self.clipped
            text += (f"; it extends past the input, so {_num(bottom - top)}×{_num(right - left)}"
                     " of it are image pixels and the rest is padding")
        return text


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.3g}"


def rf_geometry(report: Report, node_id: str,
                unit: tuple[int, int] | None = None) -> RFGeometry | str:
    """The field of ``unit`` (default: the centre unit) of the node's output map, or a
    sentence saying why there is none to draw."""
    rep = report.nodes.get(node_id)
    if rep is None:
        return "not analysed: the graph has an error (see Problems)"
    hw = report.input_hw
    if hw is None:
        return "the input is not an image ([C, H, W]), so there is no receptive field to draw"
    if rep.shape is None:
        return "not computed: " + ("; ".join(rep.errors) or "a layer before it has an error")
    if rep.rf is None:
        return "not spatial: this node has no receptive field"
    shape, via = rep.shape, None
    if len(shape) != 3:  # a flattened map: show the map it came from
        walk = rep
        while len(walk.shape or ()) != 3 and walk.sources:
            walk = report.nodes[walk.sources[0]]
        if walk.shape is not None and len(walk.shape) == 3 and walk.rf == rep.rf:
            shape, via = walk.shape, walk.id
        else:
            shape = (shape[0], 1, 1)
    if rep.receptive_field_whole:
        return RFGeometry(node_id, hw, tuple(shape), (0, 0), (float(hw[0]), float(hw[1])),
                          (0.0, 0.0), (0.0, 0.0), whole=True, via=via)
    (rh, jh, sh), (rw, jw, sw) = rep.rf  # type: ignore[misc]
    H, W = shape[1], shape[2]  # noqa: N806
    if unit is None:
        unit = (H // 2, W // 2)
    unit = (min(max(unit[0], 0), H - 1), min(max(unit[1], 0), W - 1))
    return RFGeometry(node_id, hw, tuple(shape), unit, (rh, rw), (jh, jw), (sh, sw), via=via)


# -- sample image ------------------------------------------------------------------------------
def sample_image(config: Any,
                 input_shape: tuple[int, ...]) -> tuple[tuple[bytes, int, int, int], str]:
    """One training image of a dataset configuration as uint8 (bytes, C, H, W) and its label
    (on a job's thread: torch is imported here)."""
    if dataclasses.is_dataclass(config):
        # the image as stored: no augmentation, no normalisation statistics to measure
        changes = {k: v for k, v in (("augment", []), ("normalize", "none"),
                                     ("mixup_alpha", 0.0), ("cutmix_alpha", 0.0))
                   if hasattr(config, k)}
        config = dataclasses.replace(config, **changes)
    data = engine.load_data(config, input_shape, "cpu")
    images = data.train.images([0])
    target = data.train.labels[0]
    array = images[0].contiguous().numpy()
    c, h, w = array.shape
    if target.ndim:  # multi-label or regression targets: no single class to name
        return (array.tobytes(), c, h, w), f"{data.name}: image 0"
    label = int(target)
    name = data.classes[label] if 0 <= label < len(data.classes) else str(label)
    return (array.tobytes(), c, h, w), f"{data.name}: class {name}"


def image_from_chw(data: bytes, c: int, h: int, w: int) -> QImage:
    """uint8 [C, H, W] bytes → a QImage (grey for one channel, RGB for three)."""
    if c == 1:
        return QImage(data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    plane = h * w
    rgb = bytearray(plane * 3)
    for ch in range(min(c, 3)):
        rgb[ch::3] = data[ch * plane:(ch + 1) * plane]
    return QImage(bytes(rgb), w, h, 3 * w, QImage.Format.Format_RGB888).copy()


# -- drawing -----------------------------------------------------------------------------------
class RFCanvas(QWidget):
    """Paints the frame, the field, the unit centres and the sample image."""

    unit_picked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.geometry_: RFGeometry | None = None
        self.message = ""
        self.image: QImage | None = None
        self.show_centres = True
        self.setMinimumSize(160, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(False)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(320, 300)

    def frame_rect(self) -> QRectF | None:
        """Where the input frame is drawn (aspect kept), in widget coordinates."""
        g = self.geometry_
        if g is None:
            return None
        h, w = g.input_hw
        margin, label = 14.0, float(self.fontMetrics().height() + 6)
        avail_w = self.width() - 2 * margin
        avail_h = self.height() - 2 * margin - label
        if avail_w <= 4 or avail_h <= 4:
            return None
        # leave room for a field that extends past the input
        top, left, bottom, right = g.rect
        ext_h = max(bottom, h) - min(top, 0.0)
        ext_w = max(right, w) - min(left, 0.0)
        scale = min(avail_w / ext_w, avail_h / ext_h)
        x0 = margin + (avail_w - ext_w * scale) / 2 - min(left, 0.0) * scale
        y0 = margin + label + (avail_h - ext_h * scale) / 2 - min(top, 0.0) * scale
        return QRectF(x0, y0, w * scale, h * scale)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text_color = pal.color(pal.ColorRole.WindowText)
        frame = self.frame_rect()
        g = self.geometry_
        if g is None or frame is None:
            p.setPen(text_color)
            p.drawText(self.rect().adjusted(12, 12, -12, -12),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            p.end()
            return
        h, w = g.input_hw
        sx, sy = frame.width() / w, frame.height() / h

        def to_px(top: float, left: float, bottom: float, right: float) -> QRectF:
            return QRectF(frame.left() + left * sx, frame.top() + top * sy,
                          (right - left) * sx, (bottom - top) * sy)

        # the input (and the sample image)
        if self.image is not None:
            p.save()
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform,
                            self.image.width() * 4 > frame.width())
            p.drawImage(frame, self.image)
            p.restore()
        else:
            base = pal.color(pal.ColorRole.Base)
            p.fillRect(frame, base)
        p.setPen(QPen(text_color, 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(frame)
        p.drawText(QRectF(frame.left(), frame.top() - self.fontMetrics().height() - 4,
                          frame.width(), self.fontMetrics().height() + 2),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                   f"input {h}×{w}")

        color = QColor(RF_COLOR)
        # unit centres (sparse grids only)
        gh, gw = g.map_hw
        if self.show_centres and not g.whole and gh <= CENTRES_MAX and gw <= CENTRES_MAX \
                and g.jump[0] * sy >= 4 and g.jump[1] * sx >= 4 and gh * gw > 1:
            dot = QColor(color)
            dot.setAlphaF(0.55)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(dot)
            for ch in g.centres(0):
                for cw in g.centres(1):
                    p.drawEllipse(QPointF(frame.left() + cw * sx, frame.top() + ch * sy),
                                  1.6, 1.6)

        # the field: filled where it covers the input, dashed where it runs past it
        fill = QColor(color)
        fill.setAlphaF(0.22 if self.image is None else 0.30)
        clipped = to_px(*g.clipped)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(fill)
        p.drawRect(clipped)
        p.setBrush(Qt.BrushStyle.NoBrush)
        if g.extends_past:
            p.setPen(QPen(color, 1.2, Qt.PenStyle.DashLine))
            p.drawRect(to_px(*g.rect))
        p.setPen(QPen(color, 2))
        p.drawRect(clipped)
        if not g.whole:
            ch, cw = g.centre
            c = QPointF(frame.left() + cw * sx, frame.top() + ch * sy)
            p.setPen(QPen(QColor(ERROR_COLOR), 2))
            p.drawLine(c + QPointF(-5, 0), c + QPointF(5, 0))
            p.drawLine(c + QPointF(0, -5), c + QPointF(0, 5))
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        g, frame = self.geometry_, self.frame_rect()
        if g is None or frame is None or g.whole or event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        h, w = g.input_hw
        y = (event.position().y() - frame.top()) * h / frame.height()
        x = (event.position().x() - frame.left()) * w / frame.width()
        gh, gw = g.map_hw
        i = round((y - g.start[0]) / g.jump[0]) if g.jump[0] else 0
        k = round((x - g.start[1]) / g.jump[1]) if g.jump[1] else 0
        self.unit_picked.emit(min(max(i, 0), gh - 1), min(max(k, 0), gw - 1))


class ReceptiveFieldView(QWidget):
    """The selected node's receptive field. Click in the frame to look at another unit."""

    sample_loaded = Signal()
    sample_failed = Signal(str)

    def __init__(self, document: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.node: str | None = None
        self.unit: tuple[int, int] | None = None
        self.geometry_: RFGeometry | None = None
        self._job: Job | None = None
        self._image_key: Any = None
        self._pending_key: Any = None

        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.canvas = RFCanvas()
        self.canvas.unit_picked.connect(self._pick_unit)
        self.sample_button = QPushButton("Show a sample image")
        self.sample_button.setToolTip("Load one training image of the project's dataset and "
                                      "draw the field over it")
        self.sample_button.clicked.connect(self._toggle_sample)
        self.centres = QCheckBox("Unit centres")
        self.centres.setChecked(True)
        self.centres.setToolTip("Dots where the output units' fields are centred (when the "
                                "map is small enough to draw them)")
        self.centres.toggled.connect(self._set_centres)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.hide()
        controls = QHBoxLayout()
        controls.addWidget(self.sample_button)
        controls.addWidget(self.centres)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(controls)
        layout.addWidget(self.status)

        document.selection_changed.connect(self._on_selection)
        document.analysis_ready.connect(self._on_analysis)
        document.reset.connect(self._on_reset)
        self._on_selection(document.selection())

    # -- following the document ------------------------------------------------------------------
    def _on_reset(self) -> None:
        self._drop_image()
        self._on_selection(self.document.selection())

    def _on_selection(self, ids: list[str]) -> None:
        node = ids[0] if ids else None
        if node != self.node:
            self.unit = None
        self.node = node
        self._update()

    def _on_analysis(self, _report: Report) -> None:
        self._update()

    def _pick_unit(self, i: int, k: int) -> None:
        self.unit = (i, k)
        self._update()

    def _set_centres(self, on: bool) -> None:
        self.canvas.show_centres = on
        self.canvas.update()

    def _update(self) -> None:
        report = self.document.report
        if self.image_key() != self._image_key and self.canvas.image is not None:
            self._drop_image()  # the input or the dataset changed since it was loaded
        if self.node is None or self.node not in self.document.graph.nodes:
            geometry: RFGeometry | str = "Select a layer to see the window of the input that " \
                                         "one of its output units sees."
        else:
            geometry = rf_geometry(report, self.node, self.unit)
        if isinstance(geometry, str):
            self.geometry_ = None
            self.caption.setText(f"<b>{self.node}</b>" if self.node else "")
            self.caption.setVisible(bool(self.node))
            self.canvas.geometry_ = None
            self.canvas.message = geometry
        else:
            self.geometry_ = geometry
            self.caption.setVisible(True)
            self.caption.setText(f"<b>{geometry.node}</b>: {geometry.describe()}")
            self.canvas.geometry_ = geometry
            self.canvas.message = ""
        can_sample = report.input_hw is not None and \
            getattr(self.document.project, "dataset", None) is not None
        self.sample_button.setEnabled(can_sample and self._job is None)
        self.canvas.update()

    # -- the sample image ------------------------------------------------------------------------
    def image_key(self) -> Any:
        shape = self.document.report.input_shape
        dataset = getattr(self.document.project, "dataset", None)
        try:
            ds = dataclasses.asdict(dataset) if dataclasses.is_dataclass(dataset) else dataset
        except Exception:  # noqa: BLE001
            ds = id(dataset)
        return (tuple(shape) if shape else None, repr(ds))

    def _drop_image(self) -> None:
        self.canvas.image = None
        self._image_key = None
        self.status.hide()  # its "Sample: …" line went with the image
        self.sample_button.setText("Show a sample image")
        self.canvas.update()

    def _toggle_sample(self) -> None:
        if self.canvas.image is not None:
            self._drop_image()
            return
        self.load_sample()

    def load_sample(self) -> None:
        """Start loading one training image (the result arrives as ``sample_loaded``)."""
        shape = self.document.report.input_shape
        dataset = getattr(self.document.project, "dataset", None)
        if shape is None or len(shape) != 3 or dataset is None:
            self._fail("the graph needs an image Input ([C, H, W]) to show a sample")
            return
        if self._job is not None:
            self._job.cancel()
        config = copy.deepcopy(dataset)
        self._job = run_in_background(lambda: sample_image(config, tuple(shape)),
                                      on_done=self._loaded, on_error=self._failed, parent=self,
                                      name="cnnstudio-sample-image")
        self._pending_key = self.image_key()
        self.sample_button.setEnabled(False)
        self.status.setStyleSheet("")
        self.status.setText(f"Loading one image of {getattr(dataset, 'source', 'the dataset')}…")
        self.status.show()

    def _loaded(self, answer: tuple[tuple[bytes, int, int, int], str]) -> None:
        self._job = None
        (data, c, h, w), label = answer
        self.canvas.image = image_from_chw(data, c, h, w)
        self._image_key = self._pending_key
        self.sample_button.setText("Hide the sample image")
        self.status.setStyleSheet(f"color: {OK_COLOR};")
        self.status.setText(f"Sample: {label} ({c}×{h}×{w})")
        self.status.show()
        self._update()
        self.sample_loaded.emit()

    def _failed(self, exc: BaseException) -> None:
        self._job = None
        self._update()
        self._fail(describe(exc))

    def _fail(self, message: str) -> None:
        self.status.setStyleSheet(f"color: {ERROR_COLOR};")
        self.status.setText(f"Could not load a sample image: {message}")
        self.status.show()
        self.sample_failed.emit(message)
