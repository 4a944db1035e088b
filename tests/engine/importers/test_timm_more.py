"""timm's remaining CNN families through the fx importer: weight-standardised convolutions
(NF-ResNet, NF-RegNet), constant gains, Global Response Normalization (ConvNeXt V2), attention
over k branches (SKNet, ResNeSt), blur pooling (DenseNet-blur) and interpolation to a size read
at run time (GhostNetV2). Each rule on a tiny model with the timm block (the graph computes what
the module computes, with as many parameters), then small real models that import whole."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnstudio.graph import layers

from .test_timm_modules import assert_imports_same

timm = pytest.importorskip("timm", reason="timm is an optional extra: pip install -e '.[timm]'")
from timm import layers as tl  # noqa: E402
from timm.layers.grn import GlobalResponseNorm  # noqa: E402


def _randomise(model: nn.Module) -> nn.Module:
    """Statistics, norm affines, GRN's zero-started γ and β and the convolutions' gains away
    from their start, so that a rule that dropped one changes the output."""
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, GlobalResponseNorm)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
            if isinstance(getattr(m, "gain", None), nn.Parameter):
                m.gain.uniform_(0.5, 1.5)
    return model.eval()


def _same(model: nn.Module, shape: list[int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The graph's nodes by id and the imported weights, once ``model`` (randomised) imports
    the same."""
    imported = assert_imports_same(_randomise(model), shape)
    return dict(imported.graph.nodes), imported.state


def _params(node: Any) -> dict[str, Any]:
    """A node's parameters with the defaults the file leaves out."""
    return layers.get(node.type).resolve(node.params)[0]


@pytest.mark.parametrize("conv, kind, gamma", [
    (lambda: tl.StdConv2d(3, 8, 3, bias=True, eps=1e-5), "standard", None),
    (lambda: tl.ScaledStdConv2d(3, 8, 3, stride=2, gamma=1.7139, eps=1e-5), "scaled", 1.7139),
    (lambda: tl.StdConv2dSame(3, 8, 3, stride=2), "standard", None),
    (lambda: tl.ScaledStdConv2dSame(3, 8, 3, stride=2, gamma=2.0), "scaled", 2.0),
])
def test_weight_standardised_convolutions_become_conv2d_with_the_option(conv, kind, gamma
                                                                       ) -> None:
    nodes, state = _same(nn.Sequential(conv(), nn.ReLU()), [3, 15, 15])
    params = _params(nodes["0"])
    assert nodes["0"].type == "Conv2d" and params["weight_standardization"] == kind
    assert ("0.gain" in state) == (kind == "scaled")
    if gamma is not None:
        assert params["ws_gamma"] == gamma  # timm keeps gamma / √fan-in only


class _Gains(nn.Module):
    """NF-ResNet's ``act(x) * beta`` and ``out * alpha + shortcut``: numbers in forward()."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.conv(x)) * 1.7139
        return 0.2 * out + 0.5


def test_multiplying_or_adding_a_number_becomes_a_channel_affine() -> None:
    nodes, _ = _same(_Gains(), [3, 6, 6])
    affine = {n.params.get("scale", n.params.get("shift")) for n in nodes.values()
              if n.type == "ChannelAffine"}
    assert affine == {1.7139, 0.2, 0.5}


class _ChannelsLast(nn.Module):
    """ConvNeXt V2's MLP: GRN on [N, H, W, C] between two permutes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.grn = GlobalResponseNorm(8, channels_last=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.grn(self.conv(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def test_global_response_norm_becomes_its_layer_in_either_layout() -> None:
    first = nn.Sequential(nn.Conv2d(3, 8, 3), GlobalResponseNorm(8, eps=1e-5,
                                                                 channels_last=False))
    nodes, state = _same(first, [3, 7, 7])
    assert nodes["1"].type == "GlobalResponseNorm" and set(state) >= {"1.weight", "1.bias"}
    nodes, _ = _same(_ChannelsLast(), [3, 7, 7])
    assert _params(nodes["grn"])["channels_last"] is True


@pytest.mark.parametrize("split", [True, False])
def test_selective_kernel_becomes_branches_weighed_by_a_branch_softmax(split: bool) -> None:
    sk = nn.Sequential(nn.Conv2d(3, 16, 1), tl.SelectiveKernel(16, 16, split_input=split))
    nodes, _ = _same(sk, [3, 8, 8])
    assert nodes["1.attn.softmax"].type == "BranchSoftmax"
    assert _params(nodes["1.attn.softmax"])["branches"] == 2
    assert nodes["1.sum"].type == "Add"


@pytest.mark.parametrize("radix, groups", [(2, 2), (4, 1), (1, 1)])
def test_split_attention_becomes_radix_branches(radix: int, groups: int) -> None:
    attn = tl.SplitAttn(16, 16, radix=radix, groups=groups, norm_layer=nn.BatchNorm2d)
    nodes, _ = _same(nn.Sequential(nn.Conv2d(3, 16, 1), attn), [3, 6, 6])
    softmax = nodes["1.rsoftmax"]
    if radix == 1:
        assert softmax.type == "Sigmoid"
    else:
        assert softmax.type == "BranchSoftmax"
        params = _params(softmax)
        assert (params["branches"], params["groups"]) == (radix, groups)


@pytest.mark.parametrize("blur", [lambda: tl.BlurPool2d(8),
                                  lambda: tl.BlurPool2d(8, filt_size=5, stride=3,
                                                        pad_mode="constant")])
def test_blur_pool_becomes_its_layer(blur) -> None:
    nodes, _ = _same(nn.Sequential(nn.Conv2d(3, 8, 3), blur()), [3, 11, 11])
    assert nodes["1"].type == "BlurPool2d"


class _Gate(nn.Module):
    """GhostNetV2's gate: computed at half size, interpolated back to the map's own size."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.conv(F.avg_pool2d(x, 2)))
        return x * F.interpolate(gate, size=(x.shape[-2], x.shape[-1]), mode="nearest")


def test_interpolation_to_a_size_read_at_run_time_is_fixed_for_the_input() -> None:
    nodes, _ = _same(_Gate(), [3, 9, 9])  # 9 → 4 → 9: no integer scale factor
    upsample = next(n for n in nodes.values() if n.type == "Upsample")
    assert _params(upsample)["size"] in (9, [9, 9])


# Small real models, one per family these rules opened (random weights; 64×64 inputs).
MODELS = ["nf_resnet26", "convnextv2_atto", "skresnet18", "resnest14d", "densenetblur121d"]


@pytest.mark.parametrize("name", MODELS)
def test_small_timm_models_import_equal(name: str) -> None:
    torch.manual_seed(0)
    _same(timm.create_model(name, pretrained=False), [3, 64, 64])
