"""The side panels: palette, inspector, summary table, issues list, receptive-field view."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication, QCheckBox, QLineEdit

from cnnstudio.app.document import Document
from cnnstudio.app.mime import LAYER_MIME, decode_layer, encode_layer
from cnnstudio.app.panels import (
    Inspector,
    IssuesList,
    Palette,
    ReceptiveFieldView,
    SummaryTable,
    rf_geometry,
)
from cnnstudio.app.panels.editors import (
    BoolEditor,
    ChoiceEditor,
    IntEditor,
    TextEditor,
    format_value,
    parse_value,
)
from cnnstudio.app.widgets import ComboBox, SpinBox
from cnnstudio.graph import UNSET, graph_from_dict, layers, presets
from cnnstudio.project import DatasetConfig, Project


def chain(*nodes: tuple, shape=(3, 32, 32)) -> Document:
    """A document holding Input(shape) followed by ``(id, type, params)`` in a chain."""
    doc = {"format": "cnnstudio.graph", "version": 1,
           "nodes": [{"id": "input", "type": "Input", "params": {"shape": list(shape)}}]
           + [{"id": i, "type": t, "params": p} for i, t, p in nodes]}
    return Document(Project(graph=graph_from_dict(doc)))


@pytest.fixture
def small() -> Document:
    return chain(("conv1", "Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}),
                 ("relu1", "ReLU", {}),
                 ("pool1", "MaxPool2d", {"kernel_size": 2}),
                 ("flatten", "Flatten", {}),
                 ("fc", "Linear", {"out_features": 10}))


def shown(qtbot, widget, size=(360, 640)):
    qtbot.addWidget(widget)
    widget.resize(*size)
    with qtbot.waitExposed(widget):
        widget.show()
    with qtbot.waitActive(widget):
        widget.activateWindow()
    return widget


# -- palette ---------------------------------------------------------------------------------
def test_palette_lists_every_layer_with_its_help(qtbot, small):
    palette = Palette(small)
    qtbot.addWidget(palette)
    names = palette.visible_names()
    assert set(layers.names()) <= set(names)
    conv = next(i for i in palette.entries() if i.text(0) == "Conv2d")
    assert conv.toolTip(0) == layers.get("Conv2d").help


def test_palette_search_filters_by_name_and_help(qtbot, small):
    palette = Palette(small)
    qtbot.addWidget(palette)
    palette.search.setText("pool")
    names = palette.visible_names()
    assert {"MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Global average pooling"} <= set(names)
    assert "ReLU" not in names and "Linear" not in names
    palette.set_filter("residual")  # in the help of Add, not in its name
    assert "Add" in palette.visible_names()
    palette.set_filter("adaptive max")  # every word must match
    assert palette.visible_names() == ["AdaptiveMaxPool2d", "Global max pooling"]
    palette.set_filter("no such layer here")
    assert palette.visible_names() == [] and not palette.empty.isHidden()
    palette.set_filter("")
    assert set(layers.names()) <= set(palette.visible_names()) and palette.empty.isHidden()


def test_palette_drag_mime_carries_the_type_or_a_recipe(qtbot, small):
    palette = Palette(small)
    qtbot.addWidget(palette)
    items = {i.text(0): i for i in palette.entries()}
    mime = palette.tree.mimeData([items["Conv2d"]])
    assert LAYER_MIME in palette.tree.mimeTypes()
    assert bytes(mime.data(LAYER_MIME)).decode("utf-8") == "Conv2d"
    assert mime.text() == "Conv2d"
    mime = palette.tree.mimeData([items["Global average pooling"]])
    payload = bytes(mime.data(LAYER_MIME))
    assert json.loads(payload) == {"type": "AdaptiveAvgPool2d", "params": {"output_size": 1}}
    assert decode_layer(payload) == ("AdaptiveAvgPool2d", {"output_size": 1})
    assert decode_layer(encode_layer("ReLU")) == ("ReLU", {})
    with pytest.raises(ValueError, match="unknown layer type"):
        decode_layer(b"Conv3d")
    # every recipe is a complete, valid configuration of its layer
    for item in palette.entries():
        type_name, params = decode_layer(item.data(0, Qt.ItemDataRole.UserRole))
        if params:
            assert layers.get(type_name).resolve(params)[1] == []


def test_palette_enter_and_double_click_request_a_node(qtbot, small):
    palette = shown(qtbot, Palette(small))
    items = {i.text(0): i for i in palette.entries()}
    palette.tree.setCurrentItem(items["BatchNorm2d"])
    with qtbot.waitSignal(palette.add_requested) as blocker:
        qtbot.keyClick(palette.tree, Qt.Key.Key_Return)
    assert blocker.args == ["BatchNorm2d"]
    palette.search.setText("batchnorm2d")  # Enter in the search box: the first match
    with qtbot.waitSignal(palette.add_requested) as blocker:
        qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert blocker.args == ["BatchNorm2d"]
    palette.search.setText("global average")
    palette.tree.setCurrentItem(items["Global average pooling"])
    with qtbot.waitSignal(palette.add_node_requested) as blocker:
        qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert blocker.args == ["AdaptiveAvgPool2d", {"output_size": 1}]


# -- inspector: editors ----------------------------------------------------------------------
def test_text_parsing_per_kind():
    conv = layers.get("Conv2d").param_map
    assert parse_value(conv["kernel_size"], "3") == (3, None)
    assert parse_value(conv["kernel_size"], "3, 5") == ([3, 5], None)
    assert parse_value(conv["kernel_size"], "[3, 5]") == ([3, 5], None)
    assert parse_value(conv["kernel_size"], "3x5") == ([3, 5], None)
    assert parse_value(conv["padding"], "Same") == ("same", None)
    assert parse_value(conv["kernel_size"], "3, y")[1]
    assert parse_value(conv["kernel_size"], "0")[1] == "must be at least 1 (got 0)"
    assert parse_value(conv["kernel_size"], "")[1]  # required
    assert parse_value(conv["stride"], "") == (UNSET, None)  # back to the default
    bn = layers.get("BatchNorm2d").param_map
    assert parse_value(bn["eps"], "1e-5") == (1e-5, None)
    assert parse_value(bn["momentum"], "") == (None, None)  # nullable
    assert parse_value(bn["momentum"], "2")[1] == "must be at most 1 (got 2)"
    pool = layers.get("AdaptiveAvgPool2d").param_map
    assert parse_value(pool["output_size"], "none, 7") == ([None, 7], None)
    assert parse_value(layers.get("Input").param_map["shape"], "1, 28, 28") == ([1, 28, 28],
                                                                                None)
    assert parse_value(layers.get("Upsample").param_map["scale_factor"], "1.5") == (1.5, None)
    assert parse_value(layers.get("ZeroPad2d").param_map["padding"], "1 2 3 4") == \
        ([1, 2, 3, 4], None)
    assert format_value([3, 5]) == "3, 5" and format_value(1e-05) == "1e-05"
    assert format_value(None) == "" and format_value([None, 7]) == "none, 7"


def test_inspector_builds_an_editor_per_parameter_kind(qtbot, small):
    inspector = shown(qtbot, Inspector(small))
    small.select(["conv1"])
    out = inspector.editor("out_channels")
    assert isinstance(out, IntEditor) and isinstance(out.field, SpinBox)
    assert out.field.value() == 8
    assert out.field.maximum() == 2**31 - 1
    assert out.field.minimum() == 0 and out.field.specialValueText() == "required"
    groups = inspector.editor("groups")
    assert groups.field.minimum() == 1 and groups.field.specialValueText() == ""
    assert isinstance(inspector.editor("bias"), BoolEditor)
    assert isinstance(inspector.editor("bias").field, QCheckBox)
    assert inspector.editor("bias").field.isChecked()
    mode = inspector.editor("padding_mode")
    assert isinstance(mode, ChoiceEditor) and isinstance(mode.field, ComboBox)
    assert [mode.field.itemText(i) for i in range(mode.field.count())][:2] == \
        ["zeros (default)", "reflect"]
    kernel = inspector.editor("kernel_size")
    assert isinstance(kernel, TextEditor) and isinstance(kernel.field, QLineEdit)
    assert kernel.field.text() == "3"
    assert inspector.editor("padding").field.text() == "1"
    assert inspector.editor("stride").field.text() == "1"  # the default, shown
    assert not inspector.row("stride").reset.isEnabled()  # ... not set
    assert inspector.row("padding").reset.isEnabled()
    # a nullable bool is a combo with 'none'
    doc = chain(("up", "Upsample", {"scale_factor": 2}))
    other = shown(qtbot, Inspector(doc))
    doc.select(["up"])
    align = other.editor("align_corners")
    assert isinstance(align, ChoiceEditor)
    assert align.field.currentText() == "none (default)"


def test_editing_a_parameter_is_one_undo_step_and_changes_the_shape(qtbot, small):
    inspector = shown(qtbot, Inspector(small))
    small.select(["conv1"])
    spin = inspector.editor("out_channels").field
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "64")
    assert small.graph.nodes["conv1"].params["out_channels"] == 64
    assert small.undo_stack.count() == 1  # "6" then "64": merged
    report = small.flush()
    assert report.nodes["conv1"].shape == (64, 32, 32)
    assert inspector.page.numbers["output_shape"][1].text() == "[64, 32, 32]"
    assert "64" in inspector.page.numbers["params"][2].text()  # the formula
    small.undo_stack.undo()
    small.flush()
    assert spin.value() == 8 and small.report.nodes["conv1"].shape == (8, 32, 32)


def test_editing_sessions_are_marked_for_the_undo_stack(qtbot, small):
    """With a Document whose set_params takes ``merge``, each visit to a field is one step."""
    calls = []
    plain = small.set_params

    def set_params(node_id, changes, merge=True):
        calls.append((dict(changes), merge))
        plain(node_id, changes)

    small.set_params = set_params
    inspector = shown(qtbot, Inspector(small))
    small.select(["conv1"])
    spin = inspector.editor("out_channels").field
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "64")
    assert [m for _c, m in calls] == [False, True]  # "6" starts a step, "64" continues it
    spin.editingFinished.emit()  # the user leaves the field
    spin.selectAll()
    qtbot.keyClicks(spin, "3")
    assert calls[-1] == ({"out_channels": 3}, False)
    qtbot.mouseClick(inspector.row("padding").reset, Qt.MouseButton.LeftButton)
    assert calls[-1] == ({"padding": UNSET}, False)
    qtbot.mouseClick(inspector.editor("bias").field, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(inspector.editor("bias").field, Qt.MouseButton.LeftButton)
    assert [m for _c, m in calls[-2:]] == [False, False]


def test_pair_text_is_parsed_and_invalid_text_is_shown_not_pushed(qtbot, small):
    inspector = shown(qtbot, Inspector(small))
    small.select(["conv1"])
    row = inspector.row("kernel_size")
    field = row.editor.field
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, "3, 5")
    assert small.graph.nodes["conv1"].params["kernel_size"] == [3, 5]
    steps = small.undo_stack.count()
    small.flush()
    assert small.report.nodes["conv1"].shape == (8, 32, 30)
    assert field.hasFocus() and field.text() == "3, 5"  # the refresh left the field alone
    qtbot.keyClicks(field, ", 7")  # "3, 5, 7": not a pair
    assert small.graph.nodes["conv1"].params["kernel_size"] == [3, 5]
    assert small.undo_stack.count() == steps
    assert row.message.isVisible() and "pair" in row.message.text()
    assert "border" in field.styleSheet()
    small.flush()  # an analysis does not wipe what the user is typing
    assert field.text() == "3, 5, 7" and row.message.isVisible()
    field.setText("0")
    field.textEdited.emit("0")
    assert row.message.text() == "must be at least 1 (got 0)"
    field.setText("2")
    field.textEdited.emit("2")
    assert not row.message.isVisible() and field.styleSheet() == ""
    assert small.graph.nodes["conv1"].params["kernel_size"] == 2


def test_nullable_empty_is_none_and_reset_restores_the_default(qtbot):
    doc = chain(("bn", "BatchNorm2d", {"momentum": 0.3}), ("pool", "MaxPool2d",
                                                            {"kernel_size": 2, "stride": 1}))
    inspector = shown(qtbot, Inspector(doc))
    doc.select(["bn"])
    momentum = inspector.row("momentum")
    assert momentum.editor.field.text() == "0.3"
    momentum.editor.field.setText("")
    momentum.editor.field.textEdited.emit("")
    assert doc.graph.nodes["bn"].params["momentum"] is None
    qtbot.mouseClick(momentum.reset, Qt.MouseButton.LeftButton)
    assert "momentum" not in doc.graph.nodes["bn"].params
    doc.flush()
    assert momentum.editor.field.text() == "0.1" and not momentum.reset.isEnabled()
    doc.select(["pool"])
    stride = inspector.row("stride")
    assert stride.editor.field.text() == "1"
    qtbot.mouseClick(stride.reset, Qt.MouseButton.LeftButton)
    doc.flush()
    assert "stride" not in doc.graph.nodes["pool"].params
    assert stride.editor.field.text() == "" and stride.editor.field.placeholderText() \
        .startswith("none")
    assert doc.report.nodes["pool"].shape == (3, 16, 16)


def test_input_shape_commits_on_enter_and_escape_reverts(qtbot, small):
    inspector = shown(qtbot, Inspector(small))
    small.select(["input"])
    field = inspector.editor("shape").field
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, "1, 28, 28")
    assert small.graph.nodes["input"].params["shape"] == [3, 32, 32]  # not while typing
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert small.graph.nodes["input"].params["shape"] == [1, 28, 28]
    assert small.undo_stack.count() == 1
    small.flush()
    assert small.report.nodes["conv1"].shape == (8, 28, 28)
    qtbot.keyClicks(field, ", 5")
    assert inspector.row("shape").message.isVisible()
    qtbot.keyClick(field, Qt.Key.Key_Escape)
    assert field.text() == "1, 28, 28" and not inspector.row("shape").message.isVisible()


def test_required_parameter_is_highlighted_when_unset(qtbot):
    doc = chain(("conv", "Conv2d", {"kernel_size": 3}))
    inspector = shown(qtbot, Inspector(doc))
    doc.select(["conv"])
    row = inspector.row("out_channels")
    assert row.label.text() == "out_channels *" and "color" in row.label.styleSheet()
    assert row.editor.field.text() == "required"  # the spin box's special value
    assert "out_channels must be set" in inspector.page.problems.text()
    row.editor.field.setValue(16)
    doc.flush()
    assert row.label.styleSheet() == "" and doc.report.nodes["conv"].shape == (16, 30, 30)


def test_choice_and_bool_edits_push(qtbot, small):
    inspector = shown(qtbot, Inspector(small))
    small.select(["conv1"])
    qtbot.mouseClick(inspector.editor("bias").field, Qt.MouseButton.LeftButton)
    assert small.graph.nodes["conv1"].params["bias"] is False
    mode = inspector.editor("padding_mode").field
    mode.activated.emit(1)
    assert small.graph.nodes["conv1"].params["padding_mode"] == "reflect"
    small.flush()
    assert small.report.nodes["conv1"].params == 3 * 3 * 3 * 8


def test_rename_refused_then_accepted_and_undone(qtbot, small):
    inspector = shown(qtbot, Inspector(small))
    small.select(["conv1"])
    page = inspector.page
    page.id_edit.setText("relu1")
    page.id_edit.editingFinished.emit()
    assert "already exists" in page.id_message.text() and page.id_message.isVisible()
    assert "conv1" in small.graph.nodes
    page.id_edit.setText("features.conv")
    page.id_edit.editingFinished.emit()
    assert not page.id_message.isVisible()
    assert "features.conv" in small.graph.nodes and small.selection() == ["features.conv"]
    assert inspector.page is page  # the same node: no rebuild
    small.undo_stack.undo()
    small.flush()
    assert page.id_edit.text() == "conv1"
    page.name_edit.setText("First convolution")
    page.name_edit.editingFinished.emit()
    assert small.graph.nodes["conv1"].name == "First convolution"


def test_freeze_one_several_and_a_block(qtbot):
    doc = Document(Project(graph=presets.build("lenet5")))
    inspector = shown(qtbot, Inspector(doc))
    doc.select(["features.c1"])
    inspector.page.frozen.click()
    assert doc.graph.nodes["features.c1"].frozen
    doc.flush()
    assert doc.report.nodes["features.c1"].trainable_params == 0
    assert "(frozen)" in inspector.page.numbers["params"][1].text()
    doc.undo_stack.undo()
    doc.flush()
    assert not inspector.page.frozen.isChecked()
    # the block of the selected node
    assert not inspector.page.block_box.isHidden()
    assert inspector.page.block_name.text() == doc.graph.groups["features"].name
    qtbot.mouseClick(inspector.page.freeze_block, Qt.MouseButton.LeftButton)
    members = doc.graph.group_members("features")
    assert all(doc.graph.nodes[m].frozen for m in members)
    assert doc.undo_stack.count() == 1
    inspector.page.block_name.setText("Convolutions")
    inspector.page.block_name.editingFinished.emit()
    assert doc.graph.groups["features"].name == "Convolutions"
    # several nodes
    doc.select(["classifier.f6", "classifier.output"])
    doc.flush()
    multi = inspector.multi
    assert inspector.stack.currentWidget() is multi
    assert multi.title.text() == "2 layers selected"
    total = doc.report.nodes["classifier.f6"].params + doc.report.nodes["classifier.output"].params
    assert f"{total:,}" in multi.params.text()
    qtbot.mouseClick(multi.freeze, Qt.MouseButton.LeftButton)
    assert doc.graph.nodes["classifier.f6"].frozen and doc.graph.nodes["classifier.output"].frozen
    doc.flush()
    assert "frozen" in multi.trainable.text()


def test_inspector_follows_undo_without_stealing_focus(qtbot, small):
    inspector = shown(qtbot, Inspector(small))
    small.select(["conv1"])
    field = inspector.editor("padding").field
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, "0")
    small.flush()
    assert small.report.nodes["conv1"].shape == (8, 30, 30)
    small.undo_stack.undo()
    small.flush()
    assert field.text() == "1" and field.hasFocus()
    small.undo_stack.redo()
    small.flush()
    assert field.text() == "0" and field.hasFocus()
    # the node went away (undo of its addition): the inspector empties
    nid = small.add_node("ReLU")
    small.select([nid])
    small.undo_stack.undo()
    small.flush()
    assert inspector.stack.currentWidget() is inspector.empty


# -- summary table ---------------------------------------------------------------------------
def test_summary_rows_follow_the_analysis(qtbot, small):
    table = shown(qtbot, SummaryTable(small), (720, 480))
    model = table.model
    assert model.rowCount() == len(small.graph.nodes)
    row = model.row_of("conv1")
    assert model.index(row, 2).data() == "[8, 32, 32]"
    resets, changes = [], []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda a, b, roles=(): changes.append((a.row(), b.row())))
    small.set_params("conv1", {"out_channels": 16})
    small.flush()
    assert model.index(row, 2).data() == "[16, 32, 32]"
    assert model.index(row, 3).data() == f"{3 * 3 * 3 * 16 + 16:,}"
    assert not resets and changes and changes[-1][0] == row  # no reset: dataChanged only
    small.add_node("ReLU")
    small.flush()
    assert resets and model.rowCount() == len(small.graph.nodes)
    assert "parameters" in table.totals.text()


def test_summary_tints_errors_and_indents_blocks(qtbot):
    doc = Document(Project(graph=presets.build("resnet18")))
    table = shown(qtbot, SummaryTable(doc), (720, 480))
    model = table.model
    deep = model.index(model.row_of("layer1.0.conv1"), 0)
    assert deep.data(Qt.ItemDataRole.UserRole + 1) >= 2
    assert model.index(model.row_of("conv1"), 0).data(Qt.ItemDataRole.UserRole + 1) == 0
    doc.set_params("layer1.0.conv2", {"out_channels": 32})  # the Add no longer matches
    doc.flush()
    bad = [r for r in model.rows if r.severity == "error"]
    assert bad
    assert model.index(model.row_of(bad[0].id), 0).data(Qt.ItemDataRole.BackgroundRole)


def test_summary_selection_follows_both_ways(qtbot, small):
    table = shown(qtbot, SummaryTable(small), (720, 480))
    small.select(["pool1", "fc"])
    rows = sorted(i.row() for i in table.view.selectionModel().selectedRows())
    assert rows == [table.model.row_of("pool1"), table.model.row_of("fc")]
    table.view.selectionModel().select(
        table.model.index(table.model.row_of("relu1"), 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows)
    assert small.selection() == ["relu1"]
    qtbot.mouseClick(table.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=table.view.visualRect(table.model.index(1, 1)).center())
    assert small.selection() == [table.model.node_id(1)]


def test_memory_estimate_follows_batch_size_and_optimizer(qtbot, small):
    table = shown(qtbot, SummaryTable(small), (720, 480))
    table.batch.setValue(1)
    one = table.estimate
    table.batch.setValue(10)
    ten = table.estimate
    assert ten.activations == 10 * one.activations and ten.weights == one.weights
    assert ten == small.report.training_memory(10, table.optimizer.currentData())
    table.optimizer.setCurrentIndex(table.optimizer.findData("sgd"))
    assert table.estimate.optimizer_state == 0
    table.optimizer.setCurrentIndex(table.optimizer.findData("adam"))
    assert table.estimate.optimizer_state == 2 * table.estimate.gradients
    from cnnstudio.graph.table import size
    assert table.memory_labels["total"].text() == size(table.estimate.total)


# -- issues ----------------------------------------------------------------------------------
def test_issues_list_errors_first_and_click_selects(qtbot):
    doc = chain(("conv", "Conv2d", {"kernel_size": 3}),  # out_channels missing: an error
                ("conv2", "Conv2d", {"out_channels": 4, "kernel_size": 3}),
                ("bn", "BatchNorm2d", {}))  # conv2's bias before BN: a warning
    issues = shown(qtbot, IssuesList(doc), (360, 300))
    severities = [i.severity for i in issues.issues()]
    assert severities[0] == "error" and severities == sorted(severities)
    assert issues.stack.currentWidget() is issues.list
    item = issues.list.item(0)
    assert item.text().startswith("conv: ")
    with qtbot.waitSignal(issues.node_activated) as blocker:
        qtbot.mouseClick(issues.list.viewport(), Qt.MouseButton.LeftButton,
                         pos=issues.list.visualItemRect(item).center())
    assert blocker.args == ["conv"] and doc.selection() == ["conv"]
    doc.set_params("conv", {"out_channels": 4})
    doc.set_params("conv2", {"bias": False})
    doc.flush()
    assert issues.stack.currentWidget() is issues.empty
    assert "No problems" in issues.empty.text()


# -- receptive field -------------------------------------------------------------------------
def seed_example() -> Document:
    return chain(("conv1", "Conv2d", {"out_channels": 16, "kernel_size": 5, "padding": 2}),
                 ("pool1", "MaxPool2d", {"kernel_size": 2}),
                 ("conv2", "Conv2d", {"out_channels": 32, "kernel_size": 3}),
                 ("flatten", "Flatten", {}), ("fc", "Linear", {"out_features": 4}),
                 shape=(3, 128, 128))


def test_rf_geometry_of_the_seed_example():
    report = seed_example().report
    g = rf_geometry(report, "conv2")
    assert g.size == (10, 10) and g.jump == (2, 2)
    assert g.map_shape == (32, 62, 62) and g.unit == (31, 31)
    # unit i is centred at start + i·jump: 3 + 31·2 = 65, 10 wide
    assert g.centre == (65, 65) and g.rect == (60, 60, 70, 70)
    assert not g.extends_past and not g.whole
    assert g.describe().startswith("unit (31, 31) of [32, 62, 62] sees a 10×10 window")
    assert "2 px apart" in g.describe()
    corner = rf_geometry(report, "conv1", (0, 0))  # 5×5 with padding 2 at the corner
    assert corner.rect == (-2, -2, 3, 3) and corner.clipped == (0, 0, 3, 3)
    assert corner.extends_past and "extends past the input" in corner.describe()
    assert rf_geometry(report, "fc").whole
    assert rf_geometry(report, "flatten").via == "conv2"


def test_rf_view_draws_the_selected_node(qtbot):
    doc = seed_example()
    view = shown(qtbot, ReceptiveFieldView(doc), (360, 420))
    assert view.geometry_ is None
    doc.select(["conv2"])
    assert view.geometry_.size == (10, 10)
    assert "10×10 window" in view.caption.text()
    frame = view.canvas.frame_rect()
    assert abs(frame.width() - frame.height()) < 1e-6  # 128×128 keeps its aspect
    # a click picks the unit under the mouse
    x = frame.left() + frame.width() * 3.5 / 128
    y = frame.top() + frame.height() * 3.5 / 128
    from PySide6.QtCore import QPoint
    qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(x), int(y)))
    assert view.geometry_.unit == (0, 0)
    doc.select(["fc"])
    assert "whole" in view.caption.text()
    image = view.grab().toImage()
    assert image.width() == 360


def test_sample_image_loads_digits_in_a_thread(qtbot):
    pytest.importorskip("sklearn")
    doc = Document(Project(graph=presets.build("lenet5"), dataset=DatasetConfig()))
    view = shown(qtbot, ReceptiveFieldView(doc), (360, 420))
    doc.select(["features.c3"])
    with qtbot.waitSignal(view.sample_loaded, timeout=120_000):
        qtbot.mouseClick(view.sample_button, Qt.MouseButton.LeftButton)
    image = view.canvas.image
    assert image is not None and (image.width(), image.height()) == (32, 32)
    assert "class" in view.status.text()
    qtbot.waitUntil(lambda: view.sample_button.isEnabled())
    assert view.sample_button.text() == "Hide the sample image"
    view.grab().save("/tmp/cnnstudio_rf_sample.png")


def test_sample_image_failure_is_a_message(qtbot, tmp_path):
    dataset = DatasetConfig(source="folder", path=str(tmp_path / "missing"))
    doc = Document(Project(graph=presets.build("lenet5"), dataset=dataset))
    view = shown(qtbot, ReceptiveFieldView(doc), (360, 420))
    with qtbot.waitSignal(view.sample_failed, timeout=120_000):
        view.load_sample()
    assert "Could not load" in view.status.text() and view.canvas.image is None
    qtbot.waitUntil(lambda: view.sample_button.isEnabled())
    # closing the panel while a sample loads leaves the thread to end on its own
    other = ReceptiveFieldView(doc)
    other.load_sample()
    job = other._job
    other.deleteLater()
    qtbot.waitUntil(lambda: not job.running, timeout=120_000)


def test_panels_do_not_import_torch():
    code = ("import sys; import cnnstudio.app.panels; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_panels_build_on_presets(qtbot):
    """Every panel on a big graph, and a new graph replacing it (reset)."""
    doc = Document(Project(graph=presets.build("resnet50")))
    widgets = [Palette(doc), Inspector(doc), SummaryTable(doc), IssuesList(doc),
               ReceptiveFieldView(doc)]
    for w in widgets:
        shown(qtbot, w, (400, 500))
    doc.select(["layer3.1.conv2"])
    doc.replace(Project(graph=presets.build("lenet5")), None)
    QApplication.processEvents()
    assert widgets[2].model.rowCount() == len(doc.graph.nodes)
    assert widgets[1].stack.currentWidget() is widgets[1].empty
