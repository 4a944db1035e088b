"""ONNX operators and the layers they become: the table, and the pooling, merging and
reshaping operators (activations and weighted layers are in ``import_onnx_layers``).

Each handler gets an ``Op`` and adds layers through it, or raises Unsupported saying why this
use of the operator has no layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....graph.layers.shuffle import chunk_sizes
from ..common import Unsupported, flatten_span
from . import layers as L
from .op import Handler, Op, Shape, full_rank, pair, same, window

# -- pooling ------------------------------------------------------------------------------------


def _pool(type_name: str) -> Handler:
    def convert(op: Op) -> str:
        x = op.tensor()
        kernel = op.ints("kernel_shape")
        strides, dilations, pads = window(op, x, kernel)
        if pads[:2] != pads[2:]:
            raise Unsupported("", f"with asymmetric pads {pads}")
        params: dict[str, Any] = {"kernel_size": pair(kernel), "padding": pair(pads[:2]),
                                  "ceil_mode": bool(op.attrs.get("ceil_mode", 0))}
        if strides != kernel:
            params["stride"] = pair(strides)
        if type_name == "MaxPool2d":
            params["dilation"] = pair(dilations)
        elif dilations != [1, 1]:
            raise Unsupported("", "with dilations")
        elif any(pads):
            params["count_include_pad"] = bool(op.attrs.get("count_include_pad", 0))
        return op.add(type_name, params, [x])
    return convert


def _lp_pool(op: Op) -> str:
    x = op.tensor()
    kernel = op.ints("kernel_shape")
    strides, dilations, pads = window(op, x, kernel)
    if any(pads) or dilations != [1, 1]:
        raise Unsupported("", "with padding or dilations")
    params = {"norm_type": float(op.attrs.get("p", 2)), "kernel_size": pair(kernel),
              "stride": pair(strides)}
    return op.add("LPPool2d", params, [x])


def _global(type_name: str) -> Handler:
    def convert(op: Op) -> str:
        x = op.tensor()
        if len(op.shape(x)) != 3:
            raise Unsupported("", f"on {list(op.shape(x))} (only feature maps have a layer)")
        return op.add(type_name, {"output_size": 1}, [x])
    return convert


def _reduce(type_name: str) -> Handler:
    """ReduceMean/ReduceMax over H and W: global pooling (then a Flatten without keepdims)."""
    def convert(op: Op) -> str:
        x = op.tensor()
        rank = full_rank(op, x)
        axes = op.axes(1, 18)
        if rank != 4 or axes is None or sorted(a % rank for a in axes) != [2, 3]:
            raise Unsupported("", "other than over H and W of a feature map")
        pooled = op.add(type_name, {"output_size": 1}, [x])
        if int(op.attrs.get("keepdims", 1)):
            return pooled
        return op.add("Flatten", {}, [pooled], suffix="_flatten")
    return convert


# -- structure ----------------------------------------------------------------------------------


def _merge(type_name: str) -> Handler:
    def convert(op: Op) -> str:
        consts = [i for i in range(len(op.inputs)) if op.is_const(i)]
        if consts:
            return op.imp.fold_constant(op, type_name, consts)
        keys = [op.tensor(i) for i in range(len(op.inputs))]
        return keys[0] if len(keys) == 1 else op.add(type_name, {}, keys)
    return convert


def _concat(op: Op) -> str:
    keys = [op.tensor(i) for i in range(len(op.inputs))]
    if len(keys) == 1:
        return keys[0]
    axis = int(op.attrs["axis"]) % full_rank(op, keys[0])
    return op.add("Concat", {"dim": axis}, keys)


def _to_shape(op: Op, x: str, dst: Shape, what: str) -> str:
    """A per-sample reshape that only merges neighbouring axes: a Flatten (or nothing)."""
    src = op.shape(x)
    if tuple(dst) == src:
        return x
    span = flatten_span(src, dst)
    if span is None:
        raise Unsupported("", f"{what} [N, {', '.join(map(str, dst))}] from "
                          f"[N, {', '.join(map(str, src))}]: only a flatten has a layer")
    return op.add("Flatten", {"start_dim": span[0], "end_dim": span[1]}, [x])


def _flatten(op: Op) -> str:
    x = op.tensor()
    axis = int(op.attrs.get("axis", 1)) % (full_rank(op, x) + 1)
    if axis != 1:
        raise Unsupported("", f"at axis {axis} (it would merge the batch axis; only axis 1 has "
                          "a layer)")
    return _to_shape(op, x, (int(np.prod(op.shape(x))),), "to")


def _reshape(op: Op) -> str:
    x = op.tensor()
    target = op.folded(1)
    src = op.shape(x)
    results = []
    for batch, t in zip(op.imp.batches, target.values):
        dims = [int(d) for d in t.reshape(-1)]
        full = [batch, *src]
        if not int(op.attrs.get("allowzero", 0)):
            dims = [full[i] if d == 0 and i < len(full) else d for i, d in enumerate(dims)]
        if dims.count(-1) == 1:
            known = int(np.prod([d for d in dims if d != -1]))
            dims[dims.index(-1)] = int(np.prod(full)) // known if known else -1
        results.append(dims)
    if any(not r or r[0] != b for r, b in zip(results, op.imp.batches)) \
            or results[0][1:] != results[1][1:]:
        raise Unsupported("", f"to {results[0]}: the batch axis must stay first")
    return _to_shape(op, x, tuple(results[0][1:]), "to")


def _squeeze(op: Op) -> str:
    x = op.tensor()
    src = op.shape(x)
    axes = op.axes(1, 13)
    rank = len(src) + 1
    if axes is None:
        dst = tuple(d for d in src if d != 1)
    else:
        axes = [a % rank for a in axes]
        if 0 in axes:
            raise Unsupported("", "of the batch axis")
        dst = tuple(d for i, d in enumerate(src) if i + 1 not in axes)
    return _to_shape(op, x, dst, "to")


def _transpose(op: Op) -> str:
    """A reordering of the sample's axes (the batch axis stays first): a Permute."""
    x = op.tensor()
    rank = full_rank(op, x)
    perm = op.ints("perm", list(range(rank - 1, -1, -1)))
    if sorted(perm) != list(range(rank)) or perm[0] != 0:
        raise Unsupported("", f"with perm {perm}: only orders that keep the batch axis first "
                          "have a layer (Permute)")
    if perm == list(range(rank)):
        return x
    return op.add("Permute", {"dims": [p - 1 for p in perm[1:]]}, [x])


def _channel_piece(op: Op, x: str, start: int, end: int, suffix: str = "") -> str:
    """Channels ``start`` to ``end`` of ``x``: nothing for all of them, a Chunk for one piece of
    an even split (x.chunk(n, dim=1)[i] says the same in the numbers users think in), else a
    Slice."""
    channels = op.shape(x)[0]
    if (start, end) == (0, channels):
        return x
    size = end - start
    if size > 0 and channels % size == 0 and start % size == 0:
        return op.add("Chunk", {"chunks": channels // size, "index": start // size}, [x],
                      suffix=suffix)
    return op.add("Slice", {"start": start, "end": end}, [x], suffix=suffix)


def _slice(op: Op) -> str:
    """``x[:, start:end]`` with constant bounds and step 1 on the channel axis."""
    x = op.tensor()
    rank = full_rank(op, x)
    if op.imp.opset >= 10:
        starts, ends = op.const(1), op.const(2)
        axes, steps = op.const(3), op.const(4)
    else:
        starts, ends = np.asarray(op.ints("starts")), np.asarray(op.ints("ends"))
        axes, steps = (np.asarray(op.ints("axes")) if "axes" in op.attrs else None), None
    starts, ends = starts.reshape(-1), ends.reshape(-1)
    axes = np.arange(len(starts)) if axes is None else axes.reshape(-1)
    steps = np.ones(len(starts), np.int64) if steps is None else steps.reshape(-1)
    shape = (0, *op.shape(x))
    ranges = {}
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = int(axis) % rank
        if int(step) != 1:
            raise Unsupported("", f"with step {int(step)} (only step 1 has a layer)")
        ranges[axis] = slice(int(start), int(end)).indices(shape[axis])[:2] if axis else None
    others = {a: r for a, r in ranges.items() if a != 1 and r != (0, shape[a])}
    if 1 not in ranges or others:
        raise Unsupported("", "other than along the channels (axis 1; only that has a layer)")
    start, end = ranges[1]
    if end <= start:
        raise Unsupported("", f"to an empty range {start}:{end}")
    return _channel_piece(op, x, start, end)


def _split(op: Op) -> list[str | None]:
    """Pieces along the channels, one Chunk or Slice per output that is used."""
    x = op.tensor()
    outputs = list(op.node.output)
    if int(op.attrs.get("axis", 0)) % full_rank(op, x) != 1:
        raise Unsupported("", "other than along the channels (axis 1; only that has a layer)")
    channels = op.shape(x)[0]
    given = op.const(1) if op.imp.opset >= 13 else (
        np.asarray(op.ints("split")) if "split" in op.attrs else None)
    if given is not None and given.size:
        sizes = [int(s) for s in given.reshape(-1)]
    elif op.imp.opset >= 18 and "num_outputs" in op.attrs:
        sizes = chunk_sizes(channels, int(op.attrs["num_outputs"]))
    elif channels % len(outputs) == 0:
        sizes = [channels // len(outputs)] * len(outputs)
    else:
        sizes = []
    if len(sizes) != len(outputs) or sum(sizes) != channels or min(sizes) < 1:
        raise Unsupported("", f"of {channels} channels into {len(outputs)} outputs of sizes "
                          f"{sizes or 'unknown'}")
    keys: list[str | None] = []
    for i, (name, size) in enumerate(zip(outputs, sizes)):
        start = sum(sizes[:i])
        used = name and op.imp.uses.get(name)
        keys.append(_channel_piece(op, x, start, start + size, f"_{i}") if used else None)
    return keys


def _pass(op: Op) -> str:
    return op.tensor()


def _cast(op: Op) -> str:
    to = int(op.attrs.get("to", 1))
    if to not in (1, 10, 11, 16):  # float, float16, double, bfloat16
        raise Unsupported("", "to a non-float type")
    return op.tensor()


def _dropout(op: Op) -> str:
    ratio = op.const(1) if op.imp.opset >= 12 else None
    p = float(ratio) if ratio is not None else float(op.attrs.get("ratio", 0.5))
    return op.add("Dropout", {"p": p}, [op.tensor()])


def _pad(op: Op) -> str:
    x = op.tensor()
    if op.attrs.get("mode", "constant") != "constant":
        raise Unsupported("", f"in {op.attrs['mode']} mode (only zero padding has a layer)")
    if op.imp.opset >= 11:
        pads = op.const(1)
        value = op.const(2)
        axes = op.const(3)
    else:
        pads, value, axes = np.asarray(op.ints("pads")), op.attrs.get("value"), None
    rank = full_rank(op, x)
    pads = [int(p) for p in np.asarray(pads).reshape(-1)]
    axes_list = list(range(rank)) if axes is None else [int(a) % rank for a in axes]
    begin, end = dict.fromkeys(range(rank), 0), dict.fromkeys(range(rank), 0)
    half = len(pads) // 2
    for i, axis in enumerate(axes_list):
        begin[axis], end[axis] = pads[i], pads[half + i]
    if value is not None and float(np.asarray(value).reshape(-1)[0]) != 0.0:
        raise Unsupported("", "with a non-zero value")
    if rank != 4 or any(begin[a] or end[a] for a in (0, 1)) or min(pads, default=0) < 0:
        raise Unsupported("", "other than zero padding of H and W")
    return op.add("ZeroPad2d", {"padding": [begin[3], end[3], begin[2], end[2]]}, [x])


_NEAREST = {("asymmetric", "floor"): "nearest", ("half_pixel", "round_prefer_ceil"):
            "nearest-exact"}


def _resize(op: Op) -> str:
    x = op.tensor()
    c, h, w = op.shape(x) if len(op.shape(x)) == 3 else (0, 0, 0)
    if not c:
        raise Unsupported("", "other than of feature maps")
    mode = op.attrs.get("mode", "nearest")
    if op.type == "Upsample" or op.imp.opset < 11:
        ctm = "asymmetric"
        nearest = "floor"
        scales = op.const(1) if op.present(1) else np.asarray(op.attrs.get("scales"))
        sizes = None
    else:
        ctm = op.attrs.get("coordinate_transformation_mode", "half_pixel")
        nearest = op.attrs.get("nearest_mode", "round_prefer_floor")
        scales = op.const(2) if op.present(2) else None
        sizes = op.folded(3).values[0] if op.present(3) else None
    if int(op.attrs.get("antialias", 0)) or op.attrs.get("axes") is not None:
        raise Unsupported("", "with antialias or axes")
    params: dict[str, Any] = {}
    if mode == "nearest":
        params["mode"] = _NEAREST.get((ctm, nearest))
        if params["mode"] is None:
            raise Unsupported("", f"nearest with {ctm}/{nearest} rounding (torch's are "
                              "asymmetric/floor and half_pixel/round_prefer_ceil)")
    elif mode in ("linear", "cubic"):
        if ctm not in ("half_pixel", "pytorch_half_pixel", "align_corners") or (
                mode == "cubic" and (not same(float(op.attrs.get("cubic_coeff_a", -0.75)),
                                               -0.75) or op.attrs.get("exclude_outside", 0))):
            raise Unsupported("", f"{mode} with {ctm} coordinates")
        params["mode"] = "bilinear" if mode == "linear" else "bicubic"
        params["align_corners"] = ctm == "align_corners"
    else:
        raise Unsupported("", f"in {mode} mode")
    if scales is not None and scales.size:
        scales = [float(s) for s in scales.reshape(-1)]
        if len(scales) != 4 or scales[:2] != [1.0, 1.0]:
            raise Unsupported("", f"with scales {scales}")
        params["scale_factor"] = scales[2] if scales[2] == scales[3] else scales[2:]
    elif sizes is not None:
        sizes = [int(s) for s in sizes.reshape(-1)]
        if len(sizes) != 4 or sizes[1] != c:
            raise Unsupported("", f"to sizes {sizes}")
        params["size"] = pair(sizes[2:])
    else:
        raise Unsupported("", "without scales or sizes")
    return op.add("Upsample", params, [x])


HANDLERS: dict[str, Handler] = {
    **L.HANDLERS,
    "MaxPool": _pool("MaxPool2d"), "AveragePool": _pool("AvgPool2d"), "LpPool": _lp_pool,
    "GlobalAveragePool": _global("AdaptiveAvgPool2d"),
    "GlobalMaxPool": _global("AdaptiveMaxPool2d"),
    "ReduceMean": _reduce("AdaptiveAvgPool2d"), "ReduceMax": _reduce("AdaptiveMaxPool2d"),
    "Add": _merge("Add"), "Sum": _merge("Add"), "Mul": _merge("Mul"), "Concat": _concat,
    "Flatten": _flatten, "Reshape": _reshape, "Squeeze": _squeeze, "Transpose": _transpose,
    "Slice": _slice, "Split": _split,
    "Identity": _pass, "Cast": _cast, "Dropout": _dropout, "Pad": _pad,
    "Resize": _resize, "Upsample": _resize,
}
