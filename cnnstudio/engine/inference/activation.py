"""An element-wise activation's curve for the inspector: f(x) and f'(x) on a grid, as the
layer's torch module computes them (autograd for the derivative), and where it saturates.

The module is built from a one-node graph, so the plot shows exactly what the network runs,
parameters (negative_slope, alpha, approximate…) included. Curves are cached per
(type, parameters): selecting the same kind of layer again costs nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...graph import Graph, layers
from ..build import to_module

FLAT = 0.05
"""|f'(x)| below this counts as saturated: the gradient through the unit nearly vanishes."""


@dataclass(frozen=True)
class Curve:
    x: np.ndarray
    y: np.ndarray
    slope: np.ndarray
    flat: tuple[tuple[float, float], ...]
    """The x intervals, in order, that reach an end of the range with |f'(x)| < FLAT all the
    way: where the function flattens out. A dip's bottom (GELU's, SiLU's), where f' only
    crosses 0, is no saturation and is left out, and so is a straight piece whose small slope
    is not 0 (LeakyReLU's 0.01): it passes every gradient on, scaled, however far out x is."""


def curve(type_name: str, params: Mapping[str, Any], lo: float = -6.0, hi: float = 6.0,
          points: int = 481) -> Curve:
    """f and f' of the activation ``type_name`` with ``params`` (a node's own, unset ones
    default) at ``points`` x values in [lo, hi]. A PReLU is drawn with one shared slope.
    Raises ValueError when the parameters are invalid."""
    key = tuple(sorted(params.items()))
    return _curve(type_name, key, float(lo), float(hi), int(points))


@functools.lru_cache(maxsize=128)
def _curve(type_name: str, params: tuple[tuple[str, Any], ...], lo: float, hi: float,
           points: int) -> Curve:
    given = dict(params)
    _resolved, problems = layers.get(type_name).resolve(given)
    if problems:
        raise ValueError("; ".join(problems))
    if type_name == "PReLU":
        given["num_parameters"] = 1
    graph = Graph()
    graph.add_node("Input", "input", {"shape": [1]})
    graph.add_node(type_name, "f", given)
    graph.connect("input", "f")
    module = to_module(graph).get_submodule("f").double()
    x = torch.linspace(lo, hi, points, dtype=torch.float64)
    x = ((x * 1e9).round() / 1e9 + 0.0).reshape(-1, 1).requires_grad_(True)  # 0, not 3e-16
    with torch.enable_grad():
        y = module(x)
        (slope,) = torch.autograd.grad(y.sum(), x)
    xs, ys, ds = (t.detach().reshape(-1).numpy() for t in (x, y, slope))
    for array in (xs, ys, ds):
        array.setflags(write=False)  # shared by every caller through the cache
    flat = tuple((a, b) for a, b in _runs(xs, np.abs(ds) < FLAT) if not _leaky(xs, ds, a, b))
    return Curve(xs, ys, ds, flat)


def _leaky(xs: np.ndarray, ds: np.ndarray, a: float, b: float) -> bool:
    """Whether f' is one nonzero constant on [a, b]."""
    part = ds[(xs >= a) & (xs <= b)]
    return bool(part.size) and float(np.abs(part).min()) > 0 and float(np.ptp(part)) < 1e-9


def _runs(xs: np.ndarray, mask: np.ndarray) -> tuple[tuple[float, float], ...]:
    """[x_first, x_last] of the runs of True in ``mask`` that start at its first or end at its
    last element."""
    runs = []
    if mask[0]:
        end = int(np.argmin(mask)) - 1 if not mask.all() else len(mask) - 1
        runs.append((float(xs[0]), float(xs[end])))
    if mask[-1] and not mask.all():
        start = len(mask) - int(np.argmin(mask[::-1]))
        runs.append((float(xs[start]), float(xs[-1])))
    return tuple(r for r in runs if r[1] > r[0])
