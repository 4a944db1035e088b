"""Feature maps of one probe image: the activations of the node selected in the editor, the
first convolution's filters, a Grad-CAM heat map for a chosen class, and the receptive field
of a clicked unit drawn on the probe. During training the maps follow the controller's weight
snapshots (a few a minute); otherwise the project's current weights.

torch and numpy are imported inside functions (the window starts without them); every model
pass and the dataset load run as Jobs, off the GUI thread."""

from __future__ import annotations

import copy
from math import prod
from typing import Any

from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ... import engine
from ..style import ERROR_COLOR, WARNING_COLOR
from ..workers import Jobs
from .pixelview import PixelView

RF_COLOR = "#ff2d55"
UNIT_COLOR = "#ffffff"
SPLIT_NAMES = {"val": "validation", "train": "training"}
UNIT_PROMPT = "Click a map to see the receptive field of one unit."


def _compute(req: dict[str, Any]) -> tuple[Any, str | None]:
    """The model pass (on a pool thread): a Look and the note about the weights."""
    state = req["live"]
    if state is None and req["weights"] is not None:
        state = engine.checkpoint.from_bytes(req["weights"])
    model, note = engine.probe.model_for(req["graph"], state)
    # Without the data: the settings' fixed normalisation (pretrained weights bring theirs),
    # else the statistics the last run measured.
    stats = engine.probe.fixed_stats(req["input_shape"], req["dataset"]) or req["stats"]
    x = engine.probe.probe_input(req["image"], req["input_shape"], req["data"], stats)
    return engine.probe.look(model, req["graph"], x, req["node"], req["cam_class"]), note


class FeatureMapsView(QWidget):
    """What a probe image does inside the model. Embed as ``FeatureMapsView(document,
    controller)``; it follows the editor's selection and the controller's weights."""

    rendered = Signal()  # a new Look is on screen
    message_shown = Signal(str)

    def __init__(self, document: Any, controller: Any = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document, self.controller = document, controller
        self.jobs, self.data_jobs, self.file_jobs = Jobs(self), Jobs(self), Jobs(self)
        self.data: Any = None
        self.data_state = "none"  # none | loading | ready | failed
        self.data_message = ""
        self.probe: Any = None  # uint8 torch tensor [C, H, W]
        self.probe_label: int | None = None
        self.probe_name = ""
        self.live: dict[str, Any] | None = None
        self.node: str | None = None
        self.unit: tuple[int, int, int] | None = None
        self.region: tuple[int, int, int, int] | None = None
        self.look: Any = None
        self._stale = True
        self._timer = QTimer(self, singleShot=True, interval=150)
        self._timer.timeout.connect(self.refresh)

        self.index = QSpinBox(minimum=0, maximum=0, enabled=False)
        self.index.setToolTip("Which validation image of the project's dataset to probe with")
        self.index.valueChanged.connect(self._set_index)
        self.count = QLabel()
        self.next_button = QPushButton("Next", enabled=False)
        self.next_button.clicked.connect(lambda: self.index.setValue(
            (self.index.value() + 1) % (self.index.maximum() + 1)))
        self.open_button = QPushButton("Open image…")
        self.open_button.clicked.connect(lambda: self.open_image())
        self.cam_class = QComboBox()
        self.cam_class.setToolTip("The class whose evidence Grad-CAM shows")
        self.cam_class.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.cam_class.currentIndexChanged.connect(lambda _i: self.schedule())
        bar = QHBoxLayout()
        for w in (QLabel("Probe image"), self.index, self.count, self.next_button,
                  self.open_button):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(QLabel("Grad-CAM for"))
        bar.addWidget(self.cam_class)
        self.status, self.note = QLabel(), QLabel()
        for label in (self.status, self.note):
            label.setWordWrap(True)
            label.hide()
        self.note.setStyleSheet(f"color: {WARNING_COLOR};")

        self.probe_view = PixelView("No probe image yet")
        self.grid = PixelView("Select a layer in the editor to see its maps")
        self.grid.clicked.connect(self._pick)
        self.filters_view = PixelView("No convolution")
        self.cam_view = PixelView("No Grad-CAM")
        self.captions = {k: QLabel() for k in ("probe", "grid", "filters", "cam", "unit")}
        for label in self.captions.values():
            label.setWordWrap(True)
        self.captions["unit"].setText(UNIT_PROMPT)
        cells = QGridLayout()  # probe over Grad-CAM | the maps over the filters
        places = ((self.captions["probe"], 0, 0, 1), (self.probe_view, 1, 0, 1),
                  (self.captions["unit"], 2, 0, 1), (self.captions["cam"], 3, 0, 1),
                  (self.cam_view, 4, 0, 1), (self.captions["grid"], 0, 1, 1),
                  (self.grid, 1, 1, 2), (self.captions["filters"], 3, 1, 1),
                  (self.filters_view, 4, 1, 1))
        for widget, row, col, span in places:
            cells.addWidget(widget, row, col, span, 1)
        cells.setColumnStretch(0, 1)
        cells.setColumnStretch(1, 2)
        cells.setRowStretch(1, 3)
        cells.setRowStretch(4, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.note)
        layout.addLayout(cells, 1)

        document.selection_changed.connect(self._on_selection)
        document.reset.connect(self._on_reset)
        document.analysis_ready.connect(lambda _r: self.schedule())
        if controller is not None:
            controller.weights.connect(self._on_weights)
            controller.finished.connect(self._on_finished)
            controller.failed.connect(self._on_finished)
            controller.started.connect(lambda _e: controller.snapshot_soon())
        self._on_selection(document.selection())

    # -- following the document and the training -------------------------------------------
    def _on_reset(self) -> None:
        self.data_jobs.cancel()
        self.data, self.data_state, self.probe, self.live, self.look = None, "none", None, \
            None, None
        for view in (self.probe_view, self.grid, self.filters_view, self.cam_view):
            view.set_array(None)
        for key in ("probe", "grid", "filters", "cam"):
            self.captions[key].setText("")
        for w in (self.index, self.next_button):
            w.setEnabled(False)
        self.count.setText("")
        self._fill_classes([])
        self._on_selection(self.document.selection())

    def _on_selection(self, ids: list[str]) -> None:
        node = ids[0] if ids else None
        if node != self.node:
            self.node, self.unit, self.region = node, None, None
        self.schedule()

    def _on_weights(self, state: dict[str, Any]) -> None:
        self.live = state  # the run's model now; `finished` hands over to the project's
        self.schedule()

    def _on_finished(self, _event: Any) -> None:
        self.live = None  # the run's weights are the project's now (or it failed)
        self.schedule()

    def schedule(self) -> None:
        """Refresh soon (several triggers in a row make one model pass)."""
        self._timer.start()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._stale:
            self.schedule()

    def changeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """The gaps between maps and filters are painted in the window colour: a new theme
        paints them again (the look itself needs no new model pass)."""
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange) \
                and self.look is not None:
            self._show((self.look, self.note.text() or None))

    # -- the probe ------------------------------------------------------------------------------
    def _load_data(self) -> None:
        preloaded = getattr(self.controller, "data", None)
        if preloaded is not None:
            self._data_loaded(preloaded)
            return

        project, path = self.document.project, self.document.path
        base = path.parent if path is not None else None
        self.data_state = "loading"
        self._say("Loading the project's dataset…")
        self.data_jobs.start(lambda: engine.project_data(project, base_dir=base), self._data_loaded,
                             self._data_failed)

    def _data_loaded(self, data: Any) -> None:
        self.data, self.data_state = data, "ready"
        split = data.val or data.train
        self.index.blockSignals(True)
        self.index.setMaximum(max(len(split) - 1, 0))
        self.index.blockSignals(False)
        self.count.setText(f"of {len(split)} {SPLIT_NAMES.get(split.name, split.name)} images")
        for w in (self.index, self.next_button):
            w.setEnabled(len(split) > 0)
        self._fill_classes(self._class_names())
        self._say("")
        if self.probe is None:  # an image file opened meanwhile stays
            self._set_index(self.index.value())

    def _data_failed(self, message: str) -> None:
        self.data_state = "failed"
        self.data_message = f"The dataset is not available ({message}); open an image " \
                            "file to probe the model."
        self._say(self.data_message, error=True)

    def _set_index(self, i: int) -> None:
        if self.data is None:
            return
        try:
            images, labels = engine.split_images(self.data, "val", [i])
        except (ValueError, OSError) as exc:  # DatasetError: a file read on demand is gone
            self._say(f"{exc}\n\nOpen an image file to probe the model.", error=True)
            return
        split = (self.data.val or self.data.train).name
        label = int(labels[0]) if labels[0].ndim == 0 else None  # multi-hot or values: no class
        self._set_probe(images[0], label, f"{SPLIT_NAMES.get(split, split)} image {i}")

    def open_image(self, path: str | None = None) -> None:
        """Probe with an image file (a dialog asks for it when ``path`` is None)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open a probe image", "",
                                                  "Images (*.png *.jpg *.jpeg *.bmp *.gif "
                                                  "*.tif *.tiff *.webp);;All files (*)")
            if not path:
                return
        shape = self.document.report.input_shape
        if self.data is not None:
            shape = self.data.image_shape
        if shape is None or len(shape) != 3 or shape[0] not in (1, 3):
            self._say("The model's Input is not a grey or RGB image [1 or 3, H, W], so an "
                      "image file cannot be fed to it.", error=True)
            return

        data, name = self.data, path.replace("\\", "/").rsplit("/", 1)[-1]
        dataset = self.document.project.dataset  # its resize settings, when data is None
        self.file_jobs.start(lambda: engine.probe.read_probe(path, shape, data, dataset),
                             lambda image: self._set_probe(image, None, name),
                             lambda message: self._say(message, error=True))

    def _set_probe(self, image: Any, label: int | None, name: str) -> None:
        self.probe, self.probe_label, self.probe_name = image, label, name
        self.unit = self.region = None
        self.probe_view.set_array(engine.probe.to_rgb(image))
        self._say("")
        self.refresh()

    # -- the model pass ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Start a model pass for the probe (when shown; a hidden view catches up later)."""
        self._timer.stop()
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        if self.probe is None:
            if self.data_state == "none":
                self._load_data()
            return
        doc = self.document
        if not doc.report.ok:
            self._say("The graph has errors (see Problems): fix them to see its maps.", True)
            return
        from ...graph import graph_from_dict, graph_to_dict

        project = doc.project
        key = project.current_weights
        runs = [r for r in project.runs if isinstance(r.dataset.get("summary"), dict)]
        req = {"graph": graph_from_dict(graph_to_dict(doc.graph)), "live": self.live,
               "weights": project.weights.get(key) if key and self.live is None else None,
               "image": self.probe, "input_shape": doc.report.input_shape, "data": self.data,
               "stats": runs[-1].dataset["summary"] if runs else None,
               "dataset": copy.deepcopy(project.dataset), "node": self.node,
               "cam_class": self.cam_class.currentData()}
        self.jobs.start(lambda: _compute(req), self._show,
                        lambda message: self._say(message, error=True))

    def _show(self, result: tuple[Any, str | None]) -> None:
        import numpy as np

        look, note = result
        self.look = look
        self.note.setText(note or "")
        self.note.setVisible(bool(note))
        self._say(" · ".join([self.data_message] * (self.data_state == "failed") + look.notes))
        names = self._class_names(len(look.probs))
        if names != [self.cam_class.itemText(i) for i in range(1, self.cam_class.count())]:
            self._fill_classes(names)
        gap = self.palette().color(self.palette().ColorRole.Window).getRgb()[:3]
        grid = look.grid
        self.grid.set_array(None if grid is None else engine.probe.colorize(grid, gap=gap))
        shape = "×".join(map(str, look.node_shape))
        if look.maps_shown:
            shown = f"{look.maps_shown} maps, each scaled to its own range"
        else:
            shown = f"{prod(look.node_shape)} values in rows of {look.grid.shape[1]}, " \
                    "scaled together"
        self.captions["grid"].setText(f"<b>{look.node}</b> [{shape}]: {shown} (dark: low, "
                                      "yellow: high)" if look.grid is not None else "")
        if look.filters is not None:
            n, kh, kw = look.filters.shape[:3]
            patches = engine.probe.tile(look.filters, engine.probe.grid_layout(n, kh, kw)[1])
            patches[np.isnan(patches[..., 0])] = np.array(gap) / 255
            self.filters_view.set_array(np.ascontiguousarray((patches * 255).round()
                                                             .astype(np.uint8)))
            self.captions["filters"].setText(f"The {n} filters of <b>{look.filters_node}</b> "
                                             f"({kh}×{kw}), each scaled to its own range")
        else:
            self.filters_view.set_array(None)
        classes = [self.cam_class.itemText(i) for i in range(1, self.cam_class.count())]

        def name(k: int | None) -> str:
            return classes[k] if k is not None and k < len(classes) else str(k)

        top = int(np.argmax(look.probs)) if len(look.probs) else None
        truth = list(self.data.classes) if self.data is not None else []  # the label's names
        label = "" if self.probe_label is None else "label " + (
            truth[self.probe_label] if self.probe_label < len(truth) else str(self.probe_label)) \
            + " · "
        self.captions["probe"].setText(
            f"{self.probe_name}: {label}predicted <b>{name(top)}</b> "
            f"({100 * float(look.probs[top]):.1f} %)" if top is not None else self.probe_name)
        if look.cam is not None:
            self.cam_view.set_array(engine.probe.overlay(engine.probe.to_rgb(self.probe), look.cam))
            self.captions["cam"].setText(f"Grad-CAM at <b>{look.cam_node}</b> for class "
                                         f"<b>{name(look.cam_class)}</b>")
        else:
            self.cam_view.set_array(None)
        self._draw_unit()
        self.rendered.emit()

    # -- one unit's receptive field ------------------------------------------------------------
    def _pick(self, y: float, x: float) -> None:
        look = self.look
        if look is None or look.grid is None:
            return
        if look.maps_shown:
            _, h, w = look.node_shape
            cell = engine.probe.grid_cell(look.maps_shown, h, w, y, x)
            if cell is None:
                return
            self.unit = cell
        elif self.document.report.nodes.get(look.node) is not None and \
                self.document.report.nodes[look.node].receptive_field_whole:
            self.unit = (0, 0, 0)
        else:
            self.captions["unit"].setText("This output is a vector: click a layer with maps.")
            return
        self._draw_unit()

    def _draw_unit(self) -> None:
        look, label = self.look, self.captions["unit"]
        self.probe_view.rects, self.grid.rects, self.region = [], [], None
        if look is None or self.unit is None or look.node is None:
            label.setText(UNIT_PROMPT)  # no unit now (a new probe image): no old unit's field
            self.probe_view.update()
            return
        c, row, col = self.unit
        try:
            self.region = engine.probe.unit_region(self.document.report, look.node, (row, col))
        except engine.InferenceError as exc:
            label.setText(str(exc))
            return
        top, left, bottom, right = self.region
        self.probe_view.rects = [(top, left, bottom, right, RF_COLOR)]
        if look.maps_shown:
            _, h, w = look.node_shape
            r, k = divmod(c, engine.probe.grid_layout(look.maps_shown, h, w)[1])
            y, x = r * (h + 1) + row, k * (w + 1) + col
            self.grid.rects = [(y, x, y + 1, x + 1, UNIT_COLOR)]
            what = f"Unit ({row}, {col}) of map {c}"
        else:
            what = "Every unit"
        label.setText(f"{what} sees rows {top}–{bottom - 1}, columns {left}–{right - 1} of "
                      f"the input ({bottom - top}×{right - left} px, clipped to the image).")
        self.probe_view.update()
        self.grid.update()

    # -- small things --------------------------------------------------------------------------
    def _class_names(self, outputs: int | None = None) -> list[str]:
        """The names of the head's ``outputs`` classes (default: as many as the graph's first
        output has) by ``engine.class_names``: the data's when they fit, else the project's."""
        data = list(self.data.classes) if self.data is not None else []
        if outputs is None:
            shapes = self.document.report.output_shapes
            outputs = prod(shapes[0]) if shapes and shapes[0] else len(data)
        return engine.class_names(outputs, data, self.document.project.dataset.class_names)

    def _fill_classes(self, classes: list[str]) -> None:
        chosen = self.cam_class.currentData()
        self.cam_class.blockSignals(True)
        self.cam_class.clear()
        self.cam_class.addItem("the predicted class", None)
        for i, name in enumerate(classes):
            self.cam_class.addItem(name, i)
        if chosen is not None and chosen < len(classes):
            self.cam_class.setCurrentIndex(chosen + 1)
        self.cam_class.blockSignals(False)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {ERROR_COLOR};" if error else "")
        self.status.setVisible(bool(text))
        if text:
            self.message_shown.emit(text)
