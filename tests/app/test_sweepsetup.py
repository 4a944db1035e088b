"""The Sweep panel's Search space tab as a user drives it: adding and editing dimensions (each
accepted edit one undo step, a refused one shown and not stored), and a sweep started and
stopped from the window, its trials joining the open project without writing its file."""

from __future__ import annotations

import shutil
from pathlib import Path

import optuna
from optuna.trial import TrialState
from PySide6.QtCore import Qt

from cnnstudio.engine.sweep.study import default_storage
from cnnstudio.engine.sweep.views import sqlite_ready
from cnnstudio.project import load_project, save_project
from cnnstudio.project.sweep import KEY, run_ids
from cnnstudio.project.sweep_suggest import default_space

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "lenet.cnnproj"
    shutil.copy(EXAMPLE, path)
    project = load_project(path)
    project.dataset.limit, project.dataset.val_fraction = 96, 0.1
    project.training.device, project.training.epochs = "cpu", 1
    save_project(project, path)
    return path


def setup_tab(window, path: Path):
    assert window.open_file(path)
    panel = window.training.panel("Sweep")
    window.docks["Sweep"].show()
    window.docks["Sweep"].raise_()
    assert panel.tabs.tabText(0) == "Search space"
    return panel, panel.setup


def targets(setup) -> list[str]:
    return [setup.table.item(r, 0).data(Qt.ItemDataRole.UserRole)
            for r in range(setup.table.rowCount())]


def test_edits_are_checked_stored_and_undone(window, qtbot, tmp_path, answers) -> None:
    _panel, setup = setup_tab(window, tiny(tmp_path))
    doc = window.document
    assert KEY not in doc.project.extra
    assert targets(setup) == [d.target for d in default_space(doc.project).dimensions]
    setup.add("node:features.c1.out_channels")
    assert targets(setup)[-1] == "node:features.c1.out_channels"
    stored = doc.project.extra[KEY]["dimensions"][-1]
    assert (stored["kind"], stored["low"], stored["high"]) == ("int", 3, 12)
    row = setup.table.rowCount() - 1
    setup.table.item(row, 3).setText("lots")  # "To" of the width
    assert setup.problem.isVisible() and "whole number" in setup.problem.text()
    assert doc.project.extra[KEY]["dimensions"][-1]["high"] == 12  # not stored
    setup.table.item(row, 3).setText("16")
    assert not setup.problem.isVisible()
    assert doc.project.extra[KEY]["dimensions"][-1]["high"] == 16
    setup.table.item(1, 6).setText("16, 32, 100000000")  # a batch size the config refuses
    assert setup.problem.isVisible() and "batch_size" in setup.problem.text()
    setup.objectives["params"].setChecked(True)
    setup.table.item(1, 6).setText("16, 32")
    assert doc.project.extra[KEY]["objectives"] == ["val_acc", "params"]
    assert doc.project.extra[KEY]["dimensions"][1]["choices"] == [16, 32]
    doc.undo_stack.undo()
    assert doc.project.extra[KEY]["dimensions"][1]["choices"] != [16, 32]
    assert setup.table.item(1, 6).text() == "16, 32, 64, 128"
    while doc.undo_stack.canUndo():
        doc.undo_stack.undo()
    assert KEY not in doc.project.extra and targets(setup)[-1] == "optimizer.weight_decay"


def test_a_sweep_started_in_the_window_adds_its_trials_to_the_open_project(
        window, qtbot, tmp_path, answers) -> None:
    path = tiny(tmp_path)
    on_disk = path.read_bytes()
    panel, setup = setup_tab(window, path)
    doc = window.document
    setup.trials.setValue(2)
    setup.epochs.setValue(1)
    assert setup.start() is None
    assert not setup.start_button.isEnabled() and setup.stop_button.isEnabled()
    assert panel.tabs.currentWidget() is panel.history
    runner = window.training.sweeps()
    qtbot.waitUntil(lambda: not runner.running, timeout=180000)
    assert "2 trials (2 complete)" in setup.status.text(), setup.status.text()
    ids = run_ids(doc.project.runs, "lenet")
    assert sorted(ids) == [0, 1] and doc.dirty
    assert path.read_bytes() == on_disk  # the window saves when the user does
    runs_panel = window.training.panel("Runs")
    window.docks["Runs"].show()
    window.docks["Runs"].raise_()  # it refreshes when shown, or soon after runs come
    qtbot.waitUntil(lambda: runs_panel.table.rowCount() == len(doc.project.runs) == 2)
    study = optuna.load_study(study_name="lenet", storage=default_storage(path))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    setup.trials.setValue(3)  # again: one more trial, the first two not added twice
    assert setup.start() is None
    qtbot.waitUntil(lambda: not runner.running, timeout=180000)
    assert sorted(run_ids(doc.project.runs, "lenet")) == [0, 1, 2]


def test_stop_ends_the_sweep_and_fails_the_running_trial(window, qtbot, tmp_path, answers
                                                         ) -> None:
    path = tiny(tmp_path)
    _panel, setup = setup_tab(window, path)
    setup.trials.setValue(2)
    setup.epochs.setValue(500)
    assert setup.start() is None
    url = default_storage(path)

    runner = window.training.sweeps()

    def running() -> bool:
        if not sqlite_ready(path.with_suffix(".sweep.db")):  # the sweep is making it now
            return False
        try:
            trials = optuna.load_study(study_name="lenet", storage=url).trials
        except KeyError:  # the study is not made yet
            return False
        return any(t.state == TrialState.RUNNING and "worker" in t.user_attrs for t in trials)

    try:
        qtbot.waitUntil(running, timeout=120000)
        setup.stop_button.click()
        qtbot.waitUntil(lambda: not runner.running, timeout=60000)
    finally:  # a failed check leaves no worker training 500 epochs
        runner.stop()
        runner.wait()
    assert "(stopped)" in setup.status.text()
    study = optuna.load_study(study_name="lenet", storage=url)
    assert [t.state for t in study.trials] == [TrialState.FAIL]
    assert window.document.project.runs == []


def test_an_unsaved_project_cannot_start_a_sweep(window, qtbot) -> None:
    panel = window.training.panel("Sweep")  # a new window: an untitled project
    assert window.document.path is None
    why = panel.setup.start()
    assert why is not None and "Save the project first" in why
    assert panel.setup.problem.text() == why and not panel.setup.problem.isHidden()
