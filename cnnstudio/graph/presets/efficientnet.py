"""EfficientNet B0-B7 (Tan & Le, 2019) and EfficientNetV2 S/M/L (2021), block by block as
torchvision builds them (node ids equal torchvision's module paths, so its weights load).

B0 is the searched baseline; B1-B7 scale it with one compound coefficient: width (channels),
depth (blocks per stage) and input resolution grow together."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

from ..model import Graph
from .builder import Builder, make_divisible
from .mobilenet import TF_NORM, conv_norm_act, squeeze_excitation
from .registry import register

# (block, expand ratio, kernel, first stride, input channels, output channels, blocks) per
# stage: Table 1 of the EfficientNet paper and Table 4 of the EfficientNetV2 paper.
_B = (
    ("MBConv", 1, 3, 1, 32, 16, 1),
    ("MBConv", 6, 3, 2, 16, 24, 2),
    ("MBConv", 6, 5, 2, 24, 40, 2),
    ("MBConv", 6, 3, 2, 40, 80, 3),
    ("MBConv", 6, 5, 1, 80, 112, 3),
    ("MBConv", 6, 5, 2, 112, 192, 4),
    ("MBConv", 6, 3, 1, 192, 320, 1),
)
_V2_S = (
    ("FusedMBConv", 1, 3, 1, 24, 24, 2),
    ("FusedMBConv", 4, 3, 2, 24, 48, 4),
    ("FusedMBConv", 4, 3, 2, 48, 64, 4),
    ("MBConv", 4, 3, 2, 64, 128, 6),
    ("MBConv", 6, 3, 1, 128, 160, 9),
    ("MBConv", 6, 3, 2, 160, 256, 15),
)
_V2_M = (
    ("FusedMBConv", 1, 3, 1, 24, 24, 3),
    ("FusedMBConv", 4, 3, 2, 24, 48, 5),
    ("FusedMBConv", 4, 3, 2, 48, 80, 5),
    ("MBConv", 4, 3, 2, 80, 160, 7),
    ("MBConv", 6, 3, 1, 160, 176, 14),
    ("MBConv", 6, 3, 2, 176, 304, 18),
    ("MBConv", 6, 3, 1, 304, 512, 5),
)
_V2_L = (
    ("FusedMBConv", 1, 3, 1, 32, 32, 4),
    ("FusedMBConv", 4, 3, 2, 32, 64, 7),
    ("FusedMBConv", 4, 3, 2, 64, 96, 7),
    ("MBConv", 4, 3, 2, 96, 192, 10),
    ("MBConv", 6, 3, 1, 192, 224, 19),
    ("MBConv", 6, 3, 2, 224, 384, 25),
    ("MBConv", 6, 3, 1, 384, 640, 7),
)
_SETTINGS = {"b": _B, "v2_s": _V2_S, "v2_m": _V2_M, "v2_l": _V2_L}
_V2_NORM = {"eps": 0.001}
_LABELS = {"MBConv": "MBConv", "FusedMBConv": "Fused-MBConv"}


def build_efficientnet(
    *,
    setting: str,
    width_mult: float = 1.0,
    depth_mult: float = 1.0,
    last_channel: int | None = None,
    norm: dict[str, Any] | None = None,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
    dropout: float = 0.2,
    stochastic_depth_prob: float = 0.2,
) -> Graph:
    """EfficientNet: a strided 3×3 stem, stages of MBConv blocks (1×1 expansion, depthwise
    convolution, squeeze-and-excitation, linear 1×1 projection; SiLU throughout) or, in
    EfficientNetV2's early stages, Fused-MBConv blocks (one full convolution in place of the
    expansion and the depthwise one), a 1×1 head convolution, global average pooling and a
    linear classifier. Blocks that keep the shape add their input back after stochastic depth,
    whose drop probability grows linearly from 0 to ``stochastic_depth_prob`` with depth."""
    stages = _SETTINGS[setting]

    def adjust(c: float) -> int:
        return make_divisible(c * width_mult, 8)

    total = sum(math.ceil(n * depth_mult) for *_, n in stages)
    b = Builder(input_shape)
    with b.scope("features", group=False):
        x = conv_norm_act(b, b.input, "0", adjust(stages[0][4]), stride=2, activation="SiLU",
                          norm=norm)
        block_id = 0
        for s, (kind, expand, k, stride, cin, out, n) in enumerate(stages, start=1):
            cin, out = adjust(cin), adjust(out)
            with b.scope(str(s), f"Stage {s}: {_LABELS[kind]} ×{expand}, {k}×{k}"):
                for i in range(math.ceil(n * depth_mult)):
                    sd_prob = stochastic_depth_prob * float(block_id) / total
                    with b.scope(str(i), _LABELS[kind]):
                        x = _mbconv(b, x, kind, cin, out, expand, k, stride if i == 0 else 1,
                                    sd_prob, norm)
                    cin = out
                    block_id += 1
        head = last_channel if last_channel is not None else 4 * adjust(stages[-1][5])
        x = conv_norm_act(b, x, str(len(stages) + 1), head, kernel_size=1, activation="SiLU",
                          norm=norm)
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
    x = b.add("Flatten", "flatten", x)
    with b.scope("classifier", "Classifier"):
        x = b.add("Dropout", "0", x, p=dropout)
        b.add("Linear", "1", x, out_features=num_classes)
    return b.graph


def _mbconv(b: Builder, x: str, kind: str, cin: int, out: int, expand: float, k: int,
            stride: int, sd_prob: float, norm: dict[str, Any] | None) -> str:
    expanded = make_divisible(cin * expand, 8)
    with b.scope("block", group=False):
        if kind == "FusedMBConv":
            if expanded != cin:
                y = conv_norm_act(b, x, "0", expanded, kernel_size=k, stride=stride,
                                  activation="SiLU", norm=norm)
                y = conv_norm_act(b, y, "1", out, kernel_size=1, activation=None, norm=norm)
            else:
                y = conv_norm_act(b, x, "0", out, kernel_size=k, stride=stride,
                                  activation="SiLU", norm=norm)
        else:
            y, i = x, 0
            if expanded != cin:
                y = conv_norm_act(b, y, "0", expanded, kernel_size=1, activation="SiLU",
                                  norm=norm)
                i = 1
            y = conv_norm_act(b, y, str(i), expanded, kernel_size=k, stride=stride,
                              groups=expanded, activation="SiLU", norm=norm)
            y = squeeze_excitation(b, y, str(i + 1), expanded, max(1, cin // 4), "SiLU",
                                   "Sigmoid")
            y = conv_norm_act(b, y, str(i + 2), out, kernel_size=1, activation=None, norm=norm)
    if stride == 1 and cin == out:
        y = b.add("StochasticDepth", "stochastic_depth", y, p=sd_prob, mode="row")
        y = b.add("Add", "add", y, x)
    return y


# name: (width, depth, resolution, dropout, batch-norm settings), as torchvision's builders
# and weights' crop sizes have them.
_VARIANTS: dict[str, tuple[float, float, int, float, dict[str, Any] | None]] = {
    "b0": (1.0, 1.0, 224, 0.2, None),
    "b1": (1.0, 1.1, 240, 0.2, None),
    "b2": (1.1, 1.2, 288, 0.3, None),
    "b3": (1.2, 1.4, 300, 0.3, None),
    "b4": (1.4, 1.8, 380, 0.4, None),
    "b5": (1.6, 2.2, 456, 0.4, TF_NORM),
    "b6": (1.8, 2.6, 528, 0.5, TF_NORM),
    "b7": (2.0, 3.1, 600, 0.5, TF_NORM),
}
_PARAMS = {"b0": "5.3 M", "b1": "7.8 M", "b2": "9.1 M", "b3": "12.2 M", "b4": "19.3 M",
           "b5": "30.4 M", "b6": "43.0 M", "b7": "66.3 M"}

for _name, (_w, _d, _res, _drop, _norm) in _VARIANTS.items():
    _text = ("EfficientNet-B0 (2019): the searched MBConv baseline, 5.3 M parameters"
             if _name == "b0" else
             f"EfficientNet-{_name.upper()}: B0 compound-scaled (width ×{_w}, depth ×{_d}, "
             f"{_res}×{_res}), {_PARAMS[_name]} parameters")
    register(f"efficientnet_{_name}", "efficientnet", f"{_text} (torchvision's layout)",
             partial(build_efficientnet, input_shape=(3, _res, _res), dropout=_drop),
             torchvision=True, setting="b", width_mult=_w, depth_mult=_d, last_channel=None,
             norm=_norm)

for _name, _res, _drop, _text in (
    ("s", 384, 0.2, "EfficientNetV2-S (2021): Fused-MBConv early stages, 21.5 M parameters"),
    ("m", 480, 0.3, "EfficientNetV2-M: 54.1 M parameters"),
    ("l", 480, 0.4, "EfficientNetV2-L: 118.5 M parameters"),
):
    register(f"efficientnet_v2_{_name}", "efficientnet", f"{_text} (torchvision's layout)",
             partial(build_efficientnet, input_shape=(3, _res, _res), dropout=_drop),
             torchvision=True, setting=f"v2_{_name}", width_mult=1.0, depth_mult=1.0,
             last_channel=1280, norm=_V2_NORM)
