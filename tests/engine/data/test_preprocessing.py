"""The preprocessing pretrained weights bring: custom mean and std, resizing the shorter side
then taking the centre crop, the interpolation; for image files and in-memory sets alike, and
the defaults exactly as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image

from cnnstudio.engine.data import splits
from cnnstudio.engine.data.errors import DatasetError
from cnnstudio.engine.data.geometry import Sizing, resize_plan
from cnnstudio.engine.data.imagefiles import decode
from cnnstudio.engine.data.load import load_data
from cnnstudio.project.config import DatasetConfig

from . import fakes


def everything(split) -> torch.Tensor:
    return split.images(torch.arange(len(split)))


def first_batch(data, name: str = "train") -> torch.Tensor:
    split = data.splits[name]
    return next(split.batches(len(split), shuffle=False, seed=0, epoch=0))[0]


def marked(path: Path, width: int = 40, height: int = 30) -> Path:
    """A grey image: a 2-pixel white border, a light 4×4 square (200) in the middle, black
    elsewhere, and a dark gradient row (0–100) so that the interpolation shows."""
    a = np.zeros((height, width), np.uint8)
    a[:2], a[-2:], a[:, :2], a[:, -2:] = 255, 255, 255, 255
    a[height // 2 - 2:height // 2 + 2, width // 2 - 2:width // 2 + 2] = 200
    a[height // 2 + 4, 2:-2] = np.linspace(0, 100, width - 4).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a, "L").save(path)
    return path


def folder(root: Path) -> Path:
    for name in ("a", "b"):
        for i in range(3):
            marked(root / name / f"{i}.png", 40 + 2 * i, 30)
    return root


# -- custom mean and std -----------------------------------------------------------------------

def test_custom_mean_and_std_are_applied_exactly():
    cfg = DatasetConfig(normalize="custom", mean=[0.3], std=[0.2], limit=50)
    d = load_data(cfg, [1, 8, 8], "cpu")
    assert (d.mean, d.std) == ([0.3], [0.2]) and d.summary()["normalize"] == "custom"
    expected = (everything(d.train).double() / 255 - 0.3) / 0.2
    assert torch.allclose(first_batch(d).double(), expected, atol=1e-5)


def test_custom_values_adapt_to_the_images_channels():
    rgb_values = DatasetConfig(normalize="custom", mean=[0.5, 0.4, 0.3], std=[0.1, 0.2, 0.3],
                               limit=30)
    grey = load_data(rgb_values, [1, 8, 8], "cpu")
    assert grey.mean == pytest.approx([0.4]) and grey.std == pytest.approx([0.2])
    assert any("averaged" in n for n in grey.notes)
    one = DatasetConfig(normalize="custom", mean=[0.5], std=[0.25], limit=30)
    rgb = load_data(one, [3, 8, 8], "cpu")
    assert rgb.mean == [0.5] * 3 and rgb.std == [0.25] * 3
    assert any("repeated" in n for n in rgb.notes)


def test_custom_without_values_is_a_dataset_error():
    cfg = DatasetConfig(limit=30)
    cfg.normalize = "custom"  # past the config's own check, as a hand-made object can be
    with pytest.raises(DatasetError, match="dataset.mean"):
        load_data(cfg, [1, 8, 8], "cpu")


# -- resize the shorter side, then the centre crop -----------------------------------------------

def test_resize_plan_is_torchvisions_arithmetic():
    assert resize_plan(30, 40, (28, 28), 32) == (32, 42, 2, 7)  # 40 · 32/30 = 42.67
    assert resize_plan(40, 30, (28, 28), 32) == (42, 32, 7, 2)
    assert resize_plan(500, 375, (224, 224), 256) == (341, 256, 58, 16)
    assert resize_plan(30, 40, (28, 28), None) == (28, 28, 0, 0)


def test_shorter_side_then_centre_crop_on_a_file(tmp_path):
    path = marked(tmp_path / "m.png")  # 40 wide, 30 high
    image = decode(str(path), (1, 28, 28), Sizing(32, "nearest"))[0]
    # resized to 42×32: the 2-pixel border (2.1 there) lies outside the crop at (2, 7)
    assert image.shape == (28, 28)
    assert image[0].max() < 255 and image[-1].max() < 255
    assert image[:, 0].max() < 255 and image[:, -1].max() < 255
    # the grey square stays in the middle of the crop
    rows, cols = np.nonzero(image == 200)
    assert (rows.min() + rows.max()) / 2 == pytest.approx(13.5, abs=1)
    assert (cols.min() + cols.max()) / 2 == pytest.approx(13.5, abs=1)
    # exactly PIL's resize to 42×32 and the crop at (top 2, left 7), as torchvision does it
    with Image.open(path) as im:
        expected = np.asarray(im.resize((42, 32), Image.Resampling.NEAREST))[2:30, 7:35]
        tv = TF.center_crop(TF.resize(im, [32], TF.InterpolationMode.NEAREST), [28, 28])
    assert np.array_equal(image, expected) and np.array_equal(image, np.asarray(tv))
    # straight to the size, the border shows at every edge
    straight = decode(str(path), (1, 28, 28), Sizing(None, "nearest"))[0]
    assert straight[0].min() == 255 and straight[:, 0].min() == 255
    assert straight[-1].min() == 255 and straight[:, -1].min() == 255


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
def test_files_match_torchvisions_preprocessing(tmp_path, mode):
    path = tmp_path / "photo.png"
    Image.fromarray(fakes.pattern(1, 2, (50, 37, 3))).save(path)
    ours = decode(str(path), (3, 24, 24), Sizing(27, mode))
    with Image.open(path) as im:
        tv = TF.center_crop(TF.resize(im.convert("RGB"), [27], TF.InterpolationMode[mode.upper()]),
                            [24, 24])
    assert np.array_equal(ours, np.asarray(tv).transpose(2, 0, 1))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
def test_in_memory_sets_match_torchvisions_preprocessing(mode):
    cfg = DatasetConfig(normalize="none", limit=40, resize=12, interpolation=mode)
    d = load_data(cfg, [1, 10, 10], "cpu")
    raw = load_data(DatasetConfig(normalize="none", limit=40), [1, 8, 8], "cpu")
    resized = TF.resize(everything(raw.train), [12], TF.InterpolationMode[mode.upper()],
                        antialias=True)
    assert torch.equal(everything(d.train), TF.center_crop(resized, [10, 10]))
    assert d.summary()["resize"] == 12 and d.summary()["interpolation"] == mode


def test_nearest_and_bilinear_differ(tmp_path):
    root = folder(tmp_path / "set")
    common = {"source": "folder", "path": str(root), "normalize": "none", "resize": 32}
    near = load_data(DatasetConfig(**common, interpolation="nearest"), [1, 28, 28], "cpu")
    bil = load_data(DatasetConfig(**common), [1, 28, 28], "cpu")
    a, b = everything(near.train), everything(bil.train)
    assert a.shape == b.shape and not torch.equal(a, b)
    source_values = set()
    for p in root.glob("*/*.png"):
        with Image.open(p) as im:
            source_values |= set(np.unique(np.asarray(im)).tolist())
    assert set(torch.unique(a).tolist()) <= source_values  # nearest only picks pixels
    assert not set(torch.unique(b).tolist()) <= source_values  # bilinear blends them
    assert near.fingerprint != bil.fingerprint


def test_resize_must_cover_the_crop(tmp_path):
    with pytest.raises(DatasetError, match="dataset.resize: .* at least 28"):
        load_data(DatasetConfig(resize=20), [1, 28, 28], "cpu")


def test_every_storage_resizes_alike(tmp_path, monkeypatch):
    """Stored at the graph's size, resized per batch, and decoded per batch from the files."""
    cfg = DatasetConfig(limit=60, resize=13, interpolation="bicubic")
    stored = load_data(cfg, [3, 12, 12], "cpu")
    small = load_data(cfg, [3, 12, 12], "cpu", memory_budget=30_000)
    assert small.storage == "device, resized per batch"
    assert torch.equal(first_batch(stored), first_batch(small))
    monkeypatch.setattr(splits, "LAZY_WORKERS", 0)
    files = DatasetConfig(source="folder", path=str(folder(tmp_path / "f")), resize=30,
                          interpolation="bicubic", val_fraction=0.0)
    on_device = load_data(files, [3, 28, 28], "cpu")
    lazy = load_data(files, [3, 28, 28], "cpu", memory_budget=1000)
    assert lazy.storage == "files"
    assert torch.equal(first_batch(on_device), first_batch(lazy))


# -- the defaults are what they always were ------------------------------------------------------

def test_defaults_resize_as_before(tmp_path):
    fakes.write_folder(tmp_path, per_class=3, size=(9, 13))
    d = load_data(DatasetConfig(source="folder", path=str(tmp_path), normalize="none",
                                val_fraction=0.0), [3, 6, 7], "cpu")
    paths = sorted(tmp_path.glob("*/*.png"))
    with_pil = []
    for p in paths:  # what decoding always did: PIL's bilinear straight to (W, H)
        with Image.open(p) as im:
            im = im.convert("RGBA").convert("RGB") if im.mode == "P" else im.convert("RGB")
            with_pil.append(np.asarray(im.resize((7, 6), Image.Resampling.BILINEAR)))
    expected = torch.from_numpy(np.stack(with_pil)).permute(0, 3, 1, 2)
    got = everything(d.train)
    assert sorted(map(bytes, got.flatten(1).numpy())) == \
        sorted(map(bytes, expected.flatten(1).numpy()))
    arrays = load_data(DatasetConfig(normalize="none", limit=40), [1, 11, 9], "cpu")
    raw = load_data(DatasetConfig(normalize="none", limit=40), [1, 8, 8], "cpu")
    assert torch.equal(everything(arrays.train), TF.resize(everything(raw.train), [11, 9],
                                                           antialias=True))


def test_fingerprints_of_earlier_runs_stay_and_settings_change_them():
    default = load_data(DatasetConfig(), [1, 8, 8], "cpu")
    # computed by the code before these settings existed: a run's cache stays valid
    assert default.fingerprint == "c38a2564a45dad96ff7f98cc663e3320"
    seen = {default.fingerprint}
    for changes in ({"resize": 8}, {"resize": 9}, {"interpolation": "nearest"},
                    {"normalize": "custom", "mean": [0.5], "std": [0.25]},
                    {"normalize": "custom", "mean": [0.5], "std": [0.3]}):
        seen.add(load_data(DatasetConfig(**changes), [1, 8, 8], "cpu").fingerprint)
    assert len(seen) == 6
