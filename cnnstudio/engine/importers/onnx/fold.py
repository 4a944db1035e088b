"""Constants in an ONNX graph: initializers, Constant nodes, and the small shape computations
exporters write (``Shape → Gather → Concat → Reshape``), evaluated with numpy.

A value that depends on the batch size is evaluated twice, for two batch sizes, so a Reshape
can tell "keep the batch axis" from a fixed size. Nothing here becomes a layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from onnx import AttributeProto, helper, numpy_helper

from ..common import Unsupported

MAX_FOLD_ELEMENTS = 1 << 20
"""Folded values larger than this are refused: shape arithmetic is tiny, and a file cannot make
the importer build a huge array."""


class Folded:
    """A constant, as evaluated for each of the two batch sizes (the same array when it does
    not depend on the batch)."""

    __slots__ = ("values",)

    def __init__(self, *values: np.ndarray) -> None:
        self.values = tuple(np.asarray(v) for v in values)

    @classmethod
    def fixed(cls, value: Any) -> Folded:
        arr = np.asarray(value)
        return cls(arr, arr)

    @property
    def value(self) -> np.ndarray:
        """The value, which must not depend on the batch size."""
        a, b = self.values
        if a.shape != b.shape or not np.array_equal(a, b):
            raise Unsupported("", "a constant that depends on the batch size")
        return a


def _short(value: float) -> float:
    """A float32 attribute as the shortest decimal that reads back the same (0.2, not
    0.20000000298023224): what the exporter was given."""
    return float(str(np.float32(value)))


def attributes(node: Any) -> dict[str, Any]:
    """A node's attributes as Python values (strings decoded)."""
    out: dict[str, Any] = {}
    for attr in node.attribute:
        if attr.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS):
            out[attr.name] = None  # control flow: its op has no handler anyway
            continue
        value = helper.get_attribute_value(attr)
        if attr.type == AttributeProto.FLOAT:
            value = _short(value)
        elif attr.type == AttributeProto.FLOATS:
            value = [_short(v) for v in value]
        elif isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        out[attr.name] = value
    return out


def constant_value(attrs: dict[str, Any]) -> np.ndarray:
    """The value of a Constant node."""
    if attrs.get("value") is not None:
        return numpy_helper.to_array(attrs["value"])
    for name, dtype in (("value_float", np.float32), ("value_floats", np.float32),
                        ("value_int", np.int64), ("value_ints", np.int64)):
        if name in attrs:
            return np.asarray(attrs[name], dtype=dtype)
    raise Unsupported("Constant", "without a value this importer reads (sparse or string)")


def _axes(attrs: dict[str, Any], args: list[np.ndarray | None], index: int) -> list[int] | None:
    if len(args) > index and args[index] is not None:
        return [int(a) for a in np.asarray(args[index]).reshape(-1)]
    axes = attrs.get("axes")
    return None if axes is None else [int(a) for a in axes]


def _unsqueeze(attrs: dict[str, Any], args: list[np.ndarray | None]) -> np.ndarray:
    x = args[0]
    axes = _axes(attrs, args, 1) or []
    rank = x.ndim + len(axes)
    for axis in sorted(a % rank for a in axes):
        x = np.expand_dims(x, axis)
    return x


def _squeeze(attrs: dict[str, Any], args: list[np.ndarray | None]) -> np.ndarray:
    axes = _axes(attrs, args, 1)
    x = args[0]
    return np.squeeze(x) if axes is None else np.squeeze(x, axis=tuple(a % x.ndim for a in axes))


def _slice(attrs: dict[str, Any], args: list[np.ndarray | None]) -> np.ndarray:
    x = args[0]
    if len(args) > 1:  # opset 10+: starts, ends, axes, steps as inputs
        starts, ends = args[1], args[2]
        axes = args[3] if len(args) > 3 and args[3] is not None else range(len(starts))
        steps = args[4] if len(args) > 4 and args[4] is not None else [1] * len(starts)
    else:
        starts, ends = attrs["starts"], attrs["ends"]
        axes = attrs.get("axes", range(len(starts)))
        steps = [1] * len(starts)
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[int(axis) % x.ndim] = slice(int(start), int(end), int(step))
    return x[tuple(index)]


def _div(attrs: dict[str, Any], args: list[np.ndarray | None]) -> np.ndarray:
    a, b = args[0], args[1]
    if np.issubdtype(a.dtype, np.integer):
        return np.trunc(a / b).astype(a.dtype)  # ONNX integer division truncates
    return a / b


def _cast(attrs: dict[str, Any], args: list[np.ndarray | None]) -> np.ndarray:
    return args[0].astype(helper.tensor_dtype_to_np_dtype(int(attrs["to"])))


def _reduce_prod(attrs: dict[str, Any], args: list[np.ndarray | None]) -> np.ndarray:
    axes = _axes(attrs, args, 1)
    keep = bool(attrs.get("keepdims", 1))
    return np.prod(args[0], axis=None if not axes else tuple(axes), keepdims=keep)


def _constant_of_shape(attrs: dict[str, Any], args: list[np.ndarray | None]) -> np.ndarray:
    shape = [int(d) for d in args[0].reshape(-1)]
    if int(np.prod(shape)) > MAX_FOLD_ELEMENTS:
        raise Unsupported("ConstantOfShape", "of more than a million elements")
    fill = numpy_helper.to_array(attrs["value"]) if attrs.get("value") is not None \
        else np.zeros(1, np.float32)
    return np.full(shape, fill.reshape(-1)[0], dtype=fill.dtype)


def _reshape(attrs: dict[str, Any], args: list[np.ndarray | None]) -> np.ndarray:
    x, shape = args[0], [int(d) for d in args[1].reshape(-1)]
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return x.reshape(shape)


Fold = Callable[[dict[str, Any], list[np.ndarray | None]], np.ndarray]

FOLD: dict[str, Fold] = {
    "Identity": lambda at, a: a[0],
    "Cast": _cast,
    "Gather": lambda at, a: np.take(a[0], a[1], axis=int(at.get("axis", 0))),
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": lambda at, a: np.concatenate([x for x in a if x is not None],
                                           axis=int(at["axis"])),
    "Slice": _slice,
    "Add": lambda at, a: a[0] + a[1],
    "Sub": lambda at, a: a[0] - a[1],
    "Mul": lambda at, a: a[0] * a[1],
    "Div": _div,
    "Neg": lambda at, a: -a[0],
    "Sqrt": lambda at, a: np.sqrt(a[0]),
    "Shape": lambda at, a: np.asarray(a[0].shape, dtype=np.int64)[at.get("start", 0):at.get("end")],
    "ReduceProd": _reduce_prod,
    "ConstantOfShape": _constant_of_shape,
    "Reshape": _reshape,
}


def fold(op: str, attrs: dict[str, Any], args: Sequence[Folded | None]) -> Folded:
    """Evaluate ``op`` on constant inputs (absent optional inputs are None)."""
    results = []
    for i in range(2):
        values = [None if a is None else a.values[i] for a in args]
        try:
            with np.errstate(all="ignore"):
                out = np.asarray(FOLD[op](attrs, values))
        except Unsupported:
            raise
        except Exception as exc:  # a malformed file: say which node, not a traceback
            raise Unsupported(op, f"cannot be evaluated on its constant inputs "
                              f"({type(exc).__name__})") from None
        if out.size > MAX_FOLD_ELEMENTS:
            raise Unsupported(op, "on constants of more than a million elements")
        results.append(out)
    return Folded(*results)


def shape_of(batches: tuple[int, int], sample_shape: Sequence[int],
             attrs: dict[str, Any]) -> Folded:
    """``Shape`` of a tensor in the graph, for each of the two batch sizes."""
    start, end = attrs.get("start", 0), attrs.get("end")
    return Folded(*(np.asarray([b, *sample_shape], dtype=np.int64)[start:end] for b in batches))
