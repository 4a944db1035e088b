"""The inspector's initialisation box: the graph default with nothing selected, a node's
override with one selected; each change one undo step, refused while a run holds the document."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from cnnstudio.app.document import Document
from cnnstudio.app.panels import Inspector
from cnnstudio.graph import graph_from_dict, presets
from cnnstudio.graph import init as inits
from cnnstudio.project import Project


@pytest.fixture
def doc() -> Document:
    return Document(Project(graph=graph_from_dict({
        "format": "cnnstudio.graph", "version": 1, "nodes": [
            {"id": "input", "type": "Input", "params": {"shape": [3, 8, 8]}},
            {"id": "conv", "type": "Conv2d", "params": {"out_channels": 4, "kernel_size": 3}},
            {"id": "relu", "type": "ReLU"},
            {"id": "flat", "type": "Flatten"},
            {"id": "fc", "type": "Linear", "params": {"out_features": 2}},
        ]})))


def choose(combo, data) -> None:
    """Pick the item holding ``data`` as a user would (``activated`` fires)."""
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def settle(doc: Document) -> None:
    doc.flush()
    QApplication.processEvents()


def test_graph_default_is_edited_with_nothing_selected(qtbot, doc):
    inspector = Inspector(doc)
    qtbot.addWidget(inspector)
    box = inspector.graph_init
    assert inspector.stack.currentWidget() is inspector.empty
    assert box.combo.currentData() == "default" and not box.editors
    choose(box.combo, "normal")
    settle(doc)
    assert doc.graph.metadata["init"] == {"scheme": "normal"}
    assert doc.undo_stack.count() == 1
    box.editors["std"].setValue(0.05)
    settle(doc)
    assert doc.graph.metadata["init"] == {"scheme": "normal", "std": 0.05}
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    settle(doc)
    assert box.editors["std"].value() == pytest.approx(0.01)
    doc.undo_stack.undo()
    settle(doc)
    assert "init" not in doc.graph.metadata and box.combo.currentData() == "default"


def test_node_override_is_one_undo_step(qtbot, doc):
    inspector = Inspector(doc)
    qtbot.addWidget(inspector)
    doc.set_init("xavier_uniform")
    doc.select(["fc"])
    settle(doc)
    box = inspector.page.init_box
    assert box.combo.currentData() == "" and "Xavier/Glorot uniform" in box.combo.currentText()
    before = doc.undo_stack.count()
    choose(box.combo, "kaiming_normal")
    settle(doc)
    assert doc.graph.nodes["fc"].extra["init"] == {"scheme": "kaiming_normal"}
    assert doc.undo_stack.count() == before + 1
    mode = box.editors["mode"]
    mode.setCurrentIndex(mode.findText("fan_out"))
    mode.activated.emit(mode.currentIndex())
    settle(doc)
    assert inits.effective(doc.graph, "fc") == {"scheme": "kaiming_normal", "mode": "fan_out"}
    assert doc.undo_stack.count() == before + 2
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    settle(doc)
    assert "init" not in doc.graph.nodes["fc"].extra and box.combo.currentData() == ""
    choose(box.combo, "zeros")
    settle(doc)
    assert any("symmetry" in w for w in doc.report.nodes["fc"].warnings)
    choose(box.combo, "")  # back to the graph's default
    settle(doc)
    assert "init" not in doc.graph.nodes["fc"].extra


def test_layers_without_weights_have_no_init_box(qtbot, doc):
    inspector = Inspector(doc)
    qtbot.addWidget(inspector)
    doc.select(["relu"])
    assert inspector.page.init_box is None
    assert doc.set_node_init("relu", "normal") == "relu has no weights to initialise"


def test_init_edits_are_refused_while_locked(qtbot, doc):
    inspector = Inspector(doc)
    qtbot.addWidget(inspector)
    refused = []
    doc.refused.connect(refused.append)
    doc.select(["conv"])
    doc.set_locked("a training run uses it")
    box = inspector.page.init_box
    choose(box.combo, "orthogonal")
    settle(doc)
    assert "init" not in doc.graph.nodes["conv"].extra and doc.undo_stack.count() == 0
    assert box.combo.currentData() == ""  # shows the model's value again
    assert "read-only while a training run uses it" in box.message.text()
    assert doc.set_init("zeros") is not None and "init" not in doc.graph.metadata
    assert len(refused) == 2
    doc.set_locked(None)
    assert doc.set_init("zeros") is None and doc.graph.metadata["init"] == {"scheme": "zeros"}


def test_document_refuses_bad_parameters_with_the_message(doc):
    assert "normal std must be a positive number" in doc.set_init("normal", {"std": -1})
    assert doc.undo_stack.count() == 0
    doc.set_init("default")
    assert "init" not in doc.graph.metadata and doc.undo_stack.count() == 0


def test_a_presets_torchvision_default_shows_its_family(qtbot):
    doc = Document(Project(graph=presets.build("vgg11")))
    inspector = Inspector(doc)
    qtbot.addWidget(inspector)
    box = inspector.graph_init
    assert box.combo.currentData() == "torchvision"
    assert box.editors["family"].currentText() == "vgg"
    assert "zero_init_residual" not in box.editors  # torchvision offers it for ResNets only
    assert "N(0, 0.01²)" in box.formula.text()
