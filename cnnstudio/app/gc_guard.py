"""Python's garbage collection on the GUI thread only.

Automatic collection runs on whichever thread allocates when a threshold is crossed: a
training run's or a view job's thread. There it may destroy Qt objects held in reference
cycles, and a Qt destructor that waits for the GIL while the GUI thread, holding the GIL,
waits for that object's Qt lock deadlocks the application (seen in the test suite: a feature
map job's thread collecting while the GUI thread deleted a menu). So while the window runs,
automatic collection is off and a timer on the GUI thread collects, generation by generation,
as Python itself would (pyqtgraph's GarbageCollector does the same).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

INTERVAL_MS = 500
_collector: QObject | None = None


class _Collector(QObject):
    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(INTERVAL_MS)

    def check(self) -> None:
        l0, l1, l2 = gc.get_count()
        if l0 > self.threshold[0]:
            gc.collect(0)
            if l1 > self.threshold[1]:
                gc.collect(1)
                if l2 > self.threshold[2]:
                    gc.collect(2)


def install() -> None:
    """On the GUI thread, before a thread that may hold Qt objects starts (idempotent)."""
    global _collector
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
