"""Deploy ▸ Prune channels…: a preview worked out in the background, Apply as one undo step
that undo restores whole (the widths and the weights, byte for byte), the measured curve whose
points set the target, and refusals with the reason (no weights, a run, graph errors, a stale
preview)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMenu

from cnnstudio.app.prune_dialog import PruneDialog, open_prune
from cnnstudio.engine import checkpoint, to_module
from cnnstudio.graph import analyze
from cnnstudio.project import load_project, save_project
from tests.cli.conftest import SIMPLE

WIDTHS = {"block1.conv": "out_channels", "block2.conv": "out_channels",
          "classifier.fc1": "out_features"}
WEIGHTS = "weights/drawn.safetensors"
WAIT_MS = 90_000


@pytest.fixture
def opened(window, tmp_path):
    """The simple CNN on 200 digits with weights of its own (drawn, not trained)."""
    project = load_project(SIMPLE)
    project.dataset.limit = 200
    project.weights[WEIGHTS] = checkpoint.to_bytes(to_module(project.graph, seed=3).state_dict())
    project.current_weights = WEIGHTS
    path = tmp_path / "simple.cnnproj"
    save_project(project, path)
    assert window.open_file(path)
    return window


def widths(window) -> dict[str, int]:
    graph = window.document.graph
    return {nid: graph.nodes[nid].params[key] for nid, key in WIDTHS.items()}


def ready(qtbot, dialog: PruneDialog) -> None:
    qtbot.waitUntil(dialog.apply_button.isEnabled, timeout=WAIT_MS)


def test_apply_is_one_undo_step_that_restores_widths_and_weights(opened, qtbot) -> None:
    window = opened
    doc = window.document
    deploy = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Deploy")
    assert window.act["prune"] in deploy.actions()
    old_widths, old_weights = widths(window), dict(doc.project.weights)
    steps = doc.undo_stack.count()
    window.act["prune"].trigger()
    dialog = window.findChild(PruneDialog)
    dialog.importance.setCurrentIndex(dialog.importance.findData("l2"))
    dialog.target.setValue(40)
    ready(qtbot, dialog)
    preview = dialog.preview
    assert (preview.target, preview.importance) == (0.4, "l2")
    assert "→" in dialog.shape_line.text() and "3 layers narrower" in dialog.shape_line.text()
    assert dialog.accuracy_line.text().count("%") == 2  # before → after, both measured
    assert dialog.apply()
    pruned = widths(window)
    assert all(pruned[k] < old_widths[k] for k in WIDTHS)
    assert doc.undo_stack.count() == steps + 1 and doc.undo_stack.undoText().startswith("Prune")
    project = doc.project
    assert project.current_weights != WEIGHTS and project.weights[WEIGHTS] == \
        old_weights[WEIGHTS]
    state = checkpoint.from_bytes(project.weights[project.current_weights])
    to_module(doc.graph).load_state_dict(state, strict=True)
    assert analyze(doc.graph).macs == preview.pruned.macs_after
    assert doc.dirty
    doc.undo_stack.undo()
    assert widths(window) == old_widths
    assert project.weights == old_weights and project.current_weights == WEIGHTS
    doc.undo_stack.redo()
    assert widths(window) == pruned and project.weights[project.current_weights] == \
        preview.blob
    dialog.close()


def test_fine_tuning_after_apply_is_a_run_with_the_recipe(opened, qtbot) -> None:
    from cnnstudio.app.training.controller import IDLE

    window = opened
    project = window.document.project
    project.training.device = "cpu"
    own = project.training.to_dict()
    dialog = open_prune(window)
    assert dialog.finetune_row.isHidden()
    ready(qtbot, dialog)
    assert dialog.apply() and not dialog.finetune_row.isHidden()
    dialog.finetune_epochs.setValue(1)
    dialog.finetune_button.click()
    qtbot.waitUntil(lambda: window.training.controller.state == IDLE and bool(project.runs),
                    timeout=120_000)
    run = project.runs[-1]
    assert run.status == "finished" and len(run.epochs) == 1
    assert run.training["schedule"]["name"] == "cosine"
    assert run.training["optimizer"]["lr"] == pytest.approx(own["optimizer"]["lr"] / 10)
    assert project.training.to_dict() == own  # the project keeps its own settings
    assert dialog.finetune_row.isHidden()
    dialog.close()


def test_a_stale_preview_is_refused_and_worked_out_again(opened, qtbot) -> None:
    doc = opened.document
    dialog = open_prune(opened)
    ready(qtbot, dialog)
    other = "weights/other.safetensors"  # as "Use these weights" of a run would
    doc.project.weights[other] = checkpoint.to_bytes(to_module(doc.graph, seed=9).state_dict())
    doc.project.current_weights = other
    steps = doc.undo_stack.count()
    assert not dialog.apply()
    assert "changed since this preview" in dialog.problem.text()
    assert doc.undo_stack.count() == steps  # nothing applied
    ready(qtbot, dialog)  # the new preview, of the weights as they are now
    assert dialog.preview.token[1] == other
    doc.set_params("classifier.fc1", {"out_features": 100}, merge=False)
    dialog.update_preview()  # the weights no longer fit: said in a line
    qtbot.waitUntil(lambda: "do not fit" in dialog.problem.text(), timeout=WAIT_MS)
    assert not dialog.apply_button.isEnabled()
    dialog.close()


def test_the_curve_is_measured_and_its_points_set_the_target(opened, qtbot,
                                                              monkeypatch) -> None:
    monkeypatch.setattr("cnnstudio.engine.compress.prune.DEFAULT_TARGETS", (0.7, 0.3))
    dialog = open_prune(opened)
    assert dialog.measure_curve()
    qtbot.waitUntil(lambda: len(dialog.points) == 3, timeout=WAIT_MS)
    xs, ys = dialog.pruned_curve.getData()
    assert list(xs) == sorted(xs, reverse=True) and xs[0] == 100
    assert all(0 <= y <= 100 for y in ys)
    assert len(dialog.tuned_curve.getData()[0] or []) == 0  # not fine-tuned
    dialog.choose_point(xs[2] + 1)
    assert dialog.target.value() == 30
    dialog.choose_point(xs[1])
    assert dialog.target.value() == 70 and dialog.target_line.value() == 70
    dialog.close()


def test_refusals_say_why(opened, answers) -> None:
    shown, _ = answers
    doc = opened.document
    doc.set_locked("a training run uses it")
    assert open_prune(opened) is None
    assert "read-only while a training run uses it" in shown[-1][1]
    doc.set_locked(None)
    doc.delete(["flatten"])
    assert open_prune(opened) is None and "error(s)" in shown[-1][1]
    doc.undo_stack.undo()
    doc.project.current_weights = None
    assert open_prune(opened) is None and "no trained weights" in shown[-1][1]
    assert opened.findChild(PruneDialog) is None
