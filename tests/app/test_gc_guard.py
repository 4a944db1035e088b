"""Garbage collection only on the GUI thread while the window runs (gc_guard)."""

from __future__ import annotations

import gc

from cnnstudio.app import gc_guard


def test_a_window_turns_automatic_collection_off_and_collects_on_its_timer(window, qtbot):
    assert not gc.isenabled()
    collector = gc_guard._collector
    assert collector is not None and collector.timer.isActive()

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    gen0 = gc.get_threshold()[0]
    for _ in range(gen0 + 10):
        Cycle()
    assert gc.get_count()[0] > gen0  # no automatic collection happened
    qtbot.waitUntil(lambda: gc.get_count()[0] < gen0, timeout=3000)  # the timer's did


def test_installing_again_keeps_one_collector(qapp):
    gc_guard.install()
    first = gc_guard._collector
    gc_guard.install()
    assert gc_guard._collector is first and not gc.isenabled()
