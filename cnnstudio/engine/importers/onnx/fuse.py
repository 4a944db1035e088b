"""Layers that exporters write as several ONNX nodes, found so each becomes one layer:
SiLU (``x · sigmoid(x)``), Hardswish (``x · hardsigmoid(x)``) and GELU
(``x · 0.5 · (1 + erf(x / √2))``, as opset 18 exporters spell it); LayerNorm over the last
axis as the TorchScript exporter writes it before opset 17 (ReduceMean, Sub, Pow, ReduceMean,
Add, Sqrt, Div, then Mul and Add by its weights); ChannelShuffle
(Reshape to [N, g, C/g, H, W] → Transpose(0, 2, 1, 3, 4) → Reshape to [N, C, H, W], as both
torch.onnx exporters write ShuffleNet's); and LayerNorm2d (Transpose(0, 2, 3, 1) →
LayerNormalization over the last axis → Transpose(0, 3, 1, 2), ConvNeXt's)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import isclose, sqrt
from typing import Any

import numpy as np

from .fold import Folded, attributes
from .op import weight


@dataclass
class Fusion:
    """What the final node of a pattern becomes; the pattern's other nodes are left out."""

    type: str
    input: str
    absorbed: set[int] = field(default_factory=set)
    params: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    """The layer's weights (torch tensors), when the pattern holds them as constants."""
    needs: tuple[int | None, ...] | None = None
    """The input shape (batch axis first, None for any size) the pattern only means the layer
    for, when its constants assume one: checked once the input's shape is known."""


class Patterns:
    """Finds the patterns in a graph whose nodes, consumers and constants are known."""

    def __init__(self, nodes: list[Any], producer: Mapping[str, int],
                 consumers: Mapping[str, int], consts: Mapping[str, Folded]) -> None:
        self.nodes = nodes
        self.producer = producer
        self.consumers = consumers
        self.consts = consts

    def find(self, needed: set[int]) -> dict[int, Fusion]:
        found: dict[int, Fusion] = {}
        taken: set[int] = set()
        for i in sorted(needed, reverse=True):  # from the last node: the whole, with its bias
            node = self.nodes[i]
            if node.op_type in ("Add", "Mul") and node.domain in ("", "ai.onnx") \
                    and i not in taken:
                fusion = self._layer_norm(node)
                if fusion is not None and not (fusion.absorbed & taken):
                    found[i] = fusion
                    taken |= fusion.absorbed | {i}
        for i in sorted(needed):
            node = self.nodes[i]
            if node.domain not in ("", "ai.onnx") or i in taken:
                continue
            if node.op_type == "Mul":
                fusion = self._gated(node) or self._gelu(i)
            elif node.op_type == "Reshape":
                fusion = self._shuffle(node)
            elif node.op_type == "Transpose":
                fusion = self._layer_norm_2d(node, found)
            else:
                continue
            if fusion is None:
                continue
            # a pattern may hold one found before (LayerNorm2d its written-out LayerNorm)
            inner = {k: found[k] for k in fusion.absorbed if k in found}
            theirs = {n for k, f in inner.items() for n in f.absorbed | {k}}
            if not (fusion.absorbed - theirs) & taken:
                for k in inner:
                    del found[k]
                found[i] = fusion
                taken |= fusion.absorbed | {i}
        return found

    # -- helpers --------------------------------------------------------------------------------
    def _only_use(self, value: str, op_type: str) -> Any | None:
        """The node computing ``value`` if it is an ``op_type`` whose result nothing else
        reads (so leaving it out loses nothing)."""
        index = self.producer.get(value)
        if index is None or self.consumers.get(value, 0) != 1:
            return None
        node = self.nodes[index]
        return node if node.op_type == op_type and node.domain in ("", "ai.onnx") else None

    def _constant(self, value: str) -> Folded | None:
        """The constant ``value`` holds, through the Identity nodes the TorchScript exporter
        writes for weights it deduplicated (not folded yet when patterns are found)."""
        for _ in range(8):
            folded = self.consts.get(value)
            index = self.producer.get(value)
            if folded is not None or index is None or self.nodes[index].op_type != "Identity":
                return folded
            value = self.nodes[index].input[0]
        return None

    def _scalar(self, value: str, wanted: float) -> bool:
        folded = self.consts.get(value)
        if folded is None:
            return False
        arr = folded.values[0]
        return arr.size == 1 and isclose(float(arr.reshape(-1)[0]), wanted, rel_tol=1e-5)

    # -- patterns -------------------------------------------------------------------------------
    def _gated(self, mul: Any) -> Fusion | None:
        """x · sigmoid(x) → SiLU; x · hardsigmoid(x) (torch's alpha 1/6) → Hardswish."""
        if len(mul.input) != 2:
            return None
        a, b = mul.input
        for x, gate in ((a, b), (b, a)):
            for op_type, layer in (("Sigmoid", "SiLU"), ("HardSigmoid", "Hardswish")):
                node = self._only_use(gate, op_type)
                if node is None or node.input[0] != x:
                    continue
                if op_type == "HardSigmoid":
                    attrs = attributes(node)
                    if not (isclose(float(attrs.get("alpha", 0.2)), 1 / 6, rel_tol=1e-5)
                            and isclose(float(attrs.get("beta", 0.5)), 0.5)):
                        continue
                return Fusion(layer, x, {self.producer[gate]})
        return None

    def _factors(self, value: str, muls: set[int]) -> list[str]:
        """The factors of a product of Mul nodes read only by the product."""
        node = self._only_use(value, "Mul")
        if node is None or len(node.input) != 2:
            return [value]
        muls.add(self.producer[value])
        return self._factors(node.input[0], muls) + self._factors(node.input[1], muls)

    def _gelu(self, index: int) -> Fusion | None:
        mul = self.nodes[index]
        if len(mul.input) != 2:
            return None
        muls: set[int] = set()
        factors = self._factors(mul.input[0], muls) + self._factors(mul.input[1], muls)
        halves = [f for f in factors if self._scalar(f, 0.5)]
        rest = [f for f in factors if f not in halves]
        if len(factors) != 3 or len(halves) != 1 or len(rest) != 2:
            return None
        for x, one_plus in ((rest[0], rest[1]), (rest[1], rest[0])):
            nodes = self._erf_chain(x, one_plus)
            if nodes is not None:
                return Fusion("GELU", x, muls | nodes)
        return None

    def _erf_chain(self, x: str, value: str) -> set[int] | None:
        """The nodes of ``1 + erf(x / √2)`` (or ``x · (1/√2)``), if ``value`` is that."""
        add = self._only_use(value, "Add")
        if add is None or len(add.input) != 2:
            return None
        ones = [v for v in add.input if self._scalar(v, 1.0)]
        others = [v for v in add.input if v not in ones]
        if len(ones) != 1 or len(others) != 1:
            return None
        erf = self._only_use(others[0], "Erf")
        if erf is None:
            return None
        scaled = erf.input[0]
        div = self._only_use(scaled, "Div")
        if div is not None and div.input[0] == x and self._scalar(div.input[1], sqrt(2)):
            return {self.producer[value], self.producer[others[0]], self.producer[scaled]}
        mul = self._only_use(scaled, "Mul")
        if mul is not None and x in mul.input and \
                any(self._scalar(v, 1 / sqrt(2)) for v in mul.input if v != x):
            return {self.producer[value], self.producer[others[0]], self.producer[scaled]}
        return None

    # -- reshaping patterns ---------------------------------------------------------------------
    def _target(self, value: str) -> list[int] | None:
        """A Reshape's constant target shape (the same for every batch size)."""
        folded = self.consts.get(value)
        if folded is None or not all(np.array_equal(v, folded.values[0])
                                     for v in folded.values):
            return None
        return [int(d) for d in folded.values[0].reshape(-1)]

    def _shuffle(self, last: Any) -> Fusion | None:
        """Reshape [N, C, H, W] → [N, g, C/g, H, W] → Transpose(0, 2, 1, 3, 4) → Reshape back
        to [N, C, H, W]: ChannelShuffle(g). Only this exact pattern (the input's shape is
        checked once known): any other reshape or transpose has no layer."""
        moved = self._only_use(last.input[0], "Transpose")
        if moved is None or [int(p) for p in attributes(moved).get("perm", [])] \
                != [0, 2, 1, 3, 4]:
            return None
        first = self._only_use(moved.input[0], "Reshape")
        if first is None or len(first.input) < 2:
            return None
        split, back = self._target(first.input[1]), self._target(last.input[1])
        if split is None or back is None or len(split) != 5 or len(back) != 4 \
                or min(split[1:]) < 1:
            return None
        groups, c, h, w = split[1], split[1] * split[2], split[3], split[4]
        any_batch = [-1] + ([0] if not int(attributes(first).get("allowzero", 0)) else [])
        batch = None if split[0] in any_batch else split[0]
        if back[1:] != [c, h, w] or (back[0] != split[0] and not (
                back[0] in any_batch and batch is None)) or (batch is not None and batch < 1):
            return None
        absorbed = {self.producer[first.output[0]], self.producer[moved.output[0]]}
        return Fusion("ChannelShuffle", first.input[0], absorbed, {"groups": groups},
                      needs=(batch, c, h, w))

    def _layer_norm_2d(self, last: Any, found: dict[int, Fusion]) -> Fusion | None:
        """Transpose(0, 2, 3, 1) → LayerNormalization over the channels → Transpose(0, 3, 1,
        2): torchvision's LayerNorm2d, one layer with the file's scale and shift."""
        if [int(p) for p in attributes(last).get("perm", [])] != [0, 3, 1, 2]:
            return None
        inner = found.get(self.producer.get(last.input[0], -1))
        if inner is not None and inner.type == "LayerNorm":
            return self._decomposed_2d(last, found)
        norm = self._only_use(last.input[0], "LayerNormalization")
        if norm is None or int(attributes(norm).get("axis", -1)) not in (-1, 3):
            return None
        first = self._only_use(norm.input[0], "Transpose")
        if first is None or [int(p) for p in attributes(first).get("perm", [])] \
                != [0, 2, 3, 1]:
            return None
        has_bias = len(norm.input) > 2 and bool(norm.input[2])
        scale = self._constant(norm.input[1]) if len(norm.input) > 1 else None
        bias = self._constant(norm.input[2]) if has_bias else None
        if scale is None or scale.values[0].ndim != 1 or (has_bias and (
                bias is None or bias.values[0].shape != scale.values[0].shape)):
            return None
        params: dict[str, Any] = {"eps": round(float(attributes(norm).get("epsilon", 1e-5)),
                                               12)}
        state = {"weight": weight(scale.values[0])}
        if bias is None:
            params["bias"] = False
        else:
            state["bias"] = weight(bias.values[0])
        absorbed = {self.producer[norm.output[0]], self.producer[first.output[0]]}
        return Fusion("LayerNorm2d", first.input[0], absorbed, params, state,
                      needs=(None, scale.values[0].size, None, None))

    def _decomposed_2d(self, last: Any, found: dict[int, Fusion]) -> Fusion | None:
        """The same around a LayerNorm found in its decomposed spelling (it becomes part of
        this one)."""
        index = self.producer[last.input[0]]
        inner = found[index]
        start = self.producer.get(inner.input)
        first = self.nodes[start] if start is not None else None
        # the LayerNorm reads its input twice (the mean, and the difference from it)
        if self.consumers.get(last.input[0], 0) != 1 or first is None \
                or first.op_type != "Transpose" or self.consumers.get(inner.input) != 2 \
                or [int(p) for p in attributes(first).get("perm", [])] != [0, 2, 3, 1]:
            return None
        params = {k: v for k, v in inner.params.items() if k != "normalized_shape"}
        absorbed = inner.absorbed | {index, self.producer[first.output[0]]}
        return Fusion("LayerNorm2d", first.input[0], absorbed, params, inner.state,
                      needs=(None, inner.params["normalized_shape"][0], None, None))

    # -- LayerNorm written out ------------------------------------------------------------------
    def _last_axis_mean(self, value: str) -> Any | None:
        """The ReduceMean over the last axis (keeping it) that computes ``value``, if only
        one node reads it."""
        node = self._only_use(value, "ReduceMean")
        if node is None:
            return None
        attrs = attributes(node)
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1:
            folded = self.consts.get(node.input[1])
            axes = None if folded is None else folded.values[0].reshape(-1).tolist()
        return node if axes == [-1] and int(attrs.get("keepdims", 1)) else None

    def _affine(self, node: Any, op_type: str) -> tuple[Any, Any] | None:
        """(the node computing the other input, the 1-D constant) of an ``op_type`` node with
        a 1-D constant as one input."""
        if node.op_type != op_type or len(node.input) != 2:
            return None
        for value, const in (node.input, reversed(node.input)):
            folded = self._constant(const)
            if folded is not None and folded.values[0].ndim == 1:
                index = self.producer.get(value)
                if index is not None and self.consumers.get(value, 0) == 1:
                    return self.nodes[index], folded.values[0]
        return None

    def _layer_norm(self, end: Any) -> Fusion | None:
        """(x − mean(x)) / √(mean((x − mean(x))²) + ε) · w + b over the last axis: LayerNorm
        with the file's w and b."""
        state: dict[str, Any] = {}
        node = end
        with_bias = self._affine(node, "Add")
        if with_bias is not None:
            node, state["bias"] = with_bias
        scaled = self._affine(node, "Mul")
        if scaled is None:
            return None
        div, state["weight"] = scaled
        if div.op_type != "Div" or state.get("bias", state["weight"]).shape \
                != state["weight"].shape:
            return None
        centred, spread = div.input
        sqrt = self._only_use(spread, "Sqrt")
        plus = self._only_use(sqrt.input[0], "Add") if sqrt is not None else None
        eps = [v for v in plus.input if self._constant(v) is not None] if plus else []
        var = self._last_axis_mean(next(v for v in plus.input if v not in eps)) \
            if len(eps) == 1 and len(plus.input) == 2 else None
        power = self._only_use(var.input[0], "Pow") if var is not None else None
        sub = self.nodes[self.producer[centred]] if centred in self.producer else None
        if power is None or power.input[0] != centred or not self._scalar(power.input[1], 2.0) \
                or sub is None or sub.op_type != "Sub" or self.consumers.get(centred) != 2:
            return None
        mean = self._last_axis_mean(sub.input[1])
        if mean is None or mean.input[0] != sub.input[0]:
            return None
        params: dict[str, Any] = {
            "normalized_shape": [int(state["weight"].size)],
            "eps": round(float(self._constant(eps[0]).values[0].reshape(-1)[0]), 12)}
        if "bias" not in state:
            params["bias"] = False
        nodes = [mean, sub, power, var, plus, sqrt, div, node]
        absorbed = {self.producer[n.output[0]] for n in nodes} - {self.producer[end.output[0]]}
        return Fusion("LayerNorm", sub.input[0], absorbed, params,
                      {k: weight(v) for k, v in state.items()})
