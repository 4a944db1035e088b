"""LeNet-5 (LeCun et al., 1998) as the seeds describe it: 32×32 grey input, two convolution +
average-pooling stages, C5 as a 5×5 convolution, F6 and the output; tanh throughout."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Graph
from .builder import Builder
from .registry import register

_ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU", "sigmoid": "Sigmoid"}
_POOLS = {"avg": "AvgPool2d", "max": "MaxPool2d"}

C3_TABLE: tuple[tuple[int, ...], ...] = (
    *((i, (i + 1) % 6, (i + 2) % 6) for i in range(6)),
    *((i, (i + 1) % 6, (i + 2) % 6, (i + 3) % 6) for i in range(6)),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)
"""LeCun et al. 1998, Table I: the S2 maps each of C3's 16 maps sees. Maps 0-5 take three
neighbouring maps, 6-11 four neighbouring ones, 12-14 four non-neighbouring ones, 15 all six."""


def _c3_table(b: Builder, s2: str) -> str:
    """C3 with the partial connections, from plain layers: the inputs of each map gathered
    side by side (Slices of S2, concatenated), one grouped 5×5 convolution per input count (6
    maps of 3, 9 of 4, 1 of 6) and the 16 maps concatenated in the paper's order. 1,500
    weights and 16 biases."""
    with b.scope("c3", "C3: LeCun's partial connection table"):
        outs = []
        for name, first, last in (("three", 0, 6), ("four", 6, 15), ("six", 15, 16)):
            maps = C3_TABLE[first:last]
            if len(maps[0]) == 6:
                gathered = s2
            else:
                pieces = [b.add("Slice", f"in{j}_{r}", s2, start=start, end=end)
                          for j, inputs in enumerate(maps, start=first)
                          for r, (start, end) in enumerate(_runs(inputs))]
                gathered = b.add("Concat", f"gather_{name}", *pieces)
            outs.append(b.add("Conv2d", f"conv_{name}", gathered, out_channels=len(maps),
                              kernel_size=5, groups=len(maps)))
        return b.add("Concat", "maps", *outs)


def _runs(inputs: tuple[int, ...]) -> list[tuple[int, int]]:
    """``inputs`` as runs of neighbouring channels, (start, end) each: (4, 5, 0) is 4…5 and
    0, (0, 2, 3, 5) is 0, 2…3 and 5."""
    runs: list[tuple[int, int]] = []
    for i in inputs:
        if runs and i == runs[-1][1]:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def build_lenet5(
    *,
    num_classes: int = 10,
    input_shape: Sequence[int] = (1, 32, 32),
    activation: str = "tanh",
    pooling: str = "avg",
    c3_table: bool = False,
) -> Graph:
    """``c3_table`` connects C3 as the paper does, each of its maps to a few of S2's
    (C3_TABLE), instead of every map to all six."""
    act = _ACTIVATIONS.get(activation)
    pool = _POOLS.get(pooling)
    if act is None or pool is None:
        raise ValueError(f"activation is one of {', '.join(_ACTIVATIONS)} and pooling one of "
                         f"{', '.join(_POOLS)}")
    b = Builder(input_shape)
    with b.scope("features", "Feature extractor", group=True):
        x = b.add("Conv2d", "c1", b.input, out_channels=6, kernel_size=5)
        x = b.add(act, "c1_act", x)
        x = b.add(pool, "s2", x, kernel_size=2)
        if c3_table:
            x = _c3_table(b, x)
        else:
            x = b.add("Conv2d", "c3", x, out_channels=16, kernel_size=5)
        x = b.add(act, "c3_act", x)
        x = b.add(pool, "s4", x, kernel_size=2)
        x = b.add("Conv2d", "c5", x, out_channels=120, kernel_size=5)
        x = b.add(act, "c5_act", x)
    x = b.add("Flatten", "flatten", x)
    with b.scope("classifier", "Classifier"):
        x = b.add("Linear", "f6", x, out_features=84)
        x = b.add(act, "f6_act", x)
        b.add("Linear", "output", x, out_features=num_classes)
    return b.graph


register("lenet5", "lenet", "LeNet-5 (1998): 32×32 grey digits, tanh, average pooling, "
         "61.7 K parameters (60.8 K with c3 table, the paper's partial C3 connections)",
         build_lenet5)
