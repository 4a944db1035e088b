"""Semantic zoom (text readable at any zoom, or labels at a constant size), the minimap that
covers nothing, huge numbers on a box, files dropped on the canvas, block counts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, QRectF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from cnnstudio.app.canvas.block_items import BoxItem
from cnnstudio.app.canvas.theme import READABLE_PX, text_px
from cnnstudio.app.canvas.units import ancestry
from cnnstudio.graph import Graph
from cnnstudio.project import Project

EXAMPLE = Path(__file__).parents[2] / "projects" / "lenet5-digits.cnnproj"


def settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


def in_view(view, rect: QRectF) -> bool:
    return view.mapFromScene(rect).boundingRect().intersects(view.viewport().rect())


def screen_rect(view, rect: QRectF) -> QRectF:
    return view.mapFromScene(rect).boundingRect().toRectF()


@pytest.mark.parametrize("name", ["resnet50", "googlenet", "efficientnet_b0", "densenet121"])
def test_every_box_is_readable_at_fit(window, name):
    window.new_from_preset(name)
    view = window.view
    view.fit_all()
    settle()
    scene, theme, graph = view.graph_scene, view.graph_scene.theme, view.doc.graph
    z = view.zoom()
    chips = view.chip_labels()
    if z >= theme.detail_zoom:  # the boxes' own text is large enough
        assert text_px(theme.font) * z >= READABLE_PX
        return
    # Every label is readable on screen, and no two cover each other.
    shown = [screen_rect(view, c.rect) for c in chips.values()]
    for chip, rect in zip(chips.values(), shown):
        assert rect.height() >= len(chip.lines) * READABLE_PX
        assert text_px(theme.chip) >= READABLE_PX and text_px(theme.chip_bold) >= READABLE_PX
    for i, a in enumerate(shown):
        assert not any(a.adjusted(1, 1, -1, -1).intersects(b) for b in shown[i + 1:])

    def spoken_for(key: str, group: str | None) -> bool:
        """Labelled itself, or a block around it is."""
        return key in chips or any("[" + g in chips or "#" + g in chips
                                   for g in ancestry(graph, group))

    boxes = [b for b in scene.boxes.values() if b.isVisible()
             and in_view(view, b.mapRectToScene(b.box_rect()))]
    nodes = [n for n in scene.nodes.values() if n.isVisible()
             and in_view(view, n.mapRectToScene(n.box_rect()))]
    assert boxes or nodes
    for box in boxes:
        assert spoken_for(box.key, graph.groups[box.group_id].parent), box.group_id
    for node in nodes:
        assert spoken_for(node.node_id, graph.nodes[node.node_id].group), node.node_id
    # Blocks carry their name and totals.
    for key, chip in chips.items():
        if key[0] in "[#":
            assert chip.lines[0] == (graph.groups[key[1:]].name or key[1:])
            assert "params" in chip.lines[1] and "MACs" in chip.lines[1]


def test_text_inside_boxes_only_where_readable(window):
    window.new_from_preset("resnet18")
    view = window.view
    theme = view.graph_scene.theme
    view.set_zoom(1.0)
    assert view.chip_labels() == {}  # the boxes' own text, at 12 px
    assert text_px(theme.font) * view.zoom() >= READABLE_PX
    view.set_zoom(theme.detail_zoom * 0.9)
    assert view.chip_labels()  # too small for the boxes' text: labels at a constant size


def test_a_billion_channels_fit_their_box(window):
    graph = Graph()
    # A 1×1 image keeps the layer under analysis.MAX_LAYER_VALUES (past it, an error).
    graph.add_node("Input", "input", {"shape": [3, 1, 1]}, position=(0.0, 0.0))
    graph.add_node("Conv2d", "conv", {"out_channels": 999_999_999, "kernel_size": 1},
                   position=(0.0, 130.0))
    graph.connect("input", "conv")
    window.document.replace(Project(graph=graph), None)
    window.document.flush()
    item = window.view.graph_scene.nodes["conv"]
    assert item.params_text.startswith("1.0G,")
    assert item.shape_str == "[1.0G,1,1]"
    assert item.count_str == "4.0G params"
    assert item.text_fits(window.view.graph_scene.theme)


def test_a_collapsed_stage_counts_its_own_blocks(window):
    window.new_from_preset("resnet50")
    scene = window.view.graph_scene
    for stage, blocks in (("layer1", 3), ("layer2", 4), ("layer3", 6), ("layer4", 3)):
        scene.set_block_collapsed(stage, True)
        box: BoxItem = scene.boxes[stage]
        layers = len(scene.members[stage])
        assert box.sub == f"{stage} — {blocks} blocks · {layers} layers"


def test_the_minimap_never_covers_the_graph(window):
    window.new_from_preset("resnet152")
    view = window.view
    view.set_zoom(1.0)
    mini = view.minimap
    shown = 0
    v, h = view.verticalScrollBar(), view.horizontalScrollBar()
    for y in range(v.minimum(), v.maximum(), max((v.maximum() - v.minimum()) // 12, 1)):
        for x in (h.minimum(), (h.minimum() + h.maximum()) // 2, h.maximum()):
            v.setValue(y)
            h.setValue(x)
            settle()
            if not mini.isVisible():
                continue
            shown += 1
            place = QRectF(view.viewport().mapFrom(view, mini.pos()).toPointF(),
                           mini.size().toSizeF())
            assert not any(place.intersects(r) for r in mini.covered())
    assert shown  # it does show where there is room


def test_a_project_dropped_on_the_canvas_opens(window, tmp_path, qtbot):
    path = tmp_path / "dropped.cnnproj"
    shutil.copy(EXAMPLE, path)
    window.new_blank()
    view = window.view
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    at = view.viewport().rect().center()
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(at, *args)
    QApplication.sendEvent(view.viewport(), enter)
    assert enter.isAccepted()
    QApplication.sendEvent(view.viewport(), QDragMoveEvent(at, *args))
    with qtbot.waitSignal(view.files_dropped) as got:
        QApplication.sendEvent(view.viewport(), QDropEvent(QPointF(at), *args))
    assert got.args == [[str(path)]]
    assert window.document.path == path
    assert "conv1" in window.document.graph.nodes or len(window.document.graph) > 3


def test_a_double_clicked_layer_says_it_is_linked(window):
    window.new_blank()
    window.document.select(["input"])
    window.palette_panel.add_requested.emit("Conv2d")
    message = window.statusBar().currentMessage()
    assert message == "Added conv2d1, linked from input"
    assert ("input", "conv2d1") in {(e.src, e.dst) for e in window.document.graph.edges()}


def test_a_zoom_a_hair_under_the_threshold_is_not_labelled_twice(window):
    """Zooming back by steps lands on 0.7499999… for 0.75: the boxes draw their own text
    there, so the view must not label them again at a constant size."""
    window.new_from_preset("lenet5")
    view = window.view
    view.set_zoom(READABLE_PX / text_px(view.graph_scene.theme.font) * (1 - 1e-15))
    settle()
    assert view.chip_labels() == {}
    view.set_zoom(view.graph_scene.theme.detail_zoom * 0.9)  # truly below: labelled
    settle()
    assert view.chip_labels()
