"""Background jobs of the window, one way: a function runs on a thread of its own and its answer
(result, exception, progress) comes back on the GUI thread through queued signals.

One way, so that every job gets the same thread counts (training/threads.py), the same
garbage-collection guard (gc_guard), the same error path (an exception is logged here and
becomes one ``on_error`` call) and the same lifetime: a job outlives whoever started it, so
closing a panel or a dialog while its job runs is safe (the answer is then dropped).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Signal

from . import gc_guard
from .training import threads

VIEW, TRAINING, IMPORT = threads.VIEW, threads.TRAINING, threads.IMPORT
log = logging.getLogger(__name__)
_alive: set[Job] = set()
"""Started jobs whose end has not reached the GUI thread yet: nothing else needs to keep them."""


def describe(exc: BaseException) -> str:
    """An exception in a line for the user."""
    return str(exc) or type(exc).__name__


class _Relay(QObject):
    """Carries the jobs' answers from their threads to the GUI thread, where it lives (queued
    signals); a child of the application, so it ends with it."""

    progressed = Signal(object, float, str)  # the job, fraction, text
    ended = Signal(object, object, object)  # the job, its result, its exception (or None)

    def __init__(self, parent: QObject | None) -> None:
        super().__init__(parent)
        self.progressed.connect(self._progressed)
        self.ended.connect(self._ended)

    def _progressed(self, job: Job, fraction: float, text: str) -> None:
        job.handle_progress(fraction, text)

    def _ended(self, job: Job, result: Any, error: BaseException | None) -> None:
        job.handle_end(result, error)


_relay: _Relay | None = None


def _relay_here() -> _Relay:
    """The relay, made on the GUI thread by the first job (again for a new application)."""
    global _relay
    if _relay is None or not shiboken6.isValid(_relay):
        _relay = _Relay(QCoreApplication.instance())
    return _relay


class Job:
    """One function on its own thread; made and started by ``run_in_background``. Not a
    QObject: nothing of it outlives the job in Qt."""

    def __init__(self, fn: Callable[..., Any], on_done: Callable[[Any], None],
                 on_error: Callable[[BaseException], None],
                 on_progress: Callable[[float, str], None] | None, owner: QObject | None,
                 kind: str, name: str) -> None:
        self.fn, self.kind, self.name = fn, kind, name
        self._on_done, self._on_error, self._on_progress = on_done, on_error, on_progress
        self._owner = owner
        self._running = self._cancelled = False
        self._relay = _relay_here()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def running(self) -> bool:
        """Started, and its end not yet handled on the GUI thread."""
        return self._running

    @property
    def cancelled(self) -> bool:
        """Its answer will be dropped (a function that can stop early may look at this)."""
        return self._cancelled

    def cancel(self) -> None:
        """Drop its answer; a view job still waiting for its turn does not run at all."""
        self._cancelled = True

    def wait(self, ms: int = 30000) -> bool:
        """Block until its thread ended (True) or ``ms`` passed; the answer comes after, with
        the GUI thread's events."""
        self._thread.join(max(0, ms) / 1000)
        return not self._thread.is_alive()

    def start(self) -> None:
        """On the GUI thread, once."""
        if self.kind != IMPORT:  # what a job makes stays collectable (never frozen)
            gc_guard.install(work=True)
        threads.before_start(self.kind)
        _alive.add(self)
        self._running = True
        self._thread.start()

    # -- on the job's thread ---------------------------------------------------------------
    def _run(self) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            with threads.on_job_thread(self.kind):
                if not self._cancelled:
                    result = self.fn(self._report) if self._on_progress else self.fn()
        except BaseException as exc:  # noqa: BLE001 - the one error path, even for sys.exit()
            error = exc
            if not self._cancelled:
                log.warning("background job %s failed: %s", self.name, describe(exc),
                            exc_info=exc)
        try:
            self._relay.ended.emit(self, result, error)
        except RuntimeError:  # the application is closing: nobody is left to tell
            pass

    def _report(self, fraction: float, text: str) -> None:
        self._relay.progressed.emit(self, float(fraction), str(text))

    # -- on the GUI thread -----------------------------------------------------------------
    def _wanted(self) -> bool:
        return not self._cancelled and (self._owner is None or shiboken6.isValid(self._owner))

    def handle_progress(self, fraction: float, text: str) -> None:
        """The relay's call: pass a progress report on, unless the answer is unwanted."""
        if self._on_progress is not None and self._wanted():
            self._on_progress(fraction, text)

    def handle_end(self, result: Any, error: BaseException | None) -> None:
        """The relay's call: the job ended; give its answer to whoever still wants it."""
        self._running = False
        _alive.discard(self)
        if not self._wanted():
            return
        if error is None:
            self._on_done(result)
        else:
            self._on_error(error)


def run_in_background(fn: Callable[..., Any], *, on_done: Callable[[Any], None],
                      on_error: Callable[[BaseException], None],
                      on_progress: Callable[[float, str], None] | None = None,
                      parent: QObject | None = None, kind: str = VIEW,
                      name: str = "cnnstudio-job") -> Job:
    """Start ``fn()`` on its own thread (from the GUI thread); ``fn(progress)`` when there is
    ``on_progress``, and ``progress(fraction, text)`` reaches it. Its result goes to
    ``on_done``, an exception to ``on_error``, on the GUI thread, unless the job was cancelled
    or ``parent`` (whose callbacks they are) was deleted. ``kind``: VIEW, TRAINING or IMPORT
    (the engine's imports), which decides its thread count (training/threads.py)."""
    job = Job(fn, on_done, on_error, on_progress, parent, kind, name)
    job.start()
    return job


def wait_all(ms: int = 30000) -> bool:
    """Block until every job's thread ended (tests, closing); False when ``ms`` passed."""
    deadline = time.monotonic() + ms / 1000
    return all(job.wait(int((deadline - time.monotonic()) * 1000)) for job in list(_alive))


EXIT_WAIT_MS = 30000


@atexit.register
def _wait_at_exit() -> None:
    """Let running jobs end before the interpreter does: Python stops a daemon thread that is
    still in torch's C++ code by unwinding it, which aborts the process ("terminate called
    without an active exception"), e.g. when the window closes while a view draws."""
    for job in list(_alive):
        job.cancel()
    wait_all(EXIT_WAIT_MS)


class Jobs(QObject):
    """One view's jobs, the latest wins: ``start`` cancels the job before it. ``on_error`` gets
    the message (``describe``). ``busy`` while the latest runs."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._latest: Job | None = None
        self._started: list[Job] = []

    @property
    def busy(self) -> bool:
        return self._latest is not None and self._latest.running

    def start(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
              on_error: Callable[[str], None]) -> Job:
        self.cancel()
        self._started = [job for job in self._started if job.running]
        job = run_in_background(fn, on_done=on_done,
                                on_error=lambda exc: on_error(describe(exc)), parent=self)
        self._latest = job
        self._started.append(job)
        return job

    def cancel(self) -> None:
        if self._latest is not None:
            self._latest.cancel()
            self._latest = None

    def wait(self, ms: int = 30000) -> bool:
        """Block until this view's jobs ended (tests, closing); answers come with events."""
        deadline = time.monotonic() + ms / 1000
        return all(job.wait(int((deadline - time.monotonic()) * 1000))
                   for job in self._started)
