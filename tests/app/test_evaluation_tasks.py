"""The evaluation view for a multi-label and a regression network trained from a CSV: per-label
metrics, or predicted-against-true and residuals, in place of the confusion matrix; the charts
name the per-epoch score; the Data section offers the task."""

from __future__ import annotations

import pytest

from cnnstudio.app.document import Document
from cnnstudio.app.training.charts import TrainingCharts
from cnnstudio.app.training.controller import TrainingController
from cnnstudio.app.training.evaluation import EvaluationView
from cnnstudio.engine.data.load import load_data
from cnnstudio.engine.training.session import Session
from cnnstudio.project.model import Project

from ..engine.training.test_targets import (
    brightness_csv,
    colour_flags_csv,
    dataset,
    graph,
    training,
)


def trained(tmp_path, task: str) -> tuple[Project, object]:
    if task == "regress":
        path, _ = brightness_csv(tmp_path, 120)
        project = Project(graph=graph(1), dataset=dataset(path, task), training=training("mse"))
    else:
        path = colour_flags_csv(tmp_path, 120)
        project = Project(graph=graph(2), dataset=dataset(path, task), training=training("bce"))
    data = load_data(project.dataset, (3, 8, 8))
    for _event in Session(project, None, data=data).events():
        pass
    assert project.runs[-1].status == "finished", project.runs[-1].message
    return project, data


def view_of(qtbot, project, data) -> EvaluationView:
    doc = Document(project)
    controller = TrainingController(doc)
    controller.data = data
    view = EvaluationView(doc, controller)
    qtbot.addWidget(view)
    view.resize(1100, 520)
    view.show()
    with qtbot.waitSignal(view.evaluated, timeout=60000):
        assert view.evaluate_now()
    return view


def test_multilabel_evaluation_shows_per_label_metrics(qtbot, tmp_path) -> None:
    project, data = trained(tmp_path, "multilabel")
    view = view_of(qtbot, project, data)
    stored = project.runs[-1].evaluation
    assert view.pages.currentWidget() is view.multilabel
    m = view.predictions.metrics()
    assert m["micro_f1"] == pytest.approx(stored["micro_f1"])
    table = view.multilabel.table
    assert [table.item(r, 0).text() for r in range(table.rowCount())] == \
        ["green", "red", "macro average"]
    assert table.item(0, 3).text() == f"{m['per_class'][0]['f1']:.3f}"
    assert table.item(1, 5).text() == f"{m['per_class'][1]['ap']:.3f}"
    assert "micro-F1" in view.message and "mAP" in view.message
    assert not view.predict_file(tmp_path / "m0.png")  # a classifier's top-5 only


def test_regression_evaluation_shows_scatter_and_residuals(qtbot, tmp_path) -> None:
    project, data = trained(tmp_path, "regress")
    view = view_of(qtbot, project, data)
    page = view.regression
    assert view.pages.currentWidget() is page
    m = view.predictions.metrics()
    assert m["r2"] == pytest.approx(project.runs[-1].evaluation["r2"], abs=1e-6)
    target = m["targets"][0]
    xs, ys = page.points.getData()
    assert list(xs) == pytest.approx(target["true"]) and len(xs) == len(data.val)
    assert max(xs) > 50  # the CSV's units (0–100), not standardised values
    _, residuals = page.residual_points.getData()
    assert list(residuals) == pytest.approx([p - t for p, t in zip(target["predicted"],
                                                                   target["true"])])
    assert page.table.item(0, 0).text() == "brightness"
    assert page.table.item(0, 3).text() == f"{m['r2']:.3f}"
    assert "R²" in view.message


def test_charts_and_data_section_follow_the_task(qtbot, tmp_path) -> None:
    from ..app.test_settings_panel import choose, make_panel

    path = colour_flags_csv(tmp_path, 8)
    project = Project(graph=graph(2), dataset=dataset(path, "classify"),
                      training=training("bce"))
    doc, panel, controller = make_panel(qtbot, project, tmp_path / "p.cnnproj")
    rows, form = panel.data.split.rows, panel.data.split.form
    assert form.isRowVisible(rows["task"].widget)  # a CSV offers the task
    assert not form.isRowVisible(rows["standardize"].widget)
    assert rows["task"].editor.field.currentText() == "Classify (one class per image)"
    choose(rows["task"].editor, "regress")
    assert doc.project.dataset.task == "regress"
    assert form.isRowVisible(rows["standardize"].widget)
    charts = TrainingCharts(doc, TrainingController(doc))
    qtbot.addWidget(charts)
    assert charts.view.titles["acc"] == "R² (×100)"
    choose(rows["task"].editor, "multilabel")
    charts.clear()
    assert charts.view.titles["acc"] == "Micro-F1 (%)"
    doc.undo_stack.undo()  # one undo step per choice
    assert doc.project.dataset.task == "regress"
