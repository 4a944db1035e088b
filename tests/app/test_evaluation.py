"""The evaluation view on a LeNet-5 trained 2 epochs on digits: its confusion matrix is the
run's, a cell lists exactly its images, and a dropped image gets its top-5 classes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PIL import Image
from PySide6.QtCore import QMimeData, Qt, QUrl

from cnnstudio.app.document import Document
from cnnstudio.app.training.controller import TrainingController
from cnnstudio.app.training.evaluation import EvaluationView
from cnnstudio.engine import checkpoint as ckpt
from cnnstudio.engine.inference.model import project_data, project_model
from cnnstudio.engine.inference.predictions import confident_mistakes
from cnnstudio.engine.training.session import Session
from cnnstudio.project import load_project

PROJECT = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


@pytest.fixture(scope="module")
def trained():
    project = load_project(PROJECT)
    project.training.epochs = 2
    project.dataset.limit = 600  # 600 training images: seconds
    data = project_data(project)
    for _event in Session(project, None, data=data).events():
        pass
    assert project.runs[-1].status == "finished"
    return project, data


@pytest.fixture(scope="module")
def model_preds(trained):
    """The trained model's own answers on the validation split, computed here directly."""
    project, data = trained
    model = project_model(project)
    split = data.val
    with torch.no_grad():
        logits = model(split.normalize(split.images(torch.arange(len(split)))))
    return logits.argmax(1), split.labels.cpu()


def make_view(qtbot, project, data=None):
    doc = Document(project)
    controller = TrainingController(doc)
    controller.data = data
    view = EvaluationView(doc, controller)
    qtbot.addWidget(view)
    view.resize(1300, 520)
    view.show()
    return view


def evaluated(qtbot, view):
    with qtbot.waitSignal(view.evaluated, timeout=60000):
        assert view.evaluate_now()
    return view.predictions


def test_matrix_equals_the_predictions_and_the_runs_evaluation(qtbot, trained) -> None:
    project, data = trained
    view = make_view(qtbot, project, data)
    pred = evaluated(qtbot, view)
    stored = project.runs[-1].evaluation
    assert stored["split"] == "validation" and pred.split == "val"
    counts = view.confusion_counts()
    assert counts == pred.confusion().tolist() == stored["confusion"]
    assert sum(map(sum, counts)) == len(data.val) == 359
    assert sum(counts[i][i] for i in range(10)) < 359  # mistakes to look at
    m = pred.metrics()
    assert m["accuracy"] == pytest.approx(stored["accuracy"])
    assert f"top-5 {100 * stored['top_k']['5']:.1f} %" in view.message
    table = view.per_class  # class 3's row and the macro average
    assert table.item(3, 0).text() == "3"
    assert table.item(3, 3).text() == f"{stored['per_class'][3]['f1']:.3f}"
    assert table.item(3, 4).text() == str(stored["per_class"][3]["support"])
    assert table.item(10, 1).text() == f"{stored['macro']['precision']:.3f}"
    names = [c.name() for c in view.roc.curves]
    assert names == [f"{c} (AUC {r['auc']:.3f})" for c, r in zip(data.classes, stored["roc"])]
    assert view.roc.curves[4].getData()[0].tolist() == pytest.approx(stored["roc"][4]["fpr"])


def test_clicking_a_cell_lists_exactly_its_images(qtbot, trained, model_preds) -> None:
    project, data = trained
    predicted, labels = model_preds
    view = make_view(qtbot, project, data)
    pred = evaluated(qtbot, view)
    confusion = pred.confusion().clone()
    confusion.fill_diagonal_(0)
    t, p = divmod(int(confusion.argmax()), 10)  # the most frequent mistake
    assert t != p and confusion[t, p] > 0
    index = view.matrix_model.index(t, p)
    qtbot.mouseClick(view.matrix.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.matrix.visualRect(index).center())
    expected = [i for i in range(len(labels)) if labels[i] == t and predicted[i] == p]
    assert view.strip.indices() == expected
    assert view.strip.count() == view.confusion_counts()[t][p]
    assert f"True {t}, predicted {p}: {len(expected)} mistaken image" in view.cell_label.text()
    view.show_cell(t, t)  # a diagonal cell: the correct ones
    assert view.strip.indices() == [i for i in range(len(labels))
                                    if labels[i] == t and predicted[i] == t]
    rows = confident_mistakes(pred, 24)
    assert view.mistakes.indices() == [r[0] for r in rows]
    i, true, guess, conf = rows[0]
    assert view.mistakes.captions()[0] == f"{true} → {guess} ({conf:.2f})"
    assert predicted[i] == guess != labels[i] == true


def test_another_split_and_after_a_run(qtbot, trained) -> None:
    project, data = trained
    view = make_view(qtbot, project, data)
    evaluated(qtbot, view)
    box = view.split_box
    assert [box.itemData(i) for i in range(box.count())] == ["train", "val"]
    box.setCurrentIndex(box.findData("train"))
    pred = evaluated(qtbot, view)
    assert pred.split == "train" and sum(map(sum, view.confusion_counts())) == 600
    # the run's end evaluates by itself; during a run, the run's latest weights are used
    with qtbot.waitSignal(view.evaluated, timeout=60000):
        view.controller.finished.emit(SimpleNamespace(status="finished"))
    controller = view.controller
    controller.state = "running"
    controller.last_weights = ckpt.from_bytes(project.weights[project.current_weights])
    try:
        assert evaluated(qtbot, view).confusion().tolist() == view.confusion_counts()
        assert "the run in progress" in view.message
    finally:
        controller.state = "idle"


def test_a_png_gets_its_class_in_the_top_5(qtbot, trained, model_preds, tmp_path) -> None:
    project, data = trained
    predicted, labels = model_preds
    view = make_view(qtbot, project, data)
    i = next(j for j in range(len(labels)) if predicted[j] == labels[j] == 7)
    image = data.val.images([i])[0, 0].cpu().numpy()
    path = tmp_path / "seven.png"
    Image.fromarray(image).save(path)
    with qtbot.waitSignal(view.predicted, timeout=60000):
        assert view.predict_file(str(path))
    top = view.last_prediction
    assert len(top) == 5 and top[0][0] == "7"
    assert [p for _c, p in top] == sorted((p for _c, p in top), reverse=True)
    assert "7" in [c for c, _p in top] and sum(p for _c, p in top) <= 1.0 + 1e-6
    assert view.tabs.currentWidget() is view.topk
    assert view.topk.names[0].text() == "<b>7</b>"
    assert view.topk.bars[0].value() == round(top[0][1] * 1000)
    # a drop of the same file does the same; a text file is refused with one line
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    assert view.accepts_drop(mime)
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image\nat all\n")
    mime.setUrls([QUrl.fromLocalFile(str(notes))])
    assert not view.accepts_drop(mime)
    view.last_prediction = None
    assert view.drop_files([str(notes)])
    qtbot.waitUntil(lambda: "cannot read notes.txt" in view.message, timeout=60000)
    assert "\n" not in view.message and view.last_prediction is None
    with qtbot.waitSignal(view.predicted, timeout=60000):
        assert view.drop_files([str(path)])
    assert view.last_prediction == top


def test_before_any_weights_a_clear_message(qtbot) -> None:
    view = make_view(qtbot, load_project(PROJECT))
    assert not view.evaluate_now()
    assert "No trained weights yet" in view.message
    assert view.pages.currentIndex() == 0 and "train the network" in view.placeholder.text()
    assert not view.predict_file(str(PROJECT))
    assert not view.jobs.busy and not view.image_jobs.busy


def test_a_run_from_the_window_is_evaluated_when_it_ends(qtbot) -> None:
    project = load_project(PROJECT)
    project.training.epochs = 1
    project.dataset.limit = 300
    view = make_view(qtbot, project)
    assert "No trained weights yet" in view.message
    with qtbot.waitSignal(view.evaluated, timeout=120000):
        assert view.controller.train()
    run = project.runs[-1]
    assert view.controller.wait(60000)
    assert view.confusion_counts() == run.evaluation["confusion"]
    # the data the run loaded was used again, not loaded a second time
    assert view.cache.data is view.controller.session.trainer.data
