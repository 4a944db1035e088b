"""What the head's outputs are called: the dataset's class names when they fit the head, the
project's own (ImageNet's for a kept pretrained head) otherwise, the same rule for a dropped
photo, a split's predictions and the feature views."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

from cnnstudio.engine.inference import probe
from cnnstudio.engine.inference.model import class_names, project_model, top_k
from cnnstudio.engine.inference.predictions import predict_split
from cnnstudio.graph import graph_from_dict
from cnnstudio.project import Project
from tests.engine.training.fakes import TensorData

IMAGENET_LIKE = [f"category {i}" for i in range(1000)]


def test_the_datas_names_win_when_they_fit_the_head() -> None:
    assert class_names(3, ["cat", "dog", "eel"], ["a", "b", "c"]) == ["cat", "dog", "eel"]


def test_the_projects_names_when_there_is_no_data_or_it_does_not_fit() -> None:
    assert class_names(3, None, ["a", "b", "c"]) == ["a", "b", "c"]
    assert class_names(3, [], ["a", "b", "c"]) == ["a", "b", "c"]
    assert class_names(3, ["0", "1"], ["a", "b", "c"]) == ["a", "b", "c"]


def test_without_fitting_names_the_outputs_past_them_are_numbered() -> None:
    assert class_names(4, ["x", "y"], ["a"]) == ["x", "y", "2", "3"]
    assert class_names(4, None, ["a"]) == ["a", "1", "2", "3"]
    assert class_names(2, ["x", "y", "z"]) == ["x", "y"]
    assert class_names(3) == ["0", "1", "2"]


def thousand_class_project() -> Project:
    """A tiny network with a 1000-class head whose names the project holds, and no data."""
    graph = graph_from_dict({
        "format": "cnnstudio.graph", "version": 1,
        "nodes": [{"id": "input", "type": "Input", "params": {"shape": [3, 8, 8]}},
                  {"id": "flat", "type": "Flatten", "params": {}},
                  {"id": "fc", "type": "Linear", "params": {"out_features": 1000}}]})
    project = Project(graph=graph)
    project.dataset.class_names = list(IMAGENET_LIKE)
    return project


def test_a_photo_on_a_thousand_class_project_without_data_is_named_by_the_project(
        tmp_path) -> None:
    project = thousand_class_project()
    model = project_model(project)
    fc = next(m for m in model.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():  # whatever the photo, output 281 wins
        fc.weight.zero_()
        fc.bias.zero_()
        fc.bias[281] = 12.0
    path = tmp_path / "cat.png"
    Image.fromarray(np.full((20, 30, 3), 128, dtype=np.uint8)).save(path)
    image = probe.read_probe(str(path), (3, 8, 8), None, project.dataset)
    x = probe.probe_input(image, (3, 8, 8))
    names = project.dataset.class_names
    top = top_k(model, x, None, 3, names=names)
    assert top[0][0] == "category 281" and top[0][1] > 0.9
    assert all(name.startswith("category ") for name, _ in top)
    # Data of ten classes (the project's default digits) does not fit a 1000-class head.
    digits = [str(d) for d in range(10)]
    assert top_k(model, x, digits, 1, names=names)[0][0] == "category 281"


def test_a_splits_predictions_take_the_datas_names_when_they_fit() -> None:
    torch.manual_seed(0)
    data = TensorData(n=32, classes=3, val=12)
    data.splits = {"train": data.train, "val": data.val}
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    assert predict_split(model, data, "val", names=["a", "b", "c"]).classes == ["c0", "c1", "c2"]
    wide = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
    named = predict_split(wide, data, "val", names=["a", "b", "c", "d"])
    assert named.classes == ["a", "b", "c", "d"]
