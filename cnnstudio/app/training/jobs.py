"""Short background jobs for the views (feature maps, an evaluation, a dataset preview): the
function runs on a pool thread, its result or error comes back on the GUI thread, and a job
whose answer is no longer wanted (a newer one started) is dropped quietly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from .. import gc_guard
from . import threads

_pool: QThreadPool | None = None


def pool() -> QThreadPool:
    """The views' threads: they end a second after their last job, and with them the OpenMP
    team a job made, which would slow a run that trains next (see threads.py)."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setExpiryTimeout(1000)
    return _pool


class _Relay(QObject):
    done = Signal(int, object)
    failed = Signal(int, str)


class _Task(QRunnable):
    def __init__(self, number: int, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.number, self.fn, self.relay = number, fn, relay

    def run(self) -> None:
        threads.for_views()
        try:
            try:
                result = self.fn()
            except Exception as exc:  # noqa: BLE001 - every failure reaches the view
                self.relay.failed.emit(self.number, str(exc) or type(exc).__name__)
            else:
                self.relay.done.emit(self.number, result)
        except RuntimeError:  # the application is closing: nobody is left to tell
            pass


class Jobs(QObject):
    """One view's jobs: ``start`` supersedes the job before it. ``busy`` while one runs."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # No parent: a running task keeps the relay alive, so a job that ends after its
        # view is gone emits into nothing instead of into a deleted object.
        self._relay = _Relay()
        self._relay.done.connect(self._done)
        self._relay.failed.connect(self._failed)
        self._number = 0
        self._latest: tuple[int, Callable[[Any], None], Callable[[str], None] | None] | None = None
        self.pool = pool()

    @property
    def busy(self) -> bool:
        return self._latest is not None

    def start(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
              on_error: Callable[[str], None] | None = None) -> None:
        gc_guard.install(work=True)
        self._number += 1
        self._latest = (self._number, on_done, on_error)
        self.pool.start(_Task(self._number, fn, self._relay))

    def cancel(self) -> None:
        self._latest = None

    def wait(self, ms: int = 30000) -> bool:
        """For tests and closing: wait for the pool's jobs (the answer arrives with events)."""
        return self.pool.waitForDone(ms)

    def _done(self, number: int, result: Any) -> None:
        if self._latest is not None and self._latest[0] == number:
            on_done = self._latest[1]
            self._latest = None
            on_done(result)

    def _failed(self, number: int, message: str) -> None:
        if self._latest is not None and self._latest[0] == number:
            on_error = self._latest[2]
            self._latest = None
            if on_error is not None:
                on_error(message)
