"""The runs panel: the table of a project's runs, "Use these weights", runs of another graph,
"Compare" (settings diff and curves), refreshes on training signals; and the plain helpers
behind it (settings diff, summaries, CSV rows)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from cnnstudio.app.document import Document
from cnnstudio.app.training.controller import TrainingController
from cnnstudio.app.training.rundata import (
    best_val_acc,
    chosen_weights,
    epoch_rows,
    final_val_loss,
    run_label,
    settings_diff,
)
from cnnstudio.app.training.runs import COLUMNS, RunsPanel
from cnnstudio.engine.training.trainer import EpochEnd, Finished
from cnnstudio.project import EpochRecord, Project, Run, load_project
from cnnstudio.project.model import graph_hash
from cnnstudio.project.stats import flatten

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


def make_run(project: Project, run_id: int, *, lr: float = 0.003, batch: int = 16,
             val_acc: tuple[float, ...] = (0.8, 0.9), weights: str = "both",
             other_graph: bool = False) -> Run:
    training = copy.deepcopy(project.training.to_dict())
    training["optimizer"]["lr"] = lr
    training["batch_size"] = batch
    run = Run(id=run_id, started=f"2025-01-0{run_id}T10:00:00+00:00", graph_revision=run_id,
              graph_hash="0" * 16 if other_graph else graph_hash(project.graph), seed=run_id,
              training=training, dataset={"config": project.dataset.to_dict()},
              status="finished", device="CPU (2 threads)")
    for i, acc in enumerate(val_acc, start=1):
        run.epochs.append(EpochRecord(i, 1.0 / i, acc - 0.05, 0.5 / i, acc, lr, 1.0, 900.0))
    run.best_epoch = int(np.argmax(val_acc)) + 1
    if weights in ("both", "last"):
        run.weights = f"weights/run-{run_id}-last.safetensors"
        project.weights[run.weights] = b"last"
    if weights == "both":
        run.best_weights = f"weights/run-{run_id}-best.safetensors"
        project.weights[run.best_weights] = b"best"
    return run


@pytest.fixture
def project() -> Project:
    project = load_project(EXAMPLE)
    project.runs = [make_run(project, 1, lr=0.01),
                    make_run(project, 2, batch=64, val_acc=(0.85, 0.95, 0.93), weights="last"),
                    make_run(project, 3, other_graph=True)]
    project.current_weights = project.runs[0].weights
    return project


@pytest.fixture
def panel(qtbot, project) -> RunsPanel:
    doc = Document(project)
    widget = RunsPanel(doc, TrainingController(doc))
    qtbot.addWidget(widget)
    widget.resize(1100, 300)
    widget.show()
    return widget


def cell(panel: RunsPanel, row: int, column: str) -> str:
    return panel.table.item(row, COLUMNS.index(column)).text()


# -- plain helpers ---------------------------------------------------------------------------
def test_settings_diff_lists_only_what_differs(project):
    a, b = project.runs[0], project.runs[1]
    b.dataset["config"]["limit"] = 500
    assert settings_diff(a, b) == [("dataset.limit", None, 500), ("graph.revision", 1, 2),
                                   ("training.batch_size", 16, 64),
                                   ("training.optimizer.lr", 0.01, 0.003)]
    assert settings_diff(a, a) == []
    assert ("graph.hash", a.graph_hash, "0" * 16) in settings_diff(a, project.runs[2])


def test_flatten_and_summaries(project):
    assert flatten({"a": {"b": 1, "c": {"d": [2]}}, "e": None}) == \
        {"a.b": 1, "a.c.d": [2], "e": None}
    run = project.runs[1]
    assert run_label(run) == "run 2 (adam lr 0.003, batch 64)"
    assert best_val_acc(run) == 0.95 and final_val_loss(run) == pytest.approx(0.5 / 3)
    assert chosen_weights(project.runs[0]) == ("weights/run-1-best.safetensors", "best")
    assert chosen_weights(run) == ("weights/run-2-last.safetensors", "last")
    rows = epoch_rows(2, run.epochs)
    assert [r["epoch"] for r in rows] == [1, 2, 3] and rows[1]["val_acc"] == repr(0.95)


# -- the table -------------------------------------------------------------------------------
def test_the_table_lists_the_runs_newest_first(panel):
    assert panel.table.rowCount() == 3
    assert [cell(panel, r, "Run") for r in range(3)] == ["3", "2", "1"]
    assert cell(panel, 1, "Best val acc") == "95.00 %"
    assert cell(panel, 1, "Epochs") == "3 (best 2)"
    assert cell(panel, 1, "Settings") == "adam lr 0.003, batch 64"
    assert cell(panel, 1, "Seed") == "2"
    assert cell(panel, 0, "Graph") == "rev 3 (other graph)"
    assert cell(panel, 2, "Graph") == "rev 1"
    assert "current weights" in panel.table.item(2, 0).toolTip()  # run 1's are in use


def test_use_these_weights_takes_the_best_weights(qtbot, panel):
    doc = panel.document
    panel.select_runs([1])
    assert panel.use_button.isEnabled()
    assert "best" in panel.use_button.toolTip()
    doc.project.current_weights = None
    assert not doc.dirty
    with qtbot.waitSignal(panel.weights_chosen) as signal:
        panel.use_button.click()
    assert signal.args == ["weights/run-1-best.safetensors"]
    assert doc.project.current_weights == "weights/run-1-best.safetensors"
    assert doc.dirty


def test_use_these_weights_takes_the_last_ones_without_a_best(panel):
    panel.select_runs([2])
    assert panel.use_weights()
    assert panel.document.project.current_weights == "weights/run-2-last.safetensors"
    assert "last" in panel.message.text()


def test_weights_of_another_graph_cannot_be_used(panel):
    panel.select_runs([3])
    assert not panel.use_button.isEnabled()
    assert "another version of the network" in panel.use_button.toolTip()
    before = panel.document.project.current_weights
    assert panel.use_weights() is False
    assert panel.document.project.current_weights == before
    panel.select_runs([1, 2])
    assert not panel.use_button.isEnabled() and panel.compare_button.isEnabled()


def test_each_run_s_score_reads_as_its_task_scores_it(qtbot, project):
    regress = make_run(project, 4, val_acc=(0.61, 0.852))
    regress.dataset["config"]["task"] = "regress"
    multilabel = make_run(project, 5, val_acc=(0.7, 0.8))
    multilabel.dataset["config"]["task"] = "multilabel"
    project.runs += [regress, multilabel]
    doc = Document(project)
    panel = RunsPanel(doc, TrainingController(doc))
    qtbot.addWidget(panel)
    rows = {cell(panel, r, "Run"): cell(panel, r, "Best val acc")
            for r in range(panel.table.rowCount())}
    assert rows["1"] == "90.00 %" and rows["5"] == "80.00 % F1"
    assert rows["4"] == "R² 0.852"  # R² is no percentage: it has no 100 and goes below 0
    item = panel.table.item([cell(panel, r, "Run") for r in range(5)].index("4"),
                            COLUMNS.index("Best val acc"))
    assert item.toolTip() == "the best validation R²"


def test_compare_two_runs(qtbot, panel):
    panel.select_runs([2])
    assert not panel.compare_button.isEnabled() and panel.compare() is None
    panel.select_runs([2, 1])
    panel.compare_button.click()
    dialog = panel.compare_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.addWidget(dialog)
    assert (dialog.a.id, dialog.b.id) == (1, 2)
    shown = {dialog.settings.item(r, 0).text(): (dialog.settings.item(r, 1).text(),
                                                 dialog.settings.item(r, 2).text())
             for r in range(dialog.settings.rowCount())}
    assert shown["training.optimizer.lr"] == ("0.01", "0.003")
    assert shown["training.batch_size"] == ("16", "64")
    assert "training.epochs" not in shown
    x, y = dialog.curves["2.val_acc"].getOriginalDataset()
    assert list(x) == [1, 2, 3] and list(y) == pytest.approx([85, 95, 93])
    results = {dialog.results.item(r, 0).text(): dialog.results.item(r, 2).text()
               for r in range(dialog.results.rowCount())}
    assert results["Best val acc"] == "95.00 %"


def test_an_open_comparison_follows_a_theme_switch(qtbot, panel):
    from cnnstudio.app.style import apply_theme

    panel.select_runs([2, 1])
    dialog = panel.compare()
    qtbot.addWidget(dialog)

    def background() -> QColor:
        return dialog.plots.backgroundBrush().color()

    light = background()
    apply_theme("dark")
    try:
        dark = QApplication.palette().color(QPalette.ColorRole.Base)
        assert dark != light
        qtbot.waitUntil(lambda: background() == dark, timeout=3000)
        text = QApplication.palette().color(QPalette.ColorRole.WindowText)
        axis = dialog.titled[0][0].getAxis("bottom")
        assert axis.textPen().color() == text  # the tick labels in the theme's text colour
    finally:
        apply_theme("light")


def test_the_table_follows_training_and_new_projects(qtbot, panel):
    project = panel.document.project
    project.runs.append(make_run(project, 4))
    panel.controller.epoch.emit(EpochEnd(project.runs[-1].epochs[-1], True))
    qtbot.waitUntil(lambda: panel.table.rowCount() == 4, timeout=3000)
    project.runs[-1].status = "failed"
    panel.controller.finished.emit(Finished("finished", 1, None, "done"))
    qtbot.waitUntil(lambda: cell(panel, 0, "Status") == "failed", timeout=3000)
    panel.document.replace(Project(), None)
    assert panel.table.rowCount() == 0 and "No runs yet" in panel.message.text()


def test_an_epoch_replaces_only_the_cells_that_changed_and_keeps_the_selection(qtbot, panel):
    project = panel.document.project
    panel.select_runs([1, 2])
    run = project.runs[1]  # run 2, the table's second row
    items = {(r, c): panel.table.item(r, c) for r in range(3) for c in range(len(COLUMNS))}
    run.epochs.append(EpochRecord(4, 0.2, 0.96, 0.1, 0.97, 0.003, 1.0, 900.0))
    run.best_epoch = 4
    panel.controller.epoch.emit(EpochEnd(run.epochs[-1], True))
    qtbot.waitUntil(lambda: cell(panel, 1, "Epochs") == "4 (best 4)", timeout=3000)
    assert cell(panel, 1, "Best val acc") == "97.00 %"
    assert cell(panel, 1, "Final val loss") == "0.1"
    changed = {(1, COLUMNS.index(c)) for c in ("Epochs", "Best val acc", "Final val loss")}
    assert {k for k, item in items.items() if panel.table.item(*k) is not item} == changed
    assert [r.id for r in panel.selected_runs()] == [2, 1]


def test_fast_epochs_refresh_the_table_once_a_second_and_the_end_at_once(qtbot, panel,
                                                                        monkeypatch):
    refreshes: list[int] = []
    monkeypatch.setattr(panel, "refresh", lambda: refreshes.append(1))
    run = panel.document.project.runs[1]
    for _ in range(8):  # an epoch every 0.2 s: a pending refresh is not pushed back
        panel.controller.epoch.emit(EpochEnd(run.epochs[-1], False))
        qtbot.wait(200)
    assert 1 <= len(refreshes) <= 2
    refreshes.clear()
    panel.controller.epoch.emit(EpochEnd(run.epochs[-1], False))
    panel.controller.finished.emit(Finished("finished", 1, None, "done"))  # brings it forward
    qtbot.waitUntil(lambda: refreshes == [1], timeout=500)
    qtbot.wait(1200)
    assert refreshes == [1]


def test_an_edited_graph_makes_the_runs_other_graph(qtbot, panel):
    doc = panel.document
    node = next(n for n in doc.graph.nodes.values() if n.type == "Linear")
    doc.set_params(node.id, {"out_features": node.params["out_features"] + 1}, merge=False)
    qtbot.waitUntil(lambda: "other graph" in cell(panel, 2, "Graph"), timeout=3000)
    panel.select_runs([1])
    assert not panel.use_button.isEnabled()


# -- a real run ------------------------------------------------------------------------------
def test_a_real_run_appears_and_its_weights_can_be_used(qtbot):
    project = load_project(EXAMPLE)
    project.training.epochs = 1
    project.dataset.limit = 150
    doc = Document(project)
    controller = TrainingController(doc)
    panel = RunsPanel(doc, controller)
    qtbot.addWidget(panel)
    assert controller.train()
    qtbot.waitUntil(lambda: controller.state == "idle", timeout=90_000)
    qtbot.wait(300)  # the refresh timer ran: a hidden panel is not rebuilt for nobody ...
    assert panel.table.rowCount() == 0
    panel.show()  # ... and catches up when shown
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1 and
                    cell(panel, 0, "Status") == "finished", timeout=3000)
    run = project.runs[0]
    assert cell(panel, 0, "Best val acc") == f"{100 * run.epochs[0].val_acc:.2f} %"
    panel.select_runs([run.id])
    assert panel.use_weights()
    assert project.current_weights == run.best_weights and run.best_weights in project.weights
