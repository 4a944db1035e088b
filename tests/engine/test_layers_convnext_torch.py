"""ConvNeXt's layer types in torch: Permute, LayerNorm2d and LayerScale against plain torch, the
layer scale's parameter at the node's own key (built, generated as code, imported, exported),
and torchvision's ConvNeXt imported by tracing."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.convnext import CNBlockConfig, ConvNeXt

from cnnstudio.engine import to_module
from cnnstudio.engine.export.exporter import export_model
from cnnstudio.engine.importers.common import ModelImportError
from cnnstudio.engine.importers.fx.trace import import_module
from cnnstudio.engine.modules.layer_scale import LayerScale
from cnnstudio.graph import Graph, analyze, presets
from tests.engine.codegen.test_codegen import assert_same_model, generate


def single(type_name: str, params: dict, shape: list[int], node_id: str = "layer") -> Graph:
    g = Graph()
    g.add_node("Input", "input", {"shape": shape})
    g.add_node(type_name, node_id, params)
    g.connect("input", node_id)
    return g


def block_graph(frozen_scale: bool = False) -> Graph:
    """One ConvNeXt block with torchvision's ids, a downsampling LayerNorm2d after it."""
    g = Graph()
    g.add_node("Input", "input", {"shape": [8, 12, 12]})
    prev = "input"
    for type_name, nid, params in [
        ("Conv2d", "f.0.block.0", {"out_channels": 8, "kernel_size": 7, "padding": 3,
                                   "groups": 8}),
        ("Permute", "f.0.block.1", {"dims": [1, 2, 0]}),
        ("LayerNorm", "f.0.block.2", {"normalized_shape": [8], "eps": 1e-6}),
        ("Linear", "f.0.block.3", {"out_features": 32}),
        ("GELU", "f.0.block.4", {}),
        ("Linear", "f.0.block.5", {"out_features": 8}),
        ("Permute", "f.0.block.6", {"dims": [2, 0, 1]}),
        ("LayerScale", "f.0.layer_scale", {"init_value": 0.5}),
        ("StochasticDepth", "f.0.stochastic_depth", {"p": 0.1}),
    ]:
        g.add_node(type_name, nid, params, frozen=frozen_scale and type_name == "LayerScale")
        g.connect(prev, nid)
        prev = nid
    g.add_node("Add", "f.0.add")
    g.connect(prev, "f.0.add")
    g.connect("input", "f.0.add")
    g.add_node("LayerNorm2d", "norm")
    g.connect("f.0.add", "norm")
    return g


def test_permute_is_torchs_permute() -> None:
    model = to_module(single("Permute", {"dims": [2, 0, 1]}, [3, 4, 5])).eval()
    x = torch.randn(2, 3, 4, 5)
    assert torch.equal(model(x), x.permute(0, 3, 1, 2))


def test_layer_norm_2d_normalises_each_positions_channels() -> None:
    model = to_module(single("LayerNorm2d", {}, [6, 4, 5])).eval()
    with torch.no_grad():
        model.layer.weight.uniform_(0.5, 2.0)
        model.layer.bias.uniform_(-1.0, 1.0)
    plain = nn.LayerNorm(6, eps=1e-6)
    plain.load_state_dict(model.layer.state_dict())
    x = torch.randn(2, 6, 4, 5)
    expected = plain(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(model(x), expected)
    assert model.layer.eps == 1e-6


def test_layer_scale_parameter_is_the_node_id() -> None:
    model = to_module(single("LayerScale", {"init_value": 0.25}, [3, 2, 2], "blk.gamma"))
    assert list(model.state_dict()) == ["blk.gamma"]
    assert [n for n, _ in model.named_parameters()] == ["blk.gamma"]
    assert model.state_dict()["blk.gamma"].shape == (3, 1, 1)
    assert torch.equal(model.state_dict()["blk.gamma"], torch.full((3, 1, 1), 0.25))
    scale = torch.tensor([1.0, -2.0, 3.0]).reshape(3, 1, 1)
    model.load_state_dict({"blk.gamma": scale}, strict=True)
    x = torch.randn(2, 3, 2, 2)
    assert torch.equal(model(x), x * scale)


def test_layer_scale_follows_its_parameter_when_it_is_replaced() -> None:
    model = to_module(block_graph()).eval()
    x = torch.randn(2, 8, 12, 12)
    state = {k: torch.full_like(v, 2.0) if k == "f.0.layer_scale" else v
             for k, v in model.state_dict().items()}
    for assign in (False, True):
        other = copy.deepcopy(model)
        other.load_state_dict(state, assign=assign)
        loaded = copy.deepcopy(model)
        with torch.no_grad():
            loaded.get_parameter("f.0.layer_scale").fill_(2.0)
        torch.testing.assert_close(other(x), loaded(x))
    doubled = copy.deepcopy(model).double()
    torch.testing.assert_close(doubled(x.double()).float(), model(x), rtol=1e-5, atol=1e-5)


def test_layer_scale_alone_keeps_its_parameter() -> None:
    module = LayerScale(4, 0.5)
    assert list(module.state_dict()) == ["scale"]
    x = torch.randn(2, 4, 3, 3)
    assert torch.equal(module(x), x * 0.5)


def test_block_matches_torchvisions_cnblock() -> None:
    ours = to_module(block_graph()).eval()
    block = torchvision.models.convnext.CNBlock(8, 0.5, 0.1).eval()
    state = {k.removeprefix("f.0."): v for k, v in ours.state_dict().items()
             if k.startswith("f.0.")}
    block.load_state_dict(state, strict=True)
    x = torch.randn(2, 8, 12, 12)
    with torch.no_grad():
        expected = nn.functional.layer_norm(
            block(x).permute(0, 2, 3, 1), (8,), ours.norm.weight, ours.norm.bias, 1e-6)
        torch.testing.assert_close(ours(x), expected.permute(0, 3, 1, 2))


@pytest.mark.parametrize("frozen", [False, True])
def test_generated_code_equals_the_built_module(tmp_path: Path, frozen: bool) -> None:
    graph = block_graph(frozen_scale=frozen)
    source, module = generate(graph, tmp_path / "model.py")
    assert "self.layer_scale = scale_parameter(8, 0.5)" in source
    assert "self.layer_scale * " in source
    assert "from torchvision.models.convnext import LayerNorm2d" in source
    assert "Permute([0, 2, 3, 1])" in source
    assert "cnnstudio" not in source.split('"""', 2)[2]  # the file needs no CNN Studio
    assert_same_model(graph, module, training=True)
    generated = module.build_model()  # type: ignore[attr-defined]
    assert generated.get_parameter("f.0.layer_scale").requires_grad is not frozen


def test_generated_code_of_a_convnext_preset(tmp_path: Path) -> None:
    graph = presets.build("convnext_tiny", num_classes=10, input_shape=(3, 32, 32))
    source, module = generate(graph, tmp_path / "convnext.py")
    assert source.count("scale_parameter(") == 2  # the function and its one call in a class
    assert_same_model(graph, module)


class Scaled(nn.Module):
    """A parameter used directly in forward(), a channels-last round trip by Tensor.permute
    and torch.permute, as timm's and torchvision's ConvNeXt blocks write them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 4)
        self.gamma = nn.Parameter(torch.randn(4, 1, 1))
        self.skip = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x).permute(0, 2, 3, 1)
        y = torch.permute(self.fc(y), (0, 3, 1, 2))
        return self.skip(x) + self.gamma * y


def test_fx_import_makes_a_directly_used_parameter_a_layer_scale() -> None:
    source = Scaled().eval()
    imported = import_module(source, [3, 6, 6])
    graph = imported.graph
    assert graph.nodes["gamma"].type == "LayerScale"
    assert sorted(n.type for n in graph if n.type == "Permute") == ["Permute", "Permute"]
    assert set(imported.state) == set(source.state_dict())
    model = to_module(graph).eval()
    model.load_state_dict(imported.state, strict=True)
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x))


class UsesABuffer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.register_buffer("scale", torch.ones(4, 1, 1))
        self.offset = nn.Parameter(torch.zeros(4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * self.conv(x) + self.offset


def test_fx_import_still_refuses_other_direct_uses() -> None:
    with pytest.raises(ModelImportError) as caught:
        import_module(UsesABuffer(), [3, 4, 4])
    message = str(caught.value)
    assert "a parameter or buffer used directly in forward()" in message
    assert "a buffer, not a parameter" in message


def test_fx_import_of_torchvisions_convnext_keeps_its_keys() -> None:
    torch.manual_seed(0)
    source = ConvNeXt([CNBlockConfig(8, 16, 2), CNBlockConfig(16, None, 1)],
                      stochastic_depth_prob=0.1, layer_scale=0.3, num_classes=5).eval()
    imported = import_module(source, [3, 32, 32])
    graph = imported.graph
    assert graph.nodes["features.1.0.layer_scale"].type == "LayerScale"
    assert graph.nodes["features.1.0.block.1"].type == "Permute"
    assert graph.nodes["features.0.1"].type == "LayerNorm2d"
    report = analyze(graph)
    assert report.ok and not report.warnings
    model = to_module(graph).eval()
    assert set(model.state_dict()) == set(source.state_dict())
    model.load_state_dict(imported.state, strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x))


@pytest.mark.parametrize("fmt", ["onnx", "python", "safetensors"])
def test_export_verifies(tmp_path: Path, fmt: str) -> None:
    graph = block_graph()
    model = to_module(graph).eval()
    path = tmp_path / f"model.{ {'python': 'py'}.get(fmt, fmt)}"
    result = export_model(model, [8, 12, 12], fmt, path, graph=graph)
    assert path.exists() and result.batches == (1, 3)
    assert result.max_rel <= 1e-4 and not result.warnings


def test_torchvision_init_draws_what_torchvisions_builder_draws() -> None:
    model = to_module(presets.build("convnext_tiny"), seed=0)
    theirs = torchvision.models.convnext_tiny()
    for key in ("features.0.0.weight", "features.5.3.block.3.weight", "classifier.2.weight"):
        ours_std = float(model.state_dict()[key].std())
        their_std = float(theirs.state_dict()[key].std())
        assert ours_std == pytest.approx(0.02, rel=0.05), key
        assert ours_std == pytest.approx(their_std, rel=0.05), key
    for key in ("features.0.0.bias", "features.5.3.block.3.bias", "classifier.2.bias"):
        assert not model.state_dict()[key].any(), key
    assert torch.equal(model.state_dict()["features.1.0.layer_scale"],
                       torch.full((96, 1, 1), 1e-6))
