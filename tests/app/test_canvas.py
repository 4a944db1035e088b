"""The canvas: wiring by mouse, live feedback, analysis on the nodes, undoable moves and
edits, blocks, big presets, the minimap, selection both ways and palette drops."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication

from cnnstudio.app.canvas import GraphScene, GraphView
from cnnstudio.app.canvas.block_items import BoxItem, FrameItem
from cnnstudio.app.canvas.edges import EdgeItem
from cnnstudio.app.canvas.items import NodeItem
from cnnstudio.app.canvas.labels import count
from cnnstudio.app.document import Document
from cnnstudio.app.mime import LAYER_MIME
from cnnstudio.graph import Graph, presets
from cnnstudio.project import Project

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton


@pytest.fixture
def view(qtbot):
    doc = Document()
    v = GraphView(doc)
    qtbot.addWidget(v)
    v.resize(1000, 700)
    v.show()
    qtbot.waitExposed(v)
    return v


def open_graph(view: GraphView, graph: Graph) -> Document:
    view.doc.replace(Project(graph=graph), None)
    return view.doc


def mouse(view: GraphView, kind: QEvent.Type, at: QPointF, button=LEFT, buttons=LEFT,
          modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    vp = view.viewport()
    pos = QPointF(view.mapFromScene(at))
    event = QMouseEvent(kind, pos, QPointF(vp.mapToGlobal(pos.toPoint())), button, buttons,
                        modifiers)
    QApplication.sendEvent(vp, event)


def drag(view: GraphView, start: QPointF, end: QPointF, steps: int = 4) -> None:
    view.centerOn((start + end) / 2)
    mouse(view, QEvent.Type.MouseButtonPress, start)
    for i in range(1, steps + 1):
        mouse(view, QEvent.Type.MouseMove, start + (end - start) * (i / steps), NONE)
    mouse(view, QEvent.Type.MouseButtonRelease, end, LEFT, NONE)


def out_port(scene: GraphScene, nid: str) -> QPointF:
    return scene.nodes[nid].out_port.scenePos()


def in_port(scene: GraphScene, nid: str, index: int = -1) -> QPointF:
    return scene.nodes[nid].in_ports[index].scenePos()


def wire(view: GraphView, src: str, dst: str, index: int = -1) -> None:
    scene = view.graph_scene
    drag(view, out_port(scene, src), in_port(scene, dst, index))


def small_net(view: GraphView) -> Document:
    """input → conv → relu, built the way a user does: drop layers, drag links."""
    scene, doc = view.graph_scene, view.doc
    scene.add_layer("Input", QPointF(0, 0))
    doc.set_params("input1", {"shape": [3, 32, 32]})
    scene.add_layer("Conv2d", QPointF(0, 160))
    doc.set_params("conv2d1", {"out_channels": 8, "kernel_size": 3, "padding": 1})
    scene.add_layer("ReLU", QPointF(0, 320))
    wire(view, "input1", "conv2d1")
    wire(view, "conv2d1", "relu1")
    doc.flush()
    return doc


def test_build_a_network_by_dragging_links(view):
    doc = small_net(view)
    scene = view.graph_scene
    assert [(e.src, e.dst) for e in doc.graph.edges()] == [("input1", "conv2d1"),
                                                            ("conv2d1", "relu1")]
    assert set(scene.edges) == {("input1", "conv2d1"), ("conv2d1", "relu1")}
    assert scene.edges[("conv2d1", "relu1")].label == "[8, 32, 32]"
    conv = scene.nodes["conv2d1"]
    assert conv.params_text == "8, 3×3 p1"
    assert conv.shape_str == "[8, 32, 32]" and conv.count_str == "224 params"
    assert not conv.badge.isVisible()
    assert "filters" in conv.toolTip()
    assert doc.undo_stack.count() == 7  # 3 adds, 2 parameter edits, 2 links


def test_dragging_from_an_input_port_links_backwards(view):
    doc = small_net(view)
    scene = view.graph_scene
    scene.add_layer("Flatten", QPointF(260, 480))
    drag(view, in_port(scene, "flatten1"), out_port(scene, "relu1"))
    assert doc.graph.inputs("flatten1") == ["relu1"]


def test_refused_links_change_nothing_and_say_why(view, qtbot):
    doc = small_net(view)
    scene = view.graph_scene
    count = doc.undo_stack.count()
    messages: list[str] = []
    scene.status_message.connect(messages.append)
    scene.add_layer("Add", QPointF(300, 160))
    scene.add_layer("ReLU", QPointF(300, 320))
    wire(view, "input1", "add1")
    wire(view, "add1", "relu2")
    count = doc.undo_stack.count()
    wire(view, "relu2", "add1")  # a cycle
    assert "would make a cycle" in messages[-1]
    assert doc.undo_stack.count() == count and doc.graph.inputs("add1") == ["input1"]
    assert not scene.wiring.active and scene.wiring.wire is None
    scene.add_layer("Conv2d", QPointF(300, 160))
    wire(view, "input1", "conv2d2")
    count = doc.undo_stack.count()
    wire(view, "conv2d2", "conv2d1")  # a second input into a convolution
    assert "already takes its input from input1" in messages[-1]
    assert doc.undo_stack.count() == count
    assert doc.graph.inputs("conv2d1") == ["input1"]
    assert ("conv2d2", "conv2d1") not in scene.edges


def test_hover_feedback_while_wiring(view):
    doc = small_net(view)
    scene = view.graph_scene
    tool = scene.wiring
    tool.begin(scene.nodes["relu1"].out_port, out_port(scene, "relu1"))
    tool.drag(in_port(scene, "conv2d1"))
    assert tool.state == "bad" and "already takes its input" in tool.message
    assert scene.nodes["conv2d1"].in_ports[0].state == "bad"
    assert tool.wire.pen().color() == scene.theme.error
    scene.add_layer("Linear", QPointF(300, 480))
    doc.set_params("linear1", {"out_features": 10})
    tool.drag(in_port(scene, "linear1"))
    assert tool.state == "ok" and "linear1 gives" in tool.message
    assert scene.nodes["conv2d1"].in_ports[0].state is None
    assert scene.nodes["linear1"].in_ports[0].state == "ok"
    tool.cancel()
    assert tool.wire is None and doc.graph.inputs("linear1") == []


def test_a_shape_clash_shows_orange_while_hovering_and_red_once_linked(view):
    doc = small_net(view)
    scene = view.graph_scene
    scene.add_layer("Add", QPointF(0, 480))
    wire(view, "relu1", "add1")
    tool = scene.wiring
    tool.begin(scene.nodes["input1"].out_port, out_port(scene, "input1"))
    tool.drag(in_port(scene, "add1", -1))
    assert tool.state == "warn" and "add1 will not work" in tool.message
    tool.finish(in_port(scene, "add1", -1))
    doc.flush()
    assert doc.graph.inputs("add1") == ["relu1", "input1"]
    add = scene.nodes["add1"]
    assert add.badge.isVisible() and add.badge.color == scene.theme.error
    assert "Error" in add.badge.toolTip()
    assert scene.edges[("input1", "add1")].bad and scene.edges[("relu1", "add1")].bad
    assert len(add.in_ports) == 3  # two links and a free port


def test_concat_ports_are_ordered_and_an_end_can_be_moved(view):
    doc = small_net(view)
    scene = view.graph_scene
    scene.add_layer("Concat", QPointF(0, 480))
    wire(view, "relu1", "concat1")
    wire(view, "input1", "concat1")
    assert doc.graph.inputs("concat1") == ["relu1", "input1"]
    assert [p.number for p in scene.nodes["concat1"].in_ports] == ["0", "1", "2"]
    # pick up the end of input1's link at port 1 and drop it on port 0: re-ordered
    drag(view, in_port(scene, "concat1", 1), in_port(scene, "concat1", 0))
    assert doc.graph.inputs("concat1") == ["input1", "relu1"]
    doc.undo_stack.undo()
    assert doc.graph.inputs("concat1") == ["relu1", "input1"]
    # drop a picked-up end on empty space: unlinked
    drag(view, in_port(scene, "concat1", 1), QPointF(600, 900))
    assert doc.graph.inputs("concat1") == ["relu1"]
    assert ("input1", "concat1") not in scene.edges


def test_labels_show_the_new_shape_after_a_parameter_edit(view):
    doc = small_net(view)
    scene = view.graph_scene
    doc.set_params("conv2d1", {"out_channels": 16, "stride": 2})
    doc.flush()
    assert scene.nodes["conv2d1"].params_text == "16, 3×3 /2 p1"
    assert scene.nodes["relu1"].shape_str == "[16, 16, 16]"
    assert scene.edges[("conv2d1", "relu1")].label == "[16, 16, 16]"
    doc.set_params("conv2d1", {"kernel_size": 64})
    doc.flush()
    assert scene.nodes["conv2d1"].badge.isVisible()
    assert scene.edges[("input1", "conv2d1")].bad


def test_moving_nodes_is_one_undo_step(view):
    doc = small_net(view)
    scene = view.graph_scene
    doc.select(["conv2d1", "relu1"])
    count = doc.undo_stack.count()
    start = scene.nodes["conv2d1"].pos()
    drag(view, start, start + QPointF(120, 40), steps=6)
    assert doc.undo_stack.count() == count + 1
    assert doc.graph.nodes["conv2d1"].position == (120.0, 200.0)
    assert doc.graph.nodes["relu1"].position == (120.0, 360.0)
    assert doc.graph.nodes["input1"].position == (0.0, 0.0)
    doc.undo_stack.undo()
    assert scene.nodes["conv2d1"].pos() == QPointF(0, 160)
    assert scene.nodes["relu1"].pos() == QPointF(0, 320)
    path = scene.edges[("conv2d1", "relu1")].path
    assert path.pointAtPercent(1.0).y() == pytest.approx(320 - 78 / 2, abs=8)


def test_delete_duplicate_copy_paste_with_undo(view):
    doc = small_net(view)
    scene = view.graph_scene
    doc.select(["conv2d1", "relu1"])
    new = view.duplicate_selected()
    assert len(new) == 2 and set(new) <= set(scene.nodes)
    assert len(scene.edges) == 3  # the copied link comes along
    assert doc.selection() == new
    doc.undo_stack.undo()
    assert set(scene.nodes) == {"input1", "conv2d1", "relu1"}
    doc.select(["conv2d1"])
    copied = view.copy_selected()
    assert copied["nodes"][0]["position"] == [0.0, 160.0]
    pasted = view.paste(copied)
    assert scene.nodes[pasted[0]].pos() == QPointF(40, 200)
    doc.select(["conv2d1"])
    scene.edges[("input1", "conv2d1")].setSelected(True)
    view.delete_selected()
    assert "conv2d1" not in scene.nodes and len(scene.edges) == 0
    doc.undo_stack.undo()
    assert "conv2d1" in scene.nodes
    assert set(scene.edges) == {("input1", "conv2d1"), ("conv2d1", "relu1")}
    doc.undo_stack.redo()
    assert "conv2d1" not in scene.nodes
    assert view.copy_selected() is None


def test_deleting_a_selected_link(view):
    doc = small_net(view)
    scene = view.graph_scene
    doc.select([])
    scene.edges[("conv2d1", "relu1")].setSelected(True)
    view.delete_selected()
    assert doc.graph.inputs("relu1") == []
    doc.undo_stack.undo()
    assert doc.graph.inputs("relu1") == ["conv2d1"]
    assert scene.edges[("conv2d1", "relu1")].isVisible()


def test_blocks_make_collapse_expand_dissolve(view):
    doc = small_net(view)
    scene = view.graph_scene
    doc.select(["conv2d1", "relu1"])
    gid = view.make_block_from_selection()
    assert isinstance(scene.frames[gid], FrameItem) and scene.frames[gid].isVisible()
    assert scene.frames[gid].rect.contains(scene.nodes["relu1"].sceneBoundingRect())
    scene.set_block_collapsed(gid, True)
    box = scene.boxes[gid]
    assert isinstance(box, BoxItem) and gid not in scene.frames
    assert not scene.nodes["conv2d1"].isVisible() and not scene.nodes["relu1"].isVisible()
    assert scene.visible_units() == ["input1", "#" + gid]
    assert box.lines[0].startswith("224 params")
    assert box.lines[2] == "[8, 32, 32]" and box.lines[1] == "RF 3×3"
    edge = scene.edges[("input1", "conv2d1")]
    assert edge.isVisible() and edge.path.pointAtPercent(1).y() == pytest.approx(
        box.in_pos().y(), abs=10)
    assert box.isSelected()  # its members are selected
    # moving the box moves its members, one undo step
    count = doc.undo_stack.count()
    start = box.pos()
    drag(view, start, start + QPointF(200, 0))
    assert doc.undo_stack.count() == count + 1
    assert doc.graph.nodes["relu1"].position == (200.0, 320.0)
    scene.set_block_collapsed(gid, False)
    assert scene.nodes["relu1"].isVisible() and gid not in scene.boxes
    assert scene.nodes["relu1"].pos() == QPointF(200, 320)
    doc.dissolve_block(gid)
    assert gid not in scene.frames and gid not in doc.graph.groups
    doc.undo_stack.undo()
    assert gid in scene.frames


def test_double_click_and_collapse_all(view):
    open_graph(view, presets.build("resnet18"))
    scene = view.graph_scene
    assert not view.doc.collapsed and len(scene.visible_units()) == 70
    view.collapse_all()
    assert set(scene.boxes) == {"layer1", "layer2", "layer3", "layer4"}
    assert len(scene.visible_units()) == 12
    box = scene.boxes["layer2"]
    box.mouseDoubleClickEvent(None)
    assert "layer2" in scene.frames and {"layer2.0", "layer2.1"} <= set(scene.boxes)
    view.expand_all()
    assert not scene.boxes and len(scene.visible_units()) == 70
    frames_visible = [f for f in scene.frames.values() if f.isVisible()]
    assert len(frames_visible) == len(view.doc.graph.groups)


def test_resnet152_opens_readable(view, qtbot):
    doc = open_graph(view, presets.build("resnet152"))
    scene = view.graph_scene
    units = scene.visible_units()
    assert len(units) < 100
    assert len(scene.boxes) == 50 and set(scene.frames) == {"layer1", "layer2", "layer3",
                                                             "layer4"}
    visible = [i for i in scene.items() if isinstance(i, (NodeItem, BoxItem)) and i.isVisible()]
    assert len(visible) == len(units)
    box = scene.boxes["layer3.5"]
    members = scene.members["layer3.5"]
    assert box.lines[0].startswith(count(sum(doc.report.nodes[m].params for m in members)))
    assert box.lines[2] == "[1024, 14, 14]"
    assert view.zoom() >= 0.7  # shown readable, its top first
    assert view.minimap.isVisible()
    view.fit_all()
    assert view.zoom() < 0.2
    view.grab()


def test_presets_with_nested_blocks_open(view):
    for name in ("googlenet", "densenet121", "efficientnet_b0"):
        open_graph(view, presets.build(name))
        scene = view.graph_scene
        assert len(scene.visible_units()) <= 100
        assert all(e.isVisible() == (scene.edge_units(e)[0] != scene.edge_units(e)[1])
                   or not e.isVisible() for e in scene.edges.values())
        view.grab()


@pytest.mark.parametrize("name", ["googlenet", "resnet50", "densenet121", "efficientnet_b0"])
def test_block_frames_do_not_overlap(view, name):
    # Sibling frames (same parent block) side by side or one above the other, never one
    # over the other: GoogLeNet's two auxiliary classifiers used to overlap.
    doc = open_graph(view, presets.build(name))
    scene = view.graph_scene
    groups = doc.graph.groups
    for step in ("opened", "expanded and arranged"):
        if step != "opened":
            view.expand_all()
            view.arrange()
        shown = [g for g, f in scene.frames.items() if f.isVisible()]
        assert shown
        for i, a in enumerate(shown):
            for b in shown[i + 1:]:
                if groups[a].parent == groups[b].parent:
                    overlap = scene.frames[a].rect.intersected(scene.frames[b].rect)
                    assert overlap.isEmpty(), (step, a, b)


def test_selection_follows_both_ways(view):
    doc = small_net(view)
    scene = view.graph_scene
    doc.select(["conv2d1"])
    assert scene.nodes["conv2d1"].isSelected() and not scene.nodes["relu1"].isSelected()
    scene.nodes["relu1"].setSelected(True)
    assert doc.selection() == ["conv2d1", "relu1"]
    scene.clearSelection()
    assert doc.selection() == []
    # a click selects, ctrl-click adds
    mouse(view, QEvent.Type.MouseButtonPress, scene.nodes["input1"].pos())
    mouse(view, QEvent.Type.MouseButtonRelease, scene.nodes["input1"].pos(), LEFT, NONE)
    assert doc.selection() == ["input1"]
    ctrl = Qt.KeyboardModifier.ControlModifier
    at = scene.nodes["relu1"].pos()
    mouse(view, QEvent.Type.MouseButtonPress, at, modifiers=ctrl)
    mouse(view, QEvent.Type.MouseButtonRelease, at, LEFT, NONE, modifiers=ctrl)
    assert doc.selection() == ["input1", "relu1"]
    view.select_all()
    assert all(item.isSelected() for item in scene.nodes.values())


def test_rubber_band_selects(view):
    doc = small_net(view)
    view.fit_all()
    mouse(view, QEvent.Type.MouseButtonPress, QPointF(-300, 100))
    mouse(view, QEvent.Type.MouseMove, QPointF(0, 250), NONE)
    mouse(view, QEvent.Type.MouseMove, QPointF(300, 400), NONE)
    mouse(view, QEvent.Type.MouseButtonRelease, QPointF(300, 400), LEFT, NONE)
    assert doc.selection() == ["conv2d1", "relu1"]


def test_palette_drop_and_double_click_add_layers(view):
    doc = view.doc
    mime = QMimeData()
    mime.setData(LAYER_MIME, b"BatchNorm2d")
    at = view.mapFromScene(QPointF(100, 50))
    args = (Qt.DropAction.CopyAction, mime, LEFT, Qt.KeyboardModifier.NoModifier)
    for event in (QDragEnterEvent(at, *args), QDragMoveEvent(at, *args),
                  QDropEvent(QPointF(at), *args)):
        QApplication.sendEvent(view.viewport(), event)
    assert list(doc.graph.nodes) == ["batchnorm2d1"]
    assert doc.graph.nodes["batchnorm2d1"].position == (100, 50)
    assert doc.selection() == ["batchnorm2d1"]
    nid = view.add_layer_at_center("ReLU")
    nid2 = view.add_layer_at_center("ReLU")
    assert doc.selection() == [nid2]
    a, b = view.graph_scene.nodes[nid].pos(), view.graph_scene.nodes[nid2].pos()
    assert abs(a.y() - b.y()) > 78
    assert view.graph_scene.add_layer("NoSuchLayer", QPointF()) is None


def test_nodes_without_positions_get_laid_out_and_arrange_is_one_step(view):
    doc = open_graph(view, presets.build("lenet5"))
    scene = view.graph_scene
    ys = [scene.nodes[n].pos().y() for n in doc.graph.nodes]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)  # a chain runs downwards
    assert all(n.position is None for n in doc.graph)
    doc.add_node("ReLU")  # no position: placed below nothing, beside the graph
    doc.connect("classifier.output", "relu1")
    count = doc.undo_stack.count()
    view.arrange()
    assert doc.undo_stack.count() == count + 1
    assert all(n.position is not None for n in doc.graph)
    assert scene.nodes["relu1"].pos().y() > scene.nodes["classifier.output"].pos().y()
    doc.undo_stack.undo()
    assert all(n.position is None for n in doc.graph)


def test_rename_freeze_and_context_menus(view):
    doc = small_net(view)
    scene = view.graph_scene
    doc.rename("conv2d1", "stem")
    assert "stem" in scene.nodes and ("stem", "relu1") in scene.edges
    doc.set_frozen(["stem"], True)
    assert scene.nodes["stem"].frozen
    menu = view.context_menu(view.mapFromScene(scene.nodes["stem"].pos()))
    texts = [a.text() for a in menu.actions()]
    assert "Unfreeze" in texts and "Make block" in texts and "Duplicate" in texts
    edge = scene.edges[("stem", "relu1")]
    mid = edge.path.pointAtPercent(0.3)
    texts = [a.text() for a in view.context_menu(view.mapFromScene(mid)).actions()]
    assert texts == ["Delete link stem → relu1"]
    texts = [a.text() for a in view.context_menu(view.mapFromScene(QPointF(900, 900)))
             .actions()]
    assert "Arrange" in texts and "Add layer" in texts
    assert isinstance(edge, EdgeItem)


def test_zoom_and_center(view):
    doc = open_graph(view, presets.build("resnet152"))
    z = view.zoom()
    view.zoom_in()
    assert view.zoom() == pytest.approx(z * 1.25)
    view.zoom_out()
    assert view.zoom() == pytest.approx(z)
    view.center_on("fc")
    centre = view.mapToScene(view.viewport().rect().center())
    assert abs(centre.y() - view.graph_scene.nodes["fc"].pos().y()) < 5
    view.center_on("layer4.2.conv1")  # hidden in a collapsed block: its box
    centre = view.mapToScene(view.viewport().rect().center())
    assert abs(centre.y() - view.graph_scene.boxes["layer4.2"].pos().y()) < 5
    assert doc.collapsed


def test_opening_a_placed_block_makes_room_below_it(view):
    doc = open_graph(view, presets.build("resnet18"))
    scene = view.graph_scene
    view.collapse_all()
    view.arrange()
    assert all(n.position is not None for n in doc.graph)
    below = scene.boxes["layer3"].pos().y()
    count = doc.undo_stack.count()
    scene.set_block_collapsed("layer2", False)
    assert doc.undo_stack.count() == count + 1
    assert "room" in doc.undo_stack.text(count)
    frame = scene.frames["layer2"]
    assert scene.boxes["layer3"].pos().y() > below
    assert not frame.rect.intersects(scene.boxes["layer3"].sceneBoundingRect())
    assert not frame.rect.intersects(scene.nodes["avgpool"].sceneBoundingRect())


def test_shift_click_adds_and_double_click_activates(view, qtbot):
    doc = small_net(view)
    scene = view.graph_scene
    doc.select(["input1"])
    shift = Qt.KeyboardModifier.ShiftModifier
    at = scene.nodes["relu1"].pos()
    mouse(view, QEvent.Type.MouseButtonPress, at, modifiers=shift)
    mouse(view, QEvent.Type.MouseButtonRelease, at, LEFT, NONE, modifiers=shift)
    assert doc.selection() == ["input1", "relu1"]
    with qtbot.waitSignal(scene.node_activated) as blocker:
        mouse(view, QEvent.Type.MouseButtonDblClick, at)
    assert blocker.args == ["relu1"]


def test_pan_with_middle_button_and_space_drag(view, qtbot):
    open_graph(view, presets.build("resnet152"))
    bar = view.verticalScrollBar()
    before = bar.value()
    centre = view.mapToScene(view.viewport().rect().center())
    mouse(view, QEvent.Type.MouseButtonPress, centre, Qt.MouseButton.MiddleButton,
          Qt.MouseButton.MiddleButton)
    vp = view.viewport()
    start = view.mapFromScene(centre)
    event = QMouseEvent(QEvent.Type.MouseMove, QPointF(start.x(), start.y() - 120),
                        QPointF(vp.mapToGlobal(start)), NONE, Qt.MouseButton.MiddleButton,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, event)
    mouse(view, QEvent.Type.MouseButtonRelease, centre, Qt.MouseButton.MiddleButton, NONE)
    assert bar.value() == before + 120
    qtbot.keyPress(view, Qt.Key.Key_Space)
    assert view.dragMode() == view.DragMode.ScrollHandDrag and not view.isInteractive()
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert view.dragMode() == view.DragMode.RubberBandDrag and view.isInteractive()


def test_minimap_click_moves_the_view(view, qtbot):
    open_graph(view, presets.build("resnet152"))
    mini = view.minimap
    assert mini.parent() is view and mini.isVisible()
    geo = mini.geometry()
    assert view.viewport().geometry().contains(geo)  # in the bottom-right corner
    assert geo.right() > view.viewport().width() - 40
    mini.grab()
    before = view.verticalScrollBar().value()
    qtbot.mouseClick(mini, LEFT, pos=QPointF(mini.width() / 2, mini.height() - 10).toPoint())
    assert view.verticalScrollBar().value() > before + 1000


def test_keyboard_delete_and_theme_change(view, qtbot):
    doc = small_net(view)
    doc.select(["relu1"])
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert "relu1" not in doc.graph.nodes
    from cnnstudio.app import style

    light = view.graph_scene.theme.node_body
    QApplication.instance().setPalette(style.dark_palette())
    try:
        qtbot.waitUntil(lambda: view.graph_scene.theme.dark)
        assert view.graph_scene.theme.node_body != light
        view.grab()
    finally:
        QApplication.instance().setPalette(QApplication.style().standardPalette())


def test_double_click_on_a_frame_title_collapses_it(view):
    doc = open_graph(view, presets.build("lenet5"))
    scene = view.graph_scene
    frame = scene.frames["features"]
    at = frame.title_rect().topLeft() + QPointF(40, 9)  # on the title text
    view.centerOn(at)
    mouse(view, QEvent.Type.MouseButtonPress, at)
    mouse(view, QEvent.Type.MouseButtonRelease, at, LEFT, NONE)
    mouse(view, QEvent.Type.MouseButtonDblClick, at)
    mouse(view, QEvent.Type.MouseButtonRelease, at, LEFT, NONE)
    assert "features" in doc.collapsed and "features" in scene.boxes
    texts = [a.text() for a in view.context_menu(
        view.mapFromScene(scene.boxes["features"].pos())).actions()]
    assert texts[:2] == ["Expand block", "Dissolve block"]


def test_dragging_a_frame_title_moves_the_block(view):
    doc = open_graph(view, presets.build("lenet5"))
    scene = view.graph_scene
    frame = scene.frames["classifier"]
    at = frame.title_rect().topLeft() + QPointF(40, 9)
    count = doc.undo_stack.count()
    before = scene.nodes["classifier.f6"].pos()
    drag(view, at, at + QPointF(300, 0))
    assert doc.undo_stack.count() == count + 1
    assert scene.nodes["classifier.f6"].pos() == before + QPointF(300, 0)
    assert doc.graph.nodes["classifier.output"].position is not None
    assert doc.graph.nodes["flatten"].position is None
    at = frame.title_rect().topLeft() + QPointF(40, 9)
    mouse(view, QEvent.Type.MouseButtonPress, at)
    mouse(view, QEvent.Type.MouseButtonRelease, at, LEFT, NONE)
    assert doc.selection() == ["classifier.f6", "classifier.f6_act", "classifier.output"]
