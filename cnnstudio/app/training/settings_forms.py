"""Editors for the dataset and training settings, made from the config dataclasses: each field's
``_opt`` metadata (its check closure holds the range, the choices, whether it may be empty;
its help is the tooltip) becomes a ``graph.layers.Param`` so that the inspector's editors
(``panels/editors.py``) serve here too. Lists and objects get a loose text field (JSON, or
items separated by commas). Every field applies through one callback,
``apply(path, value, merge) -> problem | None``, and shows the problem under itself in red.

Also two widgets the settings share: a combo box that may shrink, a picture that shrinks to
the panel's width.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ...graph import UNSET
from ...graph.layers import Param
from ..panels.editors import INT_LIMIT, LineEdit, ParamEditor, TextEditor, make_editor
from ..widgets import error_label, show_problem

Apply = Callable[[str, Any, bool], "str | None"]

# Readable names for the choices; what is missing shows as it is stored.
CHOICE_LABELS: dict[str, dict[str, str]] = {
    "source": {"digits": "Digits (built in, 8×8)", "mnist": "MNIST", "fashion_mnist":
               "Fashion-MNIST", "kmnist": "KMNIST", "cifar10": "CIFAR-10", "cifar100":
               "CIFAR-100", "svhn": "SVHN", "folder": "Image folder (one folder per class)",
               "csv": "CSV file (path, label)"},
    "normalize": {"auto": "Training set mean and std", "none": "None (0–1)",
                  "imagenet": "ImageNet mean and std",
                  "custom": "Custom mean and std"},
    "interpolation": {"bilinear": "Bilinear", "bicubic": "Bicubic", "nearest": "Nearest"},
    "task": {"classify": "Classify (one class per image)", "multilabel":
             "Multi-label (names split by | or ;)", "regress": "Regression (numbers per image)"},
    "device": {"auto": "Automatic (GPU if present)", "cpu": "CPU", "cuda": "CUDA (NVIDIA GPU)",
               "mps": "MPS (Apple GPU)"},
    "optimizer.name": {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
                       "adagrad": "Adagrad", "radam": "RAdam", "adadelta": "AdaDelta",
                       "lamb": "LAMB (timm)"},
    "schedule.name": {"none": "Constant", "step": "Step decay", "multistep":
                      "Decay at milestones", "exponential": "Exponential decay", "cosine":
                      "Cosine annealing", "cosine_restarts": "Cosine with warm restarts",
                      "plateau": "Reduce on plateau", "onecycle": "One-cycle",
                      "polynomial": "Polynomial decay", "cyclic": "Cyclic"},
    "schedule.cycle_mode": {"triangular": "Triangular", "triangular2":
                            "Triangular, halving", "exp_range": "Triangular, shrinking by γ"},
    "loss.name": {"cross_entropy": "Cross-entropy", "bce": "Binary cross-entropy (per class)",
                  "focal": "Focal loss", "mse": "Mean squared error", "mae":
                  "Mean absolute error", "hinge": "Hinge (multi-class SVM)"},
}
FIELD_LABELS = {
    "loss.name": "Loss", "optimizer.name": "Optimizer", "schedule.name": "Schedule",
    "path": "Path", "val_fraction": "Validation share", "test_fraction": "Test share",
    "split_seed": "Split seed", "folds": "Folds", "fold": "Validation fold",
    "limit": "Sample limit", "normalize": "Normalize",
    "mean": "Mean", "std": "Std", "resize": "Resize (shorter side)",
    "interpolation": "Interpolation", "standardize": "Standardize targets",
    "mixup_alpha": "Mixup α", "cutmix_alpha": "CutMix α", "batch_size": "Batch size",
    "lr": "Learning rate", "beta1": "β1", "beta2": "β2", "eps": "ε", "weight_decay":
    "Weight decay", "grad_clip": "Gradient clip", "early_stopping": "Early stopping",
    "checkpoint_every": "Checkpoint every", "step_size": "Step size", "eta_min": "Lowest rate",
    "t0": "First cycle", "t_mult": "Cycle growth", "max_lr": "Peak rate", "warmup_epochs":
    "Warm-up epochs", "label_smoothing": "Label smoothing", "class_weights": "Class weights",
    "focal_gamma": "Focal γ", "channels_last": "Channels last", "amp": "Mixed precision",
    "compile": "torch.compile", "teacher": "Teacher project", "temperature": "Temperature",
    "alpha": "Teacher's share α", "rho": "ρ", "lookahead_k": "Lookahead steps k",
    "lookahead_alpha": "Lookahead α", "l1": "L1 penalty λ", "power": "Power",
    "cycle_mode": "Cycle", "cycle_epochs": "Half cycle (epochs)", "min_lr": "Lowest rate",
}


# -- metadata --------------------------------------------------------------------------------
def _closure(fn: Any) -> dict[str, Any]:
    code = getattr(fn, "__code__", None)
    cells = getattr(fn, "__closure__", None) or ()
    if code is None:
        return {}
    return {name: cell.cell_contents for name, cell in zip(code.co_freevars, cells)}


def field_of(cls: type, path: str) -> tuple[dataclasses.Field, str]:
    """The dataclass field at a dotted ``path`` inside section ``cls`` and its last name."""
    *outer, name = path.split(".")
    for part in outer:
        cls = next(f for f in dataclasses.fields(cls) if f.name == part).metadata["nested"]
    return next(f for f in dataclasses.fields(cls) if f.name == name), name


def field_param(cls: type, path: str) -> Param | None:
    """The field as a layer-style ``Param`` (None for lists, objects and free text)."""
    f, name = field_of(cls, path)
    check = f.metadata["check"]
    default = f.default if f.default is not dataclasses.MISSING else None
    helptext = f.metadata.get("help", "")
    if getattr(check, "__name__", "") == "boolean":
        return Param(name, "bool", default, helptext)
    env = _closure(check)
    if "options" in env:
        return Param(name, "choice", default, helptext, choices=tuple(env["options"]))
    if {"lo", "hi", "integer", "nullable", "above"} <= env.keys():
        return Param(name, "int" if env["integer"] else "float", default, helptext,
                     min=env["lo"], max=env["hi"], nullable=env["nullable"],
                     exclusive_min=env["above"])
    return None


def field_label(path: str) -> str:
    name = path.rsplit(".", 1)[-1]
    return FIELD_LABELS.get(path) or FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def align_labels(forms: list[QFormLayout]) -> None:
    """One label column width for several forms, so that their fields line up."""
    labels = []
    for form in forms:
        for i in range(form.rowCount()):
            item = form.itemAt(i, QFormLayout.ItemRole.LabelRole)
            if item is not None and item.widget() is not None:
                labels.append(item.widget())
    width = max((w.sizeHint().width() for w in labels), default=0)
    for w in labels:
        w.setMinimumWidth(width)


def parse_loose(text: str) -> Any:
    """What a loose field's text means: JSON, else a comma list, else the bare word; empty:
    None."""
    t = text.strip()
    if not t:
        return None
    for attempt in (t, f"[{t}]"):
        try:
            return json.loads(attempt)
        except ValueError:
            continue
    return t.strip("'\"")


def format_loose(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, (int, float)) for v in value):
        return ", ".join(json.dumps(v) for v in value)
    return json.dumps(value)


class LooseEditor(ParamEditor):
    """A line edit for a list, an object or text, applied on Enter or when focus leaves."""

    def __init__(self, name: str, helptext: str, on_change: Callable[[Any, bool], None],
                 placeholder: str = "") -> None:
        super().__init__(Param(name, "float", None, helptext, nullable=True), on_change)
        self.field = LineEdit()
        self.field.setPlaceholderText(placeholder)
        self.field.editingFinished.connect(self._finished)
        self.field.escaped.connect(lambda: self.field.setText(format_loose(self.value)))
        self.layout_.addWidget(self.field)

    def _display(self, value: Any, explicit: bool) -> None:
        self.field.setText(format_loose(value))

    def _finished(self) -> None:
        value = parse_loose(self.field.text())
        if value != self.value:
            self._send(value)


# -- rows and forms --------------------------------------------------------------------------
class FieldRow:
    """One setting: a label, its editor and the line that says why a value was refused."""

    def __init__(self, cls: type, path: str, apply: Apply, placeholder: str = "") -> None:
        self.path = path
        self.apply = apply
        f, name = field_of(cls, path)
        self.default = f.default if f.default is not dataclasses.MISSING else \
            f.default_factory()  # type: ignore[misc]
        param = field_param(cls, path)
        helptext = f.metadata.get("help", "")
        if param is None:
            self.editor: ParamEditor = LooseEditor(name, helptext, self._changed, placeholder)
        elif param.kind == "int" and param.max is not None and param.max > INT_LIMIT:
            self.editor = TextEditor(param, self._changed)  # a seed: beyond a spin box
        else:
            self.editor = make_editor(param, self._changed)
        if isinstance(getattr(self.editor, "field", None), QComboBox):
            shrinkable(self.editor.field)  # type: ignore[attr-defined]
            self.editor.layout_.setStretch(0, 1)  # as wide as the text fields
            self.editor.layout_.setStretch(1, 0)
        labels = CHOICE_LABELS.get(path)
        if labels and param is not None and param.kind == "choice":
            combo = self.editor.field  # type: ignore[attr-defined]
            for i, value in enumerate(self.editor.values):  # type: ignore[attr-defined]
                combo.setItemText(i, labels.get(value, str(value)))
        self.label = QLabel(field_label(path))
        self.label.setToolTip(helptext)
        self.editor.setToolTip(helptext)
        self.message = error_label()
        if isinstance(self.editor, TextEditor):
            # applied on Enter or leaving the field: "0.5" typed must not set 0 on the way
            self.editor.live = False
            self.editor.on_problem = lambda problem: show_problem(self.message, problem)
        self.widget = QWidget()
        box = QVBoxLayout(self.widget)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(1)
        box.addWidget(self.editor)
        box.addWidget(self.message)

    def _changed(self, value: Any, new_step: bool) -> None:
        if value is UNSET:
            value = self.default
        problem = self.apply(self.path, value, not new_step)
        if isinstance(self.editor, TextEditor):
            self.editor.set_problem(problem)  # a red frame, and the message below
        else:
            show_problem(self.message, problem)

    def value_in(self, values: dict[str, Any]) -> Any:
        for part in self.path.split("."):
            values = values[part]
        return values

    def sync(self, values: dict[str, Any]) -> None:
        value = self.value_in(values)
        if value != self.editor.value and not self.editor.invalid:
            show_problem(self.message, None)
        self.editor.sync(value, True)


class FieldForm(QWidget):
    """Rows for some fields of one section; ``when`` hides rows that do not apply (a momentum
    for Adam) from the section's current values."""

    def __init__(self, cls: type, paths: list[str], apply: Apply,
                 when: dict[str, Callable[[dict[str, Any]], bool]] | None = None,
                 placeholders: dict[str, str] | None = None) -> None:
        super().__init__()
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.rows: dict[str, FieldRow] = {}
        self.when = when or {}
        for path in paths:
            row = FieldRow(cls, path, apply, (placeholders or {}).get(path, ""))
            self.rows[path] = row
            self.form.addRow(row.label, row.widget)

    def sync(self, values: dict[str, Any]) -> None:
        for path, row in self.rows.items():
            row.sync(values)
            rule = self.when.get(path)
            self.form.setRowVisible(row.widget, rule is None or bool(rule(values)))


def shrinkable(combo: QComboBox) -> QComboBox:
    """A combo box whose width does not grow with its longest item (a narrow dock)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)
    return combo


class GridView(QWidget):
    """A pixmap shown whole at up to its own size, shrunk (keeping its aspect, nearest pixels)
    when the panel is narrower."""

    def __init__(self) -> None:
        super().__init__()
        self._pixmap = QPixmap()
        self._reserved = 0
        """While empty, the side of a square kept free for a pixmap on its way (0: none), so
        the panel below does not jump when it arrives."""
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def pixmap(self) -> QPixmap:
        return self._pixmap

    def setPixmap(self, pixmap: QPixmap) -> None:  # noqa: N802 - QLabel's name
        self._pixmap = pixmap
        self.updateGeometry()
        self.update()

    def clear(self) -> None:
        self.setPixmap(QPixmap())

    def reserve(self, side: int) -> None:
        """Keep a ``side``-pixel square while empty (0: shrink to nothing)."""
        self._reserved = side
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        if self._pixmap.isNull():
            return QSize(max(64, self._reserved), max(16, self._reserved))
        return self._pixmap.size()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(64, 16)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt's name
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt's name
        p = self._pixmap
        if p.isNull():
            return max(16, min(width, self._reserved))
        return round(min(width, p.width()) * p.height() / p.width())

    def paintEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if self._pixmap.isNull():
            return
        shown = self._pixmap.size().scaled(self.size().boundedTo(self._pixmap.size()),
                                           Qt.AspectRatioMode.KeepAspectRatio)
        x, y = (self.width() - shown.width()) // 2, (self.height() - shown.height()) // 2
        QPainter(self).drawPixmap(x, y, shown.width(), shown.height(), self._pixmap)
