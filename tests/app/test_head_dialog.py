"""Edit ▸ Replace head… on an open project with weights: N classes and the rest frozen as one
undo step that undo restores whole, the project's weights untouched; the inspector offers it
on the classifier; a network without one classifier is refused with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox, QMenu

from cnnstudio.app.head_dialog import HeadDialog, replace_head
from cnnstudio.engine import checkpoint as ckpt
from cnnstudio.engine.build import to_module
from cnnstudio.graph import analyze
from cnnstudio.project import load_project, save_project

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"
HEAD = "classifier.output"
WEIGHTS = "weights/pretrained.safetensors"
NAMES = [f"digit {i}" for i in range(10)]


@pytest.fixture
def opened(window, tmp_path):
    """LeNet-5 on the digits with current weights and class names, opened in the window."""
    project = load_project(EXAMPLE)
    project.weights[WEIGHTS] = ckpt.to_bytes(to_module(project.graph, seed=4).state_dict())
    project.current_weights = WEIGHTS
    project.dataset.class_names = list(NAMES)
    path = tmp_path / "lenet.cnnproj"
    save_project(project, path)
    assert window.open_file(path)
    return window


def choosing(monkeypatch, classes: int | None, freeze: bool | None = None) -> list[HeadDialog]:
    """HeadDialog.exec as a user answers it: the classes and the box set, then OK."""
    seen: list[HeadDialog] = []

    def answer(dialog: HeadDialog) -> int:
        seen.append(dialog)
        if classes is not None:
            dialog.classes.setValue(classes)
        if freeze is not None:
            dialog.freeze.setChecked(freeze)
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        return dialog.result()

    monkeypatch.setattr(HeadDialog, "exec", answer)
    return seen


def weighted(graph) -> set[str]:
    return {nid for nid, rep in analyze(graph).nodes.items() if rep.params}


def state_of(window) -> tuple:
    graph, project = window.document.graph, window.document.project
    return (graph.nodes[HEAD].params["out_features"],
            sorted(n.id for n in graph if n.frozen), project.dataset.class_names)


def test_replace_head_is_one_undo_step_and_keeps_the_weights(opened, monkeypatch) -> None:
    window = opened
    doc = window.document
    edit_menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Edit")
    assert window.act["replace_head"] in edit_menu.actions()
    stored = dict(doc.project.weights)
    before, steps = state_of(window), doc.undo_stack.count()
    assert before == (10, [], NAMES)
    seen = choosing(monkeypatch, 5)
    window.act["replace_head"].trigger()
    dialog = seen[0]
    assert dialog.freeze.isChecked()  # checked by default: the project has weights
    assert dialog.result() == HeadDialog.DialogCode.Accepted
    graph = doc.graph
    assert graph.nodes[HEAD].params["out_features"] == 5
    assert analyze(graph).nodes[HEAD].shape == (5,)
    frozen = {n.id for n in graph if n.frozen}
    assert frozen == weighted(graph) - {HEAD} and len(frozen) == 4
    assert doc.project.dataset.class_names == []  # 10 names no longer match 5 classes
    assert doc.undo_stack.count() == steps + 1
    assert doc.undo_stack.undoText() == "Replace head for 5 classes"
    assert doc.project.weights == stored and doc.project.current_weights == WEIGHTS
    doc.undo_stack.undo()
    assert state_of(window) == before
    doc.undo_stack.redo()
    assert state_of(window) == (5, sorted(frozen), [])
    assert doc.project.weights == stored


def test_the_dialog_defaults_to_the_datas_classes_and_can_leave_the_rest(
        opened, monkeypatch) -> None:
    window = opened
    doc = window.document
    doc.set_params(HEAD, {"out_features": 3}, merge=False)  # a head that no longer fits
    seen = choosing(monkeypatch, None, freeze=False)
    window.act["replace_head"].trigger()
    assert seen[0].classes.value() == 10  # the digits have 10 classes
    assert state_of(window) == (10, [], NAMES)  # names match 10 again: kept


def test_the_inspector_offers_it_on_the_classifier_only(opened, monkeypatch) -> None:
    window = opened
    doc = window.document
    inspector = window.inspector
    doc.select(["features.c1"])
    assert inspector.page is not None and not inspector.page.head_button.isVisibleTo(inspector)
    doc.select([HEAD])
    button = inspector.page.head_button
    assert button.isVisibleTo(inspector)
    choosing(monkeypatch, 7)
    button.click()
    assert doc.graph.nodes[HEAD].params["out_features"] == 7


def test_a_network_without_one_classifier_is_refused_with_the_reason(window, answers) -> None:
    shown, _ = answers
    window.new_blank()
    window.act["replace_head"].trigger()
    assert replace_head(window, window.document) is None
    assert len(shown) == 2 and shown[-1][0] == "Replace head"
    assert "Cannot tell which layer gives the classes" in shown[-1][1]


def test_the_dialog_shows_all_its_text(opened) -> None:
    dialog = replace_head(opened, opened.document, show=False)
    assert dialog is not None
    dialog.show()
    dialog.grab().save("/tmp/head_dialog.png")
    assert dialog.width() >= dialog.sizeHint().width()
    assert dialog.height() >= dialog.sizeHint().height()
