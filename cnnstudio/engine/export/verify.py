"""How an exported model is checked against the model it came from: a fixed input, outputs
flattened to float64 tensors, and the largest absolute and relative differences."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

SEED = 20240531
"""Seed of the verification inputs: the same model always gets the same inputs."""
TINY = 1e-6
"""Floor of the relative difference's denominator, so an output that is zero everywhere is
compared on an absolute scale instead of dividing by zero."""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ExportError(Exception):
    """An export that failed or did not verify. ``str(error)`` is one line for the user;
    ``report`` holds the exporter's own output (its error report, the checker's text, the
    table of mismatches) for a details view."""

    def __init__(self, message: str, report: str = "") -> None:
        self.message = one_line(message)
        self.report = _ANSI.sub("", report).strip()
        super().__init__(self.message)


def one_line(text: str, limit: int = 300) -> str:
    """The first non-empty line of ``text`` without terminal colours, at most ``limit`` long."""
    for line in _ANSI.sub("", str(text)).splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return "(no message)"


def sample_input(input_shape: Sequence[int], batch: int, *, dtype: torch.dtype = torch.float32,
                 seed: int = SEED) -> torch.Tensor:
    """A standard-normal batch ``[batch, *input_shape]`` drawn from its own generator (the
    global random state is left alone). Each batch size gets its own samples."""
    gen = torch.Generator().manual_seed(seed + batch)
    return torch.randn((batch, *input_shape), generator=gen).to(dtype)


def outputs(value: Any) -> list[torch.Tensor]:
    """A model's output (a tensor, a tuple/list of them, numpy arrays from onnxruntime) as a
    list of float64 CPU tensors."""
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in outputs(v)]
    if isinstance(value, np.ndarray):
        return [torch.from_numpy(np.asarray(value, dtype=np.float64))]
    if isinstance(value, torch.Tensor):
        return [value.detach().to("cpu", torch.float64)]
    raise TypeError(f"the model returned a {type(value).__name__}, not tensors")


@dataclass(frozen=True)
class Diff:
    """The difference of one output: the largest |a-b|, that over the output's scale, and
    where the largest difference is (with both values there) for the report."""

    index: int
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    where: tuple[int, ...]
    expected: float
    got: float


def diffs(expected: Any, got: Any) -> list[Diff]:
    """Per-output differences. Raises ExportError when the outputs' number or shapes differ."""
    exp, out = outputs(expected), outputs(got)
    if len(exp) != len(out):
        raise ExportError(f"the exported model returns {len(out)} output(s), the model "
                          f"{len(exp)}")
    result = []
    for i, (a, b) in enumerate(zip(exp, out)):
        if a.shape != b.shape:
            raise ExportError(f"output {i} has shape {tuple(b.shape)} in the exported model, "
                              f"{tuple(a.shape)} in the model")
        result.append(_diff(i, a, b))
    return result


def _diff(index: int, a: torch.Tensor, b: torch.Tensor) -> Diff:
    shape = tuple(a.shape)
    if a.numel() == 0:
        return Diff(index, shape, 0.0, 0.0, (), 0.0, 0.0)
    same = (a == b) | (torch.isnan(a) & torch.isnan(b))  # equal infinities and NaNs agree
    delta = torch.where(same, torch.zeros_like(a), (a - b).abs())
    delta = torch.nan_to_num(delta, nan=float("inf"))
    flat = int(delta.argmax())
    max_abs = float(delta.reshape(-1)[flat])
    finite = a[torch.isfinite(a)]
    scale = max(float(finite.abs().max()) if finite.numel() else 0.0, TINY)
    where = tuple(int(i) for i in np.unravel_index(flat, shape))
    return Diff(index, shape, max_abs, max_abs / scale, where,
                float(a.reshape(-1)[flat]), float(b.reshape(-1)[flat]))


def compare(expected: torch.Tensor | tuple, got: Any) -> tuple[float, float]:
    """``(max_abs, max_rel)`` over all outputs, compared in float64.

    ``max_abs`` is the largest ``|expected - got|``; ``max_rel`` is, per output, that
    difference divided by the largest finite ``|expected|`` of the output (at least
    ``TINY``), the largest over the outputs. Dividing by the output's scale rather than
    element by element keeps near-zero logits from inflating it. Positions where both are
    the same infinity or both NaN agree; NaN against a number is an infinite difference."""
    found = diffs(expected, got)
    return (max((d.max_abs for d in found), default=0.0),
            max((d.max_rel for d in found), default=0.0))


def doubts(out: Any) -> list[str]:
    """A warning when every output is (nearly) the same for every sample of the batch: then
    the comparison checks little more than the last layer's bias. Untrained networks whose
    activations vanish do this (torchvision's EfficientNets at initialisation)."""
    found = outputs(out)
    if not found or found[0].dim() == 0 or found[0].shape[0] < 2:
        return []
    for t in found:
        spread = float((t - t.mean(dim=0, keepdim=True)).abs().max()) if t.numel() else 0.0
        scale = float(t.abs().max()) if t.numel() else 0.0
        if not spread <= 1e-5 * max(scale, TINY):
            return []
    return ["the output barely depends on the input, so this check proves little; "
            "export again after training"]


def table(rows: list[tuple[int, list[Diff]]], rtol: float) -> str:
    """A plain-text table of the differences at each batch size, worst position included."""
    lines = [f"{'batch':>5}  {'output':>6}  {'shape':<18} {'max abs':>10} {'max rel':>10}  "
             f"{'worst at':<16} {'expected':>13} {'got':>13}"]
    for batch, found in rows:
        for d in found:
            flag = "  > rtol" if d.max_rel > rtol else ""
            lines.append(f"{batch:>5}  {d.index:>6}  {str(d.shape):<18} {d.max_abs:>10.3g} "
                         f"{d.max_rel:>10.3g}  {str(d.where):<16} {d.expected:>13.6g} "
                         f"{d.got:>13.6g}{flag}")
    lines.append(f"(relative difference: max |a-b| over the output's largest |a|; rtol {rtol:g})")
    return "\n".join(lines)
