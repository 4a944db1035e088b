"""timm's building blocks through the fx importer: each rule on a tiny model using the timm block
(the imported graph computes what the module computes, with as many parameters), and small real
timm models (random weights) that import whole."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from cnnstudio.engine.build import to_module
from cnnstudio.engine.importers.common import ModelImportError
from cnnstudio.engine.importers.modules import from_module

timm = pytest.importorskip("timm", reason="timm is an optional extra: pip install -e '.[timm]'")
from timm import layers as tl  # noqa: E402
from timm.layers.pool2d_same import MaxPool2dSame  # noqa: E402


def _randomise(model: nn.Module) -> nn.Module:
    """Running statistics and affine weights away from their identity start, so that a norm
    that became the wrong layer (or lost its weights) changes the output."""
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)) \
                    and m.weight is not None:
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model.eval()


def assert_imports_same(model: nn.Module, shape: list[int]) -> Any:
    """Import ``model``, check the graph computes what it computes with as many parameters,
    and return the import."""
    imported = from_module(model, shape)
    net = to_module(imported.graph).eval()
    net.load_state_dict(imported.state, strict=True)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        want, got = model(x), net(x)
    scale = want.abs().max().clamp_min(1e-6)
    assert float((want - got).abs().max() / scale) <= 1e-4
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in model.parameters())
    return imported


def _same(model: nn.Module, shape: list[int]) -> dict[str, str]:
    """The graph's node types by id, once ``model`` (randomised) imports the same."""
    imported = assert_imports_same(_randomise(model), shape)
    return {nid: node.type for nid, node in imported.graph.nodes.items()}


class _NormAct(nn.Module):
    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


@pytest.mark.parametrize("norm, norm_type, act_type", [
    (lambda: tl.BatchNormAct2d(8, act_layer=nn.SiLU), "BatchNorm2d", "SiLU"),
    (lambda: tl.BatchNormAct2d(8, act_layer=tl.activations.HardSwish), "BatchNorm2d",
     "Hardswish"),
    (lambda: tl.GroupNormAct(8, num_groups=2, act_layer=nn.GELU), "GroupNorm", "GELU"),
    (lambda: tl.LayerNormAct2d(8, act_layer=nn.ReLU), "LayerNorm2d", "ReLU"),
])
def test_norm_act_becomes_the_norm_at_its_path_and_the_activation(norm, norm_type, act_type):
    types = _same(_NormAct(norm()), [3, 8, 8])
    assert types["bn"] == norm_type  # its weights keep their keys: bn.weight, bn.running_mean
    assert types["bn_act"] == act_type


def test_norm_act_without_activation_is_the_norm_alone() -> None:
    types = _same(_NormAct(tl.BatchNormAct2d(8, apply_act=False)), [3, 8, 8])
    assert sorted(types.values()) == ["BatchNorm2d", "Conv2d", "Input"]


class _Splits(nn.Module):
    """Res2Net's even split (Chunk), MixNet's uneven one and a DPN-style channel slice (Slice),
    and GhostNet's slice that keeps every channel (nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 1)
        self.convs = nn.ModuleList(nn.Conv2d(4, 4, 3, padding=1) for _ in range(2))
        self.mixed = nn.ModuleList(nn.Conv2d(c, c, k, padding=k // 2) for c, k in ((7, 3), (5, 5)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        spx = torch.split(x, 4, 1)
        sp = self.convs[0](spx[0])
        sp = self.convs[1](sp + spx[1])
        even = torch.cat([sp, spx[1], spx[-1]], 1)
        a, b = x.split([7, 5], dim=1)
        mixed = torch.cat([self.mixed[0](a), self.mixed[1](b)], 1)
        return torch.cat([even[:, :12], mixed[:, 2:9, :, :], mixed[:, 9:]], 1)


def test_splits_and_channel_slices_become_chunks_and_slices() -> None:
    types = list(_same(_Splits(), [3, 8, 8]).values())
    assert types.count("Chunk") == 4  # spx[0], spx[1] (read twice), spx[-1]
    assert types.count("Slice") == 4  # a, b, [2:9], [9:]


class _Eca(nn.Module):
    def __init__(self, eca: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.se = eca

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(self.conv(x))


@pytest.mark.parametrize("eca", [lambda: tl.EcaModule(kernel_size=5),
                                 lambda: tl.CecaModule(kernel_size=3)])
def test_eca_conv1d_along_the_channels_becomes_a_k_by_1_conv2d(eca) -> None:
    types = _same(_Eca(eca()), [3, 6, 6])
    assert types["se.conv"] == "Conv2d" and types["se.mul"] == "Mul"


def test_eca_with_an_mlp_is_refused_with_the_reason() -> None:
    with pytest.raises(ModelImportError, match="use_mlp"):
        from_module(_Eca(tl.EcaModule(16, use_mlp=True)).eval(), [3, 6, 6])


class _Same(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = tl.Conv2dSame(3, 8, 3, stride=2)
        self.pool = MaxPool2dSame(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


@pytest.mark.parametrize("size", [[3, 16, 15], [3, 9, 9]])  # pooled at 8×8, 5×5
def test_same_padding_at_run_time_becomes_fixed_zero_padding(size: list[int]) -> None:
    types = _same(_Same(), size)
    assert types["conv"] == "Conv2d" and types["pool"] == "MaxPool2d"
    # The convolution's padding is a layer; the pool's (1 at the end on 8, 1 each side on 5)
    # is MaxPool2d's own padding and ceil_mode.
    assert list(types.values()).count("ZeroPad2d") == 1


class _Residual(nn.Module):
    """timm's DropPath, ConvNeXt's ``gamma.reshape(1, -1, 1, 1)`` layer scale and MobileOne's
    ``out = 0; out += branch(x)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(6, 6, 3, padding=1)
        self.gamma = nn.Parameter(torch.rand(6))
        self.drop_path = tl.DropPath(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = 0
        out += self.conv(x)
        out = out.mul(self.gamma.reshape(1, -1, 1, 1))
        return x + self.drop_path(out)


def test_drop_path_layer_scale_view_and_a_zero_start() -> None:
    types = _same(_Residual(), [6, 5, 5])
    assert types["drop_path"] == "StochasticDepth" and types["gamma"] == "LayerScale"


# Small real models, one per family a rule opened (random weights; 64×64 inputs).
MODELS = ["regnetx_002", "mobilenetv3_small_050", "lcnet_050", "mixnet_s", "tf_efficientnet_b0",
          "convnext_atto", "rexnet_100", "dpn48b"]


@pytest.mark.parametrize("name", MODELS)
def test_small_timm_models_import_equal(name: str) -> None:
    torch.manual_seed(0)
    _same(timm.create_model(name, pretrained=False), [3, 64, 64])


class _Stack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return torch.stack([y, y * y], dim=1).sum(1)


def test_branch_stacking_is_still_refused_with_the_operation() -> None:
    """Branches stacked into a 5-axis tensor (written out; timm's SelectiveKernel has a rule
    of its own, test_timm_more.py) have no layer."""
    with pytest.raises(ModelImportError, match="torch.stack"):
        from_module(_Stack().eval(), [3, 8, 8])

