"""Stratified k-fold splits: the folds of one split seed are disjoint and cover the non-test
data, stratified per class; the test share is the one a plain split holds out; the config
refuses impossible folds; the digits set in five folds validates on a fifth each time."""

from __future__ import annotations

import pytest
import torch

from cnnstudio.engine.data.load import load_data, split_indices
from cnnstudio.project.config import ConfigError, DatasetConfig

LABELS = torch.tensor([0] * 23 + [1] * 11 + [2] * 7 + [3] * 2)


def test_folds_are_disjoint_stratified_and_cover_the_non_test_data():
    k = 4
    splits = [split_indices(LABELS, 4, 0.2, 0.1, seed=3, limit=None, folds=k, fold=f)
              for f in range(k)]
    plain_test = split_indices(LABELS, 4, 0.2, 0.1, seed=3, limit=None)[2]
    vals = [va for _, va, _ in splits]
    for tr, va, te in splits:
        assert torch.equal(te, plain_test)  # the test share is drawn as without folds
        assert sorted(torch.cat([tr, va, te]).tolist()) == list(range(len(LABELS)))
    pooled = torch.cat(vals).tolist()
    assert len(pooled) == len(set(pooled))  # disjoint
    assert sorted(pooled + plain_test.tolist()) == list(range(len(LABELS)))  # cover
    for c in range(4):
        per_fold = [int((LABELS[va] == c).sum()) for va in vals]
        assert max(per_fold) - min(per_fold) <= 1, (c, per_fold)
    sizes = [len(va) for va in vals]
    assert max(sizes) - min(sizes) <= 1  # each class starts where the last stopped
    again = split_indices(LABELS, 4, 0.2, 0.1, seed=3, limit=None, folds=k, fold=2)
    assert all(torch.equal(a, b) for a, b in zip(splits[2], again))
    other = split_indices(LABELS, 4, 0.2, 0.1, seed=4, limit=None, folds=k, fold=2)
    assert not torch.equal(other[1], splits[2][1])


def test_limit_applies_to_the_training_folds():
    tr, va, _ = split_indices(LABELS, 4, 0.2, 0.0, seed=0, limit=None, folds=3, fold=1)
    tr_l, va_l, _ = split_indices(LABELS, 4, 0.2, 0.0, seed=0, limit=10, folds=3, fold=1)
    assert torch.equal(va, va_l) and len(tr_l) == 10 and set(tr_l.tolist()) <= set(tr.tolist())


def test_the_config_refuses_one_fold_and_a_fold_past_the_last():
    assert DatasetConfig.from_dict({}, "dataset").folds == 0  # old projects: off
    assert DatasetConfig.from_dict({"folds": 5, "fold": 4}, "dataset").fold == 4
    with pytest.raises(ConfigError, match=r"dataset\.folds: .*at least 2 folds"):
        DatasetConfig.from_dict({"folds": 1}, "dataset")
    with pytest.raises(ConfigError, match=r"dataset\.fold: must be below folds \(3\), found 3"):
        DatasetConfig.from_dict({"folds": 3, "fold": 3}, "dataset")
    with pytest.raises(ConfigError, match=r"dataset\.folds: must be at most 20"):
        DatasetConfig.from_dict({"folds": 21}, "dataset")
    # val_fraction does not count with folds: no "must leave training data"
    DatasetConfig.from_dict({"folds": 2, "val_fraction": 0.9, "test_fraction": 0.5}, "dataset")


def test_digits_in_five_folds_validate_on_a_fifth_each():
    seen: list[torch.Tensor] = []
    for fold in (0, 3):
        data = load_data(DatasetConfig(folds=5, fold=fold), [1, 8, 8], "cpu")
        n = len(data.train) + len(data.val)
        assert len(data.val) / n == pytest.approx(0.2, abs=0.002)
        assert data.test is None
        assert "val_fraction is not used: validation is fold " \
               f"{fold} of 5 (cross-validation)" in data.notes
        split = data.summary()["split"]
        assert (split["folds"], split["fold"]) == (5, fold)
        seen.append(data.val.images(torch.arange(len(data.val))))
    assert seen[0].shape != seen[1].shape or not torch.equal(seen[0], seen[1])
