"""How the window feels while it trains, and what training in the window costs (prints figures;
no asserts):

    python benchmarks/ui_latency.py [--epochs 15] [--batch-size 64] [--rounds 2]

Trains LeNet-5 on the built-in digits headless (the engine's Session, as `cnnstudio train`
does) and through the main window's worker (offscreen, every training panel made, charts
fed), in turns, while a 10 ms timer on the GUI thread records how late it fires from the
run's first event to its end. Prints the throughputs (median of the epochs' samples/s, the
first epoch left out as warm-up), their ratio, the event loop's latency percentiles and,
last, ``p99_ms=<value>``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "projects" / "lenet5-digits.cnnproj"
TICK_MS = 10


def throughput(records: list) -> float:
    rates = [r.samples_per_s for r in records if r.samples_per_s]
    return statistics.median(rates[1:] if len(rates) > 2 else rates)


def headless(epochs: int, batch: int) -> float:
    from cnnstudio.engine.session import Session
    from cnnstudio.project import load_project

    project = load_project(EXAMPLE)
    project.training.epochs, project.training.batch_size = epochs, batch
    for event in Session(project, None).events():
        if event.event == "failed":
            sys.exit(f"headless training failed: {event.message}")
    return throughput(project.runs[-1].epochs)


def in_window(epochs: int, batch: int) -> tuple[float, list[float]]:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from cnnstudio.app import settings

    settings.use_folder(Path(tempfile.mkdtemp()))
    from cnnstudio.app.window import MainWindow

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.open_file(EXAMPLE, as_copy=True)
    training = window.document.project.training
    training.epochs, training.batch_size = epochs, batch
    app.processEvents()
    clock = QElapsedTimer()
    late: list[float] = []
    last = [0.0]

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        late.append(max(0.0, now - last[0] - TICK_MS))
        last[0] = now

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    loop = QEventLoop()
    c = window.training.controller
    c.state_changed.connect(lambda s: s == "idle" and loop.quit())
    c.failed.connect(lambda e: sys.exit(f"training in the window failed: {e.message}"))

    def measure() -> None:  # from the run's first event: making the panels is not training
        clock.start()
        last[0] = 0.0
        timer.start()

    c.started.connect(measure)
    if not window.training.train():
        sys.exit("the window refused to train")
    loop.exec()
    timer.stop()
    rate = throughput(window.document.project.runs[-1].epochs)
    window.document.undo_stack.setClean()
    window.document._extra_dirty = False
    window.close()
    return rate, late


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    t0 = time.perf_counter()
    base, window, late = [], [], []
    for _ in range(args.rounds):  # in turns: the machine's speed drifts
        base.append(headless(args.epochs, args.batch_size))
        rate, ticks = in_window(args.epochs, args.batch_size)
        window.append(rate)
        late += ticks
    reference, rate = statistics.median(base), statistics.median(window)
    late.sort()

    def pct(p: float) -> float:
        return late[min(len(late) - 1, int(p / 100 * len(late)))]

    print(f"LeNet-5 on digits, {args.epochs} epochs, batch {args.batch_size} "
          f"({os.environ.get('QT_QPA_PLATFORM') or 'display'}, {time.perf_counter() - t0:.0f} s)")
    print("headless trainer:   " + ", ".join(f"{v:,.0f}" for v in base) + " samples/s")
    print("in the window:      " + ", ".join(f"{v:,.0f}" for v in window) + " samples/s")
    print(f"window / headless:  {rate / reference:.1%} (medians)")
    print(f"GUI timer lateness over {len(late)} ticks of {TICK_MS} ms: median {pct(50):.1f} ms, "
          f"p95 {pct(95):.1f} ms, max {late[-1]:.1f} ms")
    print(f"p99_ms={pct(99):.1f}")


if __name__ == "__main__":
    main()
