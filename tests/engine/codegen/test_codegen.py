"""The PyTorch code generator (issue 6): the generated module is ruff-clean, deterministic,
torchvision-like (one class per kind of block), and equal to the GraphModule it comes from:
the same state_dict keys and shapes (weights load strictly both ways) and the same outputs.

CNNSTUDIO_FULL_SWEEP=1 also runs every preset (a few minutes on a laptop CPU).
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from cnnstudio.engine import GraphBuildError, to_module
from cnnstudio.engine.codegen.model import load_generated, model_class_name, model_source
from cnnstudio.engine.codegen.train import training_script
from cnnstudio.engine.training.losses import loss_function, training_loss
from cnnstudio.engine.training.optim import lr_factor, optimizer_step
from cnnstudio.graph import (
    Graph,
    GraphError,
    analyze,
    graph_from_dict,
    graph_to_dict,
    layers,
    presets,
)
from cnnstudio.project import DatasetConfig, Project, TrainConfig
from tests.engine.test_random_graphs import MERGES, layer

ROOT = Path(__file__).resolve().parents[3]


def ruff(*paths: Path) -> None:
    """``ruff check`` with the repository's settings; fails the test with ruff's report."""
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                           str(ROOT / "pyproject.toml"), *map(str, paths)],
                          capture_output=True, text=True, cwd=paths[0].parent)
    assert done.returncode == 0, done.stdout + done.stderr


def generate(graph: Graph, path: Path) -> tuple[str, object]:
    source = model_source(graph)
    path.write_text(source, encoding="utf-8")
    return source, load_generated(path)


def outputs(model: torch.nn.Module, x: torch.Tensor, training: bool) -> tuple[torch.Tensor, ...]:
    model.train(training)
    for m in model.modules():  # dropout draws differ by call order: compare without it
        if isinstance(m, (torch.nn.Dropout, torch.nn.Dropout2d)) or \
                type(m).__name__ == "StochasticDepth":
            m.eval()
    with torch.no_grad():
        out = model(x)
    return out if isinstance(out, tuple) else (out,)


def assert_same_model(graph: Graph, module: object, *, training: bool = False) -> None:
    """Keys, shapes, strict loading both ways, frozen parameters and outputs."""
    reference = to_module(graph, seed=3)
    generated = module.build_model()  # type: ignore[attr-defined]
    ours, theirs = reference.state_dict(), generated.state_dict()
    assert list(ours) == list(theirs)
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    generated.load_state_dict(ours, strict=True)
    to_module(graph, seed=4).load_state_dict(generated.state_dict(), strict=True)
    assert [n for n, p in reference.named_parameters() if not p.requires_grad] == \
        [n for n, p in generated.named_parameters() if not p.requires_grad]
    shape = tuple(module.INPUT_SHAPE)  # type: ignore[attr-defined]
    assert shape == tuple(analyze(graph).input_shape)
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    for mode in (False, True) if training else (False,):
        expected, got = outputs(reference, x, mode), outputs(generated, x, mode)
        assert len(expected) == len(got)
        for a, b in zip(expected, got):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5, equal_nan=True)


def small(name: str, size: int = 64) -> Graph:
    shape = tuple(presets.get(name).options()["input_shape"])
    return presets.build(name, input_shape=(shape[0], min(shape[1], size), min(shape[2], size)))


# -- presets -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name, size, classes", [
    ("lenet5", 32, ["LeNet5"]),
    ("resnet18", 32, ["BasicBlock", "ResNet18"]),
    ("mobilenet_v2", 32, ["ConvBNReLU6", "InvertedResidual", "MobileNetV2"]),
    ("efficientnet_b0", 32, ["SqueezeAndExcitation", "MBConv", "EfficientNetB0"]),
    ("densenet121", 32, ["DenseLayer", "DenseBlock", "Transition", "DenseNet121"]),
    ("googlenet", 64, ["ConvBNReLU", "Inception", "AuxiliaryClassifier", "GoogLeNet"]),
])
def test_presets_generate_equal_models(tmp_path, name, size, classes) -> None:
    graph = small(name, size)
    path = tmp_path / f"{name}.py"
    source, module = generate(graph, path)
    assert model_source(graph) == source  # deterministic
    assert model_source(graph_from_dict(graph_to_dict(graph))) == source
    for cls in classes:
        assert f"\nclass {cls}(" in source, cls
    assert "def build_model() -> nn.Module:" in source
    assert_same_model(graph, module, training=name == "googlenet")
    ruff(path)


def test_resnet50_is_written_like_torchvision(tmp_path) -> None:
    graph = presets.build("resnet50")
    source, module = generate(graph, tmp_path / "resnet50.py")
    assert source.count("\nclass ") == 2  # one Bottleneck for all 16 blocks, and the model
    assert "\nclass Bottleneck(nn.Module):" in source and "\nclass ResNet50(nn.Module):" in source
    assert source.count("\n") < 200
    assert "Bottleneck(256, 512, 128, stride=2, downsample=True)" in source
    assert "self.downsample is not None" in source
    with torch.device("meta"):  # keys and shapes without allocating 25 M parameters twice
        expected = to_module(graph).state_dict()
        got = module.build_model().state_dict()  # type: ignore[attr-defined]
    assert {k: v.shape for k, v in expected.items()} == {k: v.shape for k, v in got.items()}
    ruff(tmp_path / "resnet50.py")


def test_densenet_blocks_are_one_loop_class() -> None:
    source = model_source(small("densenet121", 32))
    assert source.count("\nclass DenseBlock(") == 1
    assert "for layer in self.children():" in source
    assert "DenseBlock(64, num_layers=6)" in source and "DenseBlock(512, num_layers=16)" in source


def test_model_class_names() -> None:
    assert model_class_name(presets.build("mobilenet_v2")) == "MobileNetV2"
    assert model_class_name(presets.build("wide_resnet50_2")) == "WideResNet50_2"
    assert model_class_name(Graph()) == "Net"
    graph = small("lenet5")
    assert "\nclass Digits(nn.Module):" in model_source(graph, class_name="Digits")
    with pytest.raises(ValueError, match="not a Python name"):
        model_source(graph, class_name="2fast")
    bad = graph_from_dict({"format": "cnnstudio.graph", "version": 1, "nodes": [
        {"id": "input", "type": "Input", "params": {"shape": [1, 4, 4]}},
        {"id": "fc", "type": "Linear"}]})
    with pytest.raises(GraphBuildError, match="out_features"):
        model_source(bad)


# -- hand-drawn graphs -------------------------------------------------------------------------
HAND_DRAWN = {
    "format": "cnnstudio.graph", "version": 1,
    "nodes": [
        {"id": "input", "type": "Input", "params": {"shape": [3, 16, 16]}},
        {"id": "conv2d1", "type": "Conv2d", "params": {"out_channels": 8, "kernel_size": 3,
                                                        "padding": 1}},
        {"id": "relu1", "type": "ReLU"},
        {"id": "blk-1.conv", "type": "Conv2d", "params": {"out_channels": 8, "kernel_size": 3,
                                                           "padding": "same"}},
        {"id": "blk-1.2x", "type": "Conv2d", "params": {"out_channels": 8, "kernel_size": 1}},
        {"id": "add1", "type": "Add"},
        # a value leaves the box "loop" and comes back into it: the box cannot be one call
        {"id": "loop.a", "type": "BatchNorm2d"},
        {"id": "outside", "type": "Sigmoid"},
        {"id": "loop.b", "type": "Mul"},
        {"id": "concat1", "type": "Concat"},
        {"id": "pool", "type": "MaxPool2d", "params": {"kernel_size": 2}},
        {"id": "flatten1", "type": "Flatten"},
        {"id": "linear1", "type": "Linear", "params": {"out_features": 10}, "frozen": True},
        {"id": "out-main", "type": "Output"},
        {"id": "aux.pool", "type": "AdaptiveAvgPool2d"},
        {"id": "aux.flat", "type": "Flatten"},
        {"id": "aux.fc", "type": "Linear", "params": {"out_features": 10}},
        {"id": "aux.out", "type": "Output", "params": {"training_only": True}},
        {"id": "unused.fc", "type": "Linear", "params": {"out_features": 3}},
        {"id": "second", "type": "Output"},
    ],
    "edges": [["input", "conv2d1"], ["conv2d1", "relu1"], ["relu1", "blk-1.conv"],
              ["relu1", "blk-1.2x"], ["blk-1.conv", "add1"], ["blk-1.2x", "add1"],
              ["add1", "loop.a"], ["loop.a", "outside"], ["loop.a", "loop.b", 0],
              ["outside", "loop.b", 1], ["loop.b", "concat1", 0], ["relu1", "concat1", 1],
              ["concat1", "pool"], ["pool", "flatten1"], ["flatten1", "linear1"],
              ["linear1", "out-main"], ["relu1", "aux.pool"], ["aux.pool", "aux.flat"],
              ["aux.flat", "aux.fc"], ["aux.fc", "aux.out"], ["flatten1", "unused.fc"],
              ["relu1", "second"]],
}


def test_hand_drawn_graph(tmp_path) -> None:
    graph = graph_from_dict(HAND_DRAWN)
    path = tmp_path / "net.py"
    source, module = generate(graph, path)
    assert "\nclass Net(nn.Module):" in source
    assert 'getattr(self, "blk-1")' in source  # ids that are not Python names still work
    assert "if self.training:" in source  # the auxiliary head
    assert "feeds no output" in source  # unused.fc is registered, never called
    assert "requires_grad_(False)" in source  # linear1 is frozen
    assert_same_model(graph, module, training=True)
    ruff(path)


def test_every_layer_type_is_written(tmp_path) -> None:
    """One graph holding every catalogue type GraphModule builds."""
    image = [("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1,
                         "padding_mode": "reflect"}),
             ("ConvTranspose2d", {"out_channels": 4, "kernel_size": 2, "stride": 2}),
             ("BatchNorm2d", {}), ("InstanceNorm2d", {"affine": True}),
             ("GroupNorm", {"num_groups": 2}), ("LayerNorm", {}), ("LocalResponseNorm", {}),
             ("ChannelAffine", {"scale": [0.5, 2.0, 1.0, -1.0], "shift": 0.25}),
             ("LayerNorm2d", {}), ("LayerScale", {"init_value": 0.5}),
             ("Permute", {"dims": [1, 2, 0]}), ("Permute", {"dims": [2, 0, 1]}),
             ("MaxPool2d", {"kernel_size": 2, "ceil_mode": True}),
             ("AvgPool2d", {"kernel_size": 3, "stride": 1, "padding": 1,
                            "count_include_pad": False}),
             ("LPPool2d", {"kernel_size": 1}), ("ZeroPad2d", {"padding": [1, 0, 0, 1]}),
             ("Upsample", {"scale_factor": 2, "mode": "bilinear", "align_corners": False}),
             ("AdaptiveMaxPool2d", {"output_size": [6, None]}),
             ("Dropout2d", {"p": 0.1}), ("StochasticDepth", {"p": 0.1}),
             ("PReLU", {"num_parameters": 4}),
             *[(t, {}) for t in ("ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "GELU", "SiLU",
                                 "Hardswish", "Hardsigmoid", "Mish", "Sigmoid", "Tanh",
                                 "Softplus", "Identity")],
             ("Softmax", {"dim": 1}), ("AdaptiveAvgPool2d", {"output_size": 2}),
             ("ChannelShuffle", {"groups": 2}), ("Chunk", {"chunks": 3, "index": 1}),
             ("Slice", {"start": 1, "end": 2}),
             ("Conv2d", {"out_channels": 4, "kernel_size": 1, "weight_standardization": "scaled"}),
             ("GlobalResponseNorm", {}), ("BranchSoftmax", {"branches": 2, "groups": 2}),
             ("BlurPool2d", {"stride": 1}), ("BatchInstanceNorm2d", {"rho_init": 0.5})]
    flat = [("Flatten", {}), ("Linear", {"out_features": 6}), ("BatchNorm1d", {}),
            ("Dropout", {"p": 0.2}), ("LogSoftmax", {})]
    nodes = [{"id": "input", "type": "Input", "params": {"shape": [3, 6, 6]}}]
    nodes += [{"id": f"l{i}", "type": t, "params": p} for i, (t, p) in enumerate(image + flat)]
    edges = [[a["id"], b["id"]] for a, b in zip(nodes, nodes[1:])]
    linear, dropout, last = nodes[-4]["id"], nodes[-2]["id"], nodes[-1]["id"]
    nodes += [{"id": "skip", "type": "Add"}, {"id": "gate", "type": "Mul"},
              {"id": "both", "type": "Concat"}]
    edges += [[last, "skip"], [dropout, "skip"], ["skip", "gate"], [dropout, "gate"],
              ["gate", "both"], [linear, "both"]]
    graph = graph_from_dict({"format": "cnnstudio.graph", "version": 1, "nodes": nodes,
                             "edges": edges})
    built = {layers.get(n.type).torch_class is not None and n.type for n in graph}
    assert built - {False} == {n for n in layers.names() if layers.get(n).torch_class}
    path = tmp_path / "every.py"
    source, module = generate(graph, path)
    assert "from torchvision.ops import StochasticDepth" in source
    assert_same_model(graph, module, training=True)
    ruff(path)


# -- random graphs -----------------------------------------------------------------------------
PARTS = ["a", "b", "0", "1", "blk-1", "2x"]


@st.composite
def graphs(draw) -> Graph:
    """Random layers with module-path ids (boxes whose values cross in and out), skips,
    merges, marked outputs (some training-only) and frozen layers."""
    g = Graph()
    shape = draw(st.one_of(
        st.tuples(st.integers(1, 4), st.integers(4, 12), st.integers(4, 12)).map(list),
        st.tuples(st.integers(1, 12)).map(list)))
    g.add_node("Input", "in", {"shape": shape})
    ids = ["in"]
    for i in range(draw(st.integers(1, 8))):
        kind, params = draw(layer())
        path = draw(st.lists(st.sampled_from(PARTS), max_size=2))
        nid = ".".join([*path, f"n{i}"])
        try:
            g.add_node(kind, nid, params, frozen=draw(st.booleans()))
        except GraphError:  # a path clashing with another node's
            nid = f"n{i}"
            g.add_node(kind, nid, params)
        src = draw(st.sampled_from(ids[-3:]))
        g.connect(src, nid)
        if kind in MERGES:
            other = draw(st.sampled_from(ids))
            if other != src:
                g.connect(other, nid)
        ids.append(nid)
    if draw(st.booleans()) and len(ids) > 2:
        marked = draw(st.lists(st.sampled_from(ids[1:]), min_size=1, max_size=3, unique=True))
        for k, nid in enumerate(marked):
            g.add_node("Output", f"out{k}", {"training_only": k > 0 and draw(st.booleans())})
            g.connect(nid, f"out{k}")
    return g


# CNNSTUDIO_CODEGEN_EXAMPLES=2000 searches deeper than CI.
EXAMPLES = int(os.environ.get("CNNSTUDIO_CODEGEN_EXAMPLES", "150"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(graphs())
def test_random_graphs_generate_equal_models(tmp_path_factory, graph: Graph) -> None:
    note(graph_to_dict(graph))
    report = analyze(graph)
    if not report.ok:
        return
    try:  # the analysis is stricter than torch in places, never laxer; skip what torch refuses
        with torch.no_grad():
            to_module(graph).eval()(torch.randn(2, *report.input_shape))
    except RuntimeError:
        return
    path = tmp_path_factory.mktemp("random") / "model.py"
    source, module = generate(graph, path)
    note(source)
    assert_same_model(graph, module, training=True)


# -- the training script -----------------------------------------------------------------------
def project(name: str, dataset: dict, training: dict) -> Project:
    return Project(name=name, graph=small("lenet5"),
                   dataset=DatasetConfig.from_dict(dataset, "dataset"),
                   training=TrainConfig.from_dict(training, "training"))


@pytest.mark.parametrize("dataset, training", [
    ({"source": "cifar10", "augment": [
        {"name": "random_crop", "params": {"padding": 4, "size": 28}},
        {"name": "horizontal_flip"}, {"name": "affine", "params": {"p": 0.5}},
        {"name": "color_jitter"}, {"name": "random_erasing", "params": {"value": "random"}},
        {"name": "gaussian_blur"}, {"name": "gaussian_noise"}, {"name": "rotation"},
        {"name": "random_resized_crop"}, {"name": "vertical_flip"}],
      "mixup_alpha": 0.2, "cutmix_alpha": 1.0, "normalize": "imagenet", "limit": 500},
     {"optimizer": {"name": "sgd", "nesterov": True}, "loss": {"name": "focal",
      "class_weights": "balanced"}, "schedule": {"name": "onecycle", "warmup_epochs": 1},
      "grad_clip": 1.0, "early_stopping": 3}),
    ({"source": "folder", "path": "/data/pets", "normalize": "none"},
     {"optimizer": {"name": "adamw"}, "loss": {"name": "mse"},
      "schedule": {"name": "plateau"},
      "transfer": {"lr_multipliers": {"classifier": 10.0},
                   "unfreeze": [{"epoch": 3, "nodes": ["features.c5"]}]}}),
    ({"source": "svhn"}, {"optimizer": {"name": "rmsprop"}, "loss": {"name": "bce",
                          "class_weights": [1.0] * 10}, "schedule": {"name": "cosine_restarts"}}),
    ({"source": "mnist"}, {"optimizer": {"name": "radam"}, "loss": {"name": "mae"},
                           "schedule": {"name": "multistep"}}),
    ({"source": "digits"}, {"optimizer": {"name": "adagrad"}, "schedule": {"name": "step"}}),
    ({"source": "cifar100"}, {"loss": {"label_smoothing": 0.1, "class_weights": [0.5] * 100},
                              "schedule": {"name": "cosine", "warmup_epochs": 2}}),
])
def test_training_scripts_are_clean(tmp_path, dataset, training) -> None:
    script = training_script(project("Pets: a \"test\"", dataset, training),
                             model_file="my_net.py", weights_file="my_net.safetensors")
    assert "from my_net import build_model" in script
    # The training maths is the engine's own, copied verbatim; the script needs no CNN Studio.
    for function in (lr_factor, loss_function, training_loss, optimizer_step):
        assert inspect.getsource(function) in script
    assert not re.search(r"^\s*(from|import) cnnstudio\b", script, re.MULTILINE)
    compile(script, "train.py", "exec")
    (tmp_path / "train.py").write_text(script, encoding="utf-8")
    ruff(tmp_path / "train.py")


def test_training_script_trains_on_digits(tmp_path) -> None:
    """One short epoch on scikit-learn's digits, in a fresh interpreter; it starts from the
    exported weights and saves new ones."""
    from safetensors.torch import load_file, save_file

    proj = project("LeNet", {"source": "digits"},
                   {"epochs": 5, "batch_size": 32, "optimizer": {"lr": 0.003},
                    "schedule": {"name": "cosine"}})
    model_file = tmp_path / "lenet.py"
    model_file.write_text(model_source(proj.graph), encoding="utf-8")
    start = to_module(proj.graph, seed=1).state_dict()
    save_file({k: v.contiguous() for k, v in start.items()}, tmp_path / "lenet.safetensors")
    (tmp_path / "train.py").write_text(
        training_script(proj, model_file="lenet.py", weights_file="lenet.safetensors"))
    ruff(tmp_path / "train.py", model_file)
    done = subprocess.run([sys.executable, "train.py", "--epochs", "1", "--limit", "300",
                           "--device", "cpu", "--out", "trained.safetensors"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "starting from" in done.stdout and "epoch 1/1" in done.stdout
    assert "300 training" in done.stdout
    trained = load_file(tmp_path / "trained.safetensors")
    assert trained.keys() == start.keys()
    assert any(not torch.equal(trained[k], start[k]) for k in start)
    to_module(proj.graph).load_state_dict(trained, strict=True)


def test_training_script_trains_auxiliary_heads_with_every_option(tmp_path) -> None:
    """GoogLeNet-like auxiliary heads, Mixup and CutMix, class weights, label smoothing,
    warm-up, reduce-on-plateau, clipping and early stopping together, in a fresh interpreter."""
    from safetensors.torch import load_file

    from tests.engine.training.test_generated_matches_trainer import graph

    net = graph(aux=True, classes=10)
    proj = Project(name="aux", graph=net, dataset=DatasetConfig.from_dict(
        {"source": "digits", "mixup_alpha": 0.2, "cutmix_alpha": 1.0}, "dataset"),
        training=TrainConfig.from_dict({
            "batch_size": 32, "grad_clip": 1.0, "early_stopping": 5,
            "loss": {"label_smoothing": 0.1, "class_weights": "balanced"},
            "schedule": {"name": "plateau", "patience": 0, "warmup_epochs": 0.5}}, "training"))
    (tmp_path / "aux_net.py").write_text(model_source(net), encoding="utf-8")
    (tmp_path / "train.py").write_text(training_script(proj, model_file="aux_net.py"))
    done = subprocess.run([sys.executable, "train.py", "--epochs", "2", "--limit", "120",
                           "--device", "cpu", "--out", "trained.safetensors"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "epoch 2/2" in done.stdout and "120 training" in done.stdout
    trained = load_file(tmp_path / "trained.safetensors")
    assert any(k.startswith("aux") for k in trained)
    to_module(net).load_state_dict(trained, strict=True)


def test_training_script_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="CSV"):
        training_script(project("p", {"source": "csv", "path": "a.csv"}, {}))


# -- every preset (CNNSTUDIO_FULL_SWEEP=1) -----------------------------------------------------
# (the CI runs the presets above; the sweep's cases exist only when asked for, so no skips)
@pytest.mark.parametrize("name", presets.names() if os.environ.get("CNNSTUDIO_FULL_SWEEP")
                         else ["lenet5"])
def test_every_preset(tmp_path, name) -> None:
    graph = small(name)
    if not analyze(graph).ok:
        graph = presets.build(name)
    path = tmp_path / f"{name}.py"
    _, module = generate(graph, path)
    assert_same_model(graph, module, training=True)
    ruff(path)
