"""The exported ``train.py`` sizes and normalises images exactly as CNN Studio does: an image
folder decoded with PIL (shorter side, centre crop, bicubic), an in-memory set resized as
tensors (nearest), and the custom mean and std."""

from __future__ import annotations

import sys

import pytest
import torch
from PIL import Image

from cnnstudio.engine.codegen.model import load_generated, model_source
from cnnstudio.engine.codegen.text import literal
from cnnstudio.engine.codegen.train import training_script
from cnnstudio.engine.data.load import load_data
from cnnstudio.graph import presets
from cnnstudio.project import DatasetConfig, Project
from tests.engine.codegen.test_codegen import ruff
from tests.engine.data import fakes


def script_module(tmp_path, monkeypatch, dataset: dict):
    """(the project, its generated train.py imported as a module)."""
    graph = presets.build("lenet5")  # [1, 32, 32]
    project = Project(name="sizes", graph=graph,
                      dataset=DatasetConfig.from_dict(dataset, "dataset"))
    (tmp_path / "sized_net.py").write_text(model_source(graph), encoding="utf-8")
    script = training_script(project, model_file="sized_net.py")
    (tmp_path / "train.py").write_text(script, encoding="utf-8")
    ruff(tmp_path / "train.py")
    monkeypatch.setitem(sys.modules, "sized_net", load_generated(tmp_path / "sized_net.py"))
    return project, script, load_generated(tmp_path / "train.py")


def engine_images(project: Project) -> tuple[torch.Tensor, torch.Tensor, object]:
    """Every image of the project's data as the engine stores and feeds it (in order)."""
    cfg = project.dataset
    cfg.val_fraction = cfg.test_fraction = 0.0
    data = load_data(cfg, [1, 32, 32], "cpu")
    split = data.train
    x, _ = next(split.batches(len(split), shuffle=False, seed=0, epoch=0))
    return split.images(torch.arange(len(split))), x, data


def test_a_folder_is_decoded_resized_and_normalised_alike(tmp_path, monkeypatch):
    root = tmp_path / "photos"
    for c, name in enumerate(("cat", "dog")):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(fakes.pattern(c, i, (40 + 7 * i, 52 - 5 * i, 3))).save(
                root / name / f"{i}.png")
    project, script, module = script_module(tmp_path, monkeypatch, {
        "source": "folder", "path": str(root), "resize": 36, "interpolation": "bicubic",
        "normalize": "custom", "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.3, 0.4]})
    images, labels, classes, test = module.load_images(str(root))
    ours, fed, data = engine_images(project)
    assert test is None and classes == data.classes
    assert torch.equal(images, ours) and torch.equal(labels, data.train.labels)
    # RGB statistics averaged for the grey network, as the engine does
    assert f"mean, std = {literal(tuple(data.mean))}, {literal(tuple(data.std))}" in script
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (data.mean, data.std))
    assert torch.allclose(module.prepare(images, mean, std), fed, atol=1e-5)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_an_in_memory_set_is_resized_alike(tmp_path, monkeypatch, mode):
    project, script, module = script_module(tmp_path, monkeypatch, {
        "source": "digits", "resize": 40, "interpolation": mode, "normalize": "none"})
    images, labels, _, _ = module.load_images(None)
    ours, _, data = engine_images(project)
    assert images.shape == (1797, 1, 32, 32)
    assert torch.equal(images, ours) and torch.equal(labels, data.train.labels)


def test_a_resize_below_the_input_is_refused():
    project = Project(name="p", graph=presets.build("lenet5"),
                      dataset=DatasetConfig.from_dict({"resize": 20}, "dataset"))
    with pytest.raises(ValueError, match="dataset.resize"):
        training_script(project)
