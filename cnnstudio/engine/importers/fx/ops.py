"""torch functions and Tensor methods met in a traced forward(), and the layers they become.

Each entry binds the call's arguments to names; its converter adds layers through a ``Ctx``
(which knows the inputs' shapes) or raises Unsupported with the reason.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import fx

from ....graph.layers.shuffle import chunk_sizes
from ..common import Unsupported, flatten_span
from .layers import sample_permutation

if TYPE_CHECKING:
    from .trace import FxImport


class Skip(Exception):
    """An input failed upstream; that failure is already reported."""


class Ctx:
    """What a converter needs for one fx node: its arguments bound to names, its inputs' and
    output's shapes, and how to add drafts under its module path."""

    def __init__(self, imp: FxImport, node: fx.Node, args: dict[str, Any]) -> None:
        self.imp = imp
        self.node = node
        self.a = args
        self.scope = imp.scope(node)
        self.base = re.sub(r"_\d+$", "", node.name) or "op"

    def tensor(self, value: Any) -> str:
        """The draft key of a tensor argument."""
        if isinstance(value, fx.Node):
            key = self.imp.env.get(value)
            if key is None:
                if self.imp.kind(value) == "tensor":
                    raise Skip
                raise Unsupported("", "takes a non-tensor input")
            return key
        raise Unsupported("", f"with the constant {value!r} as an input")

    def shape(self, key: str) -> tuple[int, ...]:
        return self.imp.draft.shape(key)

    @property
    def out_shape(self) -> tuple[int, ...] | None:
        return self.imp.out_shape(self.node)

    def add(self, type_name: str, params: dict[str, Any], inputs: Sequence[str],
            suffix: str = "") -> str:
        leaf = self.base + suffix
        path = f"{self.scope}.{leaf}" if self.scope else leaf
        return self.imp.draft.add(type_name, params, inputs, path=path, leaf=leaf)


Handler = Callable[[Ctx], str]


def bind(node: fx.Node, names: Sequence[str], defaults: dict[str, Any]) -> dict[str, Any]:
    args = dict(defaults)
    positional = list(node.args)
    if len(positional) > len(names):
        if names and names[-1] == "*shape":
            args["*shape"] = positional[len(names) - 1:]
            positional = positional[:len(names) - 1]
        else:
            raise Unsupported("", "unexpected arguments")
    for name, value in zip(names, positional):
        args[name] = value
    args.update(node.kwargs)
    return args


def _pointwise(type_name: str, **fixed: str) -> Handler:
    """An activation whose parameters are named arguments of the call (``fixed`` maps the
    layer's parameter to the argument's name)."""
    def convert(c: Ctx) -> str:
        params = {p: c.a[arg] for p, arg in fixed.items() if arg in c.a}
        return c.add(type_name, params, [c.tensor(c.a["input"])])
    return convert


def _hardtanh(c: Ctx) -> str:
    if (float(c.a["min_val"]), float(c.a["max_val"])) != (0.0, 6.0):
        raise Unsupported("", "only hardtanh(x, 0, 6), which is ReLU6, has a layer")
    return c.add("ReLU6", {}, [c.tensor(c.a["input"])])


def _softmax(type_name: str) -> Handler:
    def convert(c: Ctx) -> str:
        x = c.tensor(c.a["input"])
        dim = c.a.get("dim")
        if dim is None:  # torch's legacy implicit dim
            dim = 0 if len(c.shape(x)) + 1 in (0, 1, 3) else 1
        if c.a.get("dtype") is not None:
            raise Unsupported("", "with a dtype")
        return c.add(type_name, {"dim": int(dim)}, [x])
    return convert


def _merge(type_name: str) -> Handler:
    def convert(c: Ctx) -> str:
        if c.a.get("alpha", 1) != 1:
            raise Unsupported("", "with alpha")
        a, b = c.a["input"], c.a["other"]
        unit = 0 if type_name == "Add" else 1
        for const, x in ((a, b), (b, a)):  # ``out = 0; out += branch(x)`` (MobileOne)
            if isinstance(const, (int, float)) and not isinstance(const, bool) \
                    and const == unit and isinstance(x, fx.Node):
                return c.tensor(x)
        if type_name == "Mul":
            scaled = _layer_scale(c, a, b)
            if scaled is not None:
                return scaled
        for const, x in ((a, b), (b, a)):
            if _is_number(const) and isinstance(x, fx.Node) and c.imp.kind(x) == "tensor":
                return _by_constant(c, type_name, float(const), c.tensor(x))
        if not isinstance(a, fx.Node) or not isinstance(b, fx.Node) \
                or c.imp.kind(a) != "tensor" or c.imp.kind(b) != "tensor":
            what = "adding" if type_name == "Add" else "multiplying by"
            raise Unsupported(f"{what} a constant ({c.imp.label(c.node)})")
        ka, kb = c.tensor(a), c.tensor(b)
        return c.add(type_name, {}, [ka, kb])
    return convert


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _by_constant(c: Ctx, type_name: str, const: float, x: str) -> str:
    """``x * 0.5`` or ``x + 1``, a number written in forward() (NF-ResNet's alpha and beta,
    an activation's gain): a ChannelAffine with that one number for all channels."""
    c.base = "scale" if type_name == "Mul" else "shift"
    params = {"scale": const} if type_name == "Mul" else {"shift": const}
    return c.add("ChannelAffine", params, [x])


def _layer_scale(c: Ctx, a: Any, b: Any) -> str | None:
    """``self.layer_scale * x``, a parameter used directly in forward() (ConvNeXt's layer
    scale), or a view of one (timm's ``x.mul(self.gamma.reshape(1, -1, 1, 1))``): a LayerScale
    node whose parameter keeps the same key."""
    for attr, x in ((a, b), (b, a)):
        if isinstance(attr, fx.Node) and isinstance(x, fx.Node) \
                and (attr.op == "get_attr" or param_view(attr) is not None):
            return c.imp.layer_scale(attr, c.tensor(x))
    return None


def param_view(node: fx.Node) -> fx.Node | None:
    """The parameter (its get_attr node) when ``node`` reshapes one (``self.gamma.view(...)``),
    else None: the value it makes can only become a LayerScale's weight."""
    is_reshape = node.op == "call_method" and node.target in _RESHAPES \
        or node.op == "call_function" and node.target is torch.reshape
    src = node.args[0] if is_reshape and node.args else None
    return src if isinstance(src, fx.Node) and src.op == "get_attr" else None


def _permute(c: Ctx) -> str:
    x = c.tensor(c.a["input"])
    dims = c.a.get("dims", c.a.get("*shape", []))
    dims = [dims] if isinstance(dims, int) else dims
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = dims[0]
    return c.add("Permute", {"dims": sample_permutation(dims)}, [x])


def _cat(c: Ctx) -> str:
    parts = c.a["tensors"]
    keys = [c.tensor(t) for t in parts]
    if len(keys) == 1:
        return keys[0]
    return c.add("Concat", {"dim": int(c.a["dim"])}, keys)


def _flatten(c: Ctx) -> str:
    x = c.tensor(c.a["input"])
    start, end = int(c.a["start_dim"]), int(c.a["end_dim"])
    rank = len(c.shape(x)) + 1
    if start % rank == 0:
        raise Unsupported("", "from dim 0 (it would merge the batch)")
    return c.add("Flatten", {"start_dim": start, "end_dim": end}, [x])


def _is_batch_size(imp: FxImport, value: Any) -> bool:
    """``x.size(0)``, ``x.shape[0]`` or ``x.size()[0]``: the batch size, read at run time."""
    if not isinstance(value, fx.Node):
        return False
    if value.op == "call_method" and value.target == "size":
        dim = value.args[1] if len(value.args) > 1 else value.kwargs.get("dim")
        return dim == 0
    if value.op == "call_function" and value.target is operator.getitem and \
            value.args[1] == 0 and isinstance(value.args[0], fx.Node):
        src = value.args[0]
        if src.op == "call_method" and src.target == "size" and len(src.args) == 1:
            return True
        return src.op == "call_function" and src.target is getattr and src.args[1] == "shape"
    return False


def _as_flatten(c: Ctx, x: str, what: str) -> str:
    """A reshape whose result (as the probe saw it) keeps the batch axis and merges
    neighbouring axes: a Flatten over those axes, or nothing when the shape is unchanged."""
    src, dst = c.shape(x), c.out_shape
    if dst is None:
        raise Unsupported("", "its result is not a tensor")
    if dst == src:
        return x
    span = flatten_span(src, dst)
    if span is None:
        raise Unsupported("", f"to {c.imp.shape_text(c.node)}: only {what} that merges "
                          "neighbouring axes (a flatten) has a layer")
    start, end = span
    return c.add("Flatten", {"start_dim": start, "end_dim": end}, [x])


def _reshape(c: Ctx) -> str:
    x = c.tensor(c.a["input"])
    dims = c.a.get("shape")
    if dims is None:
        dims = c.a.get("*shape", [])
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = list(dims[0])
    # The batch axis must stay: its size read at run time (x.size(0)), or -1 with every
    # other size fixed.
    keeps_batch = bool(dims) and (
        _is_batch_size(c.imp, dims[0])
        or (dims[0] == -1 and all(isinstance(d, int) and d >= 0 for d in dims[1:])))
    if not keeps_batch:
        raise Unsupported("", f"to {c.imp.shape_text(c.node)}: the first size must be the batch "
                          "size (x.size(0), or -1 with the others fixed)")
    groups = shuffle_groups(c.imp, c.node)
    if groups is not None:
        c.base = "channel_shuffle"
        return c.add("ChannelShuffle", {"groups": groups}, [x])
    return _as_flatten(c, x, "a reshape")


def _squeeze(c: Ctx) -> str:
    x = c.tensor(c.a["input"])
    return _as_flatten(c, x, "a squeeze")


def _mean(c: Ctx) -> str:
    x = c.tensor(c.a["input"])
    dims = c.a.get("dim")
    shape = c.shape(x)
    rank = len(shape) + 1
    if isinstance(dims, int):
        dims = [dims]
    if rank != 4 or dims is None or sorted(d % rank for d in dims) != [2, 3] \
            or c.a.get("dtype") is not None:
        raise Unsupported("", "other than over H and W of a feature map")
    pooled = c.add("AdaptiveAvgPool2d", {"output_size": 1}, [x])
    if c.a.get("keepdim"):
        return pooled
    return c.add("Flatten", {}, [pooled], suffix="_flatten")


def _pool(type_name: str, *names: str) -> Handler:
    def convert(c: Ctx) -> str:
        if c.a.get("return_indices"):
            raise Unsupported("", "return_indices=True")
        params = {n: c.a[n] for n in names if n in c.a}
        if params.get("stride") in ([], ()):
            params["stride"] = None
        return c.add(type_name, params, [c.tensor(c.a["input"])])
    return convert


def _dropout(type_name: str) -> Handler:
    def convert(c: Ctx) -> str:
        return c.add(type_name, {"p": float(c.a["p"])}, [c.tensor(c.a["input"])])
    return convert


def _stochastic_depth(c: Ctx) -> str:
    return c.add("StochasticDepth", {"p": float(c.a["p"]), "mode": c.a["mode"]},
                 [c.tensor(c.a["input"])])


def _pad(c: Ctx) -> str:
    x = c.tensor(c.a["input"])
    pad = list(c.a["pad"])
    if c.a.get("mode", "constant") != "constant" or c.a.get("value") not in (None, 0, 0.0) \
            or len(c.shape(x)) != 3 or len(pad) not in (2, 4):
        raise Unsupported("", "other than zero padding of H and W")
    if len(pad) == 2:
        pad += [0, 0]
    return c.add("ZeroPad2d", {"padding": pad}, [x])


def _interpolate(c: Ctx) -> str:
    x = c.tensor(c.a["input"])
    if c.a.get("recompute_scale_factor") or c.a.get("antialias"):
        raise Unsupported("", "with recompute_scale_factor or antialias")
    params = {k: c.a.get(k) for k in ("size", "scale_factor", "mode", "align_corners")}
    size = params["size"]
    if isinstance(size, fx.Node) or isinstance(size, (list, tuple)) \
            and any(isinstance(s, fx.Node) for s in size):
        # ``size=(y.shape[-2], y.shape[-1])`` (GhostNetV2): sizes the probe saw, fixed for this
        # input size like everything the import computes.
        if c.out_shape is None or len(c.out_shape) != 3:
            raise Unsupported("", "to a size read at run time")
        params["size"] = list(c.out_shape[1:])
        c.imp.note_once("interpolations to a size read at run time became Upsample layers "
                        "to the size fixed for this input size")
    return c.add("Upsample", params, [x])


def _identity(c: Ctx) -> str:
    return c.tensor(c.a["input"])


# -- channel shuffle and chunk (ShuffleNet) ------------------------------------------------------
_RESHAPES = frozenset({"view", "reshape"})


def _sole_user(node: fx.Node) -> fx.Node | None:
    users = list(node.users)
    return users[0] if len(users) == 1 else None


def _swaps_groups(node: fx.Node | None) -> bool:
    """``torch.transpose(x, 1, 2)`` (or ``x.transpose(2, 1)``) of a 5-axis [N, g, C/g, H, W]."""
    if node is None or not (node.op == "call_method" and node.target == "transpose"
                            or node.op == "call_function" and node.target is torch.transpose):
        return False
    dims = list(node.args[1:]) + [node.kwargs[k] for k in ("dim0", "dim1") if k in node.kwargs]
    return len(dims) == 2 and all(isinstance(d, int) for d in dims) \
        and sorted(d % 5 for d in dims) == [1, 2]


def shuffle_groups(imp: FxImport, node: fx.Node) -> int | None:
    """The groups g when ``node`` views [C, H, W] as [g, C/g, H, W], and its only use swaps
    those two axes and views the result back as [C, H, W] (torchvision's ``channel_shuffle``);
    else None."""
    src = node.args[0] if node.args else None
    if not isinstance(src, fx.Node):
        return None
    before, split = imp.out_shape(src), imp.out_shape(node)
    if before is None or split is None or len(before) != 3 or len(split) != 4 \
            or split[0] * split[1] != before[0] or split[2:] != before[1:]:
        return None
    swap = _sole_user(node)
    if not _swaps_groups(swap):
        return None
    back = _sole_user(swap)  # type: ignore[arg-type]
    while back is not None and back.op == "call_method" and back.target == "contiguous":
        back = _sole_user(back)
    if back is None or imp.out_shape(back) != before or not (
            back.op == "call_method" and back.target in _RESHAPES
            or back.op == "call_function" and back.target is torch.reshape):
        return None
    return split[0]


def _transpose(c: Ctx) -> str:
    """Only the swap inside a channel shuffle, which the view before it became (_reshape)."""
    src = c.a["input"]
    if isinstance(src, fx.Node) and src.op in ("call_method", "call_function") \
            and shuffle_groups(c.imp, src) is not None:
        return c.tensor(src)
    raise Unsupported("")


def _channel_shuffle(c: Ctx) -> str:
    return c.add("ChannelShuffle", {"groups": int(c.a["groups"])}, [c.tensor(c.a["input"])])


_SPLITS = frozenset({"chunk", "split"})


def _is_split(node: Any) -> bool:
    """``x.chunk(n, dim)`` or ``x.split(size, dim)``, as a method or a torch function."""
    return isinstance(node, fx.Node) and (
        node.op == "call_method" and node.target in _SPLITS
        or node.op == "call_function" and node.target in (torch.chunk, torch.split))


def _split(c: Ctx) -> str:
    """``x.chunk(n, dim=1)`` or ``x.split(size, dim=1)`` adds nothing itself: each piece taken
    from it (``[i]``) becomes a Chunk or Slice layer (_getitem), so the split's value stands
    for its input."""
    x = c.tensor(c.a["input"])
    if int(c.a["dim"]) % (len(c.shape(x)) + 1) != 1:
        raise Unsupported("", "along an axis other than the channels (dim=1)")
    if any(u.op != "call_function" or u.target is not operator.getitem
           or not isinstance(u.args[1], int) for u in c.node.users):
        raise Unsupported("", "other than one piece at a time (x.split(n, dim=1)[i])")
    return x


def _split_sizes(src: fx.Node, channels: int) -> tuple[list[int], int | None]:
    """The sizes of a split's pieces, and the ``chunks`` that cuts the same pieces (None when
    no chunk does: pieces of uneven sizes)."""
    method = src.op == "call_method"
    if src.target in ("chunk", torch.chunk):
        names, defaults, _ = METHODS["chunk"] if method else FUNCTIONS[torch.chunk]
        chunks = int(bind(src, names, defaults)["chunks"])
        return chunk_sizes(channels, chunks), chunks
    names, defaults, _ = METHODS["split"] if method else FUNCTIONS[torch.split]
    bound = bind(src, names, defaults)
    size = next(bound[k] for k in ("size", "split_size", "split_size_or_sections") if k in bound)
    if isinstance(size, int):
        sizes = [min(size, channels - start) for start in range(0, channels, size)]
    else:
        sizes = [int(s) for s in size]
    even = chunk_sizes(channels, len(sizes)) == sizes
    return sizes, len(sizes) if even else None


def _getitem(c: Ctx) -> str:
    """A piece of a split (``x.chunk(2, dim=1)[1]``, or unpacked ``x1, x2 = x.split(...)``):
    a Chunk where torch.chunk cuts the same pieces, else a Slice; a run of channels
    (``x[:, a:b]``) is a Slice. Other indexing of tensors has no layer."""
    src = c.a["input"]
    if not _is_split(src):
        return _channel_slice(c)
    x = c.tensor(src)  # the split's input (see _split)
    sizes, chunks = _split_sizes(src, c.shape(x)[0])
    index = int(c.a["index"])
    if index < 0:
        index += len(sizes)
    c.base = re.sub(r"_\d+$", "", src.name) or "chunk"
    if chunks is not None:
        return c.add("Chunk", {"chunks": chunks, "index": index}, [x], suffix=f"_{index}")
    start = sum(sizes[:index])
    return c.add("Slice", {"start": start, "end": start + sizes[index]}, [x],
                 suffix=f"_{index}")


def _channel_slice(c: Ctx) -> str:
    """``x[:, a:b]`` (trailing ``:`` or ``...`` allowed): a Slice, or nothing when it keeps
    every channel."""
    src, index = c.a["input"], c.a["index"]
    if not isinstance(src, fx.Node) or c.imp.kind(src) != "tensor" \
            or not isinstance(index, tuple) or len(index) < 2:
        raise Unsupported("")
    whole = slice(None)
    rest = list(index[2:])
    while rest and rest[-1] in (whole, Ellipsis):
        rest.pop()
    channels = index[1]
    if index[0] != whole or rest or not isinstance(channels, slice) \
            or not all(isinstance(v, (int, type(None)))
                       for v in (channels.start, channels.stop, channels.step)):
        raise Unsupported("", "other than a run of channels (x[:, a:b])")
    x = c.tensor(src)
    start, end, step = channels.indices(c.shape(x)[0])
    if step != 1 or end <= start:
        raise Unsupported("", "other than a run of channels (x[:, a:b])")
    if (start, end) == (0, c.shape(x)[0]):
        return x
    c.base = "slice"
    return c.add("Slice", {"start": start, "end": end}, [x])


X = ["input"]
_INPLACE = {"inplace": False}


def _function_table() -> dict[Any, tuple[list[str], dict[str, Any], Handler]]:
    """fx call_function targets: (argument names, defaults, converter)."""
    t: dict[Any, tuple[list[str], dict[str, Any], Handler]] = {}

    def put(fns: Sequence[Any], names: list[str], defaults: dict[str, Any],
            handler: Handler) -> None:
        for fn in fns:
            if fn is not None:
                t[fn] = (names, defaults, handler)

    nnf = torch._C._nn
    put([F.relu, torch.relu, torch.relu_, F.relu_], X + ["inplace"], _INPLACE, _pointwise("ReLU"))
    put([F.relu6], X + ["inplace"], _INPLACE, _pointwise("ReLU6"))
    put([F.hardtanh, F.hardtanh_], X + ["min_val", "max_val", "inplace"],
        {"min_val": -1.0, "max_val": 1.0, "inplace": False}, _hardtanh)
    put([F.leaky_relu, F.leaky_relu_], X + ["negative_slope", "inplace"],
        {"negative_slope": 0.01, "inplace": False},
        _pointwise("LeakyReLU", negative_slope="negative_slope"))
    put([F.elu, F.elu_], X + ["alpha", "inplace"], {"alpha": 1.0, "inplace": False},
        _pointwise("ELU", alpha="alpha"))
    put([F.selu, torch.selu, torch.selu_], X + ["inplace"], _INPLACE, _pointwise("SELU"))
    put([F.gelu, getattr(nnf, "gelu", None)], X + ["approximate"], {"approximate": "none"},
        _pointwise("GELU", approximate="approximate"))
    put([F.silu], X + ["inplace"], _INPLACE, _pointwise("SiLU"))
    put([F.hardswish], X + ["inplace"], _INPLACE, _pointwise("Hardswish"))
    put([F.hardsigmoid], X + ["inplace"], _INPLACE, _pointwise("Hardsigmoid"))
    put([F.mish], X + ["inplace"], _INPLACE, _pointwise("Mish"))
    put([torch.sigmoid, F.sigmoid, torch.sigmoid_], X, {}, _pointwise("Sigmoid"))
    put([torch.tanh, F.tanh, torch.tanh_], X, {}, _pointwise("Tanh"))
    put([F.softplus, getattr(nnf, "softplus", None)], X + ["beta", "threshold"],
        {"beta": 1.0, "threshold": 20.0},
        _pointwise("Softplus", beta="beta", threshold="threshold"))
    put([F.softmax, torch.softmax], X + ["dim", "_stacklevel", "dtype"], {"dim": None},
        _softmax("Softmax"))
    put([F.log_softmax, torch.log_softmax], X + ["dim", "_stacklevel", "dtype"], {"dim": None},
        _softmax("LogSoftmax"))
    put([operator.add, operator.iadd, torch.add], X + ["other", "alpha"], {}, _merge("Add"))
    put([operator.mul, operator.imul, torch.mul, torch.multiply], X + ["other"], {},
        _merge("Mul"))
    put([torch.cat, torch.concat, getattr(torch, "concatenate", None)], ["tensors", "dim"],
        {"dim": 0}, _cat)
    put([torch.flatten], X + ["start_dim", "end_dim"], {"start_dim": 0, "end_dim": -1},
        _flatten)
    put([torch.reshape], X + ["shape"], {}, _reshape)
    put([torch.permute], X + ["dims"], {}, _permute)
    put([torch.squeeze], X + ["dim"], {}, _squeeze)
    put([torch.mean], X + ["dim", "keepdim", "dtype"], {"keepdim": False}, _mean)
    put([F.adaptive_avg_pool2d, getattr(nnf, "adaptive_avg_pool2d", None)],
        X + ["output_size"], {}, _pool("AdaptiveAvgPool2d", "output_size"))
    put([F.adaptive_max_pool2d, F.adaptive_max_pool2d_with_indices],
        X + ["output_size", "return_indices"], {},
        _pool("AdaptiveMaxPool2d", "output_size"))
    put([F.avg_pool2d, getattr(nnf, "avg_pool2d", None)],
        X + ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
             "divisor_override"], {},
        _pool("AvgPool2d", "kernel_size", "stride", "padding", "ceil_mode",
              "count_include_pad", "divisor_override"))
    put([F.max_pool2d, torch.max_pool2d, F.max_pool2d_with_indices],
        X + ["kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"],
        {}, _pool("MaxPool2d", "kernel_size", "stride", "padding", "dilation", "ceil_mode"))
    put([F.dropout], X + ["p", "training", "inplace"], {"p": 0.5}, _dropout("Dropout"))
    put([F.dropout2d], X + ["p", "training", "inplace"], {"p": 0.5}, _dropout("Dropout2d"))
    put([F.pad, getattr(nnf, "pad", None)], X + ["pad", "mode", "value"], {}, _pad)
    put([F.interpolate], X + ["size", "scale_factor", "mode", "align_corners",
                              "recompute_scale_factor", "antialias"], {"mode": "nearest"},
        _interpolate)
    put([torch.chunk], X + ["chunks", "dim"], {"dim": 0}, _split)
    put([torch.split], X + ["size", "dim"], {"dim": 0}, _split)
    put([operator.getitem], X + ["index"], {}, _getitem)
    put([torch.transpose], X + ["dim0", "dim1"], {}, _transpose)
    put([F.channel_shuffle, torch.channel_shuffle, getattr(torch, "native_channel_shuffle", None)],
        X + ["groups"], {}, _channel_shuffle)
    try:
        from torchvision.ops import stochastic_depth
    except ImportError:  # pragma: no cover
        pass
    else:
        put([stochastic_depth], X + ["p", "mode", "training"], {}, _stochastic_depth)
    return t


FUNCTIONS = _function_table()

# Tensor methods by name: the tensor is the first argument.
METHODS: dict[str, tuple[list[str], dict[str, Any], Handler]] = {
    "relu": (X, {}, _pointwise("ReLU")), "relu_": (X, {}, _pointwise("ReLU")),
    "sigmoid": (X, {}, _pointwise("Sigmoid")), "sigmoid_": (X, {}, _pointwise("Sigmoid")),
    "tanh": (X, {}, _pointwise("Tanh")), "tanh_": (X, {}, _pointwise("Tanh")),
    "softmax": (X + ["dim", "dtype"], {}, _softmax("Softmax")),
    "log_softmax": (X + ["dim", "dtype"], {}, _softmax("LogSoftmax")),
    "add": (X + ["other", "alpha"], {}, _merge("Add")),
    "add_": (X + ["other", "alpha"], {}, _merge("Add")),
    "mul": (X + ["other"], {}, _merge("Mul")), "mul_": (X + ["other"], {}, _merge("Mul")),
    "flatten": (X + ["start_dim", "end_dim"], {"start_dim": 0, "end_dim": -1}, _flatten),
    "view": (X + ["*shape"], {}, _reshape), "reshape": (X + ["*shape"], {}, _reshape),
    "squeeze": (X + ["dim"], {}, _squeeze),
    "mean": (X + ["dim", "keepdim", "dtype"], {"keepdim": False}, _mean),
    "contiguous": (X + ["memory_format"], {}, _identity),
    "permute": (X + ["*shape"], {}, _permute),
    "chunk": (X + ["chunks", "dim"], {"dim": 0}, _split),
    "split": (X + ["size", "dim"], {"dim": 0}, _split),
    "transpose": (X + ["dim0", "dim1"], {}, _transpose),
}
