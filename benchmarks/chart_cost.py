"""What the live charts cost the training: LeNet-5 on the built-in digits trained headless
(the Session's events consumed in a loop, as `cnnstudio train` does) against the same run
trained by the window's controller on its thread with the charts fed and drawn (offscreen),
and, to tell the two apart, the controller with no charts. Rounds alternate; the medians of
the epochs' training throughput (epoch 1 left out: warm-up) are compared.

    python benchmarks/chart_cost.py [--epochs 8] [--rounds 3] [--batch-size 16]

It prints figures and asserts nothing (issue: the charts cost the training < 2 %).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def project(epochs: int, batch_size: int):
    from cnnstudio.project import load_project

    p = load_project(os.path.join(os.path.dirname(__file__), "..", "projects",
                                  "lenet5-digits.cnnproj"))
    p.training.epochs = epochs
    p.training.batch_size = batch_size
    return p


def rates(records) -> list[float]:
    return [r.samples_per_s for r in records[1:]] or [r.samples_per_s for r in records]


def alone(fn, *args):
    """``fn`` on a thread of its own that then ends: a thread that ran torch kernels keeps an
    OpenMP team while it lives, and an idle team slows the window's training thread
    (cnnstudio/app/training/threads.py), so the main thread runs none."""
    out = []
    worker = threading.Thread(target=lambda: out.append(fn(*args)))
    worker.start()
    worker.join()
    return out[0]


def headless(base, data) -> list[float]:
    from cnnstudio.engine.training.session import Session

    p = copy.deepcopy(base)
    records = [e.record for e in Session(p, None, data=data).events() if e.event == "epoch_end"]
    return rates(records)


def windowed(base, data, charts: bool) -> tuple[list[float], int, float]:
    from PySide6.QtCore import QEventLoop

    from cnnstudio.app.document import Document
    from cnnstudio.app.training.charts import TrainingCharts
    from cnnstudio.app.training.controller import TrainingController

    doc = Document(copy.deepcopy(base))
    controller = TrainingController(doc)
    controller.data = data
    widget = None
    if charts:
        widget = TrainingCharts(doc, controller)
        widget.resize(1400, 800)
        widget.show()
    records: list = []
    batches = [0]
    controller.epoch.connect(lambda e: records.append(e.record))
    if widget is not None:  # count from the start of training, not the window's first paint
        controller.started.connect(lambda _e: (setattr(widget, "busy_seconds", 0.0),
                                               setattr(widget.view, "paint_seconds", 0.0)))
    controller.batch.connect(lambda e: batches.__setitem__(0, batches[0] + 1))
    loop = QEventLoop()
    controller.state_changed.connect(lambda s: loop.quit() if s == "idle" else None)
    start = time.perf_counter()
    controller.train()
    loop.exec()
    controller.wait()
    wall = time.perf_counter() - start
    busy = 0.0
    if widget is not None:
        widget.flush()
        busy = (widget.busy_seconds + widget.view.paint_seconds) / wall
        print(f"    (one redraw costs {1000 * widget.update_cost:.1f} ms: one every "
              f"{widget.refresh_ms()} ms)")
        widget.close()
        widget.deleteLater()
    return rates(records), batches[0], busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    from cnnstudio.engine.data.load import load_data
    from cnnstudio.graph import analyze

    base = project(args.epochs, args.batch_size)
    data = alone(load_data, base.dataset, analyze(base.graph).input_shape, "cpu")
    alone(headless, base, data)  # warm-up: first-use costs out of the measurement
    results: dict[str, list[float]] = {"headless": [], "controller": [], "charts": []}
    batches, busy = 0, []
    started = time.perf_counter()
    for _ in range(args.rounds):
        results["headless"] += alone(headless, base, data)
        results["controller"] += windowed(base, data, charts=False)[0]
        rates_, batches, share = windowed(base, data, charts=True)
        results["charts"] += rates_
        busy.append(share)
    del app
    ref = statistics.median(results["headless"])
    print(f"LeNet-5 on digits, batch {args.batch_size}, {args.epochs} epochs × "
          f"{args.rounds} rounds ({time.perf_counter() - started:.0f} s); "
          f"{batches} batch events per charted run")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"  {name:<11} {median:9.0f} samples/s   {median / ref:6.1%} of headless   "
              f"(epochs: {', '.join(f'{v:.0f}' for v in values)})")
    charts, plain = statistics.median(results["charts"]), statistics.median(results["controller"])
    print(f"  the charts cost {1 - charts / plain:+.1%} against the controller alone, "
          f"{1 - charts / ref:+.1%} against headless")
    print(f"  the charts drew for {statistics.median(busy):.2%} of the run's time on the GUI "
          "thread (setData and paint; the noise-free measure of their cost)")


if __name__ == "__main__":
    main()
