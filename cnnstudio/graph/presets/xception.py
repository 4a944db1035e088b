"""Xception (Chollet, 2017): Inception's idea taken to the limit, every convolution after the
stem a depthwise-separable one, in an entry flow that shrinks 299×299 to 19×19, a middle flow
of eight identical residual blocks and an exit flow, with Keras's layer sizes."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Graph
from .builder import Builder
from .registry import register


def _separable(b: Builder, x: str, name: str, cin: int, out: int, relu_first: bool) -> str:
    """[ReLU →] depthwise 3×3 → pointwise 1×1 → BatchNorm, as Keras's SeparableConv2D (no
    bias, no norm between the two halves) followed by its BatchNormalization."""
    with b.scope(name, f"Separable conv {out}"):
        if relu_first:
            x = b.add("ReLU", "relu", x)
        x = b.add("Conv2d", "depthwise", x, out_channels=cin, kernel_size=3, padding=1,
                  groups=cin, bias=False)
        x = b.add("Conv2d", "pointwise", x, out_channels=out, kernel_size=1, bias=False)
        return b.add("BatchNorm2d", "bn", x)


def _down_block(b: Builder, x: str, name: str, label: str, cin: int, widths: tuple[int, int],
                relu_first: bool) -> str:
    """Two separable convolutions and a 3×3 stride-2 max pool, added to a 1×1 stride-2
    projection of the block's input."""
    with b.scope(name, label):
        with b.scope("shortcut", "Projection shortcut"):
            s = b.add("Conv2d", "conv", x, out_channels=widths[1], kernel_size=1, stride=2,
                      bias=False)
            s = b.add("BatchNorm2d", "bn", s)
        y = _separable(b, x, "sepconv1", cin, widths[0], relu_first)
        y = _separable(b, y, "sepconv2", widths[0], widths[1], True)
        y = b.add("MaxPool2d", "pool", y, kernel_size=3, stride=2, padding=1)
        return b.add("Add", "add", y, s)


def build_xception(
    *,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 299, 299),
    middle_blocks: int = 8,
) -> Graph:
    """Entry flow: two plain 3×3 convolutions (32 with stride 2, 64), then three blocks of 128,
    256 and 728 filters that halve the maps; middle flow: ``middle_blocks`` residual blocks of
    three separable 728 convolutions; exit flow: a 728 → 1024 block, separable 1536 and 2048,
    global average pooling and the classifier."""
    if middle_blocks < 0:
        raise ValueError(f"middle_blocks is 0 or more, not {middle_blocks}")
    b = Builder(input_shape)
    with b.scope("entry", "Entry flow"):
        with b.scope("stem", "Stem"):
            x = b.add("Conv2d", "conv1", b.input, out_channels=32, kernel_size=3, stride=2,
                      bias=False)
            x = b.add("BatchNorm2d", "bn1", x)
            x = b.add("ReLU", "relu1", x)
            x = b.add("Conv2d", "conv2", x, out_channels=64, kernel_size=3, bias=False)
            x = b.add("BatchNorm2d", "bn2", x)
            x = b.add("ReLU", "relu2", x)
        cin = 64
        for i, width in enumerate((128, 256, 728), start=2):
            x = _down_block(b, x, f"block{i}", f"Block {i}: {width}, ÷2", cin, (width, width),
                            relu_first=i > 2)
            cin = width
    with b.scope("middle", f"Middle flow: {middle_blocks} blocks"):
        for i in range(5, 5 + middle_blocks):
            with b.scope(f"block{i}", f"Block {i}: 3 × separable 728"):
                y = x
                for j in (1, 2, 3):
                    y = _separable(b, y, f"sepconv{j}", 728, 728, True)
                x = b.add("Add", "add", y, x)
    with b.scope("exit", "Exit flow"):
        x = _down_block(b, x, f"block{5 + middle_blocks}", "Exit block: 728, 1024, ÷2", 728,
                        (728, 1024), relu_first=True)
        x = _separable(b, x, "sepconv3", 1024, 1536, False)
        x = b.add("ReLU", "relu3", x)
        x = _separable(b, x, "sepconv4", 1536, 2048, False)
        x = b.add("ReLU", "relu4", x)
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
    x = b.add("Flatten", "flatten", x)
    b.add("Linear", "fc", x, out_features=num_classes)
    return b.graph


register("xception", "xception", "Xception (Chollet 2017): depthwise-separable convolutions "
         "throughout, entry flow, 8 residual middle blocks of 728 filters, exit flow to 2048, "
         "global average pooling; 299×299, 22.9 M parameters", build_xception)
