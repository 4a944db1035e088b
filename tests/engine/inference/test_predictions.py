"""Predictions over a split: the same metrics as the run's evaluation, confusion-matrix cells
that lead back to their samples, and the most confident mistakes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from cnnstudio.engine.inference.predictions import (
    Predictions,
    cell_indices,
    confident_mistakes,
    predict_split,
)
from cnnstudio.engine.training.evaluate import evaluate, predict
from tests.engine.training.fakes import TensorData


def half_trained() -> tuple[nn.Module, TensorData]:
    """A linear classifier a few steps into training: right often, wrong sometimes."""
    torch.manual_seed(0)
    data = TensorData(n=256, classes=3, val=90)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.02)
    for step, (x, y) in enumerate(data.train.batches(32, shuffle=True, seed=0, epoch=0)):
        if step == 5:  # about 80 % right: mistakes left to find
            break
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    data.splits = {"train": data.train, "val": data.val}
    return model, data


@pytest.fixture(scope="module")
def setup() -> tuple[nn.Module, TensorData, Predictions]:
    model, data = half_trained()
    return model, data, predict_split(model, data, "val", batch_size=7)


def test_metrics_equal_evaluate_on_the_same_logits(setup) -> None:
    model, data, pred = setup
    logits, labels = predict(model, data.val.batches(64, shuffle=False, seed=0, epoch=0))
    expected = evaluate(logits, labels, data.classes)
    got = pred.metrics()
    assert torch.allclose(pred.logits, logits, atol=1e-5)
    assert torch.equal(pred.labels, labels)
    assert pred.indices.tolist() == list(range(len(data.val)))
    assert got["confusion"] == expected["confusion"] == pred.confusion().tolist()
    assert got["accuracy"] == pytest.approx(expected["accuracy"])
    assert got["top_k"] == pytest.approx(expected["top_k"])
    for a, b in zip(got["per_class"], expected["per_class"]):
        assert a == pytest.approx(b)
    assert got["split"] == "validation"
    assert torch.allclose(pred.probs.sum(1), torch.ones(len(pred)))
    assert torch.equal(pred.predicted, logits.argmax(1))
    # the test set up a model that makes mistakes, so the checks below mean something
    assert 0.5 < got["accuracy"] < 1.0


def test_cell_indices_match_the_confusion_matrix(setup) -> None:
    _model, data, pred = setup
    confusion = pred.confusion()
    seen: set[int] = set()
    for t in range(3):
        for p in range(3):
            idx = cell_indices(pred, t, p)
            assert len(idx) == int(confusion[t, p])
            assert idx == sorted(idx)
            assert all(int(data.val.labels[i]) == t and int(pred.predicted[i]) == p
                       for i in idx)
            seen.update(idx)
    assert seen == set(range(len(data.val)))  # every sample in exactly one cell


def test_confident_mistakes_are_wrong_and_sorted(setup) -> None:
    _model, data, pred = setup
    wrong = int((pred.predicted != pred.labels).sum())
    rows = confident_mistakes(pred, n=5)
    assert len(rows) == min(5, wrong) > 0
    conf = [c for *_rest, c in rows]
    assert conf == sorted(conf, reverse=True)
    for index, true, predicted, c in rows:
        assert true != predicted
        assert true == int(data.val.labels[index])
        assert c == pytest.approx(float(pred.probs[index, predicted]))
        assert predicted == int(pred.probs[index].argmax())
    everything = confident_mistakes(pred, n=10_000)
    assert len(everything) == wrong
    assert everything[:5] == rows
    # no mistake left out is more confident than the last one listed
    assert all(c <= conf[-1] + 1e-7 for *_r, c in everything[5:])


def test_a_perfect_model_has_no_mistakes_and_a_missing_split_is_an_error() -> None:
    labels = torch.tensor([0, 1, 2, 1])
    pred = Predictions(torch.eye(3)[labels] * 5, labels, torch.arange(4), ["a", "b", "c"])
    assert confident_mistakes(pred) == []
    assert pred.metrics()["accuracy"] == 1.0
    data = SimpleNamespace(splits={}, classes=["a"])
    with pytest.raises(ValueError, match="no test split"):
        predict_split(nn.Linear(1, 1), data, "test")
