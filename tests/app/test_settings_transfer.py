"""The Transfer section of the training settings: the weights file, learning-rate multipliers and
the unfreezing schedule are each edited as one undo step (the frozen layers are the network's
own, shown here), refused with the
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


def test_frozen_shows_the_networks_frozen_layers_and_selects_them(qtbot):
    doc, section = make_section(qtbot)
    assert section.frozen.text().startswith("none") and not section.select_frozen.isEnabled()
    doc.set_frozen(doc.graph.group_members("features") + ["classifier.f6"], True)
    doc.flush()  # the analysis (debounced in the window) updates the section
    assert section.frozen.text() == "features, classifier.f6"  # a whole block by its id
    doc.set_frozen(["features.c1"], False)
    doc.flush()
    assert section.frozen.text() == "features.c3, features.c5, classifier.f6"
    section.select_frozen.click()
    assert set(doc.selection()) == {n.id for n in doc.graph if n.frozen}
    assert "freeze" not in transfer(doc)  # one notion of frozen: the network's own flags


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
    doc.set_frozen(doc.graph.group_members("features") + ["classifier.f6"], True)
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
    assert transfer(doc) == {"weights": None, "lr_multipliers": {"features": 0.1},
                             "unfreeze": []}
    assert not any(n.frozen for n in doc.graph)
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
    recipe = three_phase(presets.build("resnet18"), 10)
    assert {n.id for n in doc.graph if n.frozen} == {n for n, f in recipe.frozen.items() if f}
    doc.flush()
    assert doc.report.trainable_params == doc.report.nodes["fc"].params
    assert section.frozen.text() == "conv1, bn1, layer1, layer2, layer3, layer4"
    for path, value in recipe.settings.items():
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
    doc.flush()
    assert doc.settings("training") == before
    assert section.mult_rows == [] and section.step_rows == []
    assert not any(n.frozen for n in doc.graph) and section.frozen.text().startswith("none")
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
