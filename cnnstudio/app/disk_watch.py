"""The open project's file, watched for another writer (a command training it in place, another
window): a bar above the canvas says "NAME changed on disk (N new runs)." with Reload and Keep
mine; the next Save then merges the runs (project/ondisk.py), or writes a conflict copy.

Polled, not a QFileSystemWatcher: every writer replaces the file by an atomic rename, a new
inode that an inotify watch on the old one never reports (Qt then drops the path), and
network file systems report nothing at all; a stat a second costs nothing. The window's own
saves are told apart by the file's key (mtime, size, inode) that save_project records in
``project.disk``; ``busy`` covers the moment between its rename and that record."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ..project import load_project, ondisk
from . import workers
from .style import WARNING_COLOR
from .widgets.text import colored

POLL_MS = 1000


@dataclass(frozen=True)
class DiskChange:
    """What another writer did to the open project's file."""

    path: Path
    key: tuple[int, int, int]
    """The file's key as read (ondisk.file_key)."""
    new_runs: int = 0
    conflict: str | None = None
    trained_on: int = 0
    """Runs both have that the other writer trained further (Save takes its version)."""
    """Why its runs cannot join ours at Save (ondisk.conflict), or why it cannot be read."""

    def message(self) -> str:
        runs = f"{self.new_runs} new run{'s' if self.new_runs != 1 else ''}" if self.new_runs \
            else "no new runs"
        if self.trained_on:
            runs += f", {self.trained_on} trained further there"
        why = f"; {self.conflict}" if self.conflict else ""
        return f"{self.path.name} changed on disk ({runs}{why})."

    def keep_message(self) -> str:
        """What Save will do with it, once the user keeps their version."""
        if self.conflict:
            return (f"Your version stays open; Save will not overwrite {self.path.name} but "
                    "write yours beside it as a conflict copy")
        if self.new_runs or self.trained_on:
            n = self.new_runs + self.trained_on
            return (f"Your version stays open; Save takes the {n} "
                    f"run{'s' if n != 1 else ''} from disk into it")
        return "Your version stays open; Save replaces the file with it"


class DiskWatch(QObject):
    """Polls the document's file; ``changed`` (a DiskChange) when another writer replaced it
    since the document read or saved it, once per change, read on a background job."""

    changed = Signal(object)  # DiskChange

    def __init__(self, document: Any, busy: Callable[[], bool] = lambda: False,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._busy = busy
        self._told: tuple[Any, tuple[int, int, int] | None] = (None, None)
        """(project, key) last read: a change is told once, however long it stays."""
        self._jobs = workers.Jobs(self)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> bool:
        """Look at the file now; True when a changed file is being read (``changed`` follows)."""
        project, path = self.document.project, self.document.path
        state = project.disk
        if path is None or state is None or state.path != os.path.realpath(path):
            return False  # never read from or saved to this file (a new or recovered one)
        key = ondisk.current_key(path)
        told = self._told[0] is project and self._told[1] == key
        if key is None or key == state.file or told or self._busy():
            return False  # gone (Save writes it again), ours, told already, or being saved
        self._told = (project, key)
        self._jobs.start(lambda: load_project(path),
                         lambda disk: self._read(project, path, disk),
                         lambda why: self._unreadable(project, path, key, why))
        return True

    def wait(self, ms: int = 30000) -> bool:
        """Block until the file being read is read (tests); the answer comes with events."""
        return self._jobs.wait(ms)

    def _current(self, project: Any, path: Path) -> bool:
        return project is self.document.project and path == self.document.path

    def _read(self, project: Any, path: Path, disk: Any) -> None:
        """On the GUI thread: the file as read, compared with the open project."""
        if not self._current(project, path):
            return  # another project opened meanwhile
        if project.disk is not None and disk.disk.file == project.disk.file:
            return  # the window's own save, seen mid-way
        if ondisk.current_key(path) != disk.disk.file:
            return  # replaced again while read (a Save of ours merged it): the poll looks again
        self._told = (project, disk.disk.file)
        self.changed.emit(DiskChange(path, disk.disk.file, len(ondisk.new_runs(project, disk)),
                                     ondisk.conflict(project, disk),
                                     len(ondisk.runs_trained_on(project, disk))))

    def _unreadable(self, project: Any, path: Path, key: tuple[int, int, int], why: str
                    ) -> None:
        """A file that cannot be read (half copied): told; its next change is read again."""
        if self._current(project, path):
            self.changed.emit(DiskChange(path, key, 0, f"it cannot be read now: {why}"))


class DiskBar(QFrame):
    """The bar above the canvas: the change in a line, Reload and Keep mine."""

    reload_requested = Signal()
    keep_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("disk-bar")
        self.change: DiskChange | None = None
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Open the file as it is on disk now (your unsaved "
                                      "changes are asked about)")
        self.keep_button = QPushButton("Keep mine")
        self.keep_button.setToolTip("Keep your version open: Save adds the runs from disk "
                                    "to it, or writes it beside the file when they conflict")
        self.reload_button.clicked.connect(self.reload_requested)
        self.keep_button.clicked.connect(self.keep_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 6, 4)
        layout.addWidget(QLabel(colored("▲", WARNING_COLOR)))
        layout.addWidget(self.label, 1)
        layout.addWidget(self.reload_button)
        layout.addWidget(self.keep_button)
        # The warning hue, faint enough for the palette's text to read in both themes.
        self.setStyleSheet(f"QFrame#disk-bar {{ background: {_rgba(WARNING_COLOR, 0.18)}; "
                           f"border-bottom: 1px solid {_rgba(WARNING_COLOR, 0.7)}; }}")
        self.hide()

    def show_change(self, change: DiskChange) -> None:
        self.change = change
        self.label.setText(change.message())
        self.label.setToolTip(str(change.path))
        self.show()

    def dismiss(self) -> None:
        self.change = None
        self.hide()


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"
