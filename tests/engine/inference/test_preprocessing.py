"""A photo given to a trained model (evaluation, prediction, the feature views) goes through
the same resizing, centre crop, interpolation and normalisation as the training images."""

from __future__ import annotations

import copy

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image

from cnnstudio.engine.data.load import load_data
from cnnstudio.engine.inference import probe
from cnnstudio.engine.inference.model import project_data, read_image, to_input
from cnnstudio.graph import graph_from_dict
from cnnstudio.project import DatasetConfig, Project
from tests.engine.data import fakes

SETTINGS = {"normalize": "custom", "mean": [0.4, 0.5, 0.6], "std": [0.2, 0.25, 0.3],
            "resize": 30, "interpolation": "bicubic", "val_fraction": 0.0}


def photo_set(root):
    """Six RGB photos of different sizes in two class folders."""
    paths = []
    for c, name in enumerate(("cat", "dog")):
        for i in range(3):
            path = root / name / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(fakes.pattern(c, i, (36 + 5 * i, 44 - 3 * i, 3))).save(path)
            paths.append(path)
    return paths


def test_a_training_photo_gives_the_training_input(tmp_path):
    paths = photo_set(tmp_path)
    cfg = DatasetConfig.from_dict({"source": "folder", "path": str(tmp_path), **SETTINGS},
                                  "dataset")
    data = load_data(cfg, [3, 28, 28], "cpu")
    batch, _ = next(data.train.batches(len(paths), shuffle=False, seed=0, epoch=0))
    for i, path in enumerate(paths):  # the training split holds the files in listed order
        image = read_image(path, data)
        assert torch.equal(image, data.train.images([i])[0])
        assert torch.equal(to_input(image, data)[0], batch[i])


def test_a_new_photo_is_resized_cropped_and_normalised(tmp_path):
    photo_set(tmp_path / "set")
    cfg = DatasetConfig.from_dict({"source": "folder", "path": str(tmp_path / "set"),
                                   **SETTINGS}, "dataset")
    data = load_data(cfg, [3, 28, 28], "cpu")
    photo = tmp_path / "photo.png"
    Image.fromarray(fakes.pattern(5, 1, (120, 90, 3))).save(photo)  # portrait
    with Image.open(photo) as im:  # torchvision's ImageClassification, step by step
        tv = TF.center_crop(TF.resize(im, [30], TF.InterpolationMode.BICUBIC), [28, 28])
    expected = torch.from_numpy(np.asarray(tv).copy()).permute(2, 0, 1)
    image = read_image(photo, data)
    assert torch.equal(image, expected)
    mean = torch.tensor(SETTINGS["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(SETTINGS["std"]).view(1, 3, 1, 1)
    assert torch.allclose(to_input(image, data), (expected[None] / 255 - mean) / std,
                          atol=1e-5)
    # the feature views without the data: the project's settings still size the probe
    assert torch.equal(probe.read_probe(str(photo), (3, 28, 28), None, cfg), image)
    assert not torch.equal(probe.read_probe(str(photo), (3, 28, 28)), image)


def test_project_data_carries_the_settings(tmp_path):
    photo_set(tmp_path)
    graph = graph_from_dict({
        "format": "cnnstudio.graph", "version": 1,
        "nodes": [{"id": "input", "type": "Input", "params": {"shape": [3, 28, 28]}},
                  {"id": "flat", "type": "Flatten", "params": {}},
                  {"id": "fc", "type": "Linear", "params": {"out_features": 2}}]})
    cfg = DatasetConfig.from_dict({"source": "folder", "path": ".", **SETTINGS}, "dataset")
    project = Project(name="p", graph=graph, dataset=copy.deepcopy(cfg))
    data = project_data(project, base_dir=tmp_path)
    assert data.sizing == (30, "bicubic") and data.mean == SETTINGS["mean"]
