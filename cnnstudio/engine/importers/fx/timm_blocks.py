"""timm's building blocks as catalogue layers.

timm wraps torch's layers in modules of its own: a BatchNorm2d that applies its activation
(BatchNormAct2d), a convolution that pads like TensorFlow's 'SAME' at run time (Conv2dSame),
ECA's channel attention (a Conv1d along the channels), subclasses of nn.Linear and nn.LayerNorm
and activation classes of its own. Traced through, these become functional calls reading
parameters directly (no layer can hold them) or branch on the input's size; kept whole, each
becomes the layers it computes, its weights at its own module path (``bn1.weight``).
Weight-standardised convolutions become Conv2d's weight_standardization option, GRN and
BlurPool2d layers of their own, and SKNet's and ResNeSt's attention over k branches a
BranchSoftmax whose k chunks weigh the branches.

The tables are built only once timm is imported (a model from timm has imported it): timm is an
optional extra and never imported here.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..common import Unsupported
from .layers import MODULES, Entry

if TYPE_CHECKING:
    from .trace import FxImport

Composite = Callable[["FxImport", str, Any, str], str]
"""(import, the module's path, the module, its input's draft key) → the last layer's key."""


def _entry(cls: type) -> Entry:
    return MODULES[cls]


def _own_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """The module's own parameters and buffers, not its children's (its ``act``)."""
    return {k: v for k, v in module.state_dict().items() if "." not in k}


def _norm_act(norm: Entry) -> Composite:
    """timm's norm + activation modules (BatchNormAct2d, GroupNormAct, LayerNormAct2d): the
    norm at the module's path (its weights are the module's own), then its ``drop`` and
    ``act`` children as layers of their own beside it (``bn1_drop``, ``bn1_act``)."""
    type_name, params_of = norm

    def convert(imp: FxImport, path: str, m: Any, x: str) -> str:
        key = imp.add_layer(type_name, params_of(m), [x], path, m, _own_state(m))
        for name in ("drop", "act"):
            key = imp.add_module(getattr(m, name), f"{path}_{name}", key)
        return key
    return convert


def _group_norm(m: nn.GroupNorm) -> dict[str, Any]:
    return {"num_groups": m.num_groups, "eps": m.eps, "affine": m.affine}


def _layer_norm_2d(m: nn.LayerNorm) -> dict[str, Any]:
    """timm's LayerNorm2d permutes to channels-last, normalises the channels and permutes
    back, as torchvision's does."""
    return {"eps": m.eps, "elementwise_affine": m.elementwise_affine,
            "bias": getattr(m, "bias", None) is not None or not m.elementwise_affine}


def _same_pad(imp: FxImport, x: str, m: Any) -> list[int]:
    """The zero padding (left, right, top, bottom) that 'SAME' gives this input: the import
    knows the input's size, so timm's run-time padding becomes a fixed one."""
    from timm.layers.padding import pad_same_arg

    h, w = imp.draft.shape(x)[-2:]
    kernel = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size,) * 2
    stride = m.stride if isinstance(m.stride, tuple) else (m.stride,) * 2
    dilation = getattr(m, "dilation", 1)
    dilation = dilation if isinstance(dilation, tuple) else (dilation,) * 2
    return [int(p) for p in pad_same_arg([h, w], list(kernel), list(stride), list(dilation))]


def _conv_same(imp: FxImport, path: str, m: nn.Conv2d, x: str) -> str:
    """Conv2dSame: ZeroPad2d (``conv_pad``, left out when nothing pads) + an unpadded Conv2d
    at the module's path."""
    pad = _same_pad(imp, x, m)
    if any(pad):
        x = imp.add_layer("ZeroPad2d", {"padding": pad}, [x], f"{path}_pad")
        imp.note_once("timm's 'SAME' padding, computed at run time, became ZeroPad2d layers "
                      "fixed for this input size")
    return imp.add_layer("Conv2d", _entry(nn.Conv2d)[1](m), [x], path, m)


def _std_conv(imp: FxImport, path: str, m: nn.Conv2d, x: str) -> str:
    """StdConv2d / ScaledStdConv2d (and their 'SAME' variants): a Conv2d with the
    weight_standardization option, its keys (weight, bias, gain) timm's. timm keeps only
    gamma / √fan-in, so gamma is that times √fan-in."""
    if m.padding_mode != "zeros":
        raise Unsupported("", f"padding_mode={m.padding_mode!r} (timm's forward ignores it)")
    if getattr(m, "same_pad", False):
        pad = _same_pad(imp, x, m)
        if any(pad):
            x = imp.add_layer("ZeroPad2d", {"padding": pad}, [x], f"{path}_pad")
            imp.note_once("timm's 'SAME' padding, computed at run time, became ZeroPad2d "
                          "layers fixed for this input size")
    params = _entry(nn.Conv2d)[1](m)
    params.update(weight_standardization="standard", ws_eps=float(m.eps))
    if isinstance(getattr(m, "gain", None), nn.Parameter):
        gamma = float(m.scale) * m.weight[0].numel() ** 0.5
        params.update(weight_standardization="scaled", ws_gamma=float(f"{gamma:.12g}"))
    return imp.add_layer("Conv2d", params, [x], path, m)


def _max_pool_same(imp: FxImport, path: str, m: Any, x: str) -> str:
    """MaxPool2dSame pads with -inf: MaxPool2d's own padding where it pads the start, and
    ceil_mode for the extra at the end (windows past the input see only it)."""
    left, right, top, bottom = _same_pad(imp, x, m)
    kernel = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size,) * 2
    if right < left or bottom < top or 2 * top > kernel[0] or 2 * left > kernel[1]:
        raise Unsupported("", f"'SAME' padding {[left, right, top, bottom]} has no MaxPool2d")
    params = {"kernel_size": list(kernel), "stride": list(m.stride), "padding": [top, left],
              "dilation": list(m.dilation), "ceil_mode": right > left or bottom > top}
    key = imp.add_layer("MaxPool2d", params, [x], path)
    h, w = imp.draft.shape(x)[-2:]
    want = (-(-h // params["stride"][0]), -(-w // params["stride"][1]))
    if imp.draft.shape(key)[-2:] != want:
        raise Unsupported("", "its 'SAME' padding has no MaxPool2d for this input size")
    return key


def _eca(imp: FxImport, path: str, m: Any, x: str) -> str:
    """ECA's channel attention, x · gate(conv1d(mean of each channel)), with layers the catalogue
    has: the Conv1d sliding along the channels is a Conv2d with a k×1 kernel over the channel
    axis moved to H (Permute there and back); its weight gains a trailing axis of 1."""
    if getattr(m, "conv2", None) is not None:
        raise Unsupported("", "use_mlp=True (two Conv1d with an activation) has no layers")
    conv = m.conv
    k = conv.kernel_size[0]
    pad = conv.padding[0] if isinstance(conv.padding, tuple) else 0
    mode = "zeros"
    if type(m).__name__ == "CecaModule":  # pads the channels circularly itself
        pad, mode = int(m.padding), "circular"
    y = imp.add_layer("AdaptiveAvgPool2d", {"output_size": 1}, [x], f"{path}.pool")
    y = imp.add_layer("Permute", {"dims": [1, 0, 2]}, [y], f"{path}.to_sequence")
    state = {"weight": conv.weight.unsqueeze(-1)}
    if conv.bias is not None:
        state["bias"] = conv.bias
    params = {"out_channels": 1, "kernel_size": [k, 1], "padding": [pad, 0],
              "bias": conv.bias is not None, "padding_mode": mode}
    y = imp.add_layer("Conv2d", params, [y], f"{path}.conv", conv, state)
    y = imp.add_module(m.gate, f"{path}.gate", y)
    y = imp.add_layer("Permute", {"dims": [1, 0, 2]}, [y], f"{path}.to_channels")
    imp.note_once("ECA's Conv1d along the channels became a Conv2d with a k×1 kernel between "
                  "two Permutes (its weight has a trailing axis of 1)")
    return imp.add_layer("Mul", {}, [x, y], f"{path}.mul")


def _apply(imp: FxImport, m: Any, path: str, x: str) -> str:
    """A child module as its layers: timm's ConvNormAct (conv, bn, aa in turn), a module with a
    rule of its own, or a catalogue layer."""
    if type(m).__name__ == "ConvNormAct" and type(m).__module__.startswith("timm."):
        return _chain(imp, m, path, ("conv", "bn", "aa"), x)
    composite = _tables()[1].get(type(m))
    if composite is not None:
        return composite(imp, path, m, x)
    return imp.add_module(m, path, x)


def _chain(imp: FxImport, m: Any, path: str, names: tuple[str, ...], x: str) -> str:
    """``m``'s children ``names`` applied in turn (those it lacks or holds as None skipped)."""
    for name in names:
        child = getattr(m, name, None)
        if child is not None:
            x = _apply(imp, child, f"{path}.{name}", x)
    return x


def _weighted_sum(imp: FxImport, path: str, branches: list[str], weights: str) -> str:
    """Σᵢ branchᵢ · Chunk(k, i) of the k·C weights: attention over k branches."""
    k = len(branches)
    products = []
    for i, branch in enumerate(branches):
        w = imp.add_layer("Chunk", {"chunks": k, "index": i}, [weights], f"{path}.weight_{i}")
        products.append(imp.add_layer("Mul", {}, [branch, w], f"{path}.mul_{i}"))
    imp.note_once("attention over k branches (SKNet, ResNeSt) became BranchSoftmax, then "
                  "Chunk, Mul and Add per branch")
    return imp.add_layer("Add", {}, products, f"{path}.sum")


def _pieces(imp: FxImport, path: str, x: str, k: int, name: str) -> list[str]:
    """``x`` split into k equal channel pieces (Chunk nodes ``{name}_{i}``)."""
    return [imp.add_layer("Chunk", {"chunks": k, "index": i}, [x], f"{path}.{name}_{i}")
            for i in range(k)]


def _selective_kernel(imp: FxImport, path: str, m: Any, x: str) -> str:
    """SKNet's SelectiveKernel: k convolution paths (each on its share of the input channels
    when split_input), their sum pooled into k·C attention scores, a BranchSoftmax over the
    paths, and the paths summed with those weights."""
    k = m.num_paths
    inputs = _pieces(imp, path, x, k, "split") if m.split_input else [x] * k
    paths = [_apply(imp, op, f"{path}.paths.{i}", inp)
             for i, (op, inp) in enumerate(zip(m.paths, inputs))]
    attn = m.attn
    a = imp.add_layer("Add", {}, paths, f"{path}.attn.sum")
    a = imp.add_layer("AdaptiveAvgPool2d", {"output_size": 1}, [a], f"{path}.attn.pool")
    a = _chain(imp, attn, f"{path}.attn", ("fc_reduce", "bn", "act", "fc_select"), a)
    a = imp.add_layer("BranchSoftmax", {"branches": k}, [a], f"{path}.attn.softmax")
    return _weighted_sum(imp, path, paths, a)


def _split_attn(imp: FxImport, path: str, m: Any, x: str) -> str:
    """ResNeSt's SplitAttn: one grouped convolution makes radix branches (its channel pieces),
    their sum is pooled into scores, RadixSoftmax (a BranchSoftmax with the cardinality as
    groups; a Sigmoid for radix 1) weighs them, and the weighted branches are summed."""
    x = _chain(imp, m, path, ("conv", "bn0", "drop", "act0"), x)
    r = m.radix
    branches = _pieces(imp, path, x, r, "radix") if r > 1 else [x]
    a = imp.add_layer("Add", {}, branches, f"{path}.gap") if r > 1 else x
    a = imp.add_layer("AdaptiveAvgPool2d", {"output_size": 1}, [a], f"{path}.pool")
    a = _chain(imp, m, path, ("fc1", "bn1", "act1", "fc2"), a)
    if r == 1:
        a = imp.add_layer("Sigmoid", {}, [a], f"{path}.rsoftmax")
        return imp.add_layer("Mul", {}, [x, a], f"{path}.mul")
    params = {"branches": r, "groups": m.rsoftmax.cardinality}
    a = imp.add_layer("BranchSoftmax", params, [a], f"{path}.rsoftmax")
    return _weighted_sum(imp, path, branches, a)


def _drop_path(imp: FxImport, path: str, m: Any, x: str) -> str:
    """DropPath is torchvision's StochasticDepth in 'row' mode (both scale the kept rows by
    1 / keep); with drop_prob 0 it passes its input on."""
    if not m.drop_prob:
        return x
    if not getattr(m, "scale_by_keep", True):
        raise Unsupported("", "scale_by_keep=False (StochasticDepth rescales what it keeps)")
    return imp.add_layer("StochasticDepth", {"p": float(m.drop_prob), "mode": "row"}, [x], path)


def _activations(acts: Any) -> dict[type, Entry]:
    """timm's activation classes that compute what a catalogue activation does."""
    none: Callable[[Any], dict[str, Any]] = lambda m: {}  # noqa: E731
    names = {"Swish": ("SiLU", none), "SwishMe": ("SiLU", none), "Mish": ("Mish", none),
             "MishMe": ("Mish", none), "Sigmoid": ("Sigmoid", none), "Tanh": ("Tanh", none),
             "HardSwish": ("Hardswish", none), "HardSwishMe": ("Hardswish", none),
             "HardSigmoid": ("Hardsigmoid", none), "HardSigmoidMe": ("Hardsigmoid", none),
             "GELU": ("GELU", lambda m: {"approximate": "none"}),
             "GELUTanh": ("GELU", lambda m: {"approximate": "tanh"}),
             "PReLU": ("PReLU", _entry(nn.PReLU)[1])}
    found: dict[type, Entry] = {}
    for module in acts:
        for name, entry in names.items():
            cls = getattr(module, name, None)
            if isinstance(cls, type):
                found[cls] = entry
    return found


def _classes(rules: dict[str, Any]) -> dict[type, Any]:
    """``{'timm.layers.x.Class': rule}`` with the classes this timm version has."""
    found: dict[type, Any] = {}
    for path, rule in rules.items():
        module, _, name = path.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type):
            found[cls] = rule
    return found


@cache
def _tables() -> tuple[dict[type, Entry], dict[type, Composite]]:
    from timm.layers import activations, activations_me

    norm = "timm.layers.norm"
    layers: dict[type, Entry] = _classes({
        "timm.layers.linear.Linear": _entry(nn.Linear),
        f"{norm}.LayerNorm": _entry(nn.LayerNorm),
        f"{norm}.LayerNorm2d": ("LayerNorm2d", _layer_norm_2d),
        f"{norm}.GroupNorm": ("GroupNorm", _group_norm),
        f"{norm}.GroupNorm1": ("GroupNorm", _group_norm),
        "timm.layers.grn.GlobalResponseNorm": ("GlobalResponseNorm", lambda m: {
            "eps": m.eps, "channels_last": m.channel_dim == -1}),
        "timm.layers.blur_pool.BlurPool2d": ("BlurPool2d", lambda m: {
            "filt_size": m.filt_size, "stride": m.stride, "pad_mode": m.pad_mode}),
    })
    layers.update(_activations([activations, activations_me]))
    norm_act = "timm.layers.norm_act"
    composites: dict[type, Composite] = _classes({
        f"{norm_act}.BatchNormAct2d": _norm_act(_entry(nn.BatchNorm2d)),
        f"{norm_act}.GroupNormAct": _norm_act(("GroupNorm", _group_norm)),
        f"{norm_act}.GroupNorm1Act": _norm_act(("GroupNorm", _group_norm)),
        f"{norm_act}.LayerNormAct": _norm_act(_entry(nn.LayerNorm)),
        f"{norm_act}.LayerNormAct2d": _norm_act(("LayerNorm2d", _layer_norm_2d)),
        "timm.layers.conv2d_same.Conv2dSame": _conv_same,
        "timm.layers.pool2d_same.MaxPool2dSame": _max_pool_same,
        "timm.layers.std_conv.StdConv2d": _std_conv,
        "timm.layers.std_conv.StdConv2dSame": _std_conv,
        "timm.layers.std_conv.ScaledStdConv2d": _std_conv,
        "timm.layers.std_conv.ScaledStdConv2dSame": _std_conv,
        "timm.layers.eca.EcaModule": _eca,
        "timm.layers.eca.CecaModule": _eca,
        "timm.layers.drop.DropPath": _drop_path,
        "timm.layers.selective_kernel.SelectiveKernel": _selective_kernel,
        "timm.layers.split_attn.SplitAttn": _split_attn,
    })
    return layers, composites


def timm_tables() -> tuple[dict[type, Entry], dict[type, Composite]]:
    """timm's classes that are one catalogue layer, and those that become several; empty
    while timm is not imported."""
    if "timm" not in sys.modules:
        return {}, {}
    return _tables()
