"""The augmentation editor: the ordered steps (add, remove, move), each step's parameters as a
JSON object, and a live grid of augmented training samples.

The grid is made in a Jobs job (it imports torch and loads the data) a moment after the last
change (debounced). The training images are loaded once per dataset setting and kept; a new
augmentation only makes a new ``Pipeline`` for a shallow copy of the training split, so a
change redraws in a few milliseconds even for CIFAR. ``Shuffle`` draws with another seed.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ... import engine
from ...project.config import AUGMENTATIONS
from ..panels.editors import LineEdit
from ..style import ERROR_COLOR
from ..widgets import ComboBox, error_label, muted_label, show_problem
from ..workers import Jobs
from .settings_forms import GridView, shrinkable

DEBOUNCE_MS = 300
PREVIEW_COUNT = 16
PREVIEW_SIDE = 64  # pixels a tile is enlarged to, about
PREVIEW_GRID_SIDE = 4 * PREVIEW_SIDE
"""About the side of the square grid of PREVIEW_COUNT tiles, kept free while it is drawn (the
Training panel's fields below it must not move under the pointer when it arrives)."""

STEP_LABELS = {
    "random_crop": "Random crop", "random_resized_crop": "Random resized crop",
    "horizontal_flip": "Horizontal flip", "vertical_flip": "Vertical flip",
    "rotation": "Rotation", "affine": "Affine", "color_jitter": "Colour jitter",
    "gaussian_blur": "Gaussian blur", "gaussian_noise": "Gaussian noise",
    "random_erasing": "Random erasing", "randaugment": "RandAugment",
    "autoaugment": "AutoAugment", "trivialaugment": "TrivialAugment",
}
# The parameters a new step starts with: the engine's defaults written out, so that the user
# sees what there is to change (engine/data/augment/ documents each one).
EXAMPLES: dict[str, dict[str, Any]] = {
    "random_crop": {"padding": 4, "padding_mode": "constant"},
    "random_resized_crop": {"scale": [0.08, 1.0], "ratio": [0.75, 1.3333]},
    "horizontal_flip": {"p": 0.5},
    "vertical_flip": {"p": 0.5},
    "rotation": {"degrees": 15, "fill": 0},
    "affine": {"degrees": 10, "translate": [0.1, 0.1], "scale": [0.9, 1.1], "shear": 0},
    "color_jitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0},
    "gaussian_blur": {"kernel_size": 3, "sigma": [0.1, 2.0]},
    "gaussian_noise": {"std": 0.05, "clip": True},
    "random_erasing": {"p": 0.5, "scale": [0.02, 0.33], "ratio": [0.3, 3.3], "value": 0},
    "randaugment": {"num_ops": 2, "magnitude": 9},
    "autoaugment": {"policy": "imagenet"},
    "trivialaugment": {},
}
HINTS = {
    "random_crop": "padding, padding_mode (constant | reflect | edge), fill, size, p",
    "random_resized_crop": "scale [min, max] of the area, ratio [min, max], interpolation, p",
    "horizontal_flip": "p: the chance per image",
    "vertical_flip": "p: the chance per image",
    "rotation": "degrees (± or [min, max]), fill (0–1), interpolation, p",
    "affine": "degrees, translate [x, y], scale [min, max], shear, fill, interpolation, p",
    "color_jitter": "brightness, contrast, saturation (factors 1 ± v), hue (≤ 0.5), p",
    "gaussian_blur": "kernel_size (odd), sigma [min, max], p",
    "gaussian_noise": "std (or [min, max]), clip (true | false), p",
    "random_erasing": "p, scale [min, max], ratio [min, max], value (0–1 or \"random\")",
    "randaugment": "num_ops per image, magnitude (0–30), fill, interpolation, p",
    "autoaugment": "policy (imagenet | cifar10 | svhn), fill, interpolation, p",
    "trivialaugment": "one random operation at a random strength per image; fill, p",
}

# -- the preview job (runs on a pool thread) -------------------------------------------------
_CACHE: dict[str, Any] = {}
_CACHE_LOCK = threading.Lock()


def make_preview(dataset: dict[str, Any], input_shape: list[int], seed: int,
                 base_dir: str | None = None, n: int = PREVIEW_COUNT) -> Any:
    """The grid (uint8 ``[H, W, 3]``) of ``n`` training images augmented as ``dataset`` says;
    never downloads."""
    from pathlib import Path

    from ...project import DatasetConfig

    plain = dict(dataset, augment=[], mixup_alpha=0.0, cutmix_alpha=0.0, download=False)
    plain["limit"] = min(plain.get("limit") or 1024, 1024)
    path = plain.get("path")
    if path and base_dir and not Path(path).expanduser().is_absolute():
        plain["path"] = str(Path(base_dir) / path)
    key = json.dumps([plain, input_shape], sort_keys=True)
    with _CACHE_LOCK:
        data = _CACHE.get(key)
    if data is None:
        data = engine.load_data(DatasetConfig.from_dict(plain, "dataset"), input_shape, "cpu")
        with _CACHE_LOCK:
            _CACHE.clear()
            _CACHE[key] = data
    cfg = DatasetConfig.from_dict(copy.deepcopy(dataset), "dataset")
    split = copy.copy(data.train)  # the same images, another pipeline
    split.pipeline = engine.Pipeline.from_config(cfg, data.image_shape, data.num_classes)
    side = max(data.image_shape[1:])
    return engine.preview_grid(split, n, seed, scale=max(1, PREVIEW_SIDE // side))


def forget_previews() -> None:
    """Drop the kept training images (a new project)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def grid_pixmap(grid: Any) -> QPixmap:
    h, w, _ = grid.shape
    image = QImage(grid.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


# -- the editor ------------------------------------------------------------------------------
def _step_text(index: int, step: dict[str, Any]) -> str:
    params = step.get("params") or {}
    args = ", ".join(f"{k} {json.dumps(v)}" for k, v in params.items())
    return f"{index + 1}. {STEP_LABELS.get(step['name'], step['name'])}" + \
        (f"  ({args})" if args else "")


class AugmentEditor(QWidget):
    """Edits ``dataset.augment`` through ``apply(path, value, merge)``; ``context()`` gives
    (dataset dict, input shape or None, base dir) for the preview."""

    def __init__(self, apply: Callable[[str, Any, bool], str | None],
                 context: Callable[[], tuple[dict[str, Any], list[int] | None, str | None]]
                 ) -> None:
        super().__init__()
        self.apply = apply
        self.context = context
        self.steps: list[dict[str, Any]] = []
        self.seed = 0
        self.grid: Any = None
        self.active = False  # draw only once shown (the preview imports torch)
        self._preview_key: str | None = None
        self.jobs = Jobs(self)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.refresh_preview)

        self.list = QListWidget()
        self.list.setMaximumHeight(90)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.currentRowChanged.connect(self._selected)
        self.kind = shrinkable(ComboBox())
        for name in AUGMENTATIONS:
            self.kind.addItem(STEP_LABELS.get(name, name), name)
        self.add_button = QToolButton()
        self.add_button.setText("Add")
        self.add_button.setToolTip("Add the chosen augmentation at the end")
        self.add_button.clicked.connect(self.add_step)
        self.remove_button = self._tool("✕", "Remove the selected step", self.remove_step)
        self.up_button = self._tool("↑", "Move the selected step earlier", lambda: self.move(-1))
        self.down_button = self._tool("↓", "Move the selected step later", lambda: self.move(1))
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.kind, 1)
        for b in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(b)
        self.params = LineEdit()
        self.params.setPlaceholderText('parameters as JSON, e.g. {"degrees": 15}')
        self.params.editingFinished.connect(self._params_edited)
        self.hint = muted_label()
        self.params_problem = error_label()

        self.preview = GridView()
        self.shuffle_button = QPushButton("Shuffle")
        self.shuffle_button.setToolTip("Draw the augmentation again with another seed")
        self.shuffle_button.clicked.connect(self.shuffle)
        self.status = muted_label()
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.shuffle_button, 0, Qt.AlignmentFlag.AlignTop)

        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        box.addWidget(self.list)
        box.addLayout(buttons)
        box.addWidget(self.params)
        box.addWidget(self.hint)
        box.addWidget(self.params_problem)
        box.addWidget(self.preview)
        box.addLayout(bottom)
        self._selected(-1)

    def _tool(self, text: str, tip: str, slot: Callable[[], None]) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    # -- the list ------------------------------------------------------------------------------
    def sync(self, steps: list[dict[str, Any]]) -> None:
        """Show the project's steps (keeps the selection where it can)."""
        if steps != self.steps:
            row = self.list.currentRow()
            self.steps = copy.deepcopy(steps)
            self.list.blockSignals(True)
            self.list.clear()
            for i, step in enumerate(self.steps):
                self.list.addItem(_step_text(i, step))
                self.list.item(i).setToolTip(_step_text(i, step))
            self.list.setCurrentRow(min(row, len(self.steps) - 1))
            self.list.blockSignals(False)
            self._selected(self.list.currentRow())
        self.schedule_preview()

    def _selected(self, row: int) -> None:
        valid = 0 <= row < len(self.steps)
        for w in (self.remove_button, self.params):
            w.setEnabled(valid)
        self.up_button.setEnabled(valid and row > 0)
        self.down_button.setEnabled(valid and row < len(self.steps) - 1)
        show_problem(self.params_problem, None)
        if valid:
            step = self.steps[row]
            self.params.setText(json.dumps(step.get("params") or {}))
            self.hint.setText(f"{STEP_LABELS.get(step['name'], step['name'])}: "
                              f"{HINTS.get(step['name'], '')}")
        else:
            self.params.clear()
            self.hint.setText("Add a step, then select it to edit its parameters. Steps run "
                              "in order, on the training images only.")

    def _set(self, steps: list[dict[str, Any]], row: int) -> None:
        problem = self.apply("augment", steps, False)
        show_problem(self.params_problem, problem)
        if problem is None:
            self.list.setCurrentRow(row)

    def add_step(self) -> None:
        name = self.kind.currentData()
        self._set(self.steps + [{"name": name, "params": copy.deepcopy(EXAMPLES.get(name, {}))}],
                  len(self.steps))

    def remove_step(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.steps):
            self._set(self.steps[:row] + self.steps[row + 1:], min(row, len(self.steps) - 2))

    def move(self, offset: int) -> None:
        row = self.list.currentRow()
        other = row + offset
        if 0 <= row < len(self.steps) and 0 <= other < len(self.steps):
            steps = copy.deepcopy(self.steps)
            steps[row], steps[other] = steps[other], steps[row]
            self._set(steps, other)

    def _params_edited(self) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self.steps):
            return
        try:
            params = json.loads(self.params.text() or "{}")
        except ValueError as exc:
            show_problem(self.params_problem, f"not JSON: {exc}")
            return
        if not isinstance(params, dict):
            show_problem(self.params_problem, 'the parameters must be a JSON object: '
                                              '{"name": value, ...}')
            return
        if params == (self.steps[row].get("params") or {}):
            show_problem(self.params_problem, None)
            return
        steps = copy.deepcopy(self.steps)
        steps[row]["params"] = params
        self._set(steps, row)

    # -- the preview ---------------------------------------------------------------------------
    def _key(self) -> str:
        dataset, shape, base = self.context()
        return json.dumps([dataset, shape, base, self.seed], sort_keys=True)

    def schedule_preview(self) -> None:
        """Redraw a moment after the last change, when the augmentation or the data changed."""
        if self.active and self._key() != self._preview_key:
            self.timer.start()

    def shuffle(self) -> None:
        self.seed += 1
        self.refresh_preview()

    def refresh_preview(self) -> None:
        """Draw the grid now (in a job)."""
        self.timer.stop()
        self._preview_key = self._key()
        dataset, shape, base = self.context()
        if shape is None:
            self._failed("no preview: the graph has no valid Input")
            return
        self.status.setStyleSheet("")
        self.status.setText("Drawing the preview…")
        if self.preview.pixmap().isNull():  # the first: its room now, not when it arrives
            self.preview.reserve(PREVIEW_GRID_SIDE)
        seed, augmented = self.seed, bool(dataset.get("augment"))
        self.jobs.start(lambda: make_preview(dataset, shape, seed, base),
                        lambda grid: self._show(grid, augmented), self._failed)

    def _show(self, grid: Any, augmented: bool) -> None:
        self.grid = grid
        self.preview.setPixmap(grid_pixmap(grid))
        self.status.setStyleSheet("")
        self.status.setText(f"{PREVIEW_COUNT} training images, seed {self.seed}"
                            + ("" if augmented else " (no augmentation: as they are)"))

    def _failed(self, message: str) -> None:
        if "downloading is off" in message:
            message = "not downloaded yet: use “Download now” under Data to see a preview"
        self.grid = None
        self.preview.clear()
        self.preview.reserve(0)
        self.status.setStyleSheet(f"color: {ERROR_COLOR};")
        self.status.setText(message)
