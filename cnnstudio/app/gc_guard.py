"""Python's garbage collection on the GUI thread only, while the window runs.

Rules: automatic collection is off and a timer on the GUI thread collects generation by
generation as Python itself would (the oldest one once a quarter more objects reached it);
what exists once the engine has imported is frozen (`gc.freeze`), and the timer does not
collect while it imports; no freeze once a run or a job has started (what it holds would
never be collected).
Why: a collection on a job's thread can deadlock on a Qt destructor, and the GUI thread's
long collections stalled runs (see benchmarks/NOTES.md#gc-guard).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QCoreApplication, QObject, QTimer

INTERVAL_MS = 500
_collector: QObject | None = None
_frozen = False
_freeze_lock = threading.Lock()
_importing = 0
_worked = False


class _Collector(QObject):
    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.long_lived_total = len(gc.get_objects(2))
        self.long_lived_pending = 0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(INTERVAL_MS)

    def check(self) -> None:
        """The oldest generation whose count passed its threshold, as gcmodule.c picks it."""
        l0, l1, l2 = gc.get_count()
        t0, t1, t2 = self.threshold
        if l0 <= t0 or _importing:
            return
        if l1 <= t1:
            gc.collect(0)
        elif l2 > t2 and self.long_lived_pending > self.long_lived_total // 4:
            gc.collect(2)
            self.long_lived_total = len(gc.get_objects(2))
            self.long_lived_pending = 0
        else:
            young = len(gc.get_objects(0)) + len(gc.get_objects(1))
            self.long_lived_pending += max(0, young - gc.collect(1))  # survivors move up


def install(work: bool = False) -> None:
    """On the GUI thread, before a thread that may hold Qt objects starts (idempotent);
    ``work``: a run or a job starts, whose objects must stay collectable."""
    global _collector, _worked
    if work:
        with _freeze_lock:
            _worked = True
    app = QCoreApplication.instance()
    if app is None:
        return
    try:
        alive = _collector is not None and _collector.parent() is app
    except RuntimeError:  # its application was deleted
        alive = False
    if not alive:
        _collector = _Collector(app)
    gc.disable()


@contextmanager
def importing() -> Iterator[None]:
    """Around the engine's imports (on the loader's thread), which freeze_once follows."""
    global _importing
    with _freeze_lock:
        _importing += 1
    try:
        yield
    finally:
        with _freeze_lock:
            _importing -= 1


def freeze_once() -> bool:
    """After the engine's imports (engine_loader), on any thread: the objects alive now are
    never collected nor looked at again. Once per process, before any run or job, so that
    what they leave behind stays collectable. False when not done now."""
    global _frozen
    with _freeze_lock:
        if _frozen or _worked:
            return False
        _frozen = True
        gc.freeze()  # moves lists, collects nothing: no destructor runs on this thread
    if _collector is not None:
        _collector.long_lived_total = 0
        _collector.long_lived_pending = 0
    return True
