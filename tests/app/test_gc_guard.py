"""Garbage collection only on the GUI thread while the window runs (gc_guard)."""

from __future__ import annotations

import gc

import pytest

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


def _collected_generations(collector: gc_guard._Collector) -> list[int]:
    """The generations that one check of the collector collected."""
    seen: list[int] = []

    def note(phase: str, info: dict) -> None:
        if phase == "start":
            seen.append(info["generation"])

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    for _ in range(gc.get_threshold()[0] + 10):
        Cycle()
    gc.callbacks.append(note)
    try:
        collector.check()
    finally:
        gc.callbacks.remove(note)
    return seen


def test_a_full_collection_waits_until_a_quarter_more_objects_are_old(window):
    collector = gc_guard._collector
    for _ in range(gc.get_threshold()[2] + 1):
        gc.collect(1)  # the oldest generation's count passes its threshold ...
    for _ in range(gc.get_threshold()[1] + 1):
        gc.collect(0)  # ... and so does the middle one's
    collector.long_lived_total, collector.long_lived_pending = 1_000_000, 1000
    assert _collected_generations(collector) == [1]  # few new old objects: not a full one
    assert collector.long_lived_pending > 1000  # the survivors were counted
    for _ in range(gc.get_threshold()[1] + 1):
        gc.collect(0)
    collector.long_lived_pending = 250_001
    assert _collected_generations(collector) == [2]
    assert collector.long_lived_pending == 0
    assert collector.long_lived_total == pytest.approx(len(gc.get_objects(2)), rel=0.01)


def test_nothing_is_collected_while_the_engine_imports(window):
    with gc_guard.importing():
        assert _collected_generations(gc_guard._collector) == []
    assert _collected_generations(gc_guard._collector) == [0]


def test_no_freeze_once_a_run_or_a_job_has_started(qapp, monkeypatch):
    """What a run holds, frozen, would never be collected: Train clicked before the engine
    loaded leaves the collections as they are."""
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(1))
    monkeypatch.setattr(gc_guard, "_frozen", False)
    monkeypatch.setattr(gc_guard, "_worked", False)
    gc_guard.install(work=True)  # as a run or a view's job does when it starts
    assert gc_guard.freeze_once() is False and frozen == []
    monkeypatch.setattr(gc_guard, "_worked", False)
    assert gc_guard.freeze_once() is True and frozen == [1]
    assert gc_guard.freeze_once() is False and frozen == [1]  # once per process
