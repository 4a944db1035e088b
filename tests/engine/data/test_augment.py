"""Every augmentation: changes images, keeps shapes and dtypes, is random per sample and
reproducible for the same seed; Mixup/CutMix soft labels; parameter errors; the preview."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnstudio.engine.data.augment.pipeline import (
    STEPS,
    Draw,
    Pipeline,
    make_step,
    mix,
)
from cnnstudio.engine.data.errors import DatasetError
from cnnstudio.engine.data.load import load_data
from cnnstudio.engine.data.preview import preview_from_config, preview_grid
from cnnstudio.project.config import AUGMENTATIONS, Augmentation, DatasetConfig

# flips and erasing default to p = 0.5; these tests want every sample touched
ALWAYS = {"horizontal_flip": {"p": 1.0}, "vertical_flip": {"p": 1.0},
          "random_erasing": {"p": 1.0}}


def test_every_configured_name_is_implemented():
    assert set(STEPS) == set(AUGMENTATIONS)


@pytest.fixture(scope="module")
def digits_rgb():
    return load_data(DatasetConfig(limit=48, val_fraction=0.0), [3, 16, 16], "cpu")


def batch(data, **kw):
    return next(data.train.batches(48, shuffle=False, seed=0, augment=True, **kw))[0]


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_each_augmentation(digits_rgb, name):
    """With its default parameters, on a batch of 48."""
    data = digits_rgb
    data.train.pipeline = Pipeline([Augmentation(name, {})], (3, 16, 16), num_classes=10)
    plain = next(data.train.batches(48, shuffle=False, seed=0, epoch=0))[0]
    a, again = batch(data, epoch=0), batch(data, epoch=0)
    other = batch(data, epoch=1)
    assert a.shape == plain.shape == (48, 3, 16, 16) and a.dtype == torch.float32
    assert not torch.equal(a, plain), "changes the images"
    assert torch.equal(a, again), "same (seed, epoch): same result"
    assert not torch.equal(a, other), "another epoch: another draw"
    # per sample, not per batch: how much an image changes varies between samples
    change = (a - plain).abs().flatten(1).mean(1)
    assert change.std() > 1e-4


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_pipeline_takes_uint8_or_float(dtype):
    steps = [Augmentation(n, ALWAYS.get(n, {})) for n in sorted(AUGMENTATIONS)]
    pipe = Pipeline(steps, (3, 12, 10), num_classes=4)
    x = torch.randint(0, 256, (6, 3, 12, 10), dtype=torch.uint8)
    x = x if dtype == torch.uint8 else x.float() / 255
    y = torch.arange(6) % 4
    out, y2 = pipe(x, y, seed=7)
    assert out.dtype == torch.float32 and out.shape == (6, 3, 12, 10)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.equal(y2, y)
    assert torch.equal(pipe(x, y, seed=7)[0], out)


def test_grey_images_take_colour_jitter():
    pipe = Pipeline([Augmentation("color_jitter", {"hue": 0.3})], (1, 8, 8), num_classes=2)
    x = torch.rand(5, 1, 8, 8)
    out, _ = pipe(x, torch.zeros(5, dtype=torch.int64), seed=0)
    assert out.shape == x.shape and not torch.equal(out, x)


@pytest.mark.parametrize("name,axis", [("horizontal_flip", -1), ("vertical_flip", -2)])
def test_flips_are_per_sample(name, axis):
    x = torch.arange(64, dtype=torch.float32).view(1, 1, 8, 8).repeat(64, 1, 1, 1) / 64
    out = make_step(name)(x, Draw(11, "cpu"))
    flipped = torch.tensor([torch.equal(o, x[0].flip(axis)) for o in out])
    same = torch.tensor([torch.equal(o, x[0]) for o in out])
    assert bool((flipped | same).all())
    assert 10 < int(flipped.sum()) < 54  # about half, in one batch


def test_probability_applies_per_sample():
    x = torch.rand(40, 3, 8, 8)
    out = make_step("gaussian_noise", {"p": 0.5, "std": 0.2})(x, Draw(0, "cpu"))
    touched = [(o != i).any().item() for o, i in zip(out, x)]
    assert 5 < sum(touched) < 35


def test_random_crop_is_pad_and_crop():
    x = torch.rand(16, 3, 8, 8)
    out = make_step("random_crop", {"padding": 2})(x, Draw(3, "cpu"))
    # each output is the image shifted by at most 2 pixels, zeros elsewhere
    for o, i in zip(out, x):
        found = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                shifted = torch.zeros_like(i)
                src = i[:, max(0, dy):8 + min(0, dy), max(0, dx):8 + min(0, dx)]
                shifted[:, max(0, -dy):8 + min(0, -dy), max(0, -dx):8 + min(0, -dx)] = src
                found |= torch.equal(shifted, o)
        assert found
    smaller = make_step("random_crop", {"size": 6, "padding_mode": "reflect"})
    smaller.bind((3, 8, 8))
    assert smaller(x, Draw(0, "cpu")).shape == x.shape


def test_rotation_by_90_degrees_is_exact():
    x = torch.rand(2, 1, 6, 6)
    step = make_step("rotation", {"degrees": [90, 90]})
    out = step(x, Draw(0, "cpu"))
    assert torch.allclose(out, torch.rot90(x, 1, (2, 3)), atol=1e-5)  # counter-clockwise


def test_mixup_and_cutmix_soft_labels_match_the_pixels():
    """Image i is constant i / 8 with class i: each output's mean pixel must equal the soft
    label's weighted mean of the class values, and the soft labels sum to 1."""
    b = 8
    values = torch.arange(b, dtype=torch.float32) / b
    x = values.view(b, 1, 1, 1).expand(b, 3, 16, 16).contiguous()
    y = torch.arange(b)
    for mixup, cutmix in ((0.4, 0.0), (0.0, 1.0), (0.5, 0.5)):
        out, soft = mix(x, y, b, mixup, cutmix, Draw(5, "cpu"))
        assert soft.shape == (b, b) and torch.allclose(soft.sum(1), torch.ones(b))
        assert torch.allclose(out.mean((1, 2, 3)), soft @ values, atol=1e-5)
        assert not torch.equal(out, x)


def test_parameter_errors_name_the_augmentation_and_parameter():
    with pytest.raises(DatasetError, match=r"augmentation affine: unknown parameter 'zoom' "
                                           r"\(it takes degrees, translate"):
        make_step("affine", {"zoom": 2})
    with pytest.raises(DatasetError, match="augmentation gaussian_blur: kernel_size must be odd"):
        make_step("gaussian_blur", {"kernel_size": 4})
    with pytest.raises(DatasetError, match="augmentation color_jitter: brightness"):
        make_step("color_jitter", {"brightness": "lots"})
    with pytest.raises(DatasetError, match="augmentation random_erasing: value"):
        make_step("random_erasing", {"value": 3})
    with pytest.raises(DatasetError, match="augmentation horizontal_flip: p must be in"):
        make_step("horizontal_flip", {"p": 2})
    with pytest.raises(DatasetError, match="random_crop: size 20×20 is larger"):
        Pipeline([Augmentation("random_crop", {"size": 20})], (3, 8, 8), num_classes=2)


def test_preview_grid(digits_rgb):
    data = digits_rgb
    data.train.pipeline = Pipeline([Augmentation("rotation", {})], (3, 16, 16), num_classes=10)
    grid = preview_grid(data, n=16, seed=0)
    assert grid.shape == (4 * 16 + 5 * 2, 4 * 16 + 5 * 2, 3) and grid.dtype == np.uint8
    assert np.array_equal(grid, preview_grid(data.train, n=16, seed=0))
    assert not np.array_equal(grid, preview_grid(data, n=16, seed=1))
    big = preview_grid(data, n=5, seed=0, scale=3)
    assert big.shape == (2 * 48 + 3 * 2, 3 * 48 + 4 * 2, 3)


def test_preview_from_config_for_the_command_line(tmp_path):
    from PIL import Image

    cfg = DatasetConfig(augment=[Augmentation("horizontal_flip", {})])
    grid = preview_from_config(cfg, [1, 8, 8], n=9)
    assert grid.shape == (3 * 96 + 4 * 2, 3 * 96 + 4 * 2, 3)  # 8×8 enlarged 12×
    Image.fromarray(grid).save(tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").size == (grid.shape[1], grid.shape[0])
