"""MobileNet V1 (Howard et al., 2017) as the paper describes it, and MobileNet V2 and V3 block by
block as torchvision builds them (node ids equal torchvision's module paths, so its weights
load). The Conv → BatchNorm → activation and squeeze-and-excitation helpers are shared with
EfficientNet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..model import Graph
from .builder import Builder, make_divisible
from .registry import register

# MobileNet V3 (and EfficientNet B5-B7) use TensorFlow's batch-norm settings.
TF_NORM = {"eps": 0.001, "momentum": 0.01}


def conv_norm_act(b: Builder, x: str, name: str, out: int, kernel_size: int = 3,
                  stride: int = 1, groups: int = 1, dilation: int = 1,
                  activation: str | None = "ReLU", norm: dict[str, Any] | None = None) -> str:
    """torchvision's Conv2dNormActivation: ``name.0`` a bias-free Conv2d with 'same'-style
    padding, ``name.1`` BatchNorm2d, ``name.2`` the activation (none when ``activation`` is
    None)."""
    with b.scope(name, group=False):
        x = b.add("Conv2d", "0", x, out_channels=out, kernel_size=kernel_size, stride=stride,
                  padding=(kernel_size - 1) // 2 * dilation, dilation=dilation, groups=groups,
                  bias=False)
        x = b.add("BatchNorm2d", "1", x, **(norm or {}))
        if activation:
            x = b.add(activation, "2", x)
    return x


def squeeze_excitation(b: Builder, x: str, name: str, channels: int, squeeze: int,
                       activation: str, gate: str) -> str:
    """torchvision's SqueezeExcitation: global pool → 1×1 conv squeeze → activation → 1×1 conv
    excite → gate, then the input scaled channel by channel."""
    with b.scope(name, "Squeeze-and-excitation"):
        s = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
        s = b.add("Conv2d", "fc1", s, out_channels=squeeze, kernel_size=1)
        s = b.add(activation, "activation", s)
        s = b.add("Conv2d", "fc2", s, out_channels=channels, kernel_size=1)
        s = b.add(gate, "scale_activation", s)
        return b.add("Mul", "scale", x, s)


def _classifier_head(b: Builder, x: str, pool: str = "avgpool") -> str:
    x = b.add("AdaptiveAvgPool2d", pool, x, output_size=1)
    return b.add("Flatten", "flatten", x)


# -- MobileNet V1 ------------------------------------------------------------------------------

# (output channels, stride) of the 13 depthwise-separable blocks (Table 1 of the paper).
_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
              (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def build_mobilenet_v1(
    *,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
    width_mult: float = 1.0,
    dropout: float = 0.0,
) -> Graph:
    """MobileNet V1: a strided 3×3 convolution, then 13 depthwise-separable blocks (a 3×3
    depthwise convolution, one filter per channel, and a 1×1 pointwise convolution that mixes
    the channels, each followed by BatchNorm and ReLU), global average pooling and one fully
    connected layer. ``width_mult`` is the paper's width multiplier α (channels int(c·α));
    the resolution multiplier ρ is the input size. ``dropout`` > 0 adds Dropout before the
    classifier."""
    if width_mult <= 0:
        raise ValueError("width_mult must be positive, e.g. 0.25, 0.5, 0.75 or 1.0")
    b = Builder(input_shape)

    def width(c: int) -> int:
        return max(1, int(c * width_mult))

    channels = width(32)
    with b.scope("features", group=False):
        with b.scope("0", "Stem: 3×3 convolution, stride 2"):
            x = b.add("Conv2d", "conv", b.input, out_channels=channels, kernel_size=3, stride=2,
                      padding=1, bias=False)
            x = b.add("BatchNorm2d", "bn", x)
            x = b.add("ReLU", "relu", x)
        for i, (out, stride) in enumerate(_V1_BLOCKS, start=1):
            out = width(out)
            label = "Depthwise-separable block" + (", stride 2" if stride == 2 else "")
            with b.scope(str(i), label):
                x = b.add("Conv2d", "dw_conv", x, out_channels=channels, kernel_size=3,
                          stride=stride, padding=1, groups=channels, bias=False)
                x = b.add("BatchNorm2d", "dw_bn", x)
                x = b.add("ReLU", "dw_relu", x)
                x = b.add("Conv2d", "pw_conv", x, out_channels=out, kernel_size=1, bias=False)
                x = b.add("BatchNorm2d", "pw_bn", x)
                x = b.add("ReLU", "pw_relu", x)
            channels = out
    x = _classifier_head(b, x)
    if dropout > 0:
        x = b.add("Dropout", "dropout", x, p=dropout)
    b.add("Linear", "fc", x, out_features=num_classes)
    return b.graph


# -- MobileNet V2 ------------------------------------------------------------------------------

# (expansion t, output channels c, repeats n, first stride s), Table 2 of the paper.
_V2_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
               (6, 160, 3, 2), (6, 320, 1, 1))


def build_mobilenet_v2(
    *,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
    width_mult: float = 1.0,
    round_nearest: int = 8,
    dropout: float = 0.2,
) -> Graph:
    """MobileNet V2: inverted residual blocks (1×1 expansion with ReLU6, 3×3 depthwise with
    ReLU6, linear 1×1 projection), with a skip connection where the shape is kept.
    ``round_nearest`` rounds every width to a multiple of it (1 turns rounding off)."""
    b = Builder(input_shape)
    cin = make_divisible(32 * width_mult, round_nearest)
    last = make_divisible(1280 * max(1.0, width_mult), round_nearest)
    with b.scope("features", group=False):
        x = conv_norm_act(b, b.input, "0", cin, stride=2, activation="ReLU6")
        idx = 1
        for t, c, n, s in _V2_SETTING:
            out = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                stride = s if i == 0 else 1
                residual = stride == 1 and cin == out
                label = f"Inverted residual ×{t}" + (", stride 2" if stride == 2 else "")
                with b.scope(str(idx), label):
                    x = _inverted_residual_v2(b, x, cin, out, stride, t, residual)
                cin = out
                idx += 1
        x = conv_norm_act(b, x, str(idx), last, kernel_size=1, activation="ReLU6")
    x = _classifier_head(b, x)
    with b.scope("classifier", "Classifier"):
        x = b.add("Dropout", "0", x, p=dropout)
        b.add("Linear", "1", x, out_features=num_classes)
    return b.graph


def _inverted_residual_v2(b: Builder, x: str, cin: int, out: int, stride: int, t: int,
                          residual: bool) -> str:
    hidden = int(round(cin * t))
    with b.scope("conv", group=False):
        y, i = x, 0
        if t != 1:
            y = conv_norm_act(b, y, "0", hidden, kernel_size=1, activation="ReLU6")
            i = 1
        y = conv_norm_act(b, y, str(i), hidden, stride=stride, groups=hidden,
                          activation="ReLU6")
        y = b.add("Conv2d", str(i + 1), y, out_channels=out, kernel_size=1, bias=False)
        y = b.add("BatchNorm2d", str(i + 2), y)
    return b.add("Add", "add", y, x) if residual else y


# -- MobileNet V3 ------------------------------------------------------------------------------

# (input, kernel, expanded, output, squeeze-and-excitation, activation, stride, dilated)
# from Tables 1 and 2 of the paper; "dilated" marks the blocks `dilated` and `reduced_tail`
# change (the last stage, C4).
_V3_LARGE = (
    (16, 3, 16, 16, False, "RE", 1, False),
    (16, 3, 64, 24, False, "RE", 2, False),
    (24, 3, 72, 24, False, "RE", 1, False),
    (24, 5, 72, 40, True, "RE", 2, False),
    (40, 5, 120, 40, True, "RE", 1, False),
    (40, 5, 120, 40, True, "RE", 1, False),
    (40, 3, 240, 80, False, "HS", 2, False),
    (80, 3, 200, 80, False, "HS", 1, False),
    (80, 3, 184, 80, False, "HS", 1, False),
    (80, 3, 184, 80, False, "HS", 1, False),
    (80, 3, 480, 112, True, "HS", 1, False),
    (112, 3, 672, 112, True, "HS", 1, False),
    (112, 5, 672, 160, True, "HS", 2, True),
    (160, 5, 960, 160, True, "HS", 1, True),
    (160, 5, 960, 160, True, "HS", 1, True),
)
_V3_SMALL = (
    (16, 3, 16, 16, True, "RE", 2, False),
    (16, 3, 72, 24, False, "RE", 2, False),
    (24, 3, 88, 24, False, "RE", 1, False),
    (24, 5, 96, 40, True, "HS", 2, False),
    (40, 5, 240, 40, True, "HS", 1, False),
    (40, 5, 240, 40, True, "HS", 1, False),
    (40, 5, 120, 48, True, "HS", 1, False),
    (48, 5, 144, 48, True, "HS", 1, False),
    (48, 5, 288, 96, True, "HS", 2, True),
    (96, 5, 576, 96, True, "HS", 1, True),
    (96, 5, 576, 96, True, "HS", 1, True),
)
_V3 = {"large": (_V3_LARGE, 1280), "small": (_V3_SMALL, 1024)}


def build_mobilenet_v3(
    *,
    arch: str,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
    width_mult: float = 1.0,
    reduced_tail: bool = False,
    dilated: bool = False,
    dropout: float = 0.2,
) -> Graph:
    """MobileNet V3: inverted residual blocks with squeeze-and-excitation (hard-sigmoid gate)
    and hard-swish activations, found by architecture search. ``reduced_tail`` halves the
    channels of the last stage and ``dilated`` trades its stride for dilation 2 (both for
    detection and segmentation backbones, as in torchvision)."""
    setting, last_channel = _V3[arch]
    divider = 2 if reduced_tail else 1

    def adjust(c: int) -> int:
        return make_divisible(c * width_mult, 8)

    b = Builder(input_shape)
    with b.scope("features", group=False):
        x = conv_norm_act(b, b.input, "0", adjust(setting[0][0]), stride=2,
                          activation="Hardswish", norm=TF_NORM)
        for idx, (c_in, k, exp, out, se, act, stride, tail) in enumerate(setting, start=1):
            if tail:  # the last stage: reduced_tail halves what follows its first block's input
                out //= divider
                if stride == 1:
                    c_in //= divider
                    exp //= divider
            cin, exp, out = adjust(c_in), adjust(exp), adjust(out)
            dilation = 2 if tail and dilated else 1
            label = "Inverted residual" + (" + SE" if se else "") + \
                (", stride 2" if stride == 2 and dilation == 1 else "")
            with b.scope(str(idx), label):
                x = _inverted_residual_v3(b, x, cin, k, exp, out, se,
                                          "Hardswish" if act == "HS" else "ReLU", stride,
                                          dilation)
        x = conv_norm_act(b, x, str(len(setting) + 1), 6 * out, kernel_size=1,
                          activation="Hardswish", norm=TF_NORM)
    x = _classifier_head(b, x)
    with b.scope("classifier", "Classifier"):
        x = b.add("Linear", "0", x, out_features=adjust(last_channel // divider))
        x = b.add("Hardswish", "1", x)
        x = b.add("Dropout", "2", x, p=dropout)
        b.add("Linear", "3", x, out_features=num_classes)
    return b.graph


def _inverted_residual_v3(b: Builder, x: str, cin: int, k: int, exp: int, out: int, se: bool,
                          act: str, stride: int, dilation: int) -> str:
    with b.scope("block", group=False):
        y, i = x, 0
        if exp != cin:
            y = conv_norm_act(b, y, "0", exp, kernel_size=1, activation=act, norm=TF_NORM)
            i = 1
        y = conv_norm_act(b, y, str(i), exp, kernel_size=k,
                          stride=1 if dilation > 1 else stride, groups=exp, dilation=dilation,
                          activation=act, norm=TF_NORM)
        i += 1
        if se:
            y = squeeze_excitation(b, y, str(i), exp, make_divisible(exp // 4, 8), "ReLU",
                                   "Hardsigmoid")
            i += 1
        y = conv_norm_act(b, y, str(i), out, kernel_size=1, activation=None, norm=TF_NORM)
    if stride == 1 and cin == out:
        y = b.add("Add", "add", y, x)
    return y


register("mobilenet_v1", "mobilenet", "MobileNet V1 (2017): 13 depthwise-separable blocks, "
         "4.2 M parameters, width multiplier α", build_mobilenet_v1)
register("mobilenet_v2", "mobilenet", "MobileNet V2 (2018): inverted residuals with linear "
         "bottlenecks, 3.5 M parameters (torchvision's layout)", build_mobilenet_v2,
         torchvision=True)
register("mobilenet_v3_large", "mobilenet", "MobileNet V3-Large (2019): inverted residuals with "
         "squeeze-and-excitation and hard-swish, 5.5 M parameters (torchvision's layout)",
         build_mobilenet_v3, torchvision=True, arch="large")
register("mobilenet_v3_small", "mobilenet", "MobileNet V3-Small (2019): the low-resource "
         "variant, 2.5 M parameters (torchvision's layout)", build_mobilenet_v3,
         torchvision=True, arch="small")
