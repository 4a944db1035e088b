"""RegNetX and RegNetY (Radosavovic et al., 2020), block by block as torchvision builds them
(node ids equal torchvision's module paths, so its weights load).

A RegNet is not a table of stages but four numbers: blocks ``depth``, initial width ``w_0``,
slope ``w_a`` and log-step ``w_m``. Block widths grow linearly, are snapped to a geometric
series (quantised to multiples of 8), and each run of equal widths becomes a stage.
RegNetY adds squeeze-and-excitation to every block."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

from ..model import Graph
from .builder import Builder, make_divisible
from .mobilenet import conv_norm_act, squeeze_excitation
from .registry import register

_QUANT = 8
"""Block widths are multiples of this."""


class Stage(NamedTuple):
    width: int
    depth: int
    group_width: int


def block_widths(depth: int, w_0: int, w_a: float, w_m: float) -> list[int]:
    """The width of each block: w_0 + w_a·j, snapped to w_0·w_m^k in log space, rounded to a
    multiple of 8 (torchvision's BlockParams.from_init_params)."""
    if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % _QUANT != 0:
        raise ValueError("invalid RegNet settings: need w_a >= 0, w_0 > 0 a multiple of 8, "
                         "w_m > 1")
    widths = []
    for j in range(depth):
        capacity = round(math.log((j * w_a + w_0) / w_0) / math.log(w_m))
        widths.append(int(round(w_0 * w_m ** capacity / _QUANT) * _QUANT))
    return widths


def stages(depth: int, w_0: int, w_a: float, w_m: float, group_width: int,
           bottleneck_multiplier: float = 1.0) -> list[Stage]:
    """Runs of equal block widths as stages, with the widths adjusted so the bottleneck width
    is a multiple of the (capped) group width."""
    runs: list[list[int]] = []
    for w in block_widths(depth, w_0, w_a, w_m):
        if runs and runs[-1][0] == w:
            runs[-1][1] += 1
        else:
            runs.append([w, 1])
    out = []
    for width, n in runs:
        bottleneck = int(width * bottleneck_multiplier)
        group = min(group_width, bottleneck)
        bottleneck = make_divisible(bottleneck, group)
        out.append(Stage(int(bottleneck / bottleneck_multiplier), n, group))
    return out


def build_regnet(
    *,
    depth: int,
    w_0: int,
    w_a: float,
    w_m: float,
    group_width: int,
    se_ratio: float | None = None,
    bottleneck_multiplier: float = 1.0,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
) -> Graph:
    """RegNet: a strided 3×3 stem (32 channels), four stages of residual bottleneck blocks
    (1×1, grouped 3×3 with a fixed group width, [squeeze-and-excitation,] 1×1; the first block
    of each stage halves the resolution), global average pooling and one linear layer."""
    b = Builder(input_shape)
    with b.scope("stem", "Stem: 3×3 convolution, stride 2"):
        x = b.add("Conv2d", "0", b.input, out_channels=32, kernel_size=3, stride=2, padding=1,
                  bias=False)
        x = b.add("BatchNorm2d", "1", x)
        x = b.add("ReLU", "2", x)
    width = 32
    kind = "Y block" if se_ratio else "X block"
    with b.scope("trunk_output", group=False):
        for s, stage in enumerate(stages(depth, w_0, w_a, w_m, group_width,
                                         bottleneck_multiplier), start=1):
            label = f"Stage {s}: {stage.width} channels, {stage.depth} " + \
                ("block" if stage.depth == 1 else "blocks")
            with b.scope(f"block{s}", label):
                for i in range(stage.depth):
                    stride = 2 if i == 0 else 1
                    with b.scope(f"block{s}-{i}", f"{kind} {s}.{i + 1}"
                                 + (", stride 2" if stride == 2 else "")):
                        x = _block(b, x, width, stage, stride, bottleneck_multiplier, se_ratio)
                    width = stage.width
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
    x = b.add("Flatten", "flatten", x)
    b.add("Linear", "fc", x, out_features=num_classes)
    return b.graph


def _block(b: Builder, x: str, width_in: int, stage: Stage, stride: int,
           bottleneck_multiplier: float, se_ratio: float | None) -> str:
    """torchvision's ResBottleneckBlock: ``f`` (a, b, [se,] c) plus the input, projected by
    ``proj`` when the shape changes, then ReLU."""
    bottleneck = int(round(stage.width * bottleneck_multiplier))
    with b.scope("f", group=False):
        y = conv_norm_act(b, x, "a", bottleneck, kernel_size=1)
        y = conv_norm_act(b, y, "b", bottleneck, stride=stride,
                          groups=bottleneck // stage.group_width)
        if se_ratio:  # the squeeze width counts from the block's input width
            y = squeeze_excitation(b, y, "se", bottleneck, int(round(se_ratio * width_in)),
                                   "ReLU", "Sigmoid")
        y = conv_norm_act(b, y, "c", stage.width, kernel_size=1, activation=None)
    shortcut = x
    if width_in != stage.width or stride != 1:
        with b.scope("proj", "Projection shortcut"):
            shortcut = b.add("Conv2d", "0", x, out_channels=stage.width, kernel_size=1,
                             stride=stride, bias=False)
            shortcut = b.add("BatchNorm2d", "1", shortcut)
    y = b.add("Add", "add", shortcut, y)
    return b.add("ReLU", "activation", y)


# name: (depth, w_0, w_a, w_m, group width, parameters), torchvision's settings (from the
# paper's Tables); RegNetY's all use SE ratio 0.25.
_X = {
    "400mf": (22, 24, 24.48, 2.54, 16, "5.5 M"),
    "800mf": (16, 56, 35.73, 2.28, 16, "7.3 M"),
    "1_6gf": (18, 80, 34.01, 2.25, 24, "9.2 M"),
    "3_2gf": (25, 88, 26.31, 2.25, 48, "15.3 M"),
    "8gf": (23, 80, 49.56, 2.88, 120, "39.6 M"),
    "16gf": (22, 216, 55.59, 2.1, 128, "54.3 M"),
    "32gf": (23, 320, 69.86, 2.0, 168, "107.8 M"),
}
_Y = {
    "400mf": (16, 48, 27.89, 2.09, 8, "4.3 M"),
    "800mf": (14, 56, 38.84, 2.4, 16, "6.4 M"),
    "1_6gf": (27, 48, 20.71, 2.65, 24, "11.2 M"),
    "3_2gf": (21, 80, 42.63, 2.66, 24, "19.4 M"),
    "8gf": (17, 192, 76.82, 2.19, 56, "39.4 M"),
    "16gf": (18, 200, 106.23, 2.48, 112, "83.6 M"),
    "32gf": (20, 232, 115.89, 2.53, 232, "145.0 M"),
    "128gf": (27, 456, 160.83, 2.52, 264, "644.8 M"),
}


for _kind, _table, _se, _what in (
    ("x", _X, None, "residual bottlenecks with grouped convolutions"),
    ("y", _Y, 0.25, "RegNetX blocks plus squeeze-and-excitation"),
):
    for _size, (_d, _w0, _wa, _wm, _g, _params) in _table.items():
        _title = f"RegNet{_kind.upper()}-{_size.upper().replace('_', '.')}"
        _res = 384 if _size == "128gf" else 224  # torchvision's only full weights: SWAG, 384
        _input = f", {_res}×{_res} input" if _res != 224 else ""
        register(f"regnet_{_kind}_{_size}", "regnet", f"{_title} (2020): {_what}, {_params} "
                 f"parameters{_input} (torchvision's layout)",
                 partial(build_regnet, input_shape=(3, _res, _res)), torchvision=True,
                 depth=_d, w_0=_w0, w_a=_wa, w_m=_wm, group_width=_g, se_ratio=_se,
                 bottleneck_multiplier=1.0)
