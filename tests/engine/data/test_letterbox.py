"""Letterboxing (``dataset.fit`` pad): the whole image scaled into the input, its aspect kept,
centred on black; the same for tensors, PIL images, the loader and the exported train.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cnnstudio.engine.data.geometry import STRAIGHT, Sizing, fit_image, fit_images, resize_plan
from cnnstudio.engine.data.imagefiles import decode
from cnnstudio.project import DatasetConfig
from cnnstudio.project.config import ConfigError


def test_plan_keeps_the_aspect_ratio():
    # 2:1 (wide) into 32×32: 16×32, the window starts 8 rows above the image
    assert resize_plan(20, 40, (32, 32), None, "pad") == (16, 32, -8, 0)
    assert resize_plan(40, 20, (32, 32), None, "pad") == (32, 16, 0, -8)
    assert resize_plan(30, 30, (32, 32), None, "pad") == (32, 32, 0, 0)
    assert resize_plan(20, 40, (32, 32), None) == (32, 32, 0, 0)  # crop: straight


def test_a_two_to_one_image_is_padded_with_its_content_centred():
    x = torch.full((1, 3, 20, 40), 200, dtype=torch.uint8)
    out = fit_images(x, (3, 32, 32), None, "bilinear", "pad")
    assert out.shape == (1, 3, 32, 32) and out.dtype == torch.uint8
    rows = (out[0, 0] > 0).any(1)
    assert rows.tolist() == [False] * 8 + [True] * 16 + [False] * 8
    assert bool((out[0, :, 8:24, :] == 200).all()) and int(out[0, :, :8].sum()) == 0


def test_tensor_and_pil_paths_agree(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (1, 3, 18, 45), dtype=torch.uint8, generator=g)
    path = tmp_path / "wide.png"
    Image.fromarray(x[0].permute(1, 2, 0).numpy()).save(path)
    from_file = decode(str(path), (3, 24, 24), Sizing(None, "nearest", "pad"))
    from_pil = fit_image(Image.open(path).convert("RGB"), (3, 24, 24), None, "nearest", "pad")
    tensor = fit_images(x, (3, 24, 24), None, "nearest", "pad")[0]
    assert from_file.shape == (3, 24, 24)
    assert (from_file == np.asarray(from_pil).transpose(2, 0, 1)).all()
    # PIL and torch resize alike with nearest; both put the 10 rows of image at rows 7–16
    assert torch.equal(tensor[:, :7], torch.zeros(3, 7, 24, dtype=torch.uint8))
    assert torch.equal((tensor > 0).any(0).any(1), torch.from_numpy(from_file > 0).any(0).any(1))


def test_sizing_fingerprint_unchanged_for_crop():
    """The data fingerprint hashes tuple(sizing): the default fit adds nothing to it."""
    assert tuple(Sizing(36, "bicubic")) == (36, "bicubic")
    assert tuple(Sizing(None, "bilinear", "pad")) == (None, "bilinear", "pad")
    assert Sizing.of(DatasetConfig(fit="pad")) == Sizing(None, "bilinear", "pad") != STRAIGHT


def test_pad_with_resize_is_refused():
    with pytest.raises(ConfigError, match="dataset.resize: letterboxing"):
        DatasetConfig.from_dict({"fit": "pad", "resize": 40}, "dataset")
    assert DatasetConfig.from_dict({"fit": "pad"}, "dataset").to_dict()["fit"] == "pad"
