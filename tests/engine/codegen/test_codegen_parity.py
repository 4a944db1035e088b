"""The exported code behaves as the engine does where the two could drift: the generated model
draws the weights ``to_module`` draws from the same seed (every initialisation scheme, per-node
overrides, presets), the generated ``train.py`` keeps frozen BatchNorm layers in eval mode (their
running statistics do not move) and orders class folders as the engine does ("2" before "10").
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from cnnstudio.engine import to_module
from cnnstudio.engine.codegen.model import load_generated, model_source
from cnnstudio.engine.codegen.train import training_script
from cnnstudio.engine.data.imagefiles import list_folder
from cnnstudio.graph import Graph, presets
from cnnstudio.graph.init import SCHEMES
from cnnstudio.project import DatasetConfig, Project, TrainConfig
from tests.engine.codegen.test_codegen import ruff


def small_net(*, frozen_bn: bool = False) -> Graph:
    """Conv → BN → ReLU → Conv → BN → ReLU → Linear on 1×8×8 digits; with ``frozen_bn`` the
    first BatchNorm is frozen in the graph."""
    g = Graph()
    g.add_node("Input", "input", {"shape": [1, 8, 8]})
    chain = [("Conv2d", "conv1", {"out_channels": 6, "kernel_size": 3, "padding": 1}),
             ("BatchNorm2d", "bn1", {}), ("ReLU", "relu1", {}),
             ("Conv2d", "conv2", {"out_channels": 8, "kernel_size": 3, "padding": 1}),
             ("BatchNorm2d", "bn2", {}), ("ReLU", "relu2", {}), ("Flatten", "flatten", {}),
             ("Linear", "fc", {"out_features": 10})]
    last = "input"
    for kind, nid, params in chain:
        g.add_node(kind, nid, params, frozen=frozen_bn and nid == "bn1")
        g.connect(last, nid)
        last = nid
    return g


def generated_weights(graph: Graph, path: Path, seed: int) -> dict[str, torch.Tensor]:
    """The generated model's state_dict after ``torch.manual_seed(seed)`` (ruff-clean file)."""
    path.write_text(model_source(graph), encoding="utf-8")
    ruff(path)
    module = load_generated(path)
    torch.manual_seed(seed)
    return module.build_model().state_dict()  # type: ignore[attr-defined]


def assert_identical(expected: dict[str, torch.Tensor], got: dict[str, torch.Tensor]) -> None:
    assert list(expected) == list(got)
    for key, value in expected.items():
        assert torch.equal(value, got[key]), key


# -- initialisation ----------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", [s for s in SCHEMES if s != "torchvision"])
def test_generated_model_draws_the_engines_weights_for_every_scheme(tmp_path, scheme) -> None:
    graph = small_net()
    graph.set_init({"scheme": scheme})
    for seed in (0, 11):
        expected = to_module(graph, seed).state_dict()
        assert_identical(expected, generated_weights(graph, tmp_path / "net.py", seed))
    if scheme == "zeros":
        assert not expected["conv1.weight"].any()


def test_generated_model_follows_per_node_overrides(tmp_path) -> None:
    graph = small_net()
    graph.set_init({"scheme": "kaiming_normal", "mode": "fan_out"})
    graph.set_node_init("conv2", {"scheme": "orthogonal", "gain": 0.5})
    graph.set_node_init("fc", {"scheme": "xavier_uniform"})
    graph.set_node_init("bn2", {"scheme": "default"})
    source = model_source(graph)
    assert "initialise(" in source and '"conv2": ' in source and '"bn2": ' not in source
    expected = to_module(graph, 5).state_dict()
    assert_identical(expected, generated_weights(graph, tmp_path / "net.py", 5))
    # the overrides did change something: the graph default alone draws other weights
    plain = small_net()
    plain.set_init({"scheme": "kaiming_normal", "mode": "fan_out"})
    other = to_module(plain, 5).state_dict()
    assert torch.equal(other["conv1.weight"], expected["conv1.weight"])
    assert not torch.equal(other["conv2.weight"], expected["conv2.weight"])
    assert not torch.equal(other["fc.weight"], expected["fc.weight"])


@pytest.mark.parametrize("name, options", [
    ("resnet18", {}),  # torchvision's resnet rules; its fc keeps torch's default
    ("resnet18", {"zero_init_residual": True}),
    ("squeezenet1_1", {}),  # Kaiming uniform, and the classifier's conv N(0, 0.01²)
])
def test_generated_preset_draws_the_engines_weights(tmp_path, name, options) -> None:
    graph = presets.build(name, input_shape=(3, 32, 32) if name == "resnet18" else (3, 64, 64))
    if options:
        graph.set_init({**graph.metadata["init"], **options})
    expected = to_module(graph, 2).state_dict()
    assert_identical(expected, generated_weights(graph, tmp_path / f"{name}.py", 2))


def test_default_init_writes_no_plan(tmp_path) -> None:
    graph = small_net()
    source = model_source(graph)
    assert "INIT_PLAN" not in source and "import math" not in source
    assert_identical(to_module(graph, 4).state_dict(),
                     generated_weights(graph, tmp_path / "net.py", 4))


# -- the training script -----------------------------------------------------------------------
def test_frozen_batchnorm_keeps_its_statistics_in_the_script(tmp_path) -> None:
    """One epoch of the generated train.py on digits, in a fresh interpreter: the frozen
    BatchNorm's running statistics and affine parameters stay as built, the other's move."""
    graph = small_net(frozen_bn=True)
    project = Project(name="frozen", graph=graph, dataset=DatasetConfig.from_dict(
        {"source": "digits"}, "dataset"), training=TrainConfig.from_dict(
        {"epochs": 1, "batch_size": 32, "optimizer": {"name": "sgd", "lr": 0.05}},
        "training"))
    (tmp_path / "bn_net.py").write_text(model_source(graph), encoding="utf-8")
    (tmp_path / "train.py").write_text(training_script(project, model_file="bn_net.py"),
                                       encoding="utf-8")
    ruff(tmp_path / "train.py")
    done = subprocess.run([sys.executable, "train.py", "--limit", "256", "--device", "cpu",
                           "--out", "trained.safetensors"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "epoch 1/1" in done.stdout
    trained = load_file(tmp_path / "trained.safetensors")
    start = to_module(graph).state_dict()
    for key in ("running_mean", "running_var", "num_batches_tracked", "weight", "bias"):
        assert torch.equal(trained[f"bn1.{key}"], start[f"bn1.{key}"]), key
    assert int(trained["bn2.num_batches_tracked"]) == 8  # 256 images, 32 a batch
    assert not torch.equal(trained["bn2.running_mean"], start["bn2.running_mean"])
    assert not torch.equal(trained["bn2.running_var"], start["bn2.running_var"])


def test_class_folders_are_ordered_as_the_engine_orders_them(tmp_path, monkeypatch) -> None:
    root = tmp_path / "numbers"
    for c, name in enumerate(("2", "10", "1")):
        (root / name).mkdir(parents=True)
        for i in range(2):
            pixels = np.full((10, 12, 3), 40 * c + 10 * i, dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    graph = presets.build("lenet5")
    project = Project(name="numbers", graph=graph, dataset=DatasetConfig.from_dict(
        {"source": "folder", "path": str(root)}, "dataset"))
    (tmp_path / "folder_net.py").write_text(model_source(graph), encoding="utf-8")
    (tmp_path / "train.py").write_text(training_script(project, model_file="folder_net.py"),
                                       encoding="utf-8")
    ruff(tmp_path / "train.py")
    monkeypatch.setitem(sys.modules, "folder_net", load_generated(tmp_path / "folder_net.py"))
    script = load_generated(tmp_path / "train.py")
    images, labels, classes, _ = script.load_images(str(root))
    engine = list_folder(root)
    assert classes == engine.classes == ["1", "2", "10"]
    assert torch.equal(labels, engine.labels)
    # each image's label names the folder it came from, as the engine's does
    assert [classes[int(t)] for t in labels] == [Path(p).parent.name for p in engine.paths]
    assert images[labels == classes.index("10")].float().mean() > \
        images[labels == classes.index("2")].float().mean()


@pytest.mark.parametrize("folds, fold", [(0, 0), (3, 1), (5, 4)])
def test_the_script_splits_as_the_engine_splits(tmp_path, monkeypatch, folds, fold) -> None:
    """The same train/val/test positions, cross-validation folds included."""
    from cnnstudio.engine.data.splits import split_indices

    graph = small_net()
    project = Project(name="split", graph=graph, dataset=DatasetConfig.from_dict(
        {"source": "digits", "folds": folds, "fold": fold, "test_fraction": 0.1,
         "split_seed": 3}, "dataset"))
    (tmp_path / "split_net.py").write_text(model_source(graph), encoding="utf-8")
    (tmp_path / "train.py").write_text(training_script(project, model_file="split_net.py"),
                                       encoding="utf-8")
    monkeypatch.setitem(sys.modules, "split_net", load_generated(tmp_path / "split_net.py"))
    script = load_generated(tmp_path / "train.py")
    labels = torch.arange(103) % 4
    engine = split_indices(labels, 4, 0.2, 0.1, 3, 50, folds=folds, fold=fold)
    got = script.split(labels, 4, 50)
    assert all(torch.equal(a, b) for a, b in zip(got, engine))
    # per class round(0.2 · 26) = 5 validates; with folds, a fold of the 93 not held for test
    assert len(got[1]) == (20 if not folds else pytest.approx(93 / folds, abs=4))
