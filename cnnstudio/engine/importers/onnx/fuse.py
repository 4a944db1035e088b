"""Activations that exporters write as several ONNX nodes, found so each becomes one layer:
SiLU (``x · sigmoid(x)``), Hardswish (``x · hardsigmoid(x)``) and GELU
(``x · 0.5 · (1 + erf(x / √2))``, as opset 18 exporters spell it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import isclose, sqrt
from typing import Any

from .fold import Folded, attributes


@dataclass
class Fusion:
    """What the final node of a pattern becomes; the pattern's other nodes are left out."""

    type: str
    input: str
    absorbed: set[int] = field(default_factory=set)
    params: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    """The layer's weights (torch tensors), when the pattern holds them as constants."""


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
        for i in sorted(needed):
            node = self.nodes[i]
            if node.op_type != "Mul" or node.domain not in ("", "ai.onnx") or i in taken:
                continue
            fusion = self._gated(node) or self._gelu(i)
            if fusion is not None and not (fusion.absorbed & taken):
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
