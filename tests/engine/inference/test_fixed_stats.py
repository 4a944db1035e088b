"""The normalisation a photo gets without the data (``probe.fixed_stats``) is the loader's own
for every fixed mode, and "auto" or a flat input say that only the data can tell."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from cnnstudio.engine.data.load import load_data
from cnnstudio.engine.inference import probe
from cnnstudio.engine.inference.model import read_image, to_input
from cnnstudio.project import DatasetConfig
from tests.engine.data import fakes
from tests.engine.inference.test_preprocessing import SETTINGS, photo_set


@pytest.mark.parametrize("normalize", ["custom", "imagenet", "none"])
def test_a_photo_without_the_data_gets_the_loaders_input(tmp_path, normalize) -> None:
    photo_set(tmp_path / "set")
    cfg = DatasetConfig.from_dict({"source": "folder", "path": str(tmp_path / "set"),
                                   **SETTINGS, "normalize": normalize}, "dataset")
    data = load_data(cfg, [3, 28, 28], "cpu")
    stats = probe.fixed_stats((3, 28, 28), cfg)
    assert stats == {"mean": data.mean, "std": data.std}
    photo = tmp_path / "photo.png"
    Image.fromarray(fakes.pattern(5, 1, (120, 90, 3))).save(photo)
    image = probe.read_probe(str(photo), (3, 28, 28), None, cfg)
    assert torch.equal(image, read_image(photo, data))
    assert torch.allclose(probe.probe_input(image, (3, 28, 28), None, stats),
                          to_input(image, data), atol=1e-5)


def test_the_fixed_values_per_mode_and_channel_count() -> None:
    cfg = DatasetConfig.from_dict({"normalize": "imagenet"}, "dataset")
    assert probe.fixed_stats((3, 8, 8), cfg) == {"mean": [0.485, 0.456, 0.406],
                                                 "std": [0.229, 0.224, 0.225]}
    cfg = DatasetConfig.from_dict({"normalize": "none"}, "dataset")
    assert probe.fixed_stats((1, 8, 8), cfg) == {"mean": [0.0], "std": [1.0]}
    cfg = DatasetConfig.from_dict({"normalize": "custom", "mean": [0.3, 0.6, 0.9],
                                   "std": [0.1, 0.2, 0.3]}, "dataset")
    grey = probe.fixed_stats((1, 8, 8), cfg)  # RGB statistics for a grey network: averaged
    assert grey is not None
    assert grey["mean"] == pytest.approx([0.6]) and grey["std"] == pytest.approx([0.2])


def test_only_the_data_can_tell() -> None:
    auto = DatasetConfig()
    assert auto.normalize == "auto" and probe.fixed_stats((3, 8, 8), auto) is None
    fixed = DatasetConfig.from_dict({"normalize": "imagenet"}, "dataset")
    assert probe.fixed_stats((192,), fixed) is None  # a flat input: the images' size is the data's
    assert probe.fixed_stats((4, 8, 8), fixed) is None  # no such images: the loader says why
    assert probe.fixed_stats(None, fixed) is None


def test_unusable_custom_values_are_an_inference_error() -> None:
    cfg = SimpleNamespace(normalize="custom", mean=[0.5, 0.5], std=[0.5, 0.5])
    with pytest.raises(probe.InferenceError, match="dataset.mean"):
        probe.fixed_stats((3, 8, 8), cfg)
