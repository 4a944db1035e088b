"""The Transfer section of the training settings: the weights file, frozen layers, learning-rate
multipliers and the unfreezing schedule are each edited as one undo step, refused with the
reason while a run holds the document or for an id the network lacks, and the fine-tuning
recipe button sets the three-phase recipe as one undo step that undo takes back."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnstudio.app.document import Document
from cnnstudio.app.training.settings_panel import TrainingSettings
from cnnstudio.graph import presets
from cnnstudio.project import Project, TrainConfig, load_project
from cnnstudio.project.recipes import three_phase

LENET = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"
LOCKED = "The settings are read-only while a training run uses it."


def make_section(qtbot, project: Project | None = None):
    """A document and its settings panel's Transfer section (not shown: no device probe)."""
    doc = Document(project or load_project(LENET), LENET)
    panel = TrainingSettings(doc)
    qtbot.addWidget(panel)
    return doc, panel.transfer


def transfer(doc: Document) -> dict:
    return doc.settings("training")["transfer"]


def texts(doc: Document) -> list[str]:
    return [doc.undo_stack.text(i) for i in range(doc.undo_stack.count())]


def test_weights_file_is_set_browsed_and_cleared_one_step_each(qtbot, monkeypatch, tmp_path):
    doc, section = make_section(qtbot)
    section.weights.setText("backbone.safetensors")
    section.weights.editingFinished.emit()
    assert transfer(doc)["weights"] == "backbone.safetensors"
    picked = str(tmp_path / "other.pth")
    monkeypatch.setattr(section, "ask_weights", lambda: picked)
    section.browse.click()
    assert transfer(doc)["weights"] == picked and section.weights.text() == picked
    assert section.clear.isEnabled()
    section.clear.click()
    assert transfer(doc)["weights"] is None and section.weights.text() == ""
    assert not section.clear.isEnabled()
    assert texts(doc) == ["Set weights file to backbone.safetensors",
                          "Set weights file to other.pth", "Clear weights file"]
    doc.undo_stack.undo()
    assert transfer(doc)["weights"] == picked and section.weights.text() == picked
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert transfer(doc)["weights"] is None and section.weights.text() == ""


def test_frozen_ids_are_checked_against_the_network(qtbot):
    doc, section = make_section(qtbot)
    section.freeze.setText("features, classifier.f6")
    section.freeze.editingFinished.emit()
    assert transfer(doc)["freeze"] == ["features", "classifier.f6"]
    section.freeze.setText("features nothere")
    section.freeze.editingFinished.emit()
    assert section.freeze_problem.text() == "No block or layer nothere in the network."
    assert not section.freeze_problem.isHidden()
    assert transfer(doc)["freeze"] == ["features", "classifier.f6"]
    assert texts(doc) == ["Set frozen layers"]
    doc.undo_stack.undo()
    assert transfer(doc)["freeze"] == [] and section.freeze.text() == ""


def test_multipliers_are_added_edited_renamed_and_removed(qtbot):
    doc, section = make_section(qtbot)
    assert section.choices()[:2] == ["features", "classifier"]  # blocks first
    section.add_mult.click()
    assert transfer(doc)["lr_multipliers"] == {"features": 0.1}
    assert [r.ident for r in section.mult_rows] == ["features"]
    row = section.mult_rows[0]
    assert row.combo.currentText() == "features" and row.spin.value() == pytest.approx(0.1)
    row.spin.setValue(0.25)
    row.spin.editingFinished.emit()
    assert transfer(doc)["lr_multipliers"] == {"features": 0.25}
    row = section.mult_rows[0]
    row.combo.setCurrentText("features.c5")
    row.combo.activated.emit(row.combo.currentIndex())
    assert transfer(doc)["lr_multipliers"] == {"features.c5": 0.25}
    section.add_mult.click()  # the first id without one
    assert transfer(doc)["lr_multipliers"] == {"features.c5": 0.25, "features": 0.1}
    section.mult_rows[0].remove.click()
    assert transfer(doc)["lr_multipliers"] == {"features": 0.1}
    assert [r.combo.currentText() for r in section.mult_rows] == ["features"]
    assert texts(doc) == ["Add learning-rate multiplier",
                          "Set learning-rate multiplier of features",
                          "Set learning-rate multiplier of features.c5",
                          "Add learning-rate multiplier",
                          "Remove learning-rate multiplier of features.c5"]
    doc.undo_stack.undo()
    assert [r.ident for r in section.mult_rows] == ["features.c5", "features"]
    for _ in range(4):
        doc.undo_stack.undo()
    assert transfer(doc)["lr_multipliers"] == {} and section.mult_rows == []


def test_a_multiplier_id_taken_twice_is_refused(qtbot):
    doc, section = make_section(qtbot)
    section.add_mult.click()
    section.add_mult.click()
    row = section.mult_rows[1]  # "classifier"
    row.combo.setCurrentText("features")
    row.combo.activated.emit(row.combo.currentIndex())
    assert section.mult_problem.text() == "features has a multiplier already."
    assert transfer(doc)["lr_multipliers"] == {"features": 0.1, "classifier": 0.1}
    assert section.mult_rows[1].combo.currentText() == "classifier"  # shown as it is
    assert doc.undo_stack.count() == 2


def test_unfreezing_steps_are_added_edited_and_removed(qtbot):
    doc, section = make_section(qtbot)
    assert doc.change_settings("training", {"transfer.freeze": ["features", "classifier.f6"]},
                               "Freeze") is None
    section.add_step_button.click()  # one epoch on, the last frozen id not yet unfrozen
    assert transfer(doc)["unfreeze"] == [{"epoch": 2, "nodes": ["classifier.f6"]}]
    section.add_step_button.click()
    assert transfer(doc)["unfreeze"][1] == {"epoch": 3, "nodes": ["features"]}
    row = section.step_rows[1]
    row.epoch.setValue(4)
    row.epoch.editingFinished.emit()
    row = section.step_rows[1]
    row.ids.setText("features.c5, features.c3")
    row.ids.editingFinished.emit()
    assert transfer(doc)["unfreeze"][1] == {"epoch": 4, "nodes": ["features.c5", "features.c3"]}
    row.ids.setText("features.c9")
    row.ids.editingFinished.emit()
    assert section.step_problem.text() == "No block or layer features.c9 in the network."
    section.step_rows[0].remove.click()
    assert transfer(doc)["unfreeze"] == [{"epoch": 4, "nodes": ["features.c5", "features.c3"]}]
    assert texts(doc)[1:] == ["Add unfreezing step", "Add unfreezing step",
                              "Set unfreezing step", "Set unfreezing step",
                              "Remove unfreezing step"]
    doc.undo_stack.undo()
    assert [r.ids.text() for r in section.step_rows] == ["classifier.f6",
                                                         "features.c5, features.c3"]
    doc.undo_stack.undo()
    assert section.step_rows[1].epoch.value() == 4
    assert section.step_rows[1].ids.text() == "features"


def test_edits_are_refused_with_the_reason_while_a_run_holds_the_document(qtbot):
    doc, section = make_section(qtbot)
    section.add_mult.click()
    doc.set_locked("a training run uses it")
    section.add_mult.click()
    assert section.mult_problem.text() == LOCKED and not section.mult_problem.isHidden()
    row = section.mult_rows[0]
    row.spin.setValue(3.0)
    row.spin.editingFinished.emit()
    assert section.mult_rows[0].spin.value() == pytest.approx(0.1)  # the project's again
    section.add_step_button.click()
    assert section.step_problem.text() == LOCKED and section.step_rows == []
    section.weights.setText("w.pth")
    section.weights.editingFinished.emit()
    assert section.weights_problem.text() == LOCKED and section.weights.text() == ""
    section.recipe.click()
    assert section.recipe_problem.text() == LOCKED and section.recipe_note.isHidden()
    assert transfer(doc) == {"weights": None, "freeze": [], "lr_multipliers": {"features": 0.1},
                             "unfreeze": []}
    assert doc.undo_stack.count() == 1
    doc.set_locked(None)
    section.add_step_button.click()
    assert section.step_problem.isHidden() and len(section.step_rows) == 1


def test_the_recipe_is_one_undo_step_and_undo_restores(qtbot):
    graph = presets.build("resnet18")
    doc, section = make_section(qtbot, Project(graph=graph, training=TrainConfig(epochs=10)))
    before = doc.settings("training")
    section.recipe.click()
    assert section.recipe_problem.isHidden()
    assert texts(doc) == ["Apply fine-tuning recipe"]
    after = doc.settings("training")
    for path, value in three_phase(graph, 10).items():
        here = after
        for part in path.split("."):
            here = here[part]
        assert here == value, path
    assert after["transfer"]["unfreeze"][0] == {"epoch": 5, "nodes": ["layer4"]}
    assert after["optimizer"]["lr"] == 1e-3 and after["schedule"]["milestones"] == [4, 7]
    assert [r.ident for r in section.mult_rows] == ["conv1", "bn1", "layer1", "layer2",
                                                    "layer3"]
    assert [r.ids.text() for r in section.step_rows] == ["layer4",
                                                         "conv1, bn1, layer1, layer2, layer3"]
    assert not section.recipe_note.isHidden()
    assert section.recipe_note.text().startswith("Phase 1, epochs 1–4: the head at 1e-3")
    doc.undo_stack.undo()
    assert doc.settings("training") == before
    assert section.mult_rows == [] and section.step_rows == [] and section.freeze.text() == ""
    assert section.recipe_note.isHidden()
    doc.undo_stack.redo()
    assert doc.settings("training") == after


def test_the_recipe_explains_why_it_does_not_fit(qtbot):
    doc, section = make_section(qtbot, Project(graph=presets.build("lenet5"),
                                               training=TrainConfig(epochs=2)))
    section.recipe.click()
    assert "needs at least 3 epochs" in section.recipe_problem.text()
    assert doc.undo_stack.count() == 0


def test_the_section_follows_settings_changed_elsewhere(qtbot):
    doc, section = make_section(qtbot)
    doc.change_settings("training", {"transfer.lr_multipliers": {"classifier": 2.0},
                                     "transfer.unfreeze": [{"epoch": 3, "nodes": ["features"]}],
                                     "transfer.weights": "w.safetensors"}, "Edit by hand")
    assert [(r.ident, r.spin.value()) for r in section.mult_rows] == [("classifier", 2.0)]
    assert [(r.epoch.value(), r.ids.text()) for r in section.step_rows] == [(3, "features")]
    assert section.weights.text() == "w.safetensors"
    doc.change_settings("training", {"transfer.lr_multipliers": {"classifier": 0.5}}, "Edit")
    assert section.mult_rows[0].spin.value() == 0.5
