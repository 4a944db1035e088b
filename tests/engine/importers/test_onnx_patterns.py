"""ShuffleNet's and ConvNeXt's ONNX spellings become catalogue layers: Split (several outputs)
and Slice on the channels become Chunk or Slice, Reshape → Transpose → Reshape that shuffles
the channels becomes ChannelShuffle (and nothing else like it does), Transpose becomes
Permute, Transpose → LayerNormalization → Transpose becomes LayerNorm2d, MatMul on the last
axis a Linear, and a Mul by a [C, 1, 1] constant a LayerScale. Each rule is checked on a tiny
hand-made graph against onnxruntime, and both models exported by torch.onnx's TorchScript
exporter import with equal outputs."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper

from cnnstudio.engine import to_module
from cnnstudio.engine.export.exporter import export_model
from cnnstudio.engine.importers.common import ModelImportError
from cnnstudio.engine.importers.onnx.reader import from_onnx

from .test_onnx_breadth import _breadth, _init, _save

_RNG = np.random.default_rng(5)


def _imported_equal(path: Path, shape: tuple[int, ...]) -> tuple[list, dict[str, torch.Tensor]]:
    """Import ``path``, check it computes what onnxruntime computes on the file; the layers
    (id, type, params) and the state."""
    imported = from_onnx(path)
    module = to_module(imported.graph)
    module.load_state_dict(imported.state, strict=True)
    x = _RNG.standard_normal(shape).astype(np.float32)
    want = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    with torch.no_grad():
        got = module.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    layers = [(n.id, n.type, n.params) for n in imported.graph if n.type != "Input"]
    return layers, imported.state


def _types(layers: list) -> list[tuple[str, dict]]:
    return [(t, p) for _, t, p in layers]


# -- splitting the channels ---------------------------------------------------------------------


def test_split_with_both_outputs_used_becomes_two_chunks(tmp_path: Path) -> None:
    nodes = [helper.make_node("Split", ["x"], ["a", "b"], axis=1, num_outputs=2),
             helper.make_node("Relu", ["b"], ["r"]),
             helper.make_node("Concat", ["r", "a"], ["y"], axis=1)]
    layers, _ = _imported_equal(_save(tmp_path, nodes, [], ["N", 6, 4, 4], opset=18),
                                (2, 6, 4, 4))
    assert _types(layers) == [("Chunk", {}), ("Chunk", {"index": 1}), ("ReLU", {}),
                              ("Concat", {})]


def test_uneven_split_becomes_slices(tmp_path: Path) -> None:
    nodes = [helper.make_node("Split", ["x", "sizes"], ["a", "b", "c"], axis=1),
             helper.make_node("Concat", ["c", "a"], ["y"], axis=1)]
    inits = [_init("sizes", np.array([3, 2, 2], np.int64))]
    layers, _ = _imported_equal(_save(tmp_path, nodes, inits, ["N", 7, 3, 3], opset=13),
                                (2, 7, 3, 3))
    assert _types(layers) == [("Slice", {"end": 3}),
                              ("Slice", {"start": 5, "end": 7}), ("Concat", {})]


def test_slice_on_channels_becomes_slice_or_chunk(tmp_path: Path) -> None:
    nodes = [helper.make_node("Slice", ["x", "s1", "e1", "ax"], ["a"]),
             helper.make_node("Slice", ["x", "s2", "e2", "ax"], ["b"]),
             helper.make_node("Concat", ["a", "b"], ["y"], axis=1)]
    big = np.iinfo(np.int64).max
    inits = [_init("s1", np.array([1], np.int64)), _init("e1", np.array([4], np.int64)),
             _init("s2", np.array([-3], np.int64)), _init("e2", np.array([big], np.int64)),
             _init("ax", np.array([1], np.int64))]
    layers, _ = _imported_equal(_save(tmp_path, nodes, inits, ["N", 6, 2, 2]), (2, 6, 2, 2))
    assert _types(layers) == [("Slice", {"start": 1, "end": 4}), ("Chunk", {"index": 1}),
                              ("Concat", {})]


def test_slice_of_other_axes_is_refused(tmp_path: Path) -> None:
    nodes = [helper.make_node("Slice", ["x", "s", "e", "ax"], ["y"])]
    inits = [_init("s", np.array([1], np.int64)), _init("e", np.array([3], np.int64)),
             _init("ax", np.array([2], np.int64))]
    with pytest.raises(ModelImportError, match=r"Slice .*along the channels"):
        from_onnx(_save(tmp_path, nodes, inits, ["N", 6, 4, 4]))


# -- shuffling the channels ---------------------------------------------------------------------


def _shuffle_nodes(split: list[int], perm: list[int], back: list[int]) -> tuple[list, list]:
    nodes = [helper.make_node("Reshape", ["x", "split"], ["r"]),
             helper.make_node("Transpose", ["r"], ["t"], perm=perm),
             helper.make_node("Reshape", ["t", "back"], ["y"])]
    return nodes, [_init("split", np.array(split, np.int64)),
                   _init("back", np.array(back, np.int64))]


@pytest.mark.parametrize("batch", ["N", 2])
def test_reshape_transpose_reshape_shuffle_becomes_channel_shuffle(
        tmp_path: Path, batch: str | int) -> None:
    """As the dynamo exporter writes it (-1 for the batch) and as the TorchScript exporter
    does for a file with a fixed batch size (the size itself)."""
    n = -1 if batch == "N" else 2
    nodes, inits = _shuffle_nodes([n, 3, 2, 4, 5], [0, 2, 1, 3, 4], [n, 6, 4, 5])
    layers, _ = _imported_equal(_save(tmp_path, nodes, inits, [batch, 6, 4, 5]), (2, 6, 4, 5))
    assert _types(layers) == [("ChannelShuffle", {"groups": 3})]


@pytest.mark.parametrize("split,perm,back", [
    ([-1, 2, 3, 4, 5], [0, 1, 2, 4, 3], [-1, 6, 5, 4]),  # swaps H and W, not the groups
    ([-1, 2, 3, 4, 5], [0, 2, 1, 3, 4], [-1, 3, 8, 5]),  # reshapes back to other sizes
    ([-1, 2, 3, 5, 4], [0, 2, 1, 3, 4], [-1, 6, 5, 4]),  # reads H × W as 5 × 4
])
def test_other_reshape_transpose_is_refused(tmp_path: Path, split: list[int], perm: list[int],
                                            back: list[int]) -> None:
    nodes, inits = _shuffle_nodes(split, perm, back)
    with pytest.raises(ModelImportError, match="Reshape|Transpose"):
        from_onnx(_save(tmp_path, nodes, inits, ["N", 6, 4, 5]))


# -- ConvNeXt's channels-last steps -------------------------------------------------------------


def test_transpose_layer_norm_transpose_becomes_layer_norm_2d(tmp_path: Path) -> None:
    w, b = _RNG.standard_normal(4).astype(np.float32), _RNG.standard_normal(4).astype(np.float32)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("LayerNormalization", ["t", "w", "b"], ["n"], axis=-1,
                              epsilon=1e-6),
             helper.make_node("Transpose", ["n"], ["y"], perm=[0, 3, 1, 2])]
    layers, state = _imported_equal(
        _save(tmp_path, nodes, [_init("w", w), _init("b", b)], ["N", 4, 3, 5]), (2, 4, 3, 5))
    assert _types(layers) == [("LayerNorm2d", {})]  # eps 1e-6 is its default
    nid = layers[0][0]
    assert torch.equal(state[f"{nid}.weight"], torch.from_numpy(w))
    assert torch.equal(state[f"{nid}.bias"], torch.from_numpy(b))


def _written_out_layer_norm(x: str, y: str) -> list:
    """LayerNorm over the last axis as the TorchScript exporter writes it before opset 17."""
    return [helper.make_node("ReduceMean", [x], ["m"], axes=[-1]),
            helper.make_node("Sub", [x, "m"], ["d"]),
            helper.make_node("Pow", ["d", "two"], ["p"]),
            helper.make_node("ReduceMean", ["p"], ["v"], axes=[-1]),
            helper.make_node("Add", ["v", "eps"], ["ve"]),
            helper.make_node("Sqrt", ["ve"], ["s"]),
            helper.make_node("Div", ["d", "s"], ["n"]),
            helper.make_node("Mul", ["n", "w"], ["nw"]),
            helper.make_node("Add", ["nw", "b"], [y])]


@pytest.mark.parametrize("channels_last", [False, True])
def test_written_out_layer_norm_becomes_one_layer(tmp_path: Path, channels_last: bool) -> None:
    """Alone: a LayerNorm over the last axis; between ConvNeXt's Transposes: LayerNorm2d."""
    w, b = _RNG.standard_normal(5).astype(np.float32), _RNG.standard_normal(5).astype(np.float32)
    inits = [_init("two", np.float32(2.0)), _init("eps", np.float32(1e-6)), _init("w", w),
             _init("b", b)]
    if channels_last:
        nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
                 *_written_out_layer_norm("t", "ln"),
                 helper.make_node("Transpose", ["ln"], ["y"], perm=[0, 3, 1, 2])]
        shape = (2, 5, 3, 4)
    else:
        nodes, shape = _written_out_layer_norm("x", "y"), (2, 3, 4, 5)
    layers, state = _imported_equal(_save(tmp_path, nodes, inits, ["N", *shape[1:]],
                                          opset=14), shape)
    assert _types(layers) == ([("LayerNorm2d", {})] if channels_last else
                              [("LayerNorm", {"normalized_shape": [5], "eps": 1e-6})])
    assert torch.equal(state[f"{layers[0][0]}.weight"], torch.from_numpy(w))


def test_matmul_on_the_last_axis_becomes_linear_between_permutes(tmp_path: Path) -> None:
    """ConvNeXt's block: to channels-last, LayerNorm and Linear there, and back."""
    w, b = _RNG.standard_normal((4, 7)).astype(np.float32), _RNG.standard_normal(7)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("LayerNormalization", ["t", "g"], ["n"], axis=-1),
             helper.make_node("MatMul", ["n", "w"], ["m"]),
             helper.make_node("Add", ["b", "m"], ["a"]),
             helper.make_node("Transpose", ["a"], ["y"], perm=[0, 3, 1, 2])]
    inits = [_init("g", np.full(4, 2.0, np.float32)), _init("w", w),
             _init("b", b.astype(np.float32))]
    layers, state = _imported_equal(_save(tmp_path, nodes, inits, ["N", 4, 3, 5]),
                                    (2, 4, 3, 5))
    assert _types(layers) == [("Permute", {}), ("LayerNorm", {"normalized_shape": [4],
                                                              "bias": False}),
                              ("Linear", {"out_features": 7}), ("Permute", {"dims": [2, 0, 1]})]
    assert torch.equal(state[f"{layers[2][0]}.weight"], torch.from_numpy(w.T.copy()))


def test_mul_by_a_per_channel_constant_becomes_layer_scale(tmp_path: Path) -> None:
    s = _RNG.standard_normal((1, 4, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Mul", ["s", "x"], ["y"])]
    layers, state = _imported_equal(_save(tmp_path, nodes, [_init("s", s)], ["N", 4, 3, 3]),
                                    (2, 4, 3, 3))
    assert _types(layers) == [("LayerScale", {})]
    assert list(state) == [layers[0][0]]  # its parameter's key is the node id
    assert torch.equal(state[layers[0][0]], torch.from_numpy(s.reshape(4, 1, 1)))


def test_mul_by_other_constants_is_refused(tmp_path: Path) -> None:
    nodes = [helper.make_node("Mul", ["x", "s"], ["y"])]
    inits = [_init("s", np.ones((4, 3, 1), np.float32) * 2)]
    with pytest.raises(ModelImportError, match=r"Mul .*\[4, 3, 1\]"):
        from_onnx(_save(tmp_path, nodes, inits, ["N", 4, 3, 3]))


class _ScaledResidual(torch.nn.Module):
    """ConvNeXt's block end: a layer scale times a channels-last branch, plus the input, then
    global pooling; the dynamo exporter writes the pooling as a mean and an ``as_strided``
    (a Gather with indices counted by Range from the batch size)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.lin = torch.nn.Linear(4, 4)
        self.scale = torch.nn.Parameter(torch.rand(4, 1, 1) + 0.5)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        z = self.scale * self.lin(y.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.pool(z + y)


def test_our_export_of_pooling_a_permuted_sum_imports(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = _ScaledResidual().eval()
    export_model(model, [3, 4, 4], "onnx", tmp_path / "m.onnx")
    ops = {n.op_type for n in onnx.load(str(tmp_path / "m.onnx")).graph.node}
    assert {"Range", "Gather"} <= ops  # the spelling this test is about
    imported = from_onnx(tmp_path / "m.onnx")
    assert [n.type for n in imported.graph][-3:] == ["LayerScale", "Add", "AdaptiveAvgPool2d"]
    module = to_module(imported.graph)
    module.load_state_dict(imported.state, strict=True)
    x = torch.randn(3, 3, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(module.eval()(x), model(x), rtol=1e-4, atol=1e-5)


# -- the torchvision models, as torch.onnx's TorchScript exporter writes them ------------------


@pytest.mark.parametrize("name,layer", [("shufflenet_v2_x0_5", "ChannelShuffle"),
                                        ("convnext_tiny", "LayerScale")])
def test_torchscript_export_imports_with_equal_outputs(tmp_path: Path, name: str,
                                                       layer: str) -> None:
    bench = _breadth()
    torch.manual_seed(0)
    model = bench.reference(name, (3, 64, 64), 10)
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings(), bench.quiet():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(2, 3, 64, 64),), str(path), dynamo=False,
                          opset_version=17)
    imported = from_onnx(path)
    assert any(n.type == layer for n in imported.graph)
    module = to_module(imported.graph)
    module.load_state_dict(imported.state, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        got, want = module.eval()(x), model(x)
    assert bench.close(got, want), float((got - want).abs().max())
