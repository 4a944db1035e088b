"""The training settings panel: Data, Augmentation, Training, Transfer and Device, each a
collapsible section, editing ``project.dataset`` and ``project.training``.

Every edit goes through ``change``, that is ``document.change_settings``: one undo step, or
the reason it was refused (the config's ``ConfigError``, shown under the field in red, and
nothing is applied). The panel redraws from the project on ``document.settings_changed``
(edits, undo, redo) and ``document.reset``, and locks itself while the controller trains. It
scrolls by itself (``scroll``, holding ``content``), so a dock can hold it as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...graph import analyze
from ...project import DatasetConfig, TrainConfig
from ..widgets import muted_label
from . import settings_device
from .augment_editor import AugmentEditor
from .settings_data import DataGroup
from .settings_device import DeviceGroup
from .settings_forms import CHOICE_LABELS, FieldForm, align_labels, field_label
from .settings_transfer import TransferGroup

ADAMS = ("adam", "adamw", "radam", "lamb")
ONE_OF = {  # which options apply to which choice
    "optimizer.momentum": ("sgd", "rmsprop"), "optimizer.nesterov": ("sgd",),
    "optimizer.beta1": ADAMS, "optimizer.beta2": ADAMS,
    "optimizer.eps": (*ADAMS, "rmsprop", "adagrad", "adadelta"), "optimizer.rho": ("adadelta",),
    "schedule.step_size": ("step",), "schedule.milestones": ("multistep",),
    "schedule.gamma": ("step", "multistep", "exponential"),
    "schedule.eta_min": ("cosine", "cosine_restarts", "polynomial", "cyclic"),
    "schedule.t0": ("cosine_restarts",), "schedule.t_mult": ("cosine_restarts",),
    "schedule.patience": ("plateau",), "schedule.factor": ("plateau",),
    "schedule.min_lr": ("plateau",), "schedule.power": ("polynomial",),
    "schedule.cycle_mode": ("cyclic",), "schedule.cycle_epochs": ("cyclic",),
    "schedule.max_lr": ("onecycle",), "loss.label_smoothing": ("cross_entropy",),
    "loss.focal_gamma": ("focal",),
    "loss.class_weights": ("cross_entropy", "focal", "bce", "hinge"),
}
ALSO_WHEN = {  # rows that apply on another setting too
    "schedule.gamma": lambda v: v["schedule"]["name"] == "cyclic"
    and v["schedule"]["cycle_mode"] == "exp_range",
    "optimizer.lookahead_alpha": lambda v: v["optimizer"]["lookahead_k"] > 0,
}


def _beside(row: Any, text: str, slot: Any) -> QPushButton:
    """A button on the line of ``row``'s editor (a Browse… for a file the row names)."""
    button = QPushButton(text)
    button.clicked.connect(slot)
    layout = row.widget.layout()
    layout.removeWidget(row.editor)
    line = QHBoxLayout()
    line.setSpacing(4)
    line.addWidget(row.editor, 1)
    line.addWidget(button)
    layout.insertLayout(0, line)
    return button


def _when(path: str) -> Any:
    group = path.split(".")[0]
    also = ALSO_WHEN.get(path, lambda _values: False)
    if path not in ONE_OF:
        return also
    return lambda values: values[group]["name"] in ONE_OF[path] or also(values)


def _short(value: Any) -> str:
    text = "none" if value is None else str(value)
    return text if len(text) <= 24 else text[:23] + "…"


class Collapsible(QWidget):
    """A titled box whose body folds away under its header (an arrow button)."""

    def __init__(self, title: str, expanded: bool = True) -> None:
        super().__init__()
        self.header = QToolButton()
        self.header.setText(title)
        self.header.setCheckable(True)
        self.header.setChecked(expanded)
        self.header.setAutoRaise(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        font = self.header.font()
        font.setBold(True)
        self.header.setFont(font)
        self.body = QFrame()
        self.body.setFrameShape(QFrame.Shape.StyledPanel)
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(8, 6, 8, 8)
        self.body_layout.setSpacing(6)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.header)
        box.addWidget(self.body)
        self.header.toggled.connect(self.set_expanded)
        self.set_expanded(expanded)

    def set_expanded(self, expanded: bool) -> None:
        self.header.setChecked(expanded)
        self.header.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.body.setVisible(expanded)

    def add(self, widget: QWidget) -> QWidget:
        self.body_layout.addWidget(widget)
        return widget


class TrainingSettings(QWidget):
    """The settings of the document's project for training; ``memory_check`` for the window."""

    def __init__(self, document: Any, controller: Any = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.controller = controller
        self.lock_note = muted_label("Training is running: the settings are locked until it "
                                     "ends.")
        self.lock_note.hide()
        self.data = DataGroup(self)
        self.augment = AugmentEditor(self.dataset_apply, self.context)
        self.mixing = FieldForm(DatasetConfig, ["mixup_alpha", "cutmix_alpha"],
                                self.dataset_apply)
        t = self.training_apply
        self.general = FieldForm(TrainConfig, ["epochs", "batch_size", "seed", "deterministic",
                                               "early_stopping", "grad_clip",
                                               "checkpoint_every"], t)
        forms = {
            "Loss": ["loss.name", "loss.label_smoothing", "loss.focal_gamma",
                     "loss.class_weights", "loss.l1"],
            "Optimizer": ["optimizer.name", "optimizer.lr", "optimizer.momentum",
                          "optimizer.nesterov", "optimizer.beta1", "optimizer.beta2",
                          "optimizer.rho", "optimizer.eps", "optimizer.weight_decay",
                          "optimizer.lookahead_k", "optimizer.lookahead_alpha"],
            "Schedule": ["schedule.name", "schedule.step_size", "schedule.milestones",
                         "schedule.cycle_mode", "schedule.cycle_epochs", "schedule.gamma",
                         "schedule.eta_min", "schedule.power", "schedule.t0", "schedule.t_mult",
                         "schedule.patience", "schedule.factor", "schedule.min_lr",
                         "schedule.max_lr", "schedule.warmup_epochs"],
            "Distillation": ["distill.teacher", "distill.temperature", "distill.alpha"],
        }
        hints = {"loss.class_weights": 'empty, "balanced", or one weight per class',
                 "schedule.milestones": "epochs, e.g. 30, 60, 90",
                 "distill.teacher": "a trained .cnnproj, or pretrained:resnet50"}
        self.forms = {title: FieldForm(TrainConfig, paths, t,
                                       {p: _when(p) for p in paths
                                        if p in ONE_OF or p in ALSO_WHEN}, hints)
                      for title, paths in forms.items()}
        self.teacher_browse = _beside(self.forms["Distillation"].rows["distill.teacher"],
                                      "Browse…", self._browse_teacher)
        self.transfer = TransferGroup(self)
        self.device = DeviceGroup(t, self._report, lambda: self.document.project.training)

        self.sections: dict[str, Collapsible] = {}
        self.content = QWidget()  # the sections, in a scroll area of their own (it is tall)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)
        box = QVBoxLayout(self.content)
        box.setContentsMargins(6, 6, 6, 6)
        box.setSpacing(8)
        box.addWidget(self.lock_note)
        for title, widgets in (("Data", [self.data]), ("Augmentation", [self.augment,
                                                                        self.mixing]),
                               ("Training", [self.general, *self._titled(self.forms)]),
                               ("Transfer", [self.transfer]), ("Device", [self.device])):
            section = Collapsible(title)
            for w in widgets:
                section.add(w)
            self.sections[title] = section
            box.addWidget(section)
        box.addStretch(1)
        self.scroll.setWidget(self.content)
        align_labels([self.data.form, self.data.split.form, self.mixing.form,
                      self.general.form, *(f.form for f in self.forms.values()),
                      self.device.choice.form, self.device.switches.form])

        document.settings_changed.connect(self._on_settings)
        document.reset.connect(self.refresh)
        document.analysis_ready.connect(self._on_analysis)
        if controller is not None:
            controller.state_changed.connect(self._on_state)
        self.refresh()

    @staticmethod
    def _titled(forms: dict[str, FieldForm]) -> list[QWidget]:
        out: list[QWidget] = []
        for form in forms.values():
            line = QFrame()
            line.setFrameShape(QFrame.Shape.HLine)
            line.setFrameShadow(QFrame.Shadow.Sunken)
            out += [line, form]
        return out

    # -- editing -------------------------------------------------------------------------------
    def change(self, section: str, changes: dict[str, Any], merge: bool = False,
               key: str | None = None) -> str | None:
        """Apply ``changes`` ({dotted path: value}) to a section as one undo step; returns why
        not (and changes nothing) when the config refuses them."""
        first, value = next(iter(changes.items()))
        shown = CHOICE_LABELS.get(first, {}).get(value, value) if isinstance(value, str) \
            else value
        text = "Change augmentation" if first == "augment" else \
            f"Set {field_label(first)} to {_short(shown)}"
        return self.document.change_settings(section, changes, text, key=key, merge=merge)

    def dataset_apply(self, path: str, value: Any, merge: bool) -> str | None:
        return self.change("dataset", {path: value}, merge)

    def training_apply(self, path: str, value: Any, merge: bool) -> str | None:
        return self.change("training", {path: value}, merge)

    def _browse_teacher(self) -> None:
        path = self.ask_teacher()
        if path:
            self.training_apply("distill.teacher", self.relative(path), False)

    def ask_teacher(self) -> str | None:
        """A file dialog for the teacher project (tests replace it)."""
        start = self.base_dir() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "The teacher: a trained project", start,
                                              "CNN Studio projects (*.cnnproj)")
        return path or None

    def relative(self, path: str) -> str:
        """``path`` from the project's folder when it lies inside it (the two travel
        together), else as it is."""
        base = self.base_dir()
        if base is not None:
            try:
                return Path(path).resolve().relative_to(Path(base).resolve()).as_posix()
            except ValueError:
                pass
        return path

    # -- views ---------------------------------------------------------------------------------
    def base_dir(self) -> str | None:
        path = self.document.path
        return str(Path(path).parent) if path is not None else None

    def _report(self) -> Any:
        return self.document.report

    def context(self) -> tuple[dict[str, Any], list[int] | None, str | None]:
        """(dataset dict, the Input's shape or None, the project's folder) for the preview."""
        shape = self.document.report.input_shape
        return (self.document.settings("dataset"),
                list(shape) if shape is not None else None, self.base_dir())

    def refresh(self) -> None:
        """Show the project's settings (after an edit, undo, redo or a new project)."""
        dataset = self.document.settings("dataset")
        training = self.document.settings("training")
        self.data.sync(dataset)
        self.augment.sync(dataset["augment"])
        self.mixing.sync(dataset)
        self.general.sync(training)
        for form in self.forms.values():
            form.sync(training)
        self.transfer.sync(training)
        self.device.sync(training)
        self._on_state(getattr(self.controller, "state", "idle"))

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """The device and the preview (both import torch) are looked at once the panel is
        first shown, so that a window holding it still starts without torch."""
        super().showEvent(event)
        if not self.device.active:
            self.device.active = self.augment.active = True
            self.refresh()

    def _on_settings(self, _section: str) -> None:
        self.refresh()

    def _on_analysis(self, _report: Any) -> None:
        self.transfer.sync(self.document.settings("training"))  # its blocks and layers
        self.device.show_memory()
        self.augment.schedule_preview()

    def _on_state(self, _state: str) -> None:
        running = bool(getattr(self.controller, "running", False))
        self.lock_note.setVisible(running)
        for section in self.sections.values():
            section.body.setEnabled(not running)

    def memory_check(self) -> tuple[bool, str, int | None]:
        """(fits, message, suggested batch) with a fresh reading of the device's free memory;
        the Device section shows the same."""
        try:
            info = settings_device.probe_device(self.document.project.training.device)
        except Exception:  # noqa: BLE001 - no reading: the estimate alone
            info = None
        if info is not None:
            self.device.set_info(info)
        return settings_device.check_memory(analyze(self.document.graph),
                                            self.document.project.training, info)
