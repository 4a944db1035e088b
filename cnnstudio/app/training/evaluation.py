"""The evaluation view: how good the trained network is on a split, and where it goes wrong —
the confusion matrix (a click on a cell shows its images), precision/recall/F1 per class,
top-k accuracy, ROC curves, the most confidently wrong images, and the top-5 answer for an
image the user drops on it. The model work runs in Jobs; this module imports no torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ... import engine
from ..style import ERROR_COLOR
from ..widgets import ComboBox, muted_label
from ..workers import Jobs
from . import evalsource as src
from .evaltasks import MultiLabelPage, RegressionPage, summary_line
from .evalwidgets import (
    CellFrame,
    ConfusionModel,
    ConfusionTable,
    ImageStrip,
    PerClassTable,
    RocPlot,
    TopKPanel,
)

STRIP_MAX = 120  # images shown for one confusion-matrix cell
TTA_LABELS = {"none": "None", "flip": "Flip", "center": "Centre crop",
              "ten_crop": "Ten crops"}
"""The test-time augmentations (engine.training.evaluate.TTA) as the chooser names them."""
TTA_TIP = ("Test-time augmentation: average the predictions over views of each image: with "
           "its mirror (Flip), or after enlarging it by 8/7, its centre crop or TenCrop's ten "
           "(corners, centre and their mirrors). The accuracy without it shows beside.")
NO_WEIGHTS = ("No trained weights yet: train the network (Train → Start), then press "
              "Evaluate to see how it does on each class.")


class EvaluationView(QWidget):
    """Evaluation of the document's trained model; ``evaluated(Predictions)`` after each one."""

    evaluated = Signal(object)
    predicted = Signal(object)  # list[(class, probability)] for a dropped or chosen image

    def __init__(self, document: Any, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document, self.controller = document, controller
        self.jobs, self.image_jobs = Jobs(self), Jobs(self)
        self.cache = src.Cache()
        self.predictions: Any = None
        self.last_prediction: list[tuple[str, float]] | None = None
        self.message = ""
        self._pending = False  # evaluate when the run's first weights arrive
        self._after_run = False  # evaluate when the finished run's worker is done
        self._cell: tuple[int, int] | None = None
        self.setAcceptDrops(True)
        self._build()
        controller.finished.connect(self._on_finished)
        controller.weights.connect(self._on_weights)
        controller.state_changed.connect(self._on_state)
        document.reset.connect(self._on_reset)
        self._set_message(NO_WEIGHTS if src.resolve(document, controller) is None else
                          "Press Evaluate to measure the trained network on a split.")

    # -- layout --------------------------------------------------------------------------------
    def _build(self) -> None:
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Predict every image of the chosen split with the "
                                        "current weights")
        self.evaluate_button.clicked.connect(self.evaluate_now)
        self.split_box = ComboBox()
        self.split_box.addItem("test, else validation", None)
        self.split_box.activated.connect(lambda _i: self.evaluate_now())
        self.tta_box = ComboBox()
        for value, label in TTA_LABELS.items():
            self.tta_box.addItem(label, value)
        self.tta_box.setToolTip(TTA_TIP)
        self.tta_box.activated.connect(lambda _i: self.evaluate_now())
        self.predict_button = QPushButton("Predict an image…")
        self.predict_button.clicked.connect(self._choose_image)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar = QHBoxLayout()
        bar.addWidget(self.evaluate_button)
        bar.addWidget(QLabel("Split:"))
        bar.addWidget(self.split_box)
        tta_label = QLabel("TTA:")
        tta_label.setToolTip(TTA_TIP)
        bar.addWidget(tta_label)
        bar.addWidget(self.tta_box)
        bar.addWidget(self.predict_button)
        bar.addWidget(self.busy)
        bar.addWidget(self.status, 1)

        self.placeholder = QLabel()
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.placeholder)
        self.pages.addWidget(self._results())
        self.multilabel = MultiLabelPage()
        self.regression = RegressionPage()
        self.pages.addWidget(self.multilabel)  # in place of the confusion matrix
        self.pages.addWidget(self.regression)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.pages, 1)

    def _results(self) -> QWidget:
        self.matrix_model = ConfusionModel(self)
        self.matrix = ConfusionTable()
        self.matrix.setModel(self.matrix_model)
        self.matrix.setSelectionMode(QTableView.SelectionMode.NoSelection)
        self.frame = CellFrame(self.matrix)
        self.matrix.setItemDelegate(self.frame)
        self.matrix.clicked.connect(lambda i: self.show_cell(i.row(), i.column()))
        caption = muted_label("Rows: true class · columns: predicted class · click a cell "
                              "for its images", wrap=False)
        self.cell_label = QLabel("Press Evaluate to fill the confusion matrix.")
        self.strip = ImageStrip(48)
        self.strip.setMaximumHeight(150)
        self.strip.hide()  # until a cell is clicked: the matrix has the room
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(caption)
        lay.addWidget(self.matrix, 1)
        lay.addWidget(self.cell_label)
        lay.addWidget(self.strip)

        self.per_class = PerClassTable()
        self.roc = RocPlot()
        self.mistakes = ImageStrip(64)
        self.topk = TopKPanel()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.per_class, "Per class")
        self.tabs.addTab(self.roc, "ROC")
        self.tabs.addTab(self.mistakes, "Confident mistakes")
        self.tabs.addTab(self.topk, "Predict an image")
        splitter = self.splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        return splitter

    # -- evaluating ----------------------------------------------------------------------------
    def evaluate_now(self) -> bool:
        """Predict the chosen split with the current weights in the background; False (and a
        message) when there is nothing to evaluate yet."""
        source = src.resolve(self.document, self.controller)
        if source is None:
            if self.controller.running:
                self._pending = True
                self.controller.snapshot_soon()
                self._set_message("Waiting for the first copy of the weights from the run…")
            else:
                self._show_placeholder(NO_WEIGHTS)
            return False
        problem = src.graph_problem(self.document)
        if problem:
            self._fail(problem)
            return False
        self._pending = False
        split = self.split_box.currentData()
        job = src.evaluation_job(self.document, self.controller, self.cache, source, split,
                                 self.tta_box.currentData())
        self.busy.show()
        self._set_message(f"Evaluating {source.label}…")
        self.jobs.start(job, self._evaluated, self._fail)
        return True

    def _evaluated(self, result: src.Evaluated) -> None:
        self.busy.setVisible(self.image_jobs.busy)
        self.cache.keep(result)
        pred = self.predictions = result.predictions
        self.cell_label.setText("Click a cell of the matrix to see its images.")
        self._fill_splits(result.data, pred.split)
        m = pred.metrics()
        if pred.task != "classify":
            self._show_task(result)
            return
        top = " · ".join(f"top-{k} {100 * v:.1f} %" for k, v in m["top_k"].items())
        auc = f" · macro AUC {m['macro_auc']:.3f}" if m.get("macro_auc") is not None else ""
        how = result.source.label
        if result.plain is not None:
            how += f", {TTA_LABELS[pred.tta].lower()} TTA"
            top += f" · no TTA {100 * result.plain.metrics()['accuracy']:.1f} %"
        self._set_message(f"{len(pred)} {m['split']} images, {how}: {top} · "
                          f"macro F1 {m['macro']['f1']:.3f}{auc}")
        self.show_matrix(m["confusion"], pred.classes)
        self.per_class.show_metrics(m)
        self.roc.show_roc(m["roc"], pred.classes)
        self._show_mistakes()
        if self._cell is not None and self._cell[0] < pred.num_classes \
                and self._cell[1] < pred.num_classes:
            self.show_cell(*self._cell)
        else:
            self.strip.clear()
            self.strip.hide()
        self.pages.setCurrentIndex(1)
        self.evaluated.emit(pred)

    def _show_task(self, result: src.Evaluated) -> None:
        """A multi-label or regression evaluation: its page instead of the matrix."""
        pred = result.predictions
        m = pred.metrics()
        how = result.source.label
        if result.plain is not None:
            how += f", {TTA_LABELS[pred.tta].lower()} TTA"
        self._set_message(f"{len(pred)} {m['split']} images, {how}: {summary_line(m)}")
        page = self.multilabel if pred.task == "multilabel" else self.regression
        page.show_metrics(m)
        self.pages.setCurrentWidget(page)
        self.evaluated.emit(pred)

    def _fill_splits(self, data: Any, current: str) -> None:
        box = self.split_box
        box.blockSignals(True)
        box.clear()
        for name, split in data.splits.items():
            box.addItem(f"{src.SPLIT_LABELS.get(name, name)} ({len(split)})", name)
        box.setCurrentIndex(max(0, box.findData(current)))
        box.blockSignals(False)

    def show_matrix(self, counts: list[list[int]], classes: list[str]) -> None:
        """Show a confusion matrix (rows: true classes), sized to the room it has."""
        pal = self.palette()
        self.matrix_model.set_matrix(counts, classes, pal.color(QPalette.ColorRole.Base),
                                     pal.color(QPalette.ColorRole.Text))
        self.frame.cell = None
        # give the matrix the room it needs (up to half the view), the tabs the rest
        total = sum(self.splitter.sizes()) or self.width()
        left = min(self.matrix.wanted_width(), total // 2)
        self.splitter.setSizes([left, max(1, total - left)])
        self.matrix.fit_cells()

    def confusion_counts(self) -> list[list[int]]:
        """The counts the matrix shows, read back from its cells."""
        m = self.matrix_model
        return [[int(m.data(m.index(r, c))) for c in range(m.columnCount())]
                for r in range(m.rowCount())]

    def show_cell(self, true_class: int, predicted_class: int) -> list[int]:
        """Show the images of one confusion-matrix cell below it; their split indices."""
        pred = self.predictions
        if pred is None:
            return []
        self._cell = (true_class, predicted_class)
        self.frame.cell = self._cell
        self.matrix.viewport().update()
        indices = engine.cell_indices(pred, true_class, predicted_class)
        shown = indices[:STRIP_MAX]
        images = src.images_of(self.cache.data, pred.split, shown)
        conf = pred.confidence
        self.strip.show()
        self.strip.set_images(images, [f"#{i}" for i in shown], shown,
                              [f"image #{i} of the {src.SPLIT_LABELS.get(pred.split)} split: "
                               f"p = {float(conf[i]):.3f}" for i in shown])
        names = pred.classes
        more = f", showing the first {STRIP_MAX}" if len(indices) > STRIP_MAX else ""
        what = "correct" if true_class == predicted_class else "mistaken"
        self.cell_label.setText(f"True {names[true_class]}, predicted "
                                f"{names[predicted_class]}: {len(indices)} {what} image"
                                f"{'' if len(indices) == 1 else 's'}{more}.")
        return indices

    def _show_mistakes(self) -> None:
        pred = self.predictions
        rows = engine.confident_mistakes(pred, 24)
        names = pred.classes
        idx = [r[0] for r in rows]
        images = src.images_of(self.cache.data, pred.split, idx)
        self.mistakes.set_images(
            images, [f"{names[t]} → {names[p]} ({c:.2f})" for _i, t, p, c in rows], idx,
            [f"image #{i}: true {names[t]}, predicted {names[p]} with p = {c:.3f}"
             for i, t, p, c in rows])

    # -- one image -----------------------------------------------------------------------------
    def predict_file(self, path: str | Path) -> bool:
        """Top-5 classes of an image file (in the background); False when there are no
        weights to predict with."""
        source = src.resolve(self.document, self.controller)
        if source is None:
            self._set_message(NO_WEIGHTS, error=True)
            return False
        if self.document.project.dataset.task != "classify":
            self._set_message("Predicting one image shows a classifier's top classes; this "
                              "network is trained for another task.", error=True)
            return False
        problem = src.graph_problem(self.document)
        if problem:
            self._fail(problem)
            return False
        job = src.image_job(self.document, self.controller, self.cache, source, Path(path))
        self.busy.show()
        self._set_message(f"Predicting {Path(path).name}…")
        self.image_jobs.start(job, self._image_done, self._fail)
        return True

    def _image_done(self, result: src.ImagePrediction) -> None:
        self.busy.setVisible(self.jobs.busy)
        self.cache.keep(result)
        self.last_prediction = result.top
        best, p = result.top[0]
        self.topk.show_result(result.image, f"<b>{result.path.name}</b> — "
                              f"{result.source.label}", result.top)
        self._set_message(f"{result.path.name}: {best} ({100 * p:.1f} %)")
        self.pages.setCurrentIndex(1)
        self.tabs.setCurrentWidget(self.topk)
        self.predicted.emit(result.top)

    def _choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Predict an image", "",
                                              "Images (" + " ".join(f"*{s}" for s in
                                                                    src.IMAGE_SUFFIXES) + ")")
        if path:
            self.predict_file(path)

    # -- drops ---------------------------------------------------------------------------------
    def accepts_drop(self, mime: QMimeData) -> bool:
        """Whether ``mime`` holds an image file (the window forwards such drops here)."""
        return any(Path(p).suffix.lower() in src.IMAGE_SUFFIXES for p in _local_files(mime))

    def drop_files(self, paths: list[str]) -> bool:
        """Predict the first dropped file."""
        return bool(paths) and self.predict_file(paths[0])

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if _local_files(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if _local_files(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        paths = _local_files(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.drop_files(paths)

    # -- messages and events -------------------------------------------------------------------
    def _set_message(self, text: str, error: bool = False) -> None:
        self.message = text
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {ERROR_COLOR};" if error else "")

    def _show_placeholder(self, text: str) -> None:
        self._set_message(text)
        self.placeholder.setText(text)
        self.pages.setCurrentIndex(0)

    def _fail(self, message: str) -> None:
        self.busy.setVisible(self.jobs.busy or self.image_jobs.busy)
        line = " ".join(message.split())
        self._set_message(line if len(line) <= 200 else line[:199] + "…", error=True)

    def _on_finished(self, event: Any) -> None:
        if getattr(event, "status", "") in ("finished", "early_stopped"):
            if self.controller.running:  # once idle: the saved weights and the run's data
                self._after_run = True
            else:
                self.evaluate_now()

    def _on_state(self, state: str) -> None:
        if state == "idle" and self._after_run:
            self._after_run = False
            self.evaluate_now()

    def _on_weights(self, _state: Any) -> None:
        if self._pending:
            self.evaluate_now()

    def _on_reset(self) -> None:
        self.jobs.cancel()
        self.image_jobs.cancel()
        self.cache = src.Cache()
        self.predictions = None
        self.last_prediction = None
        self._cell = None
        self.busy.hide()
        self.split_box.clear()
        self.split_box.addItem("test, else validation", None)
        self._show_placeholder(NO_WEIGHTS if src.resolve(self.document, self.controller) is None
                               else "Press Evaluate to measure the trained network.")


def _local_files(mime: QMimeData) -> list[str]:
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]
