"""A new user builds the seeds' simple CNN by hand in the window:
INPUT → [CONV → RELU → POOL]×2 → FC → RELU → FC, with palette double-clicks (each adds the
layer below the selected one and links it) and the inspector's fields — and it validates."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from cnnstudio.app import preferences
from cnnstudio.app.window import MainWindow
from cnnstudio.engine import to_module

STEPS = [
    ("Conv2d", {"out_channels": "32", "kernel_size": "3", "padding": "1"}),
    ("ReLU", {}),
    ("MaxPool2d", {"kernel_size": "2"}),
    ("Conv2d", {"out_channels": "64", "kernel_size": "3", "padding": "1"}),
    ("ReLU", {}),
    ("MaxPool2d", {"kernel_size": "2"}),
    ("Flatten", {}),
    ("Linear", {"out_features": "128"}),
    ("ReLU", {}),
    ("Linear", {"out_features": "10"}),
]


@pytest.fixture
def window(qtbot, tmp_path):
    preferences.use_folder(tmp_path)
    win = MainWindow()
    qtbot.addWidget(win, before_close_func=lambda w: w.document.undo_stack.setClean())
    win.show()
    qtbot.waitExposed(win)
    yield win
    preferences.use_folder(None)


def type_into(qtbot, editor, text: str) -> None:
    field = editor.field
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def test_build_the_simple_cnn_by_hand(window, qtbot) -> None:
    gestures = 0
    window.new_blank()  # the canvas opens with an Input node [1, 28, 28]
    doc = window.document
    doc.select(["input"])
    gestures += 2
    for type_name, params in STEPS:
        window.palette_panel.add_requested.emit(type_name)  # a double-click in the palette
        gestures += 1
        for name, text in params.items():
            type_into(qtbot, window.inspector.editor(name), text)
            gestures += 1
    report = doc.flush()
    assert report.ok, report.errors
    shapes = [r.shape for r in report.nodes.values()]
    assert shapes == [(1, 28, 28), (32, 28, 28), (32, 28, 28), (32, 14, 14), (64, 14, 14),
                      (64, 14, 14), (64, 7, 7), (3136,), (128,), (128,), (10,)]
    assert report.total_params == 421_642  # the simple_cnn preset's count
    assert len(doc.graph.edges()) == 10  # every layer linked to the one before
    # About 30 gestures: a couple of seconds each is well under two minutes.
    assert gestures <= 30
    # The last field edit is one undo step, and the addition with its link another.
    doc.undo_stack.undo()
    assert "out_features" not in doc.graph.node(doc.graph.topological_order()[-1]).params
    doc.undo_stack.undo()
    assert len(doc.graph) == 10 and len(doc.graph.edges()) == 9
    doc.undo_stack.redo()
    doc.undo_stack.redo()
    model = to_module(doc.graph)
    assert sum(p.numel() for p in model.parameters()) == 421_642
