"""What every sandbox op shares: the options, the result (cells with their formulas), number
formatting, reading a matrix typed or pasted by a person, and the registry of ops by name.
Plain Python floats: the arithmetic a student does by hand, no torch."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Number = int | float
MAX_VALUES = 4096
"""The most numbers one matrix may hold (64 × 64): every cell is printed with its formula."""


class LabError(ValueError):
    """An input the op cannot take: one line for the person who typed it."""


@dataclass(frozen=True)
class Options:
    """Every op's settings; each op reads the ones it needs (``None``: the op's default)."""

    kernel: Any = None
    kernel_size: int | None = None
    stride: int | None = None
    padding: int = 0
    dilation: int = 1
    target: int = 0
    from_probs: bool = False
    lr: float = 0.01
    momentum: float = 0.0
    velocity: Any = None
    grad: Any = None
    eps: float = 1e-5
    gamma: float = 1.0
    beta: float = 0.0
    slope: float = 0.01
    bias: bool = True
    layers: Any = None


@dataclass(frozen=True)
class Cell:
    """One output number, the formula that gives it with the numbers filled in, and (window
    ops) the input cells it was computed from."""

    index: tuple[int, ...]
    value: Number
    formula: str
    window: tuple[tuple[int, ...], ...] = ()
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": list(self.index), "value": self.value,
                               "formula": self.formula}
        if self.window:
            out["window"] = [list(i) for i in self.window]
        if self.label:
            out["label"] = self.label
        return out


@dataclass(frozen=True)
class LabResult:
    op: str
    output: Any
    cells: list[Cell]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "output": self.output,
                               "cells": [c.to_dict() for c in self.cells]}
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def cell(self, index: tuple[int, ...]) -> Cell | None:
        return next((c for c in self.cells if c.index == tuple(index)), None)


# -- numbers as a person writes them ---------------------------------------------------------
def num(x: Number) -> str:
    """``10``, ``2.0``, ``0.659``, ``3.9375``, ``1e-05``: short, and an integer typed as a float
    keeps its ``.0`` (``e^2.0``), as the textbooks write it."""
    if isinstance(x, bool) or not isinstance(x, float):
        return str(x)
    if math.isinf(x) or math.isnan(x):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{x:.1f}"
    if 1e-4 <= abs(x) < 1e6:
        text = f"{x:.4f}".rstrip("0").rstrip(".")
        return text if float(text) != 0 else f"{x:.4g}"
    return f"{x:.4g}"


def par(x: Number) -> str:
    """A number inside a product: negatives in parentheses, ``10·(-1)``."""
    return f"({num(x)})" if x < 0 else num(x)


def terms(parts: list[str], joiner: str = " + ", most: int = 25) -> str:
    """The terms of a long sum, the middle ones elided (an 11×11 kernel has 121)."""
    if len(parts) > most:
        parts = [*parts[:8], "…", *parts[-2:]]
    return joiner.join(parts)


def clean(x: float) -> Number:
    """A float result as exact as the arithmetic allows: ``0.497`` not ``0.49699999999999994``
    (a student compares it with the book)."""
    rounded = round(x, 12)
    return rounded if rounded != 0 else 0.0


# -- shapes ----------------------------------------------------------------------------------
def shape_of(value: Any) -> tuple[int, ...]:
    if isinstance(value, list):
        return (len(value), *shape_of(value[0])) if value else (0,)
    return ()


def flat(value: Any) -> list[Number]:
    return [x for item in value for x in flat(item)] if isinstance(value, list) else [value]


def indices(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    if not shape:
        return [()]
    return [(i, *rest) for i in range(shape[0]) for rest in indices(shape[1:])]


def at(value: Any, index: tuple[int, ...]) -> Number:
    for i in index:
        value = value[i]
    return value


def build(shape: tuple[int, ...], values: list[Number]) -> Any:
    """Nested lists of ``shape`` filled row by row from ``values``."""
    if not shape:
        return values[0]
    if len(shape) == 1:
        return list(values)
    step = len(values) // shape[0]
    return [build(shape[1:], values[i * step:(i + 1) * step]) for i in range(shape[0])]


def check_value(value: Any, name: str) -> Any:
    """A number, a vector or a rectangular matrix of finite numbers, or a LabError."""
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        widths = {len(row) for row in value}
        if len(widths) != 1 or 0 in widths:
            raise LabError(f"{name}: the rows of a matrix must all have the same length")
        if any(isinstance(x, list) for row in value for x in row):
            raise LabError(f"{name}: a number, a vector or a matrix (two levels of [ ]), "
                           "not deeper")
    elif isinstance(value, list) and not value:
        raise LabError(f"{name} is empty")
    numbers = flat(value)
    bad = [x for x in numbers if isinstance(x, bool) or not isinstance(x, int | float)]
    if bad:
        raise LabError(f"{name}: only numbers, found {bad[0]!r}")
    if any(not math.isfinite(x) for x in numbers):
        raise LabError(f"{name}: numbers must be finite")
    if len(numbers) > MAX_VALUES:
        raise LabError(f"{name} has {len(numbers)} numbers; the sandbox takes at most "
                       f"{MAX_VALUES}")
    return value


_ROW_SPLIT = re.compile(r"[\n;]+")
_NUMBER_SPLIT = re.compile(r"[\s,]+")


def parse_matrix(text: str, name: str = "the input") -> Any:
    """A number, vector or matrix from JSON (``[[1,2],[3,4]]``) or from rows of numbers (one row
    a line or separated by ``;``, numbers by spaces, tabs or commas: pasted from a sheet)."""
    text = text.strip()
    if not text:
        raise LabError(f"{name} is empty")
    try:
        value = json.loads(text)
    except ValueError:
        value = None
        if text.startswith("["):
            raise LabError(f"{name} is not valid JSON: {text[:40]!r}") from None
    if value is None:
        rows = [r for r in (r.strip() for r in _ROW_SPLIT.split(text)) if r]
        try:
            value = [[_number(x) for x in _NUMBER_SPLIT.split(r) if x] for r in rows]
        except ValueError:
            raise LabError(f"{name}: expected JSON or rows of numbers, not {text[:40]!r}") \
                from None
        if len(value) == 1:
            value = value[0] if len(value[0]) > 1 else value[0][0]
    return check_value(value, name)


def _number(text: str) -> Number:
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)


# -- the registry ----------------------------------------------------------------------------
Op = Callable[[Any, Options], LabResult]
OPS: dict[str, Op] = {}
DESCRIPTIONS: dict[str, str] = {}


def register(name: str, description: str) -> Callable[[Op], Op]:
    """Adds an op under ``name`` (refuses a name twice, as the layer and preset registries)."""

    def add(fn: Op) -> Op:
        if name in OPS:
            raise ValueError(f"lab op {name!r} registered twice")
        OPS[name] = fn
        DESCRIPTIONS[name] = description
        return fn

    return add


def compute(op: str, value: Any, options: Options | None = None) -> LabResult:
    """Runs op ``op`` on ``value`` (a number, vector or matrix), or raises LabError."""
    if op not in OPS:
        raise LabError(f"unknown op {op!r}; choose one of {', '.join(OPS)}")
    return OPS[op](check_value(value, "the input"), options or Options())
