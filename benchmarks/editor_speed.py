"""Editor speed on the ResNet-152 preset: opening it in the canvas, re-validating and redrawing
after one parameter edit, and the time from start to the first shown window.

    python benchmarks/editor_speed.py [--preset resnet152] [--repeat 20]

Runs offscreen when there is no display (QT_QPA_PLATFORM=offscreen).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

START = """
import time; t0 = time.perf_counter()
import os, sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from cnnstudio.app.window import MainWindow
w = MainWindow(); w.show(); app.processEvents()
print(time.perf_counter() - t0, 'torch' in sys.modules)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="resnet152")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from cnnstudio.app.window import MainWindow
    from cnnstudio.graph import presets
    from cnnstudio.project import Project

    window = MainWindow()
    window.resize(1440, 900)
    window.show()
    app.processEvents()
    opens = []
    for _ in range(max(3, args.repeat // 4)):
        graph = presets.build(args.preset)
        start = time.perf_counter()
        window.open_project(Project(name=args.preset, graph=graph), None)
        window.view.fit_all()
        window.view.viewport().repaint()
        app.processEvents()
        opens.append(time.perf_counter() - start)
    doc = window.document
    conv = next(n.id for n in doc.graph if n.type == "Conv2d" and n.id.startswith("layer3"))
    edits = []
    value = doc.graph.nodes[conv].params["out_channels"]
    for i in range(args.repeat):
        value = value + 1 if i % 2 == 0 else value - 1
        start = time.perf_counter()
        doc.set_params(conv, {"out_channels": value})
        doc.flush()
        window.view.viewport().repaint()
        app.processEvents()
        edits.append(time.perf_counter() - start)
    env = dict(os.environ)
    starts = []
    for _ in range(3):
        begin = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", START], capture_output=True, text=True,
                             env=env, check=True).stdout.split()
        wall = time.perf_counter() - begin
        starts.append((float(out[0]), wall, out[1]))
    print(f"{args.preset}: {len(doc.graph)} nodes, {len(doc.graph.edges())} links "
          f"({os.environ.get('QT_QPA_PLATFORM') or 'display'})")
    print(f"open in the canvas (scene built, first paint): median "
          f"{1000 * statistics.median(opens):7.1f} ms")
    print(f"edit → re-validated and redrawn:               median "
          f"{1000 * statistics.median(edits):7.1f} ms (max {1000 * max(edits):.1f})")
    inside = statistics.median(s[0] for s in starts)
    wall = statistics.median(s[1] for s in starts)
    print(f"start → first window shown:                    median {inside:7.2f} s in-process, "
          f"{wall:.2f} s with the interpreter (torch imported: {starts[0][2]})")


if __name__ == "__main__":
    main()
