"""How long the window stops answering around the first Train click (prints figures; no asserts):

    python benchmarks/startup_latency.py [--wait 5] [--rounds 2]

Starts the application as `cnnstudio projects/lenet5-digits.cnnproj` does (offscreen, on a copy
of the example, in a fresh process each time), waits as a user reading the window would, then
clicks Train, while a 10 ms timer on the GUI thread records how late it fires. The first Train
needs torch and torchvision (seconds of imports); the window loads them on a background thread
once it shows (cnnstudio.app.engine_loader). Each round runs with that load and without it
(the engine imported when Train is clicked), and prints the longest stall of the event loop
while the user waits and from the click to the run's first event.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "projects" / "lenet5-digits.cnnproj"
TICK_MS = 10


def one_start(preload: bool, wait_s: float) -> dict[str, float]:
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from cnnstudio.app import engine_loader, main, preferences
    from cnnstudio.app.window import MainWindow

    folder = Path(tempfile.mkdtemp())
    preferences.use_folder(folder)
    project = folder / EXAMPLE.name
    shutil.copy(EXAMPLE, project)
    if not preload:
        engine_loader.load_in_background = lambda: None  # type: ignore[assignment]
    clock = QElapsedTimer()
    clock.start()
    last = [0.0]
    phase = ["wait"]
    worst = {"wait": 0.0, "click": 0.0}
    marks: dict[str, float] = {}

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        worst[phase[0]] = max(worst[phase[0]], now - last[0] - TICK_MS)
        last[0] = now

    def window() -> MainWindow:
        return next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))

    def started(_event: object) -> None:
        tick()
        marks["started"] = clock.nsecsElapsed() / 1e6
        phase[0] = "done"
        window().training.controller.stop()

    def idle(state: str) -> None:
        if state == "idle":
            w = window()
            w.document.undo_stack.setClean()
            w.document._extra_dirty = False
            print(json.dumps({**worst, "to_started_ms": marks["started"] - marks["click"]}),
                  flush=True)
            os._exit(0)

    def click() -> None:
        tick()
        c = window().training.controller
        c.started.connect(started)
        c.state_changed.connect(idle)
        phase[0] = "click"
        marks["click"] = clock.nsecsElapsed() / 1e6
        if not window().training.train():
            sys.exit("the window refused to train")

    def begin() -> None:  # from the first turn of the event loop: the window is up
        last[0] = clock.nsecsElapsed() / 1e6
        timer.start()
        QTimer.singleShot(int(wait_s * 1000), click)

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    QTimer.singleShot(0, begin)
    QTimer.singleShot(int(wait_s * 1000) + 120_000, lambda: sys.exit("no run started"))
    main.run(str(project))
    sys.exit("the application ended before the run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=5.0, help="seconds before Train")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--side", choices=("preload", "plain"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.side:
        one_start(args.side == "preload", args.wait)
        return
    t0 = time.perf_counter()
    results: dict[str, list[dict[str, float]]] = {"preload": [], "plain": []}
    for i in range(args.rounds):
        for side in ("preload", "plain") if i % 2 == 0 else ("plain", "preload"):
            cmd = [sys.executable, __file__, "--side", side, "--wait", str(args.wait)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"the {side} start failed: {out.stderr.strip().splitlines()[-1:]}")
            results[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"LeNet-5 example, Train clicked {args.wait:g} s after the window shows, "
          f"{args.rounds} rounds ({os.environ.get('QT_QPA_PLATFORM') or 'display'}, "
          f"{time.perf_counter() - t0:.0f} s)")
    for side, label in (("preload", "engine loaded in the background"),
                        ("plain", "engine imported on Train")):
        runs = results[side]
        print(f"{label + ':':34} longest stall while waiting "
              + ", ".join(f"{r['wait']:,.0f}" for r in runs) + " ms; after the click "
              + ", ".join(f"{r['click']:,.0f}" for r in runs) + " ms; click to first event "
              + ", ".join(f"{r['to_started_ms']:,.0f}" for r in runs) + " ms")
    click = statistics.median(r["click"] for r in results["preload"])
    print(f"click_stall_ms={click:.0f}")


if __name__ == "__main__":
    main()
