"""The main window as the window tests open it, and message boxes answered by the test."""

from __future__ import annotations

import gc

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QMessageBox

from cnnstudio.app import preferences
from cnnstudio.app.training import threads
from cnnstudio.app.window import MainWindow


@pytest.fixture(autouse=True)
def every_core_after():
    """A run puts the GUI thread (the tests' thread) on one core; the next tests get all.
    A window turns Python's automatic garbage collection off (gc_guard); tests without one
    get it back."""
    yield
    if threads._cores:
        threads.for_training()
    gc.enable()


def forget_changes(win: MainWindow) -> None:
    """At the end of a test: no run going on, nothing left to ask about when it closes."""
    c = win.training.controller
    if c.running:
        c.stop()
        c.wait()
        QCoreApplication.processEvents()  # the run's end reaches the controller ...
        if c.running:  # ... or a failed test's window would ask whether to stop it, forever
            c.mark_idle()
    win.document.undo_stack.setClean()
    win.document._extra_dirty = False


@pytest.fixture
def window(qtbot, tmp_path):
    preferences.use_folder(tmp_path / "settings")
    win = MainWindow()
    qtbot.addWidget(win, before_close_func=forget_changes)
    win.show()
    yield win
    preferences.use_folder(None)


@pytest.fixture
def answers(monkeypatch):
    """Record message boxes and answer questions with what the test sets."""
    shown: list[tuple[str, str]] = []
    reply = {"question": QMessageBox.StandardButton.Discard}

    def warn(parent, title, text, *args, **kwargs):
        shown.append((title, text))
        return QMessageBox.StandardButton.Ok

    def ask(parent, title, text, *args, **kwargs):
        shown.append((title, text))
        return reply["question"]

    monkeypatch.setattr(QMessageBox, "warning", warn)
    monkeypatch.setattr(QMessageBox, "question", ask)
    return shown, reply
