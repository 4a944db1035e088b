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
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ... import engine
from ...graph.analysis import memory_optimizer
from ...project import TrainConfig
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
    """(total, available) RAM in bytes: /proc/meminfo, else sysconf."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f
                    if line.split()[1:2] and line.split()[1].isdigit()}
        return info.get("MemTotal"), info.get("MemAvailable", info.get("MemFree"))
    except (OSError, ValueError, IndexError):
        pass
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return os.sysconf("SC_PHYS_PAGES") * page, os.sysconf("SC_AVPHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):
        return None, None


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
    need = report.training_memory(batch, key).total
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
    fixed = report.training_memory(0, key).total
    per_sample = max(1, report.training_memory(1, key).total - fixed)
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
