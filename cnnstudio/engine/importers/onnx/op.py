"""One ONNX node as an operator handler sees it: its attributes, its inputs as graph tensors or
constants, and how it adds layers (named after the node's module path)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from math import isclose
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..common import Unsupported
from .fold import Folded, attributes

if TYPE_CHECKING:
    from .reader import OnnxImport

Shape = tuple[int, ...]
_PATH = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*\Z")


def weight(arr: np.ndarray) -> torch.Tensor:
    """An initializer as a float32 tensor that owns its memory."""
    return torch.from_numpy(np.array(arr, dtype=np.float32, copy=True))


class Op:
    """One ONNX node as its handler sees it."""

    def __init__(self, imp: OnnxImport, node: Any) -> None:
        self.imp = imp
        self.node = node
        self.type = node.op_type
        self.attrs = attributes(node)
        self.inputs = list(node.input)

    # -- inputs ---------------------------------------------------------------------------------
    def present(self, i: int) -> bool:
        return i < len(self.inputs) and self.inputs[i] != ""

    def is_const(self, i: int) -> bool:
        return self.present(i) and self.inputs[i] in self.imp.consts

    def tensor(self, i: int = 0) -> str:
        """The draft key of input ``i``, which must be computed by the graph."""
        if not self.present(i):
            raise Unsupported("", f"without input {i + 1}")
        name = self.inputs[i]
        if name in self.imp.consts:
            raise Unsupported("", f"with a constant as input {i + 1}")
        return self.imp.env[name]

    def folded(self, i: int) -> Folded | None:
        if not self.present(i):
            return None
        value = self.imp.consts.get(self.inputs[i])
        if value is None:
            raise Unsupported("", f"with input {i + 1} computed in the graph (only a constant "
                              "there has a layer)")
        return value

    def const(self, i: int) -> np.ndarray | None:
        """Input ``i`` as a constant (None when the optional input is absent)."""
        value = self.folded(i)
        return None if value is None else value.value

    def shape(self, key: str) -> Shape:
        return self.imp.draft.shape(key)

    def ints(self, name: str, default: Sequence[int] | None = None) -> list[int] | None:
        value = self.attrs.get(name)
        return [int(v) for v in value] if value is not None else \
            (list(default) if default is not None else None)

    def axes(self, index: int, since: int) -> list[int] | None:
        """Axes given as an input (opset ``since`` and later) or an attribute (earlier)."""
        if self.imp.opset >= since:
            value = self.const(index)
            return None if value is None else [int(a) for a in value.reshape(-1)]
        return self.ints("axes")

    # -- output ---------------------------------------------------------------------------------
    def param_path(self, i: int) -> str | None:
        """The module path in the name of weight input ``i`` (``layer1.0.conv1.weight``)."""
        if not self.present(i):
            return None
        name = self.imp.weight_names.get(self.inputs[i], self.inputs[i])
        head, dot, _ = name.rpartition(".")
        return head if dot and _PATH.match(head) else None

    def add(self, type_name: str, params: dict[str, Any], inputs: Sequence[str], *,
            state: dict[str, torch.Tensor] | None = None, suffix: str = "",
            path: str | None = None) -> str:
        own_path, leaf = self.imp.naming(self.node)
        path = path or own_path
        return self.imp.draft.add(type_name, params, inputs, path=path + suffix,
                                  leaf=leaf + suffix, state=state)


Handler = Callable[[Op], "str | Folded | list[str | None]"]
"""A handler gives the layer computing the node's output, a constant, or (for operators with
several outputs, Split) one layer per output, None for those nothing reads."""


def same(a: float, b: float) -> bool:
    return isclose(a, b, rel_tol=1e-5, abs_tol=1e-7)


def full_rank(op: Op, key: str) -> int:
    """The rank of a value counting the batch axis (ONNX axes count it too)."""
    return len(op.shape(key)) + 1


def resolve_pads(op: Op, x: str, kernel: Sequence[int], strides: Sequence[int],
                 dilations: Sequence[int]) -> list[int]:
    """[top, left, bottom, right], with auto_pad resolved against the input size."""
    auto = op.attrs.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        pads = op.ints("pads", [0, 0, 0, 0])
        if len(pads) != 4:
            raise Unsupported("", f"with pads {pads}")
        return pads
    if auto == "VALID":
        return [0, 0, 0, 0]
    begin, end = [], []
    for size, k, s, d in zip(op.shape(x)[1:], kernel, strides, dilations):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        small = total // 2
        begin.append(total - small if auto == "SAME_LOWER" else small)
        end.append(small if auto == "SAME_LOWER" else total - small)
    return [begin[0], begin[1], end[0], end[1]]


def window(op: Op, x: str, kernel: list[int]) -> tuple[list[int], list[int], list[int]]:
    """Strides, dilations and pads of a 2-D sliding window (conv or pooling)."""
    if len(kernel) != 2 or len(op.shape(x)) != 3:
        raise Unsupported("", f"in {len(kernel)} dimensions (only 2-D, on [C, H, W], has a "
                          "layer)")
    strides = op.ints("strides", [1, 1])
    dilations = op.ints("dilations", [1, 1])
    return strides, dilations, resolve_pads(op, x, kernel, strides, dilations)


def pair(values: Sequence[int]) -> Any:
    return values[0] if values[0] == values[1] else list(values)


