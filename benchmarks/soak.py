"""Long runs and big graphs: does the window stay steady? (prints figures; no asserts)

    python benchmarks/soak.py [--epochs 200] [--nodes 2000] [--part train|graph|both]

- train: LeNet-5 on the built-in digits for ``--epochs`` epochs through the main window
  (offscreen), with the charts and the feature maps shown side by side and fed live (a
  weights snapshot every 5 s instead of 15, so the maps refresh more often than users see),
  while a 10 ms timer measures how late the GUI thread is. Prints the resident memory, the
  charts' cost per redraw and the timer's lateness over the first and the last tenth of the
  epochs, so growth shows as a difference between the two.
- graph: a generated network of ``--nodes`` nodes (residual blocks of conv → BN → ReLU →
  conv → BN → add → ReLU, one group per block) opened in the window's canvas; prints how
  long opening, a parameter edit (until the new shapes are drawn), undo, adding a node and
  deleting it take.
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


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else 0.0


def soak_training(epochs: int) -> None:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from cnnstudio.app import preferences

    preferences.use_folder(Path(tempfile.mkdtemp()))
    from cnnstudio.app.window import MainWindow

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.open_file(EXAMPLE, as_copy=True)
    window.document.project.training.epochs = epochs
    ui = window.training
    ui.show_panel("Charts")
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.docks["Feature maps"])
    window.docks["Feature maps"].show()
    charts, features = ui.panel("Charts"), ui.panel("Feature maps")
    conv = next(n.id for n in window.document.graph if n.type == "Conv2d")
    window.document.select([conv])
    controller = ui.controller
    controller.snapshot_seconds = 5.0
    app.processEvents()

    clock = QElapsedTimer()
    late: list[list[float]] = [[]]  # per epoch
    last = [0.0]

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        late[-1].append(max(0.0, now - last[0] - TICK_MS))
        last[0] = now

    rows: list[tuple[int, float, float, float]] = []  # epoch, RSS, chart cost, features seen
    refreshes = [0]
    features_refresh = features.refresh

    def counted_refresh() -> None:
        refreshes[0] += 1
        features_refresh()

    features.refresh = counted_refresh
    features._timer.timeout.disconnect()
    features._timer.timeout.connect(counted_refresh)

    def on_epoch(event) -> None:
        rows.append((event.record.epoch, rss_mb(), charts.update_cost * 1000, refreshes[0]))
        late.append([])

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    loop = QEventLoop()
    controller.epoch.connect(on_epoch)
    controller.state_changed.connect(lambda s: s == "idle" and loop.quit())
    controller.failed.connect(lambda e: sys.exit(f"training failed: {e.message}"))
    controller.started.connect(lambda _e: (clock.start(), timer.start()))
    start_rss = rss_mb()
    t0 = time.perf_counter()
    if not ui.train():
        sys.exit("the window refused to train")
    loop.exec()
    timer.stop()
    wall = time.perf_counter() - t0
    run = window.document.project.runs[-1]
    tenth = max(1, len(rows) // 10)
    first, final = rows[:tenth], rows[-tenth:]
    late_first = [v for e in late[1:tenth + 1] for v in e]
    late_last = [v for e in late[-tenth - 1:-1] for v in e]
    print(f"LeNet-5 on digits, {len(rows)} epochs in the window with charts and feature maps "
          f"live ({wall:.0f} s, final validation accuracy {run.epochs[-1].val_acc:.1%})")
    print(f"  resident memory: {start_rss:.0f} MB before, {first[-1][1]:.0f} MB after epoch "
          f"{first[-1][0]}, {final[-1][1]:.0f} MB after epoch {final[-1][0]} "
          f"(growth over the last 90 %: {final[-1][1] - first[-1][1]:+.0f} MB)")
    print(f"  charts, one redraw: {statistics.median(r[2] for r in first):.1f} ms over the "
          f"first {tenth} epochs, {statistics.median(r[2] for r in final):.1f} ms over the "
          f"last {tenth}")
    print(f"  GUI timer lateness p99: {pct(late_first, 99):.1f} ms over the first {tenth} "
          f"epochs, {pct(late_last, 99):.1f} ms over the last {tenth} (max "
          f"{max(late_first + late_last, default=0):.0f} ms)")
    print(f"  feature-map refreshes: {rows[-1][3]}")
    window.document.undo_stack.setClean()
    window.document._extra_dirty = False
    window.close()


def big_graph(nodes: int):
    from cnnstudio.graph.presets.builder import Builder

    b = Builder((16, 32, 32))
    x = b.input
    i = 0
    while len(b.graph) < nodes:
        i += 1
        with b.scope(f"block{i}", f"Block {i}"):
            y = b.add("Conv2d", "conv1", x, out_channels=16, kernel_size=3, padding=1)
            y = b.add("BatchNorm2d", "bn1", y)
            y = b.add("ReLU", "relu1", y)
            y = b.add("Conv2d", "conv2", y, out_channels=16, kernel_size=3, padding=1)
            y = b.add("BatchNorm2d", "bn2", y)
            y = b.add("Add", "add", y, x)
            x = b.add("ReLU", "relu2", y)
    return b.graph


def soak_graph(nodes: int) -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from cnnstudio.app.canvas import GraphView
    from cnnstudio.app.document import Document
    from cnnstudio.project import Project

    graph = big_graph(nodes)
    doc = Document(Project(graph=graph))
    t = time.perf_counter()
    view = GraphView(doc)
    view.resize(1400, 900)
    view.show()
    app.processEvents()
    view.viewport().repaint()
    opened = time.perf_counter() - t
    convs = [n.id for n in doc.graph if n.type == "Conv2d"]
    target = convs[len(convs) // 2]
    view.center_on(target)

    def timed(fn) -> float:
        t = time.perf_counter()
        fn()
        doc.flush()
        app.processEvents()
        view.viewport().repaint()
        return time.perf_counter() - t

    edits = [timed(lambda i=i: doc.set_params(target, {"kernel_size": 3 + 2 * (i % 2),
                                                       "padding": 1 + (i % 2)}))
             for i in range(10)]
    undos = [timed(doc.undo_stack.undo) for _ in range(5)]
    added: list[str] = []
    adds = [timed(lambda: added.append(doc.add_node("ReLU"))) for _ in range(5)]
    deletes = [timed(lambda nid=nid: doc.delete([nid])) for nid in added]
    ms = lambda xs: f"{statistics.median(xs) * 1000:.0f} ms"  # noqa: E731
    print(f"a generated network of {len(doc.graph)} nodes in {len(doc.graph) // 7} groups, "
          f"{len(convs)} convolutions")
    print(f"  open (scene + first paint) {opened * 1000:.0f} ms; one parameter edit → new "
          f"shapes drawn {ms(edits)}; undo {ms(undos)}; add a node {ms(adds)}; delete it "
          f"{ms(deletes)} (medians)")
    print(f"  resident memory {rss_mb():.0f} MB")
    view.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--part", choices=("train", "graph", "both"), default="both")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.part in ("graph", "both"):
        soak_graph(args.nodes)
    if args.part in ("train", "both"):
        soak_training(args.epochs)


if __name__ == "__main__":
    main()
