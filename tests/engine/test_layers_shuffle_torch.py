"""ChannelShuffle and Chunk against torch: the built modules compute what torch computes, the
shape rule is torch.chunk's, the generated code and the ONNX export agree with to_module, and
the fx importer turns chunk, nn.ChannelShuffle and torchvision's channel_shuffle into them."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models.shufflenetv2 import channel_shuffle

from cnnstudio.cli.main import main
from cnnstudio.engine import to_module
from cnnstudio.engine.codegen.model import load_generated, model_source
from cnnstudio.engine.export.exporter import export_model
from cnnstudio.engine.importers.common import ModelImportError
from cnnstudio.engine.importers.modules import from_module, from_torchvision, torchvision_names
from cnnstudio.graph import Graph, analyze, layers, presets
from tests.engine.export.test_export import calibrated


def one_layer(type_name: str, params: dict, shape: list[int]) -> Graph:
    g = Graph()
    g.add_node("Input", "in", {"shape": shape})
    g.add_node(type_name, "layer", params)
    g.connect("in", "layer")
    return g


@pytest.mark.parametrize("shape, groups", [([6, 4, 5], 2), ([6, 4, 5], 3), ([12, 7], 4),
                                           ([5, 3, 3], 1)])
def test_channel_shuffle_equals_torch(shape: list[int], groups: int) -> None:
    module = to_module(one_layer("ChannelShuffle", {"groups": groups}, shape))
    x = torch.randn(2, *shape)
    out = module(x)
    assert torch.equal(out, F.channel_shuffle(x, groups))
    if len(shape) == 3:
        assert torch.equal(out, channel_shuffle(x, groups))  # torchvision's view/transpose
    assert sum(p.numel() for p in module.parameters()) == 0


def test_channel_shuffle_interleaves_the_groups() -> None:
    module = to_module(one_layer("ChannelShuffle", {"groups": 2}, [6, 1, 1]))
    x = torch.arange(6.0).reshape(1, 6, 1, 1)
    assert module(x).flatten().tolist() == [0, 3, 1, 4, 2, 5]


@pytest.mark.parametrize("length", range(1, 10))
@pytest.mark.parametrize("chunks", range(1, 6))
def test_chunk_equals_torch_chunk_for_every_split(length: int, chunks: int) -> None:
    """Even and uneven splits, and splits where torch makes fewer pieces than asked."""
    x = torch.randn(2, length, 3, 2)
    pieces = torch.chunk(x, chunks, dim=1)
    for index in range(chunks + 1):
        g = one_layer("Chunk", {"chunks": chunks, "index": index}, [length, 3, 2])
        report = analyze(g)
        if index >= len(pieces):
            assert not report.ok and "has no piece" in report.errors[0].message
            continue
        assert report.ok, report.errors
        assert report.nodes["layer"].shape == tuple(pieces[index].shape[1:])
        assert torch.equal(to_module(g)(x), pieces[index])


def test_chunk_of_flat_features() -> None:
    x = torch.randn(3, 10)
    g = one_layer("Chunk", {"chunks": 4, "index": 3}, [10])
    assert torch.equal(to_module(g)(x), x.chunk(4, 1)[3])


def unit_graph() -> Graph:
    g = Graph()
    g.add_node("Input", "in", {"shape": [6, 8, 8]})
    g.add_node("Chunk", "keep", {"chunks": 2, "index": 0})
    g.add_node("Chunk", "work", {"chunks": 4, "index": 2})  # uneven: 2 + 2 + 2
    g.add_node("Conv2d", "conv", {"out_channels": 5, "kernel_size": 3, "padding": 1})
    g.add_node("Concat", "cat")
    g.add_node("ChannelShuffle", "shuffle", {"groups": 4})
    for a, b in (("in", "keep"), ("in", "work"), ("work", "conv"), ("keep", "cat"),
                 ("conv", "cat"), ("cat", "shuffle")):
        g.connect(a, b)
    return g


def test_generated_code_runs_without_cnnstudio_and_equals_to_module(tmp_path) -> None:
    graph = unit_graph()
    source = model_source(graph)
    assert "cnnstudio" not in source.split('"""', 2)[2]  # no import of the application
    assert "nn.ChannelShuffle(4)" in source and "Chunk(4, 2)" in source
    path = tmp_path / "unit.py"
    path.write_text(source, encoding="utf-8")
    built = to_module(graph, seed=5).eval()
    generated = load_generated(path).build_model().eval()
    generated.load_state_dict(built.state_dict(), strict=True)
    x = torch.randn(2, 6, 8, 8)
    assert torch.equal(generated(x), built(x))


class Split(nn.Module):
    """chunk as a method, as a function, unpacked and with a negative index; nn.ChannelShuffle
    and torchvision's channel_shuffle function."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.shuffle = nn.ChannelShuffle(5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        c = torch.chunk(x, 3, 1)[-1]  # 8 channels in 3, 3, 2: the last has 2
        y = torch.cat((a, self.conv(b), c), dim=1)
        return channel_shuffle(self.shuffle(y), 2)


def test_fx_import_maps_chunk_and_channel_shuffle() -> None:
    model = Split().eval()
    imported = from_module(model, (8, 6, 6))
    graph = imported.graph
    made = {(n.type, tuple(sorted(n.params.items()))) for n in graph
            if n.type in ("Chunk", "ChannelShuffle")}
    assert made == {("Chunk", ()), ("Chunk", (("index", 1),)),
                    ("Chunk", (("chunks", 3), ("index", 2))),
                    ("ChannelShuffle", (("groups", 5),)), ("ChannelShuffle", ())}
    assert {n.type for n in graph} == {"Input", "Chunk", "Conv2d", "Concat", "ChannelShuffle"}
    built = to_module(graph)
    built.load_state_dict(imported.state, strict=True)
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        assert torch.equal(built(x), model(x))


class Unsupported(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(x.chunk(2, dim=2), dim=1)


class WholeTuple(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(x.chunk(2, dim=1), dim=1)


@pytest.mark.parametrize("model, words", [
    (Unsupported(), "Tensor.chunk (in Unsupported.forward(), along an axis other than the "
                    "channels (dim=1))"),
    (WholeTuple(), "other than one piece at a time"),
])
def test_fx_import_refuses_other_chunks(model: nn.Module, words: str) -> None:
    with pytest.raises(ModelImportError) as info:
        from_module(model, (4, 6, 6))
    assert words in str(info.value)


def test_torchvision_shufflenet_imports_with_equal_outputs() -> None:
    assert "shufflenet_v2_x1_0" in torchvision_names()
    torch.manual_seed(0)
    imported = from_torchvision("shufflenet_v2_x1_0", num_classes=10, input_shape=(3, 64, 64))
    assert imported.graph.metadata["init"] == {"scheme": "torchvision", "family": "shufflenet"}
    shuffles = [n for n in imported.graph if n.type == "ChannelShuffle"]
    assert len(shuffles) == 16 and shuffles[0].id == "stage2.0.channel_shuffle"
    assert sum(n.type == "Chunk" for n in imported.graph) == 2 * 13  # the stride-1 units
    reference = torchvision.models.shufflenet_v2_x1_0(num_classes=10).eval()
    reference.load_state_dict(imported.state, strict=True)
    for m in reference.modules():  # statistics away from 0 and 1, so that BN matters
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    built = to_module(imported.graph).eval()
    built.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(built(x), reference(x), rtol=1e-4, atol=1e-5)


def test_cli_exports_a_shufflenet_preset_to_verified_onnx(tmp_path, capsys) -> None:
    out = tmp_path / "shufflenet.onnx"
    code = main(["export", "shufflenet_v2_x0_5", "--format", "onnx", "--out", str(out),
                 "--input", "3,64,64", "--classes", "10", "--json"])
    text, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(text)
    assert result["batches"] == [1, 3] and result["max_rel"] <= 1e-4 and out.is_file()


def test_onnx_export_of_a_calibrated_shufflenet_matches(tmp_path) -> None:
    """As tests/engine/export/test_export.py checks each family: BatchNorm statistics measured,
    so that the output depends on the input and the comparison means something."""
    graph = presets.build("shufflenet_v2_x0_5", num_classes=10, input_shape=(3, 64, 64))
    model = calibrated(to_module(graph, seed=1).eval(), (3, 64, 64))
    target = tmp_path / "model.onnx"
    result = export_model(model, (3, 64, 64), "onnx", target, graph=graph)
    assert result.max_rel <= 1e-4 and not result.warnings
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    x = torch.randn(3, 3, 64, 64)
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    assert np.abs(want[0] - want[1]).max() > 1e-2  # the output follows the input
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_every_new_type_is_in_the_catalogue() -> None:
    assert layers.get("ChannelShuffle").torch_class == "torch.nn.ChannelShuffle"
    assert layers.get("Chunk").torch_class == "cnnstudio:Chunk"
