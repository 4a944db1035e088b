"""Splits, normalisation, input adaptation, batches (exact resume) and storage."""

from __future__ import annotations

import json

import pytest
import torch

from cnnstudio.engine.data import splits
from cnnstudio.engine.data.errors import DatasetError
from cnnstudio.engine.data.load import load_data, split_indices
from cnnstudio.project.config import Augmentation, DatasetConfig

from . import fakes


def everything(split) -> torch.Tensor:
    return split.images(torch.arange(len(split)))


@pytest.fixture(scope="module")
def digits():
    return load_data(DatasetConfig(val_fraction=0.25, test_fraction=0.1), [1, 8, 8], "cpu")


# -- splits ------------------------------------------------------------------------------------

def test_stratified_split_proportions():
    labels = torch.tensor([0] * 30 + [1] * 20 + [2] * 10)
    tr, va, te = split_indices(labels, 3, 0.2, 0.1, seed=5, limit=None)
    assert sorted(torch.cat([tr, va, te]).tolist()) == list(range(60))
    for c, n in enumerate((30, 20, 10)):
        assert int((labels[va] == c).sum()) == round(0.2 * n)
        assert int((labels[te] == c).sum()) == round(0.1 * n)
    again = split_indices(labels, 3, 0.2, 0.1, seed=5, limit=None)
    assert all(torch.equal(a, b) for a, b in zip((tr, va, te), again))
    other = split_indices(labels, 3, 0.2, 0.1, seed=6, limit=None)
    assert not torch.equal(va, other[1])


def test_limit_is_stratified_and_leaves_validation_alone():
    labels = torch.tensor([0] * 40 + [1] * 20 + [2] * 20)
    tr, va, _ = split_indices(labels, 3, 0.25, 0.0, seed=0, limit=None)
    tr_l, va_l, _ = split_indices(labels, 3, 0.25, 0.0, seed=0, limit=12)
    assert torch.equal(va, va_l) and len(tr_l) == 12
    assert torch.bincount(labels[tr_l]).tolist() == [6, 3, 3]
    assert set(tr_l.tolist()) <= set(tr.tolist())


def test_every_class_keeps_a_training_sample():
    labels = torch.tensor([0, 1, 1, 2, 2, 2])
    tr, va, te = split_indices(labels, 3, 0.5, 0.4, seed=0, limit=None)
    assert sorted(set(labels[tr].tolist())) == [0, 1, 2]


def test_digits_split_per_class(digits):
    counts = torch.bincount(digits.train.labels, minlength=10) \
        + torch.bincount(digits.val.labels, minlength=10) \
        + torch.bincount(digits.test.labels, minlength=10)
    for c in range(10):
        n = int(counts[c])
        assert int((digits.val.labels == c).sum()) == int(0.25 * n + 0.5)
        assert int((digits.test.labels == c).sum()) == int(0.1 * n + 0.5)


# -- normalisation -----------------------------------------------------------------------------

def test_auto_normalisation_is_the_training_stats(digits):
    x = everything(digits.train).double() / 255
    assert digits.mean == pytest.approx([x.mean().item()], abs=1e-9)
    assert digits.std == pytest.approx([x.std(unbiased=False).item()], abs=1e-9)
    xs = torch.cat([b for b, _ in digits.train.batches(256, shuffle=False, seed=0, epoch=0)])
    assert xs.mean().item() == pytest.approx(0, abs=1e-5)
    assert xs.std(unbiased=False).item() == pytest.approx(1, abs=1e-4)


def test_imagenet_and_none():
    cfg = DatasetConfig(normalize="imagenet", limit=50)
    rgb = load_data(cfg, [3, 8, 8], "cpu")
    assert rgb.mean == [0.485, 0.456, 0.406] and rgb.std == [0.229, 0.224, 0.225]
    raw = load_data(DatasetConfig(normalize="none", limit=50), [1, 8, 8], "cpu")
    x, _ = next(raw.train.batches(50, shuffle=False, seed=0, epoch=0))
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert torch.allclose(x * 255, everything(raw.train)[:50].float())


# -- input adaptation --------------------------------------------------------------------------

def test_grey_to_rgb_and_resize():
    d = load_data(DatasetConfig(limit=40), [3, 20, 16], "cpu")
    x = everything(d.train)
    assert x.shape[1:] == (3, 20, 16)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])
    xb, _ = next(d.train.batches(8, shuffle=False, seed=0, epoch=0))
    assert xb.shape == (8, 3, 20, 16) and xb.dtype == torch.float32


def test_rgb_to_grey_is_luminance(tmp_path):
    fakes.write_folder(tmp_path, per_class=3, size=(6, 6))
    rgb = load_data(DatasetConfig(source="folder", path=str(tmp_path), normalize="none"),
                    [3, 6, 6], "cpu")
    grey = load_data(DatasetConfig(source="folder", path=str(tmp_path), normalize="none"),
                     [1, 6, 6], "cpu")
    a = everything(rgb.train).float()
    lum = 0.299 * a[:, 0] + 0.587 * a[:, 1] + 0.114 * a[:, 2]
    assert (everything(grey.train)[:, 0].float() - lum).abs().max() <= 1.0


def test_flat_inputs():
    d = load_data(DatasetConfig(limit=30), [64], "cpu")
    x, y = next(d.train.batches(10, shuffle=True, seed=0, epoch=0, augment=True))
    assert x.shape == (10, 64) and y.shape == (10,)
    assert d.image_shape == (1, 8, 8)
    rgb = load_data(DatasetConfig(limit=30), [192], "cpu")  # 3 × 8 × 8: grey → RGB
    assert rgb.image_shape == (3, 8, 8)
    assert next(rgb.train.batches(4, shuffle=False, seed=0, epoch=0))[0].shape == (4, 192)


def test_impossible_adaptations():
    with pytest.raises(DatasetError) as info:
        load_data(DatasetConfig(), [100], "cpu")
    assert str(info.value) == ("the graph takes [100] vectors; these are 8×8 grey images "
                               "(64 values): give the Input shape [1, 8, 8] or [64]")
    with pytest.raises(DatasetError, match="4-channel images"):
        load_data(DatasetConfig(), [4, 8, 8], "cpu")
    with pytest.raises(DatasetError, match="neither an image"):
        load_data(DatasetConfig(), [1, 8], "cpu")


# -- batches -----------------------------------------------------------------------------------

AUGMENT = [Augmentation(n, {}) for n in (
    "random_crop", "horizontal_flip", "rotation", "color_jitter", "gaussian_noise",
    "random_erasing")]


@pytest.fixture(scope="module")
def augmented():
    cfg = DatasetConfig(limit=90, augment=AUGMENT, mixup_alpha=0.4, cutmix_alpha=1.0)
    return load_data(cfg, [3, 12, 12], "cpu")


def collect(split, **kw):
    return list(split.batches(16, shuffle=True, seed=3, augment=True, **kw))


def test_resume_sees_exactly_the_same_batches(augmented):
    split = augmented.train
    full = collect(split, epoch=2)
    assert len(full) == split.num_batches(16) == 6
    for k in (1, 4, 6):
        tail = collect(split, epoch=2, start_batch=k)
        assert len(tail) == len(full) - k
        for (x, y), (x2, y2) in zip(full[k:], tail):
            assert torch.equal(x, x2) and torch.equal(y, y2)
    with pytest.raises(ValueError):
        collect(split, epoch=2, start_batch=7)


def test_order_and_augmentation_follow_seed_and_epoch(augmented):
    split = augmented.train
    a, b = collect(split, epoch=0), collect(split, epoch=0)
    assert all(torch.equal(x, x2) for (x, _), (x2, _) in zip(a, b))
    c = collect(split, epoch=1)
    assert not torch.equal(a[0][0], c[0][0])
    orders = [split.order(shuffle=True, seed=3, epoch=e) for e in (0, 1)]
    assert sorted(orders[0].tolist()) == list(range(len(split)))
    assert not torch.equal(*orders)


def test_every_sample_once_per_epoch(digits):
    split = digits.train
    seen = torch.cat([y for _, y in split.batches(64, shuffle=True, seed=1, epoch=0)])
    assert torch.equal(seen.sort().values, split.labels.sort().values)
    assert split.num_batches(64, drop_last=True) == len(split) // 64
    kept = list(split.batches(64, shuffle=True, seed=1, epoch=0, drop_last=True))
    assert len(kept) == len(split) // 64 and all(len(y) == 64 for _, y in kept)


def test_soft_labels(augmented):
    assert augmented.train.soft_labels
    x, y = collect(augmented.train, epoch=0)[0]
    assert y.shape == (16, 10) and y.dtype == torch.float32
    assert torch.allclose(y.sum(1), torch.ones(16))
    x, y = next(augmented.train.batches(16, shuffle=True, seed=3, epoch=0))  # no augment
    assert y.dtype == torch.int64 and y.shape == (16,)


def test_unaugmented_batches_are_normalised_images(digits):
    split = digits.val
    x, y = next(split.batches(len(split), shuffle=False, seed=0, epoch=0))
    expected = (everything(split).float() / 255 - digits.mean[0]) / digits.std[0]
    assert torch.allclose(x, expected, atol=1e-6)
    assert torch.equal(y, split.labels)


def test_summary_and_fingerprint(digits):
    s = digits.summary()
    json.dumps(s)
    assert s["classes"] == digits.classes and s["input_shape"] == [1, 8, 8]
    assert s["mean"] == digits.mean and s["split"]["val_fraction"] == 0.25
    same = load_data(DatasetConfig(val_fraction=0.25, test_fraction=0.1), [1, 8, 8], "cpu")
    assert same.fingerprint == digits.fingerprint
    other = load_data(DatasetConfig(val_fraction=0.25, test_fraction=0.1, split_seed=1),
                      [1, 8, 8], "cpu")
    assert other.fingerprint != digits.fingerprint


def test_bad_augmentation_parameter_fails_before_loading(tmp_path):
    cfg = DatasetConfig(source="mnist", path=str(tmp_path), download=False,
                        augment=[Augmentation("rotation", {"angle": 10})])
    with pytest.raises(DatasetError, match="augmentation rotation: unknown parameter 'angle'"):
        load_data(cfg, [1, 28, 28], "cpu")


# -- storage -----------------------------------------------------------------------------------

def test_resized_per_batch_matches_stored(tmp_path):
    cfg = DatasetConfig(limit=120, augment=AUGMENT[:3])
    stored = load_data(cfg, [3, 24, 24], "cpu")
    small = load_data(cfg, [3, 24, 24], "cpu", memory_budget=200_000)
    assert stored.storage == "device" and small.storage == "device, resized per batch"
    assert small.train.store.x.shape[1:] == (1, 8, 8)
    assert small.mean == pytest.approx(stored.mean) and small.std == pytest.approx(stored.std)
    for (x, y), (x2, y2) in zip(collect(stored.train, epoch=0), collect(small.train, epoch=0)):
        assert torch.equal(x, x2) and torch.equal(y, y2)


def test_too_big_for_the_budget():
    with pytest.raises(DatasetError, match="set dataset.limit"):
        load_data(DatasetConfig(), [3, 64, 64], "cpu", memory_budget=50_000)


@pytest.mark.parametrize("workers", [0, 1])
def test_lazy_files_match_stored(tmp_path, monkeypatch, workers):
    monkeypatch.setattr(splits, "LAZY_WORKERS", workers)
    fakes.write_folder(tmp_path, per_class=8, size=(10, 10))
    fakes.corrupt_image(tmp_path / "cat" / "zz.png")
    cfg = DatasetConfig(source="folder", path=str(tmp_path), val_fraction=0.25,
                        augment=AUGMENT[:2])
    stored = load_data(cfg, [3, 10, 10], "cpu")
    lazy = load_data(cfg, [3, 10, 10], "cpu", memory_budget=1000)
    assert stored.storage == "device" and lazy.storage == "files"
    assert lazy.skipped == stored.skipped and len(lazy.skipped) == 1
    assert lazy.mean == pytest.approx(stored.mean) and lazy.std == pytest.approx(stored.std)
    assert lazy.fingerprint == stored.fingerprint
    for name in ("train", "val"):
        a = list(stored.splits[name].batches(5, shuffle=True, seed=1, epoch=0, augment=True))
        b = list(lazy.splits[name].batches(5, shuffle=True, seed=1, epoch=0, augment=True,
                                           start_batch=0))
        assert len(a) == len(b)
        assert all(torch.equal(x, x2) and torch.equal(y, y2) for (x, y), (x2, y2) in zip(a, b))


def test_progress_reports_decoding(tmp_path):
    fakes.write_folder(tmp_path, per_class=3, size=(6, 6))
    seen = []
    load_data(DatasetConfig(source="folder", path=str(tmp_path)), [3, 6, 6], "cpu",
              progress=lambda s, d, t: seen.append((s, d, t)))
    assert ("decoding images", 9, 9) in seen
