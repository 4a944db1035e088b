"""The evaluation view's test-time augmentation chooser: the predictions are the TTA ones, the
message shows the accuracy with and without."""

from __future__ import annotations

import os

import pytest

from cnnstudio.app.training.evaluation import TTA_LABELS
from cnnstudio.engine.inference.model import project_model
from cnnstudio.engine.inference.predictions import predict_split
from cnnstudio.engine.training.evaluate import TTA
from tests.app.test_evaluation import evaluated, make_view, trained  # noqa: F401 - a fixture


def test_the_chooser_offers_every_tta():
    assert tuple(TTA_LABELS) == TTA


def test_ten_crop_tta_with_and_without(qtbot, trained):  # noqa: F811
    project, data = trained
    view = make_view(qtbot, project, data)
    plain = evaluated(qtbot, view)
    assert plain.tta == "none" and "TTA" not in view.message
    view.tta_box.setCurrentIndex(view.tta_box.findData("ten_crop"))
    pred = evaluated(qtbot, view)
    assert pred.tta == "ten_crop" and pred.split == plain.split
    expected = predict_split(project_model(project), data, plain.split, tta="ten_crop")
    assert pred.metrics()["accuracy"] == pytest.approx(expected.metrics()["accuracy"])
    top1 = f"ten crops TTA: top-1 {100 * pred.metrics()['top_k']['1']:.1f} %"
    without = f" · no TTA {100 * plain.metrics()['accuracy']:.1f} %"
    assert top1 in view.message and without in view.message, view.message
    shots = os.environ.get("CNNSTUDIO_SHOTS")
    if shots:
        view.grab().save(os.path.join(shots, "evaluation_tta.png"))
