"""ONNX activations and the operators that hold weights (convolutions, Gemm/MatMul,
normalisations), as catalogue layers with their initializers as the layers' weights."""

from __future__ import annotations

from math import isinf

import numpy as np
import torch

from ..common import Unsupported
from .op import Handler, Op, full_rank, pair, same, weight, window

# -- activations --------------------------------------------------------------------------------


def _simple(type_name: str) -> Handler:
    return lambda op: op.add(type_name, {}, [op.tensor()])


def _leaky_relu(op: Op) -> str:
    return op.add("LeakyReLU", {"negative_slope": float(op.attrs.get("alpha", 0.01))},
                  [op.tensor()])


def _elu(op: Op) -> str:
    return op.add("ELU", {"alpha": float(op.attrs.get("alpha", 1.0))}, [op.tensor()])


def _selu(op: Op) -> str:
    alpha, gamma = float(op.attrs.get("alpha", 1.67326319)), float(op.attrs.get("gamma", 1.0507))
    if not (same(alpha, 1.6732632423543772) or same(alpha, 1.67326319)) \
            or not (same(gamma, 1.0507009873554805) or same(gamma, 1.0507)):
        raise Unsupported("", f"with alpha={alpha}, gamma={gamma} (SELU has fixed ones)")
    return op.add("SELU", {}, [op.tensor()])


def _hard_sigmoid(op: Op) -> str:
    alpha, beta = float(op.attrs.get("alpha", 0.2)), float(op.attrs.get("beta", 0.5))
    if not (same(alpha, 1 / 6) and same(beta, 0.5)):
        raise Unsupported("", f"with alpha={alpha:g}, beta={beta:g} (torch's Hardsigmoid is "
                          "alpha=1/6, beta=0.5)")
    return op.add("Hardsigmoid", {}, [op.tensor()])


def _softplus(op: Op) -> str:
    return op.add("Softplus", {}, [op.tensor()])


def _gelu(op: Op) -> str:
    approximate = op.attrs.get("approximate", "none")
    return op.add("GELU", {"approximate": approximate}, [op.tensor()])


def _clip(op: Op) -> str:
    x = op.tensor()
    if op.imp.opset >= 11:
        lo_arr, hi_arr = op.const(1), op.const(2)
        lo = float(lo_arr) if lo_arr is not None else -np.inf
        hi = float(hi_arr) if hi_arr is not None else np.inf
    else:
        lo, hi = float(op.attrs.get("min", -np.inf)), float(op.attrs.get("max", np.inf))
    if lo == 0 and hi == 6:
        return op.add("ReLU6", {}, [x])
    if lo == 0 and isinf(hi) and hi > 0:
        return op.add("ReLU", {}, [x])
    raise Unsupported("", f"to [{lo:g}, {hi:g}] (only [0, 6], ReLU6, and [0, ∞), ReLU, have "
                      "layers)")


def _prelu(op: Op) -> str:
    x = op.tensor()
    slope = op.const(1)
    shape = op.shape(x)
    per_channel = (shape[0],) + (1,) * (len(shape) - 1)
    dims = tuple(slope.shape)
    while len(dims) > len(per_channel) and dims[0] == 1:
        dims = dims[1:]
    if slope.size != 1 and dims != per_channel:
        raise Unsupported("", f"with a slope of shape {list(slope.shape)} (one per channel, "
                          "or one for all, has a layer)")
    return op.add("PReLU", {"num_parameters": int(slope.size)}, [x],
                  state={"weight": weight(slope.reshape(-1))}, path=op.param_path(1))


def _softmax(type_name: str) -> Handler:
    def convert(op: Op) -> str:
        x = op.tensor()
        rank = full_rank(op, x)
        axis = int(op.attrs.get("axis", -1 if op.imp.opset >= 13 else 1)) % rank
        if op.imp.opset < 13 and axis != rank - 1:
            raise Unsupported("", f"on axis {axis} before opset 13 (it flattens the trailing "
                              "axes together)")
        return op.add(type_name, {"dim": axis}, [x])
    return convert


# -- weighted layers ----------------------------------------------------------------------------


def _conv(op: Op) -> str:
    x = op.tensor()
    w = op.const(1)
    if w is None or w.ndim != 4:
        raise Unsupported("", "other than 2-D (only Conv2d has a layer)")
    kernel = op.ints("kernel_shape", list(w.shape[2:]))
    strides, dilations, pads = window(op, x, kernel)
    group = int(op.attrs.get("group", 1))
    channels = op.shape(x)[0]
    if w.shape[1] * group != channels:
        raise Unsupported("", f"whose weights expect {w.shape[1] * group} input channels, "
                          f"not {channels}")
    top, left, bottom, right = pads
    inner = [min(top, bottom), min(left, right)]
    if [top, left] != [bottom, right]:  # asymmetric: the extra rows/columns as a ZeroPad2d
        extra = [left - inner[1], right - inner[1], top - inner[0], bottom - inner[0]]
        x = op.add("ZeroPad2d", {"padding": extra}, [x], suffix="_pad",
                   path=op.param_path(1))
    state = {"weight": weight(w)}
    bias = op.const(2)
    if bias is not None:
        state["bias"] = weight(bias.reshape(-1))
    params = {"out_channels": int(w.shape[0]), "kernel_size": pair(kernel),
              "stride": pair(strides), "padding": pair(inner), "dilation": pair(dilations),
              "groups": group, "bias": bias is not None}
    return op.add("Conv2d", params, [x], state=state, path=op.param_path(1))


def _conv_transpose(op: Op) -> str:
    x = op.tensor()
    w = op.const(1)
    if w is None or w.ndim != 4:
        raise Unsupported("", "other than 2-D (only ConvTranspose2d has a layer)")
    if op.attrs.get("output_shape") is not None or \
            op.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", ""):
        raise Unsupported("", "with output_shape or auto_pad (give pads instead)")
    kernel = op.ints("kernel_shape", list(w.shape[2:]))
    strides, dilations, pads = window(op, x, kernel)
    if pads[:2] != pads[2:]:
        raise Unsupported("", f"with asymmetric pads {pads}")
    group = int(op.attrs.get("group", 1))
    if w.shape[0] != op.shape(x)[0]:
        raise Unsupported("", f"whose weights expect {w.shape[0]} input channels")
    state = {"weight": weight(w)}
    bias = op.const(2)
    if bias is not None:
        state["bias"] = weight(bias.reshape(-1))
    params = {"out_channels": int(w.shape[1]) * group, "kernel_size": pair(kernel),
              "stride": pair(strides), "padding": pair(pads[:2]),
              "output_padding": pair(op.ints("output_padding", [0, 0])), "groups": group,
              "dilation": pair(dilations), "bias": bias is not None}
    return op.add("ConvTranspose2d", params, [x], state=state, path=op.param_path(1))


def _linear(op: Op, x: str, w: np.ndarray, bias: np.ndarray | None, path: str | None) -> str:
    """A Linear layer from ``w`` of shape [out, in]."""
    if w.ndim != 2 or w.shape[1] != op.shape(x)[-1]:
        raise Unsupported("", f"with weights of shape {list(w.shape)} on input "
                          f"{list(op.shape(x))}")
    state = {"weight": weight(w)}
    if bias is not None:
        state["bias"] = weight(np.broadcast_to(bias.reshape(-1) if bias.size == w.shape[0]
                                               else bias, (w.shape[0],)))
    return op.add("Linear", {"out_features": int(w.shape[0]), "bias": bias is not None}, [x],
                  state=state, path=path)


def _gemm(op: Op) -> str:
    x = op.tensor()
    if int(op.attrs.get("transA", 0)) or len(op.shape(x)) != 1:
        raise Unsupported("", "other than on flat features [N, F] (transA=0)")
    b = op.const(1)
    w = b if int(op.attrs.get("transB", 0)) else b.T
    w = w * float(op.attrs.get("alpha", 1.0))
    c = op.const(2)
    if c is not None:
        if c.size not in (1, w.shape[0]):
            raise Unsupported("", f"with a bias of shape {list(c.shape)}")
        c = c * float(op.attrs.get("beta", 1.0))
    return _linear(op, x, w, c, op.param_path(1))


def _matmul(op: Op) -> str:
    x = op.tensor()
    b = op.const(1)
    if b is None or b.ndim != 2:
        raise Unsupported("", "other than by a constant matrix (a Linear layer)")
    return _linear(op, x, b.T, None, op.param_path(1))


def _batch_norm(op: Op) -> str:
    x = op.tensor()
    if int(op.attrs.get("training_mode", 0)) or not int(op.attrs.get("spatial", 1)):
        raise Unsupported("", "in training mode or with spatial=0")
    shape = op.shape(x)
    type_name = {1: "BatchNorm1d", 2: "BatchNorm1d", 3: "BatchNorm2d"}.get(len(shape))
    if type_name is None:
        raise Unsupported("", f"on {list(shape)}")
    scale, bias, mean, var = (op.const(i) for i in range(1, 5))
    momentum = round(1.0 - float(op.attrs.get("momentum", 0.9)), 6)
    params = {"eps": round(float(op.attrs.get("epsilon", 1e-5)), 12), "momentum": momentum}
    state = {"weight": weight(scale), "bias": weight(bias), "running_mean": weight(mean),
             "running_var": weight(var), "num_batches_tracked": torch.tensor(0)}
    return op.add(type_name, params, [x], state=state, path=op.param_path(1))


def _instance_norm(op: Op) -> str:
    x = op.tensor()
    scale, bias = op.const(1), op.const(2)
    params = {"eps": round(float(op.attrs.get("epsilon", 1e-5)), 12), "affine": True}
    return op.add("InstanceNorm2d", params, [x],
                  state={"weight": weight(scale), "bias": weight(bias)},
                  path=op.param_path(1))


def _layer_norm(op: Op) -> str:
    x = op.tensor()
    shape = op.shape(x)
    axis = int(op.attrs.get("axis", -1)) % (len(shape) + 1)
    if axis == 0:
        raise Unsupported("", "over the batch axis")
    normalized = list(shape[axis - 1:])
    scale, bias = op.const(1), op.const(2)
    state = {"weight": weight(np.broadcast_to(scale, normalized))}
    if bias is not None:
        state["bias"] = weight(np.broadcast_to(bias, normalized))
    params = {"normalized_shape": normalized,
              "eps": round(float(op.attrs.get("epsilon", 1e-5)), 12), "bias": bias is not None}
    return op.add("LayerNorm", params, [x], state=state, path=op.param_path(1))


def _group_norm(op: Op) -> str:
    x = op.tensor()
    groups = int(op.attrs["num_groups"])
    channels = op.shape(x)[0]
    scale, bias = op.const(1), op.const(2)
    if scale.size == groups and groups != channels:  # opset 18: one scale per group
        scale, bias = np.repeat(scale, channels // groups), np.repeat(bias, channels // groups)
    params = {"num_groups": groups, "eps": round(float(op.attrs.get("epsilon", 1e-5)), 12)}
    return op.add("GroupNorm", params, [x], state={"weight": weight(scale),
                                                   "bias": weight(bias)},
                  path=op.param_path(1))


def _lrn(op: Op) -> str:
    params = {"size": int(op.attrs["size"]), "alpha": float(op.attrs.get("alpha", 1e-4)),
              "beta": float(op.attrs.get("beta", 0.75)), "k": float(op.attrs.get("bias", 1.0))}
    return op.add("LocalResponseNorm", params, [op.tensor()])


HANDLERS: dict[str, Handler] = {
    "Relu": _simple("ReLU"), "Sigmoid": _simple("Sigmoid"), "Tanh": _simple("Tanh"),
    "HardSwish": _simple("Hardswish"), "Mish": _simple("Mish"),
    "LeakyRelu": _leaky_relu, "Elu": _elu, "Selu": _selu, "HardSigmoid": _hard_sigmoid,
    "Softplus": _softplus, "Gelu": _gelu, "Clip": _clip, "PRelu": _prelu,
    "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
    "Conv": _conv, "ConvTranspose": _conv_transpose, "Gemm": _gemm, "MatMul": _matmul,
    "BatchNormalization": _batch_norm, "InstanceNormalization": _instance_norm,
    "LayerNormalization": _layer_norm, "GroupNormalization": _group_norm, "LRN": _lrn,
}
