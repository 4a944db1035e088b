"""ShuffleNet V2 (Ma et al., 2018) unit by unit as torchvision builds it (node ids equal
torchvision's module paths, so its weights load). A unit splits its channels in two halves
(Chunk), transforms one half, concatenates and shuffles the channels so that the halves mix;
a stride-2 unit transforms both copies of its input instead."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Graph
from .builder import Builder
from .registry import register

_REPEATS = (4, 8, 4)
"""Units in stages 2, 3 and 4 (every width)."""


def _conv_bn(b: Builder, x: str, first: int, out: int, kernel_size: int = 1, stride: int = 1,
             groups: int = 1, relu: bool = False) -> str:
    """``first`` a bias-free Conv2d (a 3×3 is depthwise, padding 1), ``first + 1`` its
    BatchNorm, ``first + 2`` a ReLU when ``relu``."""
    x = b.add("Conv2d", str(first), x, out_channels=out, kernel_size=kernel_size, stride=stride,
              padding=kernel_size // 2, groups=groups, bias=False)
    x = b.add("BatchNorm2d", str(first + 1), x)
    return b.add("ReLU", str(first + 2), x) if relu else x


def _branch2(b: Builder, x: str, half: int, stride: int) -> str:
    """1×1 conv → BN → ReLU → 3×3 depthwise (stride) → BN → 1×1 conv → BN → ReLU."""
    with b.scope("branch2", group=False):
        x = _conv_bn(b, x, 0, half, relu=True)
        x = _conv_bn(b, x, 3, half, 3, stride, groups=half)
        return _conv_bn(b, x, 5, half, relu=True)


def _unit(b: Builder, x: str, cin: int, out: int, stride: int) -> str:
    """torchvision's InvertedResidual: stride 1 keeps the first half of the channels and
    transforms the second; stride 2 downsamples the whole input in two branches."""
    half = out // 2
    if stride == 1:
        kept = b.add("Chunk", "chunk_0", x, chunks=2, index=0)
        x2 = b.add("Chunk", "chunk_1", x, chunks=2, index=1)
        y = _branch2(b, x2, half, 1)
    else:
        with b.scope("branch1", group=False):
            kept = _conv_bn(b, x, 0, cin, 3, stride, groups=cin)
            kept = _conv_bn(b, kept, 2, half, relu=True)
        y = _branch2(b, x, half, stride)
    y = b.add("Concat", "cat", kept, y)
    return b.add("ChannelShuffle", "channel_shuffle", y, groups=2)


def build_shufflenet_v2(
    *,
    stages_out_channels: Sequence[int],
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
) -> Graph:
    """ShuffleNet V2: a strided 3×3 convolution and max pooling, three stages of shuffle
    units (4, 8 and 4; the first of each halves the resolution), a 1×1 convolution, global
    average pooling and a fully connected classifier. ``stages_out_channels`` are the widths
    of the stem, the three stages and the last convolution."""
    b = Builder(input_shape)
    stem, *stages, last = stages_out_channels
    with b.scope("conv1", group=False):
        x = _conv_bn(b, b.input, 0, stem, 3, 2, relu=True)
    x = b.add("MaxPool2d", "maxpool", x, kernel_size=3, stride=2, padding=1)
    cin = stem
    for number, (repeats, out) in enumerate(zip(_REPEATS, stages), start=2):
        with b.scope(f"stage{number}", f"Stage {number}"):
            for i in range(repeats):
                stride = 2 if i == 0 else 1
                label = "Shuffle unit" + (", stride 2" if stride == 2 else "")
                with b.scope(str(i), label):
                    x = _unit(b, x, cin, out, stride)
                cin = out
    with b.scope("conv5", group=False):
        x = _conv_bn(b, x, 0, last, relu=True)
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
    x = b.add("Flatten", "flatten", x)
    b.add("Linear", "fc", x, out_features=num_classes)
    return b.graph


for _name, _widths, _text in (
    ("shufflenet_v2_x0_5", (24, 48, 96, 192, 1024), "×0.5, 1.4 M parameters, 0.04 G MACs"),
    ("shufflenet_v2_x1_0", (24, 116, 232, 464, 1024), "×1.0, 2.3 M parameters, 0.15 G MACs"),
    ("shufflenet_v2_x1_5", (24, 176, 352, 704, 1024), "×1.5, 3.5 M parameters, 0.30 G MACs"),
    ("shufflenet_v2_x2_0", (24, 244, 488, 976, 2048), "×2.0, 7.4 M parameters, 0.58 G MACs"),
):
    register(_name, "shufflenet", f"ShuffleNet V2 {_text} (2018): channel split, depthwise "
             "branch and channel shuffle (torchvision's layout)", build_shufflenet_v2,
             torchvision=True, stages_out_channels=_widths)
