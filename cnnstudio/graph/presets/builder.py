"""A small helper that preset families use to write graphs the way torchvision writes modules:
nodes named by their module path, nested blocks as groups."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .. import layers
from ..model import Graph


class Builder:
    """Adds nodes under the current scope; ``add`` returns the new node's id."""

    def __init__(self, input_shape: Sequence[int], input_id: str = "input") -> None:
        self.graph = Graph()
        self._scope: list[str] = []
        self._groups: list[str | None] = [None]
        self.input = self.graph.add_node("Input", input_id, {"shape": list(input_shape)}).id

    def path(self, name: str) -> str:
        return ".".join([*self._scope, name])

    @contextmanager
    def scope(self, name: str, label: str | None = None, group: bool = True) -> Iterator[str]:
        """Nodes added inside get ids under ``name``; with ``group`` they form a block."""
        self._scope.append(name)
        full = ".".join(self._scope)
        if group:
            self.graph.add_group(full, label, self._groups[-1])
            self._groups.append(full)
        try:
            yield full
        finally:
            self._scope.pop()
            if group:
                self._groups.pop()

    def add(self, type_name: str, name: str, *inputs: str, **params: Any) -> str:
        """Add a node of ``type_name`` at ``scope.name`` fed by ``inputs`` in order.

        Parameters equal to the spec's default are left out, so files stay short.
        """
        defaults = layers.get(type_name).defaults
        given = {k: v for k, v in params.items() if defaults.get(k, object()) != v}
        node = self.graph.add_node(type_name, self.path(name), given, group=self._groups[-1])
        for src in inputs:
            self.graph.connect(src, node.id)
        return node.id

    def seq(self, x: str, *steps: tuple[str, str, dict[str, Any]]) -> str:
        """Chain ``(type, name, params)`` steps after ``x``; returns the last id."""
        for type_name, name, params in steps:
            x = self.add(type_name, name, x, **params)
        return x


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channels to a multiple of ``divisor`` without losing more than 10% (the rule
    MobileNet and EfficientNet use)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v
