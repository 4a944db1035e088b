"""How fast the canvas opens a big network and follows an edit (prints figures; no asserts).

    python benchmarks/editor_speed_canvas.py [preset ...]   (offscreen without a display)

- open: building the scene from a Document holding the preset (items, automatic layout,
  collapsed blocks) plus the first paint of a 1400×900 view;
- edit: after ``Document.set_params`` on one node, the time until the canvas shows the new
  shapes: the analysis (``flush``), the scene's update of the changed nodes, and a repaint;
- expand/collapse of one block, and a full re-layout (Arrange).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from PySide6.QtWidgets import QApplication


def main(names: list[str]) -> None:
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication([])
    from cnnstudio.app.canvas import GraphView
    from cnnstudio.app.document import Document
    from cnnstudio.graph import presets
    from cnnstudio.project import Project

    for name in names:
        opens = []
        for _ in range(3):
            doc = Document(Project(graph=presets.build(name)))
            t = time.perf_counter()
            view = GraphView(doc)
            view.resize(1400, 900)
            view.show()
            app.processEvents()
            view.viewport().repaint()
            opens.append(time.perf_counter() - t)
            view.close()
        doc = Document(Project(graph=presets.build(name)))
        view = GraphView(doc)
        view.resize(1400, 900)
        view.show()
        app.processEvents()
        scene = view.graph_scene
        conv = next(n.id for n in doc.graph if n.type == "Conv2d")
        view.center_on(conv)
        edits, shapes = [], []
        for i in range(20):
            channels = 32 + (i % 2) * 32
            t = time.perf_counter()
            doc.set_params(conv, {"out_channels": channels})
            doc.flush()
            shapes.append(time.perf_counter() - t)
            view.viewport().repaint()
            edits.append(time.perf_counter() - t)
        input_id = next(n.id for n in doc.graph if n.type == "Input")
        whole = []
        for i in range(6):  # every shape in the network changes
            t = time.perf_counter()
            doc.set_params(input_id, {"shape": [3, 224 + 32 * (i % 2), 224]})
            doc.flush()
            view.viewport().repaint()
            whole.append(time.perf_counter() - t)
        toggles = []
        gid = next(iter(scene.boxes), None)
        for _ in range(4):
            if gid is None:
                break
            t = time.perf_counter()
            doc.set_collapsed(gid, False)
            doc.set_collapsed(gid, True)
            toggles.append((time.perf_counter() - t) / 2)
        t = time.perf_counter()
        view.arrange()
        arrange = time.perf_counter() - t
        ms = lambda xs: f"{statistics.median(xs) * 1000:.1f} ms"  # noqa: E731
        print(f"{name}: {len(doc.graph)} nodes, {len(scene.visible_units())} boxes shown "
              f"({len(scene.boxes)} collapsed blocks)")
        print(f"  open (scene + first paint)        {ms(opens)}")
        print(f"  one parameter edit → new shapes   {ms(shapes)} (flush + update), "
              f"{ms(edits)} with repaint")
        print(f"  input shape edit (all change)     {ms(whole)} with repaint")
        if toggles:
            print(f"  expand or collapse one block      {ms(toggles)}")
        print(f"  arrange                           {arrange * 1000:.1f} ms")
        view.close()


if __name__ == "__main__":
    main(sys.argv[1:] or ["resnet152", "googlenet", "densenet121"])
