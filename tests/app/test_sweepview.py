"""The Sweep panel on a real study: the history, parallel coordinates, importance and Pareto
front it draws, a clicked trial selecting its run, and "Use this trial" as one undo step."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from cnnstudio.engine.sweep.runner import run_sweep
from cnnstudio.project import load_project, save_project
from cnnstudio.project.sweep import Dimension, SweepSpace, run_ids, store_space

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


def swept(tmp_path: Path, space: SweepSpace, trials: int) -> Path:
    """A copy of the digits example on a few samples, swept ``trials`` times (1 epoch each)."""
    path = tmp_path / "lenet.cnnproj"
    shutil.copy(EXAMPLE, path)
    project = load_project(path)
    project.dataset.limit, project.dataset.val_fraction = 96, 0.1
    project.training.device, project.training.epochs = "cpu", 1
    store_space(project, space)
    save_project(project, path)
    run_sweep(path, trials)
    return path


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    return swept(tmp_path_factory.mktemp("sweep"), SweepSpace([
        Dimension("optimizer.lr", "float", 1e-3, 1e-1, log=True),
        Dimension("batch_size", "choice", choices=[16, 32]),
        Dimension("node:features.c1.out_channels", "int", 4, 8, step=2),
    ], sampler="random", pruner="none"), 4)


def opened(window, qtbot, path: Path):
    """The window with ``path`` open and its Sweep panel read once."""
    assert window.open_file(path)
    panel = window.training.panel("Sweep")
    window.docks["Sweep"].show()
    window.docks["Sweep"].raise_()
    panel.refresh()
    qtbot.waitUntil(lambda: panel.snapshot is not None, timeout=20000)
    return panel


def test_the_panel_draws_the_study_and_uses_a_trial(window, qtbot, study, answers) -> None:
    panel = opened(window, qtbot, study)
    data = panel.snapshot.data
    assert panel.study_box.currentText() == "lenet" and panel.storage_label.text() == \
        "lenet.sweep.db"
    complete = data.complete
    x, y = panel.history_points.getData()
    assert len(data.trials) == 4 and list(x) == [t.number for t in complete]
    values = [t.values[0] for t in complete]
    best_x, best_y = panel.best_line.getData()
    assert list(best_y) == [max(values[:i + 1]) for i in range(len(values))]
    drawn = [line for line in panel.parallel_lines if line.getData()[0] is not None
             and len(line.getData()[0])]
    assert len(drawn) == len(complete)
    assert all(len(line.getData()[0]) == 4 for line in drawn)  # 3 parameters and the value
    assert set(panel.slice_plots) == {p.name for p in data.params}
    found = panel.snapshot.importance
    if found.values is None:
        assert panel.importance_reason.text() == found.reason != ""
    else:
        assert len(panel.bars.opts["width"]) == len(found.values)
        assert not panel.importance_reason.isVisible()
    assert not panel.tabs.isTabEnabled(panel.tabs.indexOf(panel.pareto))  # one objective

    trial = complete[-1]
    run_id = run_ids(window.document.project.runs, "lenet")[trial.number]
    panel.select_trial(trial.number)  # what a click on its point calls
    runs = window.training.panel("Runs")
    assert [r.id for r in runs.selected_runs()] == [run_id]
    assert f"Trial {trial.number}" in panel.trial_label.text()

    doc = window.document
    other = {"optimizer.lr": 0.5, "batch_size": 64}
    doc.change_settings("training", other, "before")
    doc.set_params("features.c1", {"out_channels": 3}, merge=False)
    before = (doc.settings("training"), dict(doc.graph.node("features.c1").params))
    steps = doc.undo_stack.count()
    assert panel.use_trial() is None
    assert doc.undo_stack.count() == steps + 1
    assert doc.undo_stack.text(steps) == f"Use trial {trial.number}"
    training = doc.settings("training")
    assert training["optimizer"]["lr"] == trial.params["optimizer.lr"]
    assert training["batch_size"] == trial.params["batch_size"]
    assert doc.graph.node("features.c1").params["out_channels"] == \
        trial.params["node:features.c1.out_channels"]
    doc.undo_stack.undo()
    assert (doc.settings("training"), dict(doc.graph.node("features.c1").params)) == before
    assert answers[0] == []


def test_nothing_selected_or_no_storage_says_why(window, qtbot, tmp_path, answers) -> None:
    window.new_blank()
    panel = window.training.panel("Sweep")
    panel.refresh()
    assert "Save the project" in panel.message.text()
    assert panel.use_trial() is not None and "Select a trial" in answers[0][-1][1]
    assert panel.open_storage(str(tmp_path / "none.sweep.db"))
    qtbot.waitUntil(lambda: "does not exist" in panel.message.text(), timeout=10000)


def test_a_two_objective_study_shows_its_pareto_front(window, qtbot, tmp_path) -> None:
    path = swept(tmp_path, SweepSpace([
        Dimension("node:features.c1.out_channels", "int", 2, 8, step=2),
    ], sampler="random", pruner="none", objectives=["val_acc", "params"]), 3)
    panel = opened(window, qtbot, path)
    data = panel.snapshot.data
    assert panel.tabs.isTabEnabled(panel.tabs.indexOf(panel.pareto))
    front = set(data.pareto())
    assert front
    fx, fy = panel.front_points.getData()
    assert sorted(zip(fx, fy)) == sorted(tuple(t.values) for t in data.complete
                                         if t.number in front)
    rx, _ = panel.pareto_points.getData()
    assert len(fx) + len(rx) == len(data.complete)
    assert "params" in panel.pareto.getPlotItem().getAxis("left").labelText
    assert np.all(np.diff(panel.pareto_line.getData()[0]) >= 0)
    # importance per objective: the parameter count depends on the width alone
    box = panel.importance_objective
    assert not box.isHidden() and [box.itemText(i) for i in range(box.count())] == \
        ["val_acc", "params"]
    second = panel.snapshot.importance_for(1)
    assert second.values is None or set(second.values) == {"node:features.c1.out_channels"}
    box.setCurrentIndex(1)
    box.activated.emit(1)
    assert panel.importance_reason.text() == (second.reason or "")
