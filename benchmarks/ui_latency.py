"""How the window feels while it trains, and what training in the window costs (prints figures;
no asserts):

    python benchmarks/ui_latency.py [--epochs 15] [--batch-size 64] [--rounds 3]

Trains LeNet-5 on the built-in digits headless (the engine's Session, as `cnnstudio train`
does) and through the main window's worker (offscreen, every training panel made, charts
fed, Train clicked once the engine has loaded as the `cnnstudio` command loads it), in
turns, each run in a fresh process as users start them, while a 10 ms timer on the GUI
thread records how late it fires from the run's first event to its end. The same timer runs
beside the headless trainer, on a thread of its own: its wakeups cost 1.3-2 % of a core on
a 2-core VM, a cost of measuring, not of the window. Prints the throughputs (median of the
epochs' samples/s, the first epoch of each run left out as warm-up), their ratio with a 95 %
interval, each side's page faults per epoch (a thread's malloc arena once gave memory back
to the kernel at every step: cnnstudio/app/malloc.py), the event loop's latency percentiles
and, last, ``p99_ms=<value>``.

The interval resamples whole runs (a bootstrap): on a shared machine the speed of the same
code drifts by 20 % within seconds, so one round says little and the interval says how many
rounds a figure needs (a 3 % difference takes it narrower than 6 %).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "projects" / "lenet5-digits.cnnproj"
TICK_MS = 10


def faults() -> int:
    """The process's page faults so far (minor ones: memory given back and touched again)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def per_epoch(counts: list[int]) -> float:
    """Page faults per epoch from the counts at each epoch's end, the first epoch left out."""
    return (counts[-1] - counts[0]) / (len(counts) - 1) if len(counts) > 1 else float("nan")


def rates(records: list) -> list[float]:
    """The epochs' samples/s, the first (warm-up) left out."""
    values = [r.samples_per_s for r in records if r.samples_per_s]
    return values[1:] if len(values) > 2 else values


class Probe:
    """A 10 ms timer on the thread that makes it, and how late each tick comes."""

    def __init__(self) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.clock = QElapsedTimer()
        self.late: list[float] = []
        self.last = 0.0
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)

    def start(self, *_args: object) -> None:
        self.clock.start()
        self.last = 0.0
        self.timer.start()

    def tick(self) -> None:
        now = self.clock.nsecsElapsed() / 1e6
        self.late.append(max(0.0, now - self.last - TICK_MS))
        self.last = now


def headless(epochs: int, batch: int) -> tuple[list[float], list[float], float]:
    """The engine's Session as `cnnstudio train` runs it, with the window side's 10 ms timer
    beside it on a thread of its own: on this machine its 100 wakeups a second alone take
    1.3-2 % of a core (a timer with no Python slot 1.3 %), which is the measurement's cost,
    not the window's, so both sides pay it."""
    from PySide6.QtCore import QCoreApplication, QThread

    from cnnstudio.engine.training.session import Session
    from cnnstudio.project import load_project

    QCoreApplication.instance() or QCoreApplication([])
    late: list[float] = []

    class ProbeThread(QThread):
        def run(self) -> None:
            probe = Probe()
            probe.start()
            self.exec()
            probe.timer.stop()
            late.extend(probe.late)

    project = load_project(EXAMPLE)
    project.training.epochs, project.training.batch_size = epochs, batch
    probe = ProbeThread()
    counts: list[int] = []
    for event in Session(project, None).events():
        if event.event == "started":
            probe.start()
        elif event.event == "epoch_end":
            counts.append(faults())
        elif event.event == "failed":
            sys.exit(f"headless training failed: {event.message}")
    probe.quit()
    probe.wait()
    return rates(project.runs[-1].epochs), late, per_epoch(counts)


def in_window(epochs: int, batch: int) -> tuple[list[float], list[float], float]:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from cnnstudio.app import preferences  # first, as `cnnstudio` does: one malloc arena

    app = QApplication.instance() or QApplication([])
    preferences.use_folder(Path(tempfile.mkdtemp()))
    from cnnstudio.app.window import MainWindow

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.open_file(EXAMPLE, as_copy=True)
    training = window.document.project.training
    training.epochs, training.batch_size = epochs, batch
    from cnnstudio.app import engine_loader

    loader = engine_loader.load_in_background()  # as `cnnstudio` does once the window shows
    while loader.running:  # the user reads the window; Train comes later
        app.processEvents()
        loader.wait(20)
    probe = Probe()
    loop = QEventLoop()
    c = window.training.controller
    c.state_changed.connect(lambda s: s == "idle" and loop.quit())
    c.failed.connect(lambda e: sys.exit(f"training in the window failed: {e.message}"))

    c.started.connect(probe.start)  # from the run's first event: making panels is not training
    counts: list[int] = []
    c.epoch.connect(lambda _e: counts.append(faults()))
    if not window.training.train():
        sys.exit("the window refused to train")
    loop.exec()
    probe.timer.stop()
    rate = rates(window.document.project.runs[-1].epochs)
    window.document.undo_stack.setClean()
    window.document._extra_dirty = False
    window.close()
    return rate, probe.late, per_epoch(counts)


def interval(base: list[list[float]], window: list[list[float]],
             draws: int = 2000) -> tuple[float, float]:
    """The ratio's 95 % bootstrap interval, drawing runs (not epochs) with replacement."""
    rng = random.Random(0)
    ratios = sorted(
        statistics.median(v for run in rng.choices(window, k=len(window)) for v in run)
        / statistics.median(v for run in rng.choices(base, k=len(base)) for v in run)
        for _ in range(draws))
    return ratios[int(0.025 * draws)], ratios[int(0.975 * draws)]


def one_run(side: str, epochs: int, batch: int) -> tuple[list[float], list[float], float]:
    """One side's run in a fresh process: nothing one run leaves behind (a thread pool, an
    OpenMP team on the main thread) touches the other's."""
    cmd = [sys.executable, __file__, "--side", side, "--epochs", str(epochs),
           "--batch-size", str(batch)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"the {side} run failed: {out.stderr.strip().splitlines()[-1:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["rates"], result["late"], result["faults"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--side", choices=("headless", "window"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.side:
        rate, late, count = (headless if args.side == "headless" else in_window)(
            args.epochs, args.batch_size)
        print(json.dumps({"rates": rate, "late": late, "faults": count}))
        return
    t0 = time.perf_counter()
    base: list[list[float]] = []
    window: list[list[float]] = []
    late: list[float] = []
    beside: list[float] = []  # the same timer beside the headless trainer
    paging: dict[str, list[float]] = {"headless": [], "window": []}
    for i in range(args.rounds):  # in turns, the order swapped each round: the machine drifts
        for side in ("headless", "window") if i % 2 == 0 else ("window", "headless"):
            rate, ticks, count = one_run(side, args.epochs, args.batch_size)
            paging[side].append(count)
            (base if side == "headless" else window).append(rate)
            (beside if side == "headless" else late).extend(ticks)
    reference = statistics.median(v for run in base for v in run)
    rate = statistics.median(v for run in window for v in run)
    late.sort()
    beside.sort()

    def pct(p: float, ticks: list[float] = late) -> float:
        return ticks[min(len(ticks) - 1, int(p / 100 * len(ticks)))] if ticks else float("nan")

    print(f"LeNet-5 on digits, {args.epochs} epochs, batch {args.batch_size}, {args.rounds} "
          f"rounds ({os.environ.get('QT_QPA_PLATFORM') or 'display'}, "
          f"{time.perf_counter() - t0:.0f} s)")
    print("headless trainer:   " + ", ".join(f"{statistics.median(v):,.0f}" for v in base)
          + " samples/s (each run's median epoch)")
    print("in the window:      " + ", ".join(f"{statistics.median(v):,.0f}" for v in window)
          + " samples/s")
    low, high = interval(base, window)
    print(f"window / headless:  {rate / reference:.1%} (medians of all epochs; 95 % interval "
          f"over runs {low:.1%} to {high:.1%})")
    print(f"page faults per epoch (median run): headless "
          f"{statistics.median(paging['headless']):,.0f}, in the window "
          f"{statistics.median(paging['window']):,.0f} (memory given back and touched again)")
    print(f"GUI timer lateness over {len(late)} ticks of {TICK_MS} ms: median {pct(50):.1f} ms, "
          f"p95 {pct(95):.1f} ms, max {late[-1]:.1f} ms")
    print(f"(the same timer on a thread beside the headless trainer: p95 {pct(95, beside):.1f} "
          f"ms, p99 {pct(99, beside):.1f} ms)")
    print(f"p99_ms={pct(99):.1f}")


if __name__ == "__main__":
    main()
