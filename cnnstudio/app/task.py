"""One long job for a dialog (an export, an import) on its own thread, with progress: the
dialog stays responsive and shows how far the job got."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Signal

from . import gc_guard

Progress = Callable[[float, str], None]


class Task(QThread):
    """Runs ``fn(progress)``; ``done`` carries its result, ``failed`` the exception."""

    progress = Signal(float, str)
    done = Signal(object)
    failed = Signal(object)

    def __init__(self, fn: Callable[[Progress], Any], parent: Any = None) -> None:
        super().__init__(parent)
        self.fn = fn
        gc_guard.install(work=True)  # its objects stay collectable (never frozen)

    def run(self) -> None:
        from .training import threads

        threads.for_views()  # one core while a run trains
        try:
            result = self.fn(lambda fraction, text: self.progress.emit(float(fraction), text))
        except Exception as exc:  # noqa: BLE001 - every failure reaches the dialog
            self.failed.emit(exc)
        else:
            self.done.emit(result)
