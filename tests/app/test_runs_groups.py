"""The Runs panel's configurations: runs that differ only by seed as one group row with its
statistics, comparing two configurations (the interval, the verdict, only the settings that
differ), "Repeat with seeds…" queueing runs with the next seeds, "Cross-validate…" queueing one
run per fold (and the group row of folds with its pooled accuracy), and "Export CSV…"."""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import pytest

from cnnstudio.app.document import Document
from cnnstudio.app.training.controller import IDLE, PREPARING, STOPPING, TrainingController
from cnnstudio.app.training.runs import RunsPanel
from cnnstudio.project import EpochRecord, Project, Run, load_project
from cnnstudio.project.model import graph_hash
from cnnstudio.project.stats import fold_line, group_line, groups

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


def make_run(project: Project, run_id: int, seed: int, acc: float, lr: float = 0.001,
             status: str = "finished") -> Run:
    training = copy.deepcopy(project.training.to_dict())
    training.update(seed=seed)
    training["optimizer"]["lr"] = lr
    return Run(id=run_id, started="2026-01-01T00:00:00+00:00", graph_revision=1,
               graph_hash=graph_hash(project.graph), seed=seed, training=training,
               dataset={"config": project.dataset.to_dict()}, status=status,
               epochs=[EpochRecord(1, 0.5, 0.8, 1 - acc, acc, lr, 1.0, 900.0)], best_epoch=1)


def make_fold_run(project: Project, run_id: int, fold: int, acc: float, count: int,
                  seed: int = 0, folds: int = 5) -> Run:
    run = make_run(project, run_id, seed, acc)
    run.dataset["config"].update(folds=folds, fold=fold)
    run.dataset["summary"] = {"counts": {"train": 4 * count, "val": count, "test": 0}}
    return run


@pytest.fixture
def project() -> Project:
    project = load_project(EXAMPLE)
    project.training.epochs = 1
    project.dataset.limit = 150
    project.runs = [make_run(project, 1, 0, 0.90), make_run(project, 2, 1, 0.92),
                    make_run(project, 3, 2, 0.94), make_run(project, 4, 0, 0.88, lr=0.01),
                    make_run(project, 5, 1, 0.90, lr=0.01), make_run(project, 6, 2, 0.91, 0.01),
                    make_run(project, 7, 3, 0.5, lr=0.01, status="stopped")]
    return project


def make_panel(qtbot, project: Project, start=None) -> RunsPanel:
    doc = Document(project)
    panel = RunsPanel(doc, TrainingController(doc), start=start)
    qtbot.addWidget(panel)
    panel.resize(1100, 420)
    panel.show()
    return panel


def test_runs_of_one_configuration_are_one_group_row(qtbot, project):
    panel = make_panel(qtbot, project)
    table = panel.group_table
    assert table.rowCount() == 2  # the stopped run 7 is no sample
    first = table.item(0, 0).text()
    assert first == group_line(groups(project.runs)[0])
    assert first.startswith("3 runs · best val acc 89.67 ± 1.53 % (95 % CI 85.87–93.46)")
    assert table.item(0, 1).text() == "4, 5, 6" and table.item(0, 2).text() == "0, 1, 2"
    assert table.item(0, 3).text() == "optimizer.lr 0.01"
    assert "final val loss" in table.item(0, 0).toolTip()
    table.selectRow(1)
    assert sorted(r.id for r in panel.selected_runs()) == [1, 2, 3]


def test_comparing_two_configurations_says_whether_it_is_noise(qtbot, project):
    panel = make_panel(qtbot, project)
    panel.group_table.selectAll()  # both configurations: six runs
    assert panel.compare_button.isEnabled()
    dialog = panel.compare()
    qtbot.addWidget(dialog)
    assert (dialog.a.id, dialog.b.id) == (3, 6)  # the newest of each stands for it
    text = dialog.statistics.text()
    assert "A</b>: run 3's configuration, 3 runs (seeds 0, 1, 2)" in text
    assert "A is better than B by 2.33 points in best val acc (95 % CI 0.90..3.77 points, " \
           "paired by seed)" in text
    shown = [dialog.settings.item(r, 0).text() for r in range(dialog.settings.rowCount())]
    assert shown == ["training.optimizer.lr"]  # not the seed, not the revision
    panel.select_runs([1, 2])  # two runs of one configuration
    dialog = panel.compare()
    qtbot.addWidget(dialog)
    assert "same configuration: they differ only by seed" in dialog.statistics.text()
    assert [k for k, _, _ in dialog.diff] == ["training.seed"]


def test_repeat_queues_runs_with_the_next_seeds_and_stop_ends_the_queue(qtbot, project):
    started: list[int] = []
    panel = make_panel(qtbot, project, start=lambda: started.append(
        panel.document.project.training.seed) or True)
    controller = panel.controller
    panel.select_runs([5])
    assert panel.repeat_button.isEnabled()
    assert panel.repeat(3)
    doc = panel.document
    assert started == [4]  # lr 0.01's runs used seeds 0-3 (run 7 stopped, its seed is taken)
    assert doc.project.training.optimizer.lr == 0.01 and panel.queue.pending == [5, 6]
    assert "seeds 4–6" in panel.message.text()
    controller.state_changed.emit(PREPARING)
    controller.state_changed.emit(IDLE)  # the run ended: the next starts
    qtbot.waitUntil(lambda: started == [4, 5], timeout=2000)
    controller.state_changed.emit(STOPPING)  # Stop: no more runs
    assert panel.queue.pending == []
    controller.state_changed.emit(IDLE)
    qtbot.waitUntil(lambda: doc.project.training.seed == 4)  # back where the repeats began
    assert started == [4, 5]
    doc.undo_stack.undo()
    assert doc.project.training.seed == 5  # each seed was an undoable settings change
    doc.undo_stack.undo()
    assert doc.project.training.seed == 4


def test_repeat_trains_real_runs_one_after_another(qtbot, window, project):
    project.runs = [make_run(project, 1, 0, 0.9)]
    window.open_project(project, None)
    panel = window.training.panel("Runs")  # its runs start as Train ▸ Train does
    panel.select_runs([1])
    assert panel.repeat(2) and not panel.repeat_button.isEnabled()
    qtbot.waitUntil(lambda: len(project.runs) == 3 and panel.controller.state == IDLE and
                    not panel.queue.pending, timeout=120_000)
    assert [(r.seed, r.status) for r in project.runs[1:]] == [(1, "finished"), (2, "finished")]
    qtbot.waitUntil(lambda: project.training.seed == 1)  # as train --repeat: the first seed
    qtbot.waitUntil(lambda: panel.group_table.item(0, 0).text().startswith("3 runs · "),
                    timeout=3000)


def test_export_csv_writes_every_run(qtbot, project, tmp_path):
    panel = make_panel(qtbot, project)
    path = tmp_path / "runs.csv"
    assert panel.export_csv(str(path))
    assert panel.message.text() == f"Wrote 7 runs to {path}."
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == [str(i) for i in range(1, 8)]
    assert rows[6]["status"] == "stopped" and rows[3]["training.optimizer.lr"] == "0.01"
    assert not panel.export_csv(str(tmp_path / "no" / "such" / "dir.csv"))
    assert panel.message.text().startswith("Cannot write")


def test_seed_bands_show_each_repeated_configurations_mean_and_interval(qtbot, project):
    from cnnstudio.app.training.charts import TrainingCharts

    doc = Document(project)
    charts = TrainingCharts(doc, TrainingController(doc))
    qtbot.addWidget(charts)
    assert charts.view.bands == {}
    charts.band_box.setChecked(True)
    assert sorted(charts.view.bands) == ["g:1", "g:4"]
    low, high, _band, line = charts.view.bands["g:1"]
    curve = groups(project.runs)[1].curve("val_acc")  # runs 1-3
    assert list(line.getOriginalDataset()[1]) == pytest.approx([100 * m for m in curve.mean])
    assert list(low.getOriginalDataset()[1]) == pytest.approx([100 * curve.low[0]])
    assert list(high.getOriginalDataset()[1]) == pytest.approx([100 * curve.high[0]])
    charts.band_box.setChecked(False)
    assert charts.view.bands == {}


def queued(qtbot, panel, started, n) -> None:
    """Let the stub runs end one after another until ``n`` have started."""
    for i in range(2, n + 1):
        panel.controller.state_changed.emit(PREPARING)
        panel.controller.state_changed.emit(IDLE)
        qtbot.waitUntil(lambda i=i: len(started) == i, timeout=2000)


def test_cross_validate_queues_one_run_per_fold_with_one_seed(qtbot, project):
    started: list[tuple[int, int, int, float]] = []

    def start() -> bool:
        p = panel.document.project
        started.append((p.training.seed, p.dataset.folds, p.dataset.fold,
                        p.training.optimizer.lr))
        return True

    panel = make_panel(qtbot, project, start=start)
    panel.select_runs([5])  # lr 0.01, seed 1
    assert panel.cv_button.isEnabled() and "pooled" in panel.cv_button.toolTip()
    assert panel.cross_validate(3)
    assert panel.queue.pending == [1, 2]
    assert "3 runs with seed 1, validating on fold 0–2" in panel.message.text()
    queued(qtbot, panel, started, 3)
    assert started == [(1, 3, 0, 0.01), (1, 3, 1, 0.01), (1, 3, 2, 0.01)]
    assert not panel.queue.pending
    panel.document.undo_stack.undo()
    assert panel.document.project.dataset.fold == 1  # each fold was an undoable change
    # that cross-validation has run: the next one takes the next seed
    project.runs += [make_fold_run(project, 8 + f, f, 0.9, 10, seed=1, folds=3)
                     for f in range(3)]
    for run in project.runs[-3:]:
        run.training["optimizer"]["lr"] = 0.01
    panel.refresh()
    panel.select_runs([5])
    started.clear()
    assert panel.cross_validate(3) and started[0][:3] == (2, 3, 0)
    # a repeat of a run from before folds existed turns cross-validation off again
    panel.queue.cancel()
    del project.runs[0].dataset["config"]["folds"], project.runs[0].dataset["config"]["fold"]
    panel.select_runs([1])
    started.clear()
    assert panel.repeat(1) and started[0][1:3] == (0, 0)


def test_a_group_of_folds_shows_its_pooled_accuracy(qtbot, project):
    accs, counts = (0.90, 0.95, 0.80, 0.85, 1.00), (10, 20, 10, 5, 5)
    project.runs += [make_fold_run(project, 8 + f, f, a, n)
                     for f, (a, n) in enumerate(zip(accs, counts))]
    panel = make_panel(qtbot, project)
    table = panel.group_table
    assert table.rowCount() == 3
    line = table.item(0, 0).text()
    assert line.startswith("5 runs · 5 folds, pooled final val acc 90.50 % · best val acc ")
    assert table.item(0, 1).text() == "8, 9, 10, 11, 12" and table.item(0, 2).text() == "0"
    assert table.item(0, 3).text() == "folds 5, optimizer.lr 0.001"  # what tells the groups apart
    tip = table.item(0, 0).toolTip()
    group = groups(project.runs)[0]
    assert "pooled final val acc: 90.50 %" in tip
    assert all(fold_line(f) in tip for f in group.fold_results())
    assert "fold 1 (seed 0, run 9): final val acc 95.00 %, best 95.00 %, 20 validation " \
           "samples" in tip
