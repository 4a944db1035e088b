"""Where training runs and whether it fits there: the device line ("NVIDIA H100, 79.1 GiB,
78.0 GiB free" or "CPU, 16 cores, 125.8 GiB RAM, 101.2 GiB available"), the CUDA-only
switches, and the analysis' training-memory estimate against the device's free memory, with
the largest power-of-two batch that fits when the chosen one does not.

``probe_device`` imports torch, so the group asks it in a Jobs job; ``memory_check`` (before
a run starts, when torch is wanted anyway) asks again for a fresh reading.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ... import engine, machine
from ...graph.analysis import memory_optimizer
from ...project import TrainConfig
from .. import preferences
from ..style import ERROR_COLOR, WARNING_COLOR
from ..workers import Jobs
from .settings_forms import FieldForm

HEADROOM = 0.8  # share of the free memory a run may plan to use (the framework needs some)


@dataclass
class DeviceInfo:
    """What a device choice resolves to here. ``kind``: cuda | mps | cpu | missing."""

    kind: str
    name: str
    total: int | None = None
    free: int | None = None
    cores: int | None = None
    note: str = ""

    def describe(self) -> str:
        if self.kind == "missing":
            return self.note
        if self.kind == "cpu":
            parts = [f"CPU, {self.cores or '?'} cores"]
            if self.total:
                parts.append(f"{self.total / 2**30:.1f} GiB RAM")
            if self.free is not None:
                parts.append(f"{self.free / 2**30:.1f} GiB available")
            return ", ".join(parts)
        parts = [self.name]
        if self.total:
            parts.append(f"{self.total / 2**30:.1f} GiB")
        if self.free is not None:
            parts.append(f"{self.free / 2**30:.1f} GiB free")
        return ", ".join(parts)


def size(n_bytes: float) -> str:
    """Bytes in binary units, as the device line gives them: 1.5 GiB, 340 MiB."""
    if n_bytes >= 2**30:
        return f"{n_bytes / 2**30:.1f} GiB"
    return f"{max(n_bytes, 0) / 2**20:.0f} MiB"


def system_memory() -> tuple[int | None, int | None]:
    """(total, available) RAM in bytes (None where unknown)."""
    return machine.memory()


def probe_device(choice: str) -> DeviceInfo:
    """Resolve ``auto | cpu | cuda | mps`` as training will, and read its memory (torch)."""
    import torch

    try:
        device = engine.pick_device(choice)
    except engine.TrainingError as exc:
        return DeviceInfo("missing", choice, note=str(exc).replace("training.device", "Device"))
    if device.type == "cuda":
        index = device.index or 0
        free, total = torch.cuda.mem_get_info(index)
        return DeviceInfo("cuda", torch.cuda.get_device_name(index), total, free)
    total, free = system_memory()
    if device.type == "mps":
        return DeviceInfo("mps", "Apple GPU (Metal, shares the RAM)", total, free)
    return DeviceInfo("cpu", "CPU", total, free, os.cpu_count())


def check_memory(report: Any, training: TrainConfig, info: DeviceInfo | None
                 ) -> tuple[bool, str, int | None]:
    """(fits, message, suggested batch) for the configured batch on the device ``info``."""
    if report.input_shape is None or not report.nodes:
        return True, "No memory estimate: the graph has no valid Input.", None
    batch = training.batch_size
    opt = training.optimizer
    key = memory_optimizer(opt.name, opt.momentum, opt.nesterov)
    slow = opt.lookahead_k > 0  # Lookahead keeps a slow copy of the weights

    def estimate(n: int) -> int:
        return report.training_memory(n, key, lookahead=slow).total

    need = estimate(batch)
    where = "on the GPU" if info is not None and info.kind in ("cuda", "mps") else "in RAM"
    if info is not None and info.free is not None:
        room, room_text = info.free, f"{size(info.free)} free {where}"
    else:  # no reading of what is free: what there is at all still bounds it
        room = info.total if info is not None and info.total else system_memory()[0]
        room_text = f"{size(room or 0)} of {'GPU memory' if 'GPU' in where else 'RAM'} in all"
        if room is None or need <= room * HEADROOM:
            return True, f"Training needs about {size(need)} (estimate, float32).", None
    usable = int(room * HEADROOM)
    if need <= usable:
        return True, (f"Training needs about {size(need)} of the {room_text} "
                      "(estimate, float32)."), None
    fixed = estimate(0)
    per_sample = max(1, estimate(1) - fixed)
    most = (usable - fixed) // per_sample
    suggested = 1 << (int(most).bit_length() - 1) if most >= 1 else None
    message = (f"Batch {batch} needs about {size(need)}, more than fits in the "
               f"{room_text} (planning {size(usable)}, leaving room for the framework).")
    message += (f" Batch {suggested} fits." if suggested else
                " Even batch 1 does not fit: make the network or its input smaller.")
    return False, message, suggested


class DeviceGroup(QWidget):
    """The Device section: choice, what it is, AMP / channels-last / compile, memory."""

    def __init__(self, apply: Callable[[str, Any, bool], str | None],
                 report: Callable[[], Any], training: Callable[[], TrainConfig]) -> None:
        super().__init__()
        self.report, self.training = report, training
        self.info: DeviceInfo | None = None
        self.active = False  # ask the device only once shown (torch)
        self._asked: str | None = None
        self.suggested: int | None = None
        self.jobs = Jobs(self)
        self.choice = FieldForm(TrainConfig, ["device"], apply)
        self.line = QLabel("…")
        self.line.setWordWrap(True)
        self.switches = FieldForm(TrainConfig, ["amp", "channels_last", "compile"], apply)
        self.memory = QLabel()
        self.memory.setWordWrap(True)
        self.use_batch = QPushButton()
        self.use_batch.hide()
        self.use_batch.clicked.connect(
            lambda: self.suggested and apply("batch_size", self.suggested, False))
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.memory, 1)
        row.addWidget(self.use_batch)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.choice)
        box.addWidget(self.line)
        box.addWidget(self.switches)
        box.addLayout(row)
        self.tensorboard = TensorBoardRow()
        box.addWidget(self.tensorboard)
        self._cuda_switches(False)

    def sync(self, values: dict[str, Any]) -> None:
        self.choice.sync(values)
        self.switches.sync(values)
        if self.active and values["device"] != self._asked:
            self.ask(values["device"])
        self.show_memory()

    def ask(self, choice: str) -> None:
        """Find out what the choice is, in the background."""
        self._asked = choice
        self.line.setText("Looking at the device…")
        self.jobs.start(lambda: probe_device(choice), self.set_info,
                        lambda message: self.line.setText(f"Cannot tell: {message}"))

    def set_info(self, info: DeviceInfo) -> None:
        self.info = info
        bad = info.kind == "missing"
        self.line.setText(info.describe())
        self.line.setStyleSheet(f"color: {ERROR_COLOR};" if bad else "")
        self._cuda_switches(info.kind == "cuda")
        self.show_memory()

    def _cuda_switches(self, cuda: bool) -> None:
        """Mixed precision and channels-last work on CUDA only."""
        for name in ("amp", "channels_last"):
            row = self.switches.rows[name]
            row.editor.setEnabled(cuda)
            row.label.setEnabled(cuda)
            row.editor.setToolTip(row.label.toolTip() + ("" if cuda else
                                                         " (Only with a CUDA GPU.)"))

    def show_memory(self) -> None:
        fits, message, suggested = check_memory(self.report(), self.training(), self.info)
        self.suggested = None if fits else suggested
        self.memory.setText(message)
        self.memory.setStyleSheet("" if fits else f"color: {WARNING_COLOR};")
        self.use_batch.setVisible(self.suggested is not None)
        if self.suggested is not None:
            self.use_batch.setText(f"Use batch {self.suggested}")


def tensorboard_problem() -> str | None:
    """Why runs cannot write TensorBoard logs here (imports nothing: no job needed)."""
    from ...engine.training import tbfind

    return tbfind.missing()


class TensorBoardRow(QWidget):
    """"TensorBoard logs: FOLDER [Folder…] [Off]": where runs trained in this window write
    TensorBoard event files (``FOLDER/run-<id>``). A preference of this machine, not a project
    setting, so it stays the same from project to project and is never shared with a file."""

    def __init__(self) -> None:
        super().__init__()
        self.problem: str | None = None
        self.known = False
        """Whether the package was looked for (``problem`` is the answer)."""
        self._checked = False
        self.text = ""
        """What ``where`` says in full (it elides a long folder in the middle)."""
        self.where = QLabel()
        self.where.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.choose = QPushButton("Folder…")
        self.choose.setToolTip("Choose the folder TensorBoard logs of runs go to")
        self.choose.clicked.connect(self.pick)
        self.off = QPushButton("Off")
        self.off.setToolTip("Write no TensorBoard logs")
        self.off.clicked.connect(lambda: self.set_folder(None))
        top = QHBoxLayout()  # the folder on a line of its own: a narrow panel keeps it legible
        top.addWidget(QLabel("TensorBoard logs:"), 1)
        top.addWidget(self.choose)
        top.addWidget(self.off)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addLayout(top)
        box.addWidget(self.where)
        self.show_folder()

    def pick(self) -> None:
        start = preferences.tensorboard_folder() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Folder for TensorBoard logs", start)
        if folder:
            self.set_folder(folder)

    def set_folder(self, folder: str | None) -> None:
        preferences.set_tensorboard_folder(folder)
        self.show_folder()

    def show_folder(self) -> None:
        folder = preferences.tensorboard_folder()
        if self.problem:
            text, tip = f"off: {self.problem}", self.problem
        elif folder:
            text = folder
            tip = (f"Each run writes {folder}/run-<id>; see them with "
                   f"`tensorboard --logdir {folder}`")
        else:
            text, tip = "off", "Runs write no TensorBoard logs"
        self.text = text
        self._elide()
        self.where.setToolTip(tip)
        self.where.setStyleSheet(f"color: {WARNING_COLOR};" if self.problem and folder else "")
        self.choose.setEnabled(not self.problem)
        self.off.setEnabled(folder is not None)

    def _elide(self) -> None:
        """A folder shortened in the middle to fit; the message of a missing package whole."""
        self.where.setWordWrap(bool(self.problem))
        self.where.setText(self.text if self.problem else self.where.fontMetrics().elidedText(
            self.text, Qt.TextElideMode.ElideMiddle, max(self.where.width(), 40)))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """Whether the package is there is asked once shown (a look-up, no import: importing
        it on a pool thread while a run trains crashed torch once)."""
        super().showEvent(event)
        if not self._checked:
            self._checked = True
            self._set_problem(tensorboard_problem())

    def _set_problem(self, problem: str | None) -> None:
        self.problem, self.known = problem, True
        self.show_folder()
