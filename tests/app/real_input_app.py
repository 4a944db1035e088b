"""The application as test_real_input.py drives it on a real X server, in a process of its own.

It starts CNN Studio through ``cnnstudio.app.main.run``, the very start a user gets, and adds
only an observer: a timer that writes a JSON snapshot of where things are on the screen (global
pixel rectangles of the buttons, form fields, tabs, menus, palette entries, canvas nodes and
ports) and of the model (graph, settings, runs, the export), so the test can aim its mouse and
check what its input did. A file ``<snapshot>.shot`` naming a PNG path asks for a screenshot of
the whole screen. Not a test module: pytest collects nothing from it.

Usage: ``python real_input_app.py SNAPSHOT.json``
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QRect, QTimer
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFormLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QMenu,
    QMessageBox,
    QTabBar,
    QToolBar,
    QWidget,
)

SNAPSHOT_MS = 200
INPUTS = (QAbstractSpinBox, QComboBox, QLineEdit, QCheckBox)
"""Form fields the test types into, most specific first (a spin box holds a line edit)."""


def box(rect: QRect) -> list[int]:
    return [rect.x(), rect.y(), rect.width(), rect.height()]


def shown_rect(widget: QWidget) -> list[int]:
    """The part of ``widget`` on screen (clipped by scroll areas and tabs), in global pixels;
    empty when none of it is."""
    if not widget.isVisible():
        return [0, 0, 0, 0]
    part = widget.visibleRegion().boundingRect()
    if part.isEmpty():
        return [0, 0, 0, 0]
    return box(part.translated(widget.mapToGlobal(QPoint(0, 0))))


def full_rect(widget: QWidget) -> list[int]:
    return box(QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size()))


def where(widget: QWidget) -> str:
    """The dock (by title) or the top-level window (by title) holding ``widget``."""
    w: QWidget | None = widget
    while w is not None:
        if isinstance(w, QDockWidget):
            return w.windowTitle()
        if w.isWindow():
            return w.windowTitle()
        w = w.parentWidget()
    return ""


def clean(text: str) -> str:
    return text.replace("&", "").replace("*", "").strip()


def input_in(item: Any) -> QWidget | None:
    """The first input widget in a form row's field (a widget or a layout)."""
    if item is None:
        return None
    widget = item.widget()
    if widget is not None:
        if isinstance(widget, INPUTS):
            return widget
        for kind in INPUTS:
            found = [w for w in widget.findChildren(kind) if w.isVisible()]
            if found:
                return found[0]
        return None
    layout = item.layout()
    if isinstance(layout, QLayout):
        for i in range(layout.count()):
            found = input_in(layout.itemAt(i))
            if found is not None:
                return found
    return None


def field_text(widget: QWidget) -> str:
    if isinstance(widget, QAbstractSpinBox):
        return widget.text()
    if isinstance(widget, QComboBox):
        return widget.currentText()
    if isinstance(widget, QLineEdit):
        return widget.text()
    if isinstance(widget, QCheckBox):
        return str(widget.isChecked())
    return ""


def fields(top: QWidget) -> list[dict[str, Any]]:
    out = []
    for form in top.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            label_widget = label.widget() if label is not None else None
            if not isinstance(label_widget, QLabel) or not label_widget.isVisible():
                continue
            editor = input_in(form.itemAt(row, QFormLayout.ItemRole.FieldRole))
            if editor is None or not editor.isVisible():
                continue
            out.append({"label": clean(label_widget.text()), "where": where(editor),
                        "kind": type(editor).__name__, "text": field_text(editor),
                        "rect": shown_rect(editor), "full": full_rect(editor)})
    return out


def buttons(top: QWidget) -> list[dict[str, Any]]:
    return [{"text": clean(b.text()), "where": where(b), "enabled": b.isEnabled(),
             "class": type(b).__name__, "toolbar": isinstance(b.parentWidget(), QToolBar),
             "rect": shown_rect(b)}
            for b in top.findChildren(QAbstractButton) if b.isVisible() and b.text()]


def tabs(top: QWidget) -> list[dict[str, Any]]:
    out = []
    for bar in top.findChildren(QTabBar):
        if not bar.isVisible():
            continue
        origin = bar.mapToGlobal(QPoint(0, 0))
        for i in range(bar.count()):
            out.append({"text": clean(bar.tabText(i)), "current": i == bar.currentIndex(),
                        "rect": box(bar.tabRect(i).translated(origin))})
    return out


def menu_items(menu: Any) -> list[dict[str, Any]]:
    origin = menu.mapToGlobal(QPoint(0, 0))
    return [{"text": clean(a.text()), "enabled": a.isEnabled(),
             "rect": box(menu.actionGeometry(a).translated(origin))}
            for a in menu.actions() if a.isVisible() and not a.isSeparator() and a.text()]


def windows(app: QApplication) -> list[dict[str, Any]]:
    out = []
    for w in app.topLevelWidgets():
        if not w.isVisible() or isinstance(w, QMenu):
            continue
        item = {"title": w.windowTitle(), "class": type(w).__name__, "rect": full_rect(w),
                "active": w.isActiveWindow(), "id": int(w.winId())}
        if isinstance(w, QMessageBox):
            item["text"] = w.text()
        out.append(item)
    return out


def canvas(window: Any) -> dict[str, Any]:
    view = window.view
    port = view.viewport()
    scene = view.graph_scene

    def glob(point: Any) -> list[int]:
        p = port.mapToGlobal(view.mapFromScene(point))
        return [p.x(), p.y()]

    nodes = {}
    for nid, item in scene.nodes.items():
        if not item.isVisible():
            continue
        rect = view.mapFromScene(item.sceneBoundingRect()).boundingRect()
        nodes[nid] = {
            "type": item.type_name, "selected": item.isSelected(),
            "rect": box(rect.translated(port.mapToGlobal(QPoint(0, 0)))),
            "out": glob(item.out_port.scenePos()) if item.out_port is not None else None,
            "in": [glob(p.scenePos()) for p in item.in_ports],
        }
    minimap = view.minimap
    return {"viewport": shown_rect(port), "zoom": view.zoom(), "nodes": nodes,
            "minimap": shown_rect(minimap) if minimap.isVisible() else None}


def palette(window: Any) -> dict[str, Any]:
    panel = window.palette_panel
    tree = panel.tree
    port = tree.viewport()
    origin = port.mapToGlobal(QPoint(0, 0))
    items = []
    for item in panel.entries():
        rect = tree.visualItemRect(item).intersected(port.rect())
        if not rect.isEmpty() and port.isVisible():
            items.append({"text": item.text(0), "rect": box(rect.translated(origin))})
    return {"search": shown_rect(panel.search), "text": panel.search.text(), "items": items}


def model(window: Any) -> dict[str, Any]:
    from cnnstudio.graph import analyze

    doc = window.document
    graph = doc.graph
    report = analyze(graph)
    project = doc.project
    return {
        "nodes": {nid: {"type": n.type, "params": n.params} for nid, n in graph.nodes.items()},
        "edges": [[e.src, e.dst] for e in graph.edges()],
        "ok": report.ok, "errors": [f"{e.node}: {e.message}" for e in report.errors],
        "selection": list(doc.selection()),
        "epochs": project.training.epochs,
        "dataset": project.dataset.source,
        "weights": project.current_weights is not None,
        "runs": [{"id": r.id, "status": r.status, "epochs": len(r.epochs),
                  "message": r.message} for r in project.runs],
        "training": window.training.controller.state,
    }


def export(window: Any) -> dict[str, Any] | None:
    dialog = window.exchange.last_dialog
    if dialog is None or not hasattr(dialog, "status"):
        return None
    result = getattr(dialog, "result", None)
    return {"shown": dialog.isVisible(), "status": dialog.status.text(),
            "written": [str(p) for p in result.paths] if result is not None else []}


def snapshot(app: QApplication, window: Any) -> dict[str, Any]:
    from cnnstudio.app import engine_loader

    tops = [w for w in app.topLevelWidgets() if w.isVisible() and not isinstance(w, QMenu)]
    focus = app.focusWidget()
    return {
        "time": time.time(),
        "page": "welcome" if window.stack.currentWidget() is window.welcome else "canvas",
        "title": window.windowTitle(),
        "status": window.statusBar().currentMessage(),
        "focus": type(focus).__name__ if focus is not None else None,
        "focus_rect": shown_rect(focus) if focus is not None else None,
        "windows": windows(app),
        "buttons": [b for top in tops for b in buttons(top)],
        "fields": [f for top in tops for f in fields(top)],
        "tabs": [t for top in tops for t in tabs(top)],
        "docks": {d.windowTitle(): full_rect(d) for d in window.findChildren(QDockWidget)
                  if shown_rect(d)[2] > 0},  # in front: whole (its children hide its region)
        "menubar": menu_items(window.menuBar()),
        "menus": [i for m in app.topLevelWidgets() if isinstance(m, QMenu) and m.isVisible()
                  for i in menu_items(m)],
        "palette": palette(window),
        "canvas": canvas(window),
        "model": model(window),
        "export": export(window),
        "engine": all(name in sys.modules for name in engine_loader.MODULES),
        "jobs": [t.name for t in threading.enumerate() if t is not threading.main_thread()],
    }


class Observer:
    """Writes the snapshot every SNAPSHOT_MS, and screenshots when asked."""

    def __init__(self, app: QApplication, path: Path) -> None:
        self.app = app
        self.path = path
        self.shot = path.with_name(path.name + ".shot")
        self.timer = QTimer()
        self.timer.setInterval(SNAPSHOT_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def window(self) -> Any:
        from cnnstudio.app.window import MainWindow

        found = [w for w in self.app.topLevelWidgets() if isinstance(w, MainWindow)]
        return found[0] if found else None

    def tick(self) -> None:
        window = self.window()
        if window is None:
            return
        if self.shot.exists():
            target = self.shot.read_text(encoding="utf-8").strip()
            self.app.primaryScreen().grabWindow(0).save(target)
            self.shot.unlink()
        try:
            data = snapshot(self.app, window)
        except Exception as exc:  # noqa: BLE001 - the test shows it; the window goes on
            data = {"error": f"{type(exc).__name__}: {exc}"}
        temp = self.path.with_name(self.path.name + ".tmp")
        temp.write_text(json.dumps(data, default=str), encoding="utf-8")
        os.replace(temp, self.path)


def main(argv: list[str]) -> int:
    from cnnstudio.app import main as app_main

    app = QApplication(argv[:1])  # main.run takes this one, as it would take a test's
    observer = Observer(app, Path(argv[1]))
    code = app_main.run(None, argv[:1])
    observer.timer.stop()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
