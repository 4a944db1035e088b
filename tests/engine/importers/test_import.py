"""The model importer: torchvision models, nn.Modules, Python files and ONNX files become graphs
whose built module, with the imported weights loaded strictly, computes what the source does.

CNNSTUDIO_FULL_SWEEP=1 also imports every torchvision classification model (and exports a
few to ONNX and back); the CI runs the cheap ones below."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torchvision
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from cnnstudio.engine import to_module
from cnnstudio.engine.importers.common import flatten_span
from cnnstudio.engine.importers.modules import (
    Imported,
    ModelImportError,
    from_module,
    from_python_file,
    from_torchvision,
    torchvision_names,
)
from cnnstudio.engine.importers.onnx.reader import from_onnx
from cnnstudio.graph import analyze

FULL = os.environ.get("CNNSTUDIO_FULL_SWEEP") == "1"


# -- helpers ------------------------------------------------------------------------------------


def calibrated(model: nn.Module, shape: tuple[int, ...]) -> nn.Module:
    """BatchNorm statistics measured on random batches, so deep random networks do not return
    a constant (their activations vanish at the initial statistics) and the comparison means
    something. The model is left in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batch
    model.train()
    with torch.no_grad():
        torch.manual_seed(1)
        model(torch.randn(4, *shape))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return model.eval()


def built(imported: Imported) -> nn.Module:
    module = to_module(imported.graph)
    module.load_state_dict(imported.state, strict=True)
    return module.eval()


def assert_same(a: torch.Tensor, b: torch.Tensor) -> None:
    scale = max(1.0, float(b.abs().max()))
    torch.testing.assert_close(a, b, atol=1e-4 * scale, rtol=1e-4)


def assert_one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def run_same(imported: Imported, model: nn.Module, shape: tuple[int, ...]) -> None:
    torch.manual_seed(2)
    x = torch.randn(3, *shape)
    with torch.no_grad():
        assert_same(built(imported)(x), model.eval()(x))


# -- torchvision --------------------------------------------------------------------------------


def test_resnet18_counts_ids_groups_and_weights() -> None:
    imported = from_torchvision("resnet18")
    assert analyze(imported.graph).total_params == 11_689_512
    small = from_torchvision("resnet18", num_classes=10, input_shape=[3, 32, 32])
    assert analyze(small.graph).total_params == 11_181_642
    graph = small.graph
    assert graph.nodes["input"].params["shape"] == [3, 32, 32]
    assert graph.nodes["layer1.0.conv1"].type == "Conv2d"
    assert graph.nodes["layer1.0.add"].type == "Add"
    assert graph.nodes["layer2.0.downsample.0"].params["stride"] == 2
    assert graph.nodes["layer1.0.conv1"].group == "layer1.0"
    assert graph.groups["layer1.0"].name == "BasicBlock"
    assert graph.groups["layer1.0"].parent == "layer1"
    assert all(n.position is not None for n in graph)  # laid out
    reference = torchvision.models.resnet18(weights=None, num_classes=10)
    assert list(small.state) == list(reference.state_dict())
    assert graph.metadata["origin"]["model"] == "resnet18"


CHEAP = [("mobilenet_v2", 64), ("mobilenet_v3_small", 64), ("efficientnet_b0", 64),
         ("densenet121", 32), ("googlenet", 64), ("squeezenet1_1", 64), ("resnet50", 32)]


@pytest.mark.parametrize("name,size", CHEAP)
def test_torchvision_models_compute_what_torchvision_does(name: str, size: int) -> None:
    shape = (3, size, size)
    imported = from_torchvision(name, num_classes=10, input_shape=shape)
    # Its weights are torchvision's: they load strictly into torchvision's own model.
    kwargs = {"init_weights": True} if name == "googlenet" else {}
    reference = torchvision.models.get_model(name, weights=None, num_classes=10, **kwargs)
    reference.load_state_dict(imported.state, strict=True)
    calibrated(reference, shape)
    # The graph built from the import, with the calibrated weights, computes the same.
    again = from_module(reference, shape)
    run_same(again, reference, shape)
    assert analyze(again.graph).total_params == sum(p.numel() for p in reference.parameters())


def test_googlenet_aux_heads_become_training_only_outputs() -> None:
    imported = from_torchvision("googlenet", num_classes=7, input_shape=[3, 64, 64])
    outputs = [n for n in imported.graph if n.type == "Output"]
    assert len(outputs) == 3
    assert sum(bool(n.params.get("training_only")) for n in outputs) == 2
    assert any("auxiliary" in note for note in imported.notes)
    module = built(imported)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert module.eval()(x).shape == (2, 7)
        assert [o.shape for o in module.train()(x)] == [(2, 7)] * 3


def test_a_torchvision_import_initialises_as_torchvision_s_builder() -> None:
    """Retrained from scratch, an imported torchvision model starts as its builder would:
    Kaiming normal fan_out convolutions (std √(2/fan_out)), BatchNorm γ=1 β=0."""
    imported = from_torchvision("resnet18", num_classes=10, input_shape=[3, 32, 32])
    assert imported.graph.metadata["init"] == {"scheme": "torchvision", "family": "resnet"}
    state = to_module(imported.graph, seed=3).state_dict()
    conv = state["layer1.0.conv1.weight"]  # 64 → 64, 3×3: fan_out 576
    assert conv.std().item() == pytest.approx((2 / 576) ** 0.5, rel=0.05)
    assert torch.equal(state["layer1.0.bn1.weight"], torch.ones(64))
    assert torch.equal(state["layer1.0.bn1.bias"], torch.zeros(64))
    other = from_torchvision("regnet_x_400mf", num_classes=10, input_shape=[3, 32, 32])
    assert other.graph.metadata["init"] == {"scheme": "torchvision", "family": "regnet"}


def test_torchvision_names_and_unknown_names() -> None:
    names = torchvision_names()
    assert {"resnet18", "googlenet", "densenet121", "efficientnet_b0",
            "shufflenet_v2_x1_0", "convnext_tiny"} <= set(names)
    assert not any(n.startswith(("vit", "swin", "maxvit")) for n in names)
    with pytest.raises(ModelImportError, match="resnet18") as info:
        from_torchvision("resnet_18")
    assert_one_line(info)


# -- nn.Modules ---------------------------------------------------------------------------------


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.block = nn.Sequential(nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        self.side = nn.Conv2d(8, 4, 1)
        self.fc = nn.Linear(12 * 4 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        x = x + self.block(x)
        x = torch.cat([x, self.side(x)], dim=1)
        x = nn.functional.max_pool2d(x, 2)
        x = nn.functional.adaptive_avg_pool2d(x, 4)
        x = x.view(x.size(0), -1)
        return nn.functional.log_softmax(self.fc(x), dim=1)


def test_custom_module_with_residual_add_and_cat() -> None:
    model = calibrated(Residual(), (3, 16, 16))
    imported = from_module(model, [3, 16, 16], source="Residual")
    types = {n.id: n.type for n in imported.graph}
    assert types["add"] == "Add" and types["cat"] == "Concat" and types["view"] == "Flatten"
    assert types["block.0"] == "BatchNorm2d" and types["relu"] == "ReLU"
    assert imported.graph.inputs("cat") == ["add", "side"]
    run_same(imported, model, (3, 16, 16))
    model.train()  # the train/eval flags are restored
    from_module(model, [3, 16, 16])
    assert model.training and model.block[0].training


class Unsupported(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.roll(self.conv(x), 1, 2)
        x = torch.roll(torch.sort(x, dim=1).values, 1, 3)
        return x * self.scale


def test_unsupported_operations_are_all_named_in_one_line() -> None:
    with pytest.raises(ModelImportError) as info:
        from_module(Unsupported(), [3, 8, 8])
    text = assert_one_line(info)
    assert "torch.roll ×2" in text and "torch.sort" in text
    assert "parameter or buffer used directly" in text and "3 kinds" in text


class Branchy(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.sum() > 0 else -x


class TwoInputs(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + y


def test_untraceable_and_wrong_modules_get_clear_errors() -> None:
    with pytest.raises(ModelImportError, match="cannot be traced") as info:
        from_module(Branchy(), [3, 8, 8])
    assert_one_line(info)
    with pytest.raises(ModelImportError, match="takes 2 inputs"):
        from_module(TwoInputs(), [3, 8, 8])
    with pytest.raises(ModelImportError, match="fails on an input of shape") as info:
        from_module(nn.Sequential(nn.Conv2d(3, 4, 9)), [3, 8, 8])
    assert_one_line(info)
    with pytest.raises(ModelImportError, match="positive"):
        from_module(nn.ReLU(), [3, 0, 8])


def test_flatten_span() -> None:
    assert flatten_span((512, 1, 1), (512,)) == (1, -1)
    assert flatten_span((2, 3, 4), (6, 4)) == (1, 2)
    assert flatten_span((2, 3, 4), (2, 12)) == (2, -1)
    assert flatten_span((2, 3, 4), (3, 8)) is None


# -- Python files -------------------------------------------------------------------------------

MODEL_FILE = '''
import torch
from torch import nn


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(4 * 3 * 3, 3)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


class Other(nn.Module):
    def forward(self, x):
        return x


def make_small():
    return Small()
'''


def test_python_file_by_class_or_function(tmp_path: Path) -> None:
    import runpy

    path = tmp_path / "my_model.py"
    path.write_text(MODEL_FILE)
    for name in ("Small", "make_small"):
        imported = from_python_file(path, name, [1, 8, 8])
        assert imported.source == f"my_model.py: {name}"
        assert list(imported.state) == ["features.0.weight", "features.0.bias", "head.weight",
                                        "head.bias"]
    model = runpy.run_path(str(path))["Small"]()
    model.load_state_dict(imported.state)
    run_same(imported, model, (1, 8, 8))


def test_python_file_errors_list_the_candidates(tmp_path: Path) -> None:
    path = tmp_path / "my_model.py"
    path.write_text(MODEL_FILE)
    with pytest.raises(ModelImportError) as info:
        from_python_file(path, "Missing", [1, 8, 8])
    text = assert_one_line(info)
    assert "'Missing'" in text and "Small" in text and "Other" in text and "make_small" in text
    with pytest.raises(ModelImportError, match="several models"):
        from_python_file(path, None, [1, 8, 8])
    broken = tmp_path / "broken.py"
    broken.write_text("import torch\nraise RuntimeError('no GPU here')\n")
    with pytest.raises(ModelImportError, match="broken.py failed to import: RuntimeError"):
        from_python_file(broken, None, [1, 8, 8])
    with pytest.raises(ModelImportError, match="no such file"):
        from_python_file(tmp_path / "absent.py", None, [1, 8, 8])


# -- ONNX ---------------------------------------------------------------------------------------


class Mixed(nn.Module):
    """Many operators at once: the dynamo exporter folds the first BatchNorm into its Conv,
    writes GELU and SiLU as several nodes and pads asymmetrically."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.mix = nn.Conv2d(8, 4, 1, bias=False)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.seq = nn.Sequential(nn.ELU(), nn.AvgPool2d(2, ceil_mode=True), nn.LeakyReLU(0.2),
                                 nn.ZeroPad2d((1, 0, 1, 0)), nn.Conv2d(4, 4, 3, padding=1),
                                 nn.Upsample(scale_factor=2), nn.Hardsigmoid())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 12 * 12, 5), nn.GELU(), nn.Tanh(),
                                  nn.Linear(5, 7), nn.SiLU(), nn.PReLU(), nn.Softmax(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = self.bn(x + self.c2(x))
        z = self.pool(self.mix(torch.cat([y, torch.relu(x)], 1)))
        return self.head(self.seq(nn.functional.hardswish(z)))


def export(model: nn.Module, shape: tuple[int, ...], path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.randn(2, *shape),), str(path), dynamo=True,
                          opset_version=18, dynamic_shapes=({0: torch.export.Dim("batch")},),
                          verbose=False)


def test_onnx_round_trip_of_many_operators(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = calibrated(Mixed(), (1, 19, 19))
    path = tmp_path / "mixed.onnx"
    export(model, (1, 19, 19), path)
    imported = from_onnx(path)
    types = {n.id: n.type for n in imported.graph}
    assert types["head.2"] == "GELU" and types["head.5"] == "SiLU"
    assert types["head.1"] == "Linear" and types["seq.4"] == "Conv2d"
    assert types["bn"] == "BatchNorm2d" and "stem.1" not in types  # folded by the exporter
    assert types["seq.4_pad"] == "ZeroPad2d"
    assert imported.graph.nodes["seq.2"].params == {"negative_slope": 0.2}
    assert imported.graph.nodes["head.1"].group == "head"
    assert any("folded 1 BatchNorm" in note for note in imported.notes)
    run_same(imported, model, (1, 19, 19))


def test_onnx_resnet18_keeps_module_paths_and_blocks(tmp_path: Path) -> None:
    model = calibrated(torchvision.models.resnet18(weights=None, num_classes=10), (3, 32, 32))
    path = tmp_path / "resnet18.onnx"
    export(model, (3, 32, 32), path)
    imported = from_onnx(path)
    graph = imported.graph
    assert graph.nodes["layer1.0.conv1"].type == "Conv2d"
    assert graph.nodes["layer1.0.add"].type == "Add"
    assert graph.groups["layer1.0"].name == "BasicBlock" and graph.nodes["fc"].type == "Linear"
    assert "layer2.0.downsample.0.weight" in imported.state
    run_same(imported, model, (3, 32, 32))


def _init(name: str, value: object) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def _save(tmp_path: Path, name: str, nodes: list, inits: list, input_shape: list,
          opset: int = 17) -> Path:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    path = tmp_path / name
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


def test_onnx_scopes_shape_arithmetic_and_matmul_bias(tmp_path: Path) -> None:
    """torch.onnx's node-name scopes become ids and blocks; Shape → Gather → Concat →
    Reshape keeps the batch (a Flatten); MatMul + Add is one Linear; Clip(0, 6) is ReLU6."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="/block/conv/Conv",
                         kernel_shape=[3, 3], pads=[0, 0, 1, 1]),
        helper.make_node("Clip", ["c", "lo", "hi"], ["r"], name="/block/act/Clip"),
        helper.make_node("MaxPool", ["r"], ["p"], name="/pool/MaxPool", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Shape", ["p"], ["s"], name="/Shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="/Gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="/Unsqueeze"),
        helper.make_node("Concat", ["n1", "minus1"], ["shape"], name="/Concat", axis=0),
        helper.make_node("Reshape", ["p", "shape"], ["f"], name="/Reshape"),
        helper.make_node("MatMul", ["f", "m"], ["mm"], name="/fc/MatMul"),
        helper.make_node("Add", ["mm", "fc.bias"], ["y"], name="/fc/Add"),
    ]
    inits = [_init("w", rng.standard_normal((4, 3, 3, 3)).astype(f32)),
             _init("b", rng.standard_normal(4).astype(f32)), _init("lo", f32(0)),
             _init("hi", f32(6)), _init("zero", np.int64(0)),
             _init("axes", np.array([0], np.int64)), _init("minus1", np.array([-1], np.int64)),
             _init("m", rng.standard_normal((100, 5)).astype(f32)),
             _init("fc.bias", rng.standard_normal(5).astype(f32))]
    path = _save(tmp_path, "scoped.onnx", nodes, inits, ["N", 3, 12, 12])
    imported = from_onnx(path)
    assert [(n.id, n.type) for n in imported.graph] == [
        ("input", "Input"), ("block.conv_pad", "ZeroPad2d"), ("block.conv", "Conv2d"),
        ("block.act", "ReLU6"), ("pool", "MaxPool2d"), ("reshape", "Flatten"),
        ("fc", "Linear")]
    assert imported.graph.nodes["block.conv"].group == "block"
    x = rng.standard_normal((3, 3, 12, 12)).astype(f32)
    expected = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    with torch.no_grad():
        assert_same(built(imported)(torch.from_numpy(x)), torch.from_numpy(expected))


def test_onnx_unsupported_operators_are_listed(tmp_path: Path) -> None:
    nodes = [helper.make_node("Transpose", ["x"], ["t"], name="t1", perm=[1, 0, 2, 3]),
             helper.make_node("Transpose", ["t"], ["t2"], name="t2", perm=[1, 0, 2, 3]),
             helper.make_node("TopK", ["t2", "k"], ["v", "i"], name="topk", axis=3),
             helper.make_node("Relu", ["v"], ["y"], name="relu")]
    path = _save(tmp_path, "odd.onnx", nodes, [_init("k", np.array([2], np.int64))],
                 ["N", 3, 8, 8])
    with pytest.raises(ModelImportError) as info:
        from_onnx(path)
    text = assert_one_line(info)
    assert "2 kinds of operator" in text
    # a transpose that moves the batch axis has no layer (one that keeps it is a Permute)
    assert "Transpose (t1" in text and "TopK (topk)" in text


def test_onnx_bad_files_and_inputs(tmp_path: Path) -> None:
    good = _save(tmp_path, "relu.onnx", [helper.make_node("Relu", ["x"], ["y"])], [],
                 ["N", 3, 8, 8])
    data = good.read_bytes()
    cases = {"text.onnx": b"this is not a model\n", "empty.onnx": b"",
             "half.onnx": data[: len(data) // 2],
             "noise.onnx": np.random.default_rng(1).bytes(4000)}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelImportError, match="not (a readable ONNX|an ONNX) model") \
                as info:
            from_onnx(tmp_path / name)
        assert_one_line(info)
    with pytest.raises(ModelImportError, match="no such file"):
        from_onnx(tmp_path / "absent.onnx")
    free = _save(tmp_path, "free.onnx", [helper.make_node("Relu", ["x"], ["y"])], [],
                 ["N", 3, "H", 8])
    with pytest.raises(ModelImportError, match="no fixed size on axis 2 \\('H'\\)"):
        from_onnx(free)
    with pytest.raises(ModelImportError, match="the input itself"):
        from_onnx(_save(tmp_path, "same.onnx", [helper.make_node("Identity", ["x"], ["y"])],
                        [], [1, 3, 8, 8]))
    fixed = from_onnx(_save(tmp_path, "fixed.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                            [], [1, 3, 8, 8]))
    assert any("batch size to 1" in note for note in fixed.notes)


# -- the full sweep (CNNSTUDIO_FULL_SWEEP=1; defined only then, so the CI lists no skips) ----


def _sweep_shape(name: str) -> tuple[int, int, int]:
    if name == "inception_v3":
        return (3, 299, 299)
    if name.startswith(("vit", "swin", "maxvit")):
        return (3, 224, 224)
    return (3, 64, 64)


if FULL:
    @pytest.mark.parametrize("name", torchvision.models.list_models(module=torchvision.models))
    def test_full_sweep_every_torchvision_model(name: str) -> None:
        """The models torchvision_names() offers import and compute what torchvision does;
        the others are refused with the list of their operators."""
        shape = _sweep_shape(name)
        kwargs = {"init_weights": True} if name in ("googlenet", "inception_v3") else {}
        model = torchvision.models.get_model(name, weights=None, **kwargs)
        if name not in torchvision_names():
            with pytest.raises(ModelImportError, match="no CNN Studio layer"):
                from_module(model, shape)
            return
        imported = from_module(calibrated(model, shape), shape)
        run_same(imported, model, shape)

    @pytest.mark.parametrize("name", ["mobilenet_v3_small", "efficientnet_b0", "googlenet",
                                      "densenet121", "squeezenet1_1", "regnet_y_400mf",
                                      "mnasnet0_5", "resnext50_32x4d", "inception_v3"])
    def test_full_sweep_onnx_round_trip(name: str, tmp_path: Path) -> None:
        shape = _sweep_shape(name)
        kwargs = {"init_weights": True, "aux_logits": False} \
            if name in ("googlenet", "inception_v3") else {}
        model = calibrated(torchvision.models.get_model(name, weights=None, **kwargs), shape)
        export(model, shape, tmp_path / "m.onnx")
        run_same(from_onnx(tmp_path / "m.onnx"), model, shape)
