"""torch.nn layers the catalogue has, and how each one's constructor arguments become the
layer's parameters (the fx importer keeps these modules whole while tracing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ..common import Unsupported


def _conv(m: nn.Conv2d) -> dict[str, Any]:
    return {"out_channels": m.out_channels, "kernel_size": m.kernel_size, "stride": m.stride,
            "padding": m.padding, "dilation": m.dilation, "groups": m.groups,
            "bias": m.bias is not None, "padding_mode": m.padding_mode}


def _deconv(m: nn.ConvTranspose2d) -> dict[str, Any]:
    if m.padding_mode != "zeros":
        raise Unsupported("", f"padding_mode={m.padding_mode!r}")
    return {"out_channels": m.out_channels, "kernel_size": m.kernel_size, "stride": m.stride,
            "padding": m.padding, "output_padding": m.output_padding, "groups": m.groups,
            "bias": m.bias is not None, "dilation": m.dilation}


def _norm(m: nn.modules.batchnorm._NormBase) -> dict[str, Any]:
    return {"eps": m.eps, "momentum": m.momentum, "affine": m.affine,
            "track_running_stats": m.track_running_stats}


def _no_indices(m: Any) -> None:
    if getattr(m, "return_indices", False):
        raise Unsupported("", "return_indices=True")


def _maxpool(m: nn.MaxPool2d) -> dict[str, Any]:
    _no_indices(m)
    return {"kernel_size": m.kernel_size, "stride": m.stride, "padding": m.padding,
            "dilation": m.dilation, "ceil_mode": m.ceil_mode}


def _adaptive(m: Any) -> dict[str, Any]:
    _no_indices(m)
    return {"output_size": m.output_size}


def _upsample(m: nn.Upsample) -> dict[str, Any]:
    if getattr(m, "recompute_scale_factor", None):
        raise Unsupported("", "recompute_scale_factor=True")
    return {"size": m.size, "scale_factor": m.scale_factor, "mode": m.mode,
            "align_corners": m.align_corners}


def _none(m: nn.Module) -> dict[str, Any]:
    return {}


def _hardtanh(m: nn.Hardtanh) -> dict[str, Any]:
    if (float(m.min_val), float(m.max_val)) != (0.0, 6.0):
        raise Unsupported("", f"Hardtanh({m.min_val}, {m.max_val}): only Hardtanh(0, 6), "
                          "which is ReLU6, has a layer")
    return {}


def sample_permutation(dims: Any) -> list[int]:
    """torch's permutation (the batch counted as 0) as the sample's axes; the batch must stay
    first."""
    dims = list(dims)
    if not dims or not all(isinstance(d, int) for d in dims):
        raise Unsupported("", "with dims computed at run time")
    dims = [d % len(dims) for d in dims]
    if dims[0] != 0:
        raise Unsupported("", "moving the batch axis")
    return [d - 1 for d in dims[1:]]


Entry = tuple[str, Callable[[Any], dict[str, Any]]]
"""A layer type and how a module's constructor arguments become its parameters."""


def _module_table() -> dict[type, Entry]:
    table: dict[type, Entry] = {
        nn.Conv2d: ("Conv2d", _conv),
        nn.ConvTranspose2d: ("ConvTranspose2d", _deconv),
        nn.Linear: ("Linear", lambda m: {"out_features": m.out_features,
                                         "bias": m.bias is not None}),
        nn.BatchNorm2d: ("BatchNorm2d", _norm),
        nn.BatchNorm1d: ("BatchNorm1d", _norm),
        nn.InstanceNorm2d: ("InstanceNorm2d", _norm),
        nn.GroupNorm: ("GroupNorm", lambda m: {"num_groups": m.num_groups, "eps": m.eps,
                                               "affine": m.affine}),
        nn.LayerNorm: ("LayerNorm", lambda m: {
            "normalized_shape": list(m.normalized_shape), "eps": m.eps,
            "elementwise_affine": m.elementwise_affine,
            "bias": getattr(m, "bias", None) is not None or not m.elementwise_affine}),
        nn.LocalResponseNorm: ("LocalResponseNorm", lambda m: {
            "size": m.size, "alpha": m.alpha, "beta": m.beta, "k": m.k}),
        nn.MaxPool2d: ("MaxPool2d", _maxpool),
        nn.AvgPool2d: ("AvgPool2d", lambda m: {
            "kernel_size": m.kernel_size, "stride": m.stride, "padding": m.padding,
            "ceil_mode": m.ceil_mode, "count_include_pad": m.count_include_pad,
            "divisor_override": m.divisor_override}),
        nn.LPPool2d: ("LPPool2d", lambda m: {
            "norm_type": float(m.norm_type), "kernel_size": m.kernel_size, "stride": m.stride,
            "ceil_mode": m.ceil_mode}),
        nn.AdaptiveAvgPool2d: ("AdaptiveAvgPool2d", _adaptive),
        nn.AdaptiveMaxPool2d: ("AdaptiveMaxPool2d", _adaptive),
        nn.Flatten: ("Flatten", lambda m: {"start_dim": m.start_dim, "end_dim": m.end_dim}),
        nn.Dropout: ("Dropout", lambda m: {"p": m.p}),
        nn.Dropout2d: ("Dropout2d", lambda m: {"p": m.p}),
        nn.ZeroPad2d: ("ZeroPad2d", lambda m: {"padding": list(m.padding)}),
        nn.Upsample: ("Upsample", _upsample),
        nn.ReLU: ("ReLU", _none), nn.ReLU6: ("ReLU6", _none), nn.Hardtanh: ("ReLU6", _hardtanh),
        nn.LeakyReLU: ("LeakyReLU", lambda m: {"negative_slope": m.negative_slope}),
        nn.ELU: ("ELU", lambda m: {"alpha": m.alpha}),
        nn.SELU: ("SELU", _none),
        nn.GELU: ("GELU", lambda m: {"approximate": m.approximate}),
        nn.SiLU: ("SiLU", _none), nn.Hardswish: ("Hardswish", _none),
        nn.Hardsigmoid: ("Hardsigmoid", _none), nn.Mish: ("Mish", _none),
        nn.Sigmoid: ("Sigmoid", _none), nn.Tanh: ("Tanh", _none),
        nn.Softplus: ("Softplus", lambda m: {"beta": float(m.beta),
                                             "threshold": float(m.threshold)}),
        nn.PReLU: ("PReLU", lambda m: {"num_parameters": m.num_parameters}),
        nn.Softmax: ("Softmax", lambda m: {"dim": m.dim}),
        nn.LogSoftmax: ("LogSoftmax", lambda m: {"dim": m.dim}),
        nn.ChannelShuffle: ("ChannelShuffle", lambda m: {"groups": m.groups}),
    }
    try:
        from torchvision.ops import StochasticDepth
    except ImportError:  # pragma: no cover - torchvision is a dependency
        pass
    else:
        table[StochasticDepth] = ("StochasticDepth", lambda m: {"p": m.p, "mode": m.mode})
    try:
        from torchvision.models.convnext import LayerNorm2d
        from torchvision.ops.misc import Permute
    except ImportError:  # pragma: no cover - torchvision is a dependency
        pass
    else:
        table[Permute] = ("Permute", lambda m: {"dims": sample_permutation(m.dims)})
        table[LayerNorm2d] = ("LayerNorm2d", lambda m: {
            "eps": m.eps, "elementwise_affine": m.elementwise_affine,
            "bias": getattr(m, "bias", None) is not None or not m.elementwise_affine})
    return table


MODULES = _module_table()
PASS_MODULES = (nn.Identity,)
"""Layers left out of the graph: their output is their input."""
SOFTMAX = ("Softmax", "LogSoftmax")
