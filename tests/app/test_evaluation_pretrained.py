"""A photo dropped on a pretrained-style project (fixed normalisation, the project's own class
names for its head) is predicted from the settings alone: its dataset is never loaded, here a
folder that is not on this machine. "auto" normalisation still needs the data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image

from cnnstudio.app.document import Document
from cnnstudio.app.training.controller import TrainingController
from cnnstudio.app.training.evaluation import EvaluationView
from cnnstudio.engine import checkpoint as ckpt
from cnnstudio.engine.build import to_module
from cnnstudio.graph import graph_from_dict
from cnnstudio.project import DatasetConfig, Project

NAMES = [f"breed {i}" for i in range(12)]
MEAN, STD = [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
KEY = "weights/pretrained.safetensors"


def pretrained_style(tmp_path, normalize: str = "custom", names=NAMES) -> Project:
    """A small RGB network with a 12-class head, weights stored as current, the weights'
    preprocessing as the data settings and a folder dataset that does not exist."""
    graph = graph_from_dict({
        "format": "cnnstudio.graph", "version": 1,
        "nodes": [{"id": "input", "type": "Input", "params": {"shape": [3, 16, 16]}},
                  {"id": "conv", "type": "Conv2d", "params": {"out_channels": 4,
                                                              "kernel_size": 3}},
                  {"id": "relu", "type": "ReLU", "params": {}},
                  {"id": "flat", "type": "Flatten", "params": {}},
                  {"id": "fc", "type": "Linear", "params": {"out_features": 12}}]})
    torch.manual_seed(0)
    model = to_module(graph)
    with torch.no_grad():  # spread the answers so that the top 5 differ clearly
        model.get_submodule("fc").weight.mul_(8)
    project = Project(name="pretrained", graph=graph)
    project.dataset = DatasetConfig.from_dict(
        {"source": "folder", "path": str(tmp_path / "not-on-this-machine"),
         "normalize": normalize, "mean": MEAN, "std": STD, "resize": 20,
         "interpolation": "bicubic", "class_names": list(names)}, "dataset")
    project.weights[KEY] = ckpt.to_bytes(model.state_dict())
    project.current_weights = KEY
    return project


def make_view(qtbot, project):
    doc = Document(project)
    view = EvaluationView(doc, TrainingController(doc))
    qtbot.addWidget(view)
    view.resize(1100, 500)
    view.show()
    return view


def photo(tmp_path):
    """A 40×30 RGB photo, and the 16×16 image training would make of it (torchvision's
    resize of the shorter side to 20, bicubic, then the centre crop), uint8 [3, 16, 16]."""
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    path = tmp_path / "cat.png"
    Image.fromarray(pixels).save(path)
    with Image.open(path) as im:
        tv = TF.center_crop(TF.resize(im, [20], TF.InterpolationMode.BICUBIC), [16, 16])
    return path, torch.from_numpy(np.asarray(tv).copy()).permute(2, 0, 1)


def expected_top5(project, image, mean, std):
    """The stored weights' own softmax on the image normalised here, top 5 with names."""
    model = to_module(project.graph)
    model.load_state_dict(ckpt.from_bytes(project.weights[KEY]))
    model.eval()
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    x = (image[None].float() / 255 - m) / s
    with torch.no_grad():
        probs = model(x).softmax(1)[0]
    values, idx = probs.topk(5)
    return [(NAMES[i], float(v)) for v, i in zip(values.tolist(), idx.tolist())]


@pytest.mark.parametrize(("normalize", "stats"), [("custom", (MEAN, STD)),
                                                  ("imagenet", IMAGENET),
                                                  ("none", ([0.0] * 3, [1.0] * 3))])
def test_a_dropped_photo_is_predicted_without_the_data(qtbot, tmp_path, normalize,
                                                       stats) -> None:
    project = pretrained_style(tmp_path, normalize)
    view = make_view(qtbot, project)
    path, image = photo(tmp_path)
    with qtbot.waitSignal(view.predicted, timeout=60000):
        assert view.drop_files([str(path)])
    top = view.last_prediction
    want = expected_top5(project, image, *stats)
    assert [name for name, _p in top] == [name for name, _p in want]
    assert [p for _n, p in top] == pytest.approx([p for _n, p in want], rel=1e-5, abs=1e-7)
    assert len({p for _n, p in top}) == 5
    # the view shows the image as the model saw it, named bars, and no data was loaded
    assert view.topk.names[0].text() == f"<b>{want[0][0]}</b>"
    assert view.topk.bars[0].value() == round(top[0][1] * 1000)
    assert view.message.startswith(f"cat.png: {want[0][0]} (")
    assert view.cache.data is None and view.cache.model is not None
    assert not (tmp_path / "not-on-this-machine").exists()


def test_the_shown_image_is_the_models_input_image(qtbot, tmp_path, monkeypatch) -> None:
    project = pretrained_style(tmp_path)
    view = make_view(qtbot, project)
    path, image = photo(tmp_path)
    shown = []
    monkeypatch.setattr(view.topk, "show_result",
                        lambda img, title, top: shown.append(np.asarray(img)))
    with qtbot.waitSignal(view.predicted, timeout=60000):
        assert view.predict_file(str(path))
    assert len(shown) == 1 and np.array_equal(shown[0], image.numpy())


def test_auto_normalisation_still_loads_the_data(qtbot, tmp_path) -> None:
    view = make_view(qtbot, pretrained_style(tmp_path, "auto"))
    path, _image = photo(tmp_path)
    assert view.drop_files([str(path)])
    qtbot.waitUntil(lambda: not view.image_jobs.busy, timeout=60000)
    assert view.last_prediction is None
    assert "not-on-this-machine" in view.message, view.message


def test_outputs_without_names_of_their_own_take_the_datas(qtbot, tmp_path) -> None:
    """A new head (no class names) is named by the data's classes, so the data is loaded."""
    view = make_view(qtbot, pretrained_style(tmp_path, "custom", names=[]))
    path, _image = photo(tmp_path)
    assert view.drop_files([str(path)])
    qtbot.waitUntil(lambda: not view.image_jobs.busy, timeout=60000)
    assert view.last_prediction is None
    assert "not-on-this-machine" in view.message, view.message
