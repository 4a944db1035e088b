"""ConvNeXt Tiny/Small/Base/Large (Liu et al., "A ConvNet for the 2020s", 2022), block by block
as torchvision builds them (node ids equal torchvision's module paths, so its weights load).

A ResNet modernised step by step towards the vision transformer: a 4×4 "patchify" stem, stages
of 3:3:9:3 (or 3:3:27:3) blocks, each a 7×7 depthwise convolution, LayerNorm and an inverted
MLP (Linear 4× wider, GELU, Linear back) over the channels of every position, scaled by a
learned layer scale and added back after stochastic depth; LayerNorm and 2×2 strided
convolutions between the stages."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from ..model import Graph
from .builder import Builder
from .registry import register

EPS = 1e-6


def build_convnext(
    *,
    widths: Sequence[int],
    depths: Sequence[int],
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
    stochastic_depth_prob: float = 0.1,
    layer_scale: float = 1e-6,
) -> Graph:
    """ConvNeXt: a 4×4 stride-4 convolution with LayerNorm2d, four stages of ConvNeXt blocks
    with a downsampling LayerNorm2d and 2×2 stride-2 convolution between them, global average
    pooling and a LayerNorm2d → Flatten → Linear classifier. Stochastic depth grows linearly
    from 0 at the first block to ``stochastic_depth_prob`` at the last; every block's layer
    scale starts at ``layer_scale``."""
    total = sum(depths)
    b = Builder(input_shape)
    with b.scope("features", group=False):
        with b.scope("0", "Stem: 4×4 patchify"):
            x = b.add("Conv2d", "0", b.input, out_channels=widths[0], kernel_size=4, stride=4)
            x = b.add("LayerNorm2d", "1", x, eps=EPS)
        block_id = 0
        for s, (width, depth) in enumerate(zip(widths, depths)):
            with b.scope(str(2 * s + 1), f"Stage {s + 1}: {depth} ConvNeXt blocks, {width} "
                                         "channels"):
                for i in range(depth):
                    sd_prob = stochastic_depth_prob * block_id / (total - 1.0)
                    with b.scope(str(i), "ConvNeXt block"):
                        x = _block(b, x, width, sd_prob, layer_scale)
                    block_id += 1
            if s + 1 < len(widths):
                with b.scope(str(2 * s + 2), "Downsampling"):
                    x = b.add("LayerNorm2d", "0", x, eps=EPS)
                    x = b.add("Conv2d", "1", x, out_channels=widths[s + 1], kernel_size=2,
                              stride=2)
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
    with b.scope("classifier", "Classifier"):
        x = b.add("LayerNorm2d", "0", x, eps=EPS)
        x = b.add("Flatten", "1", x)
        b.add("Linear", "2", x, out_features=num_classes)
    return b.graph


def _block(b: Builder, x: str, dim: int, sd_prob: float, layer_scale: float) -> str:
    """torchvision's CNBlock: depthwise 7×7 → [H, W, C] → LayerNorm → Linear 4·dim → GELU →
    Linear dim → [C, H, W], times the layer scale, stochastic depth, plus the input."""
    with b.scope("block", group=False):
        y = b.add("Conv2d", "0", x, out_channels=dim, kernel_size=7, padding=3, groups=dim)
        y = b.add("Permute", "1", y, dims=[1, 2, 0])
        y = b.add("LayerNorm", "2", y, normalized_shape=[dim], eps=EPS)
        y = b.add("Linear", "3", y, out_features=4 * dim)
        y = b.add("GELU", "4", y)
        y = b.add("Linear", "5", y, out_features=dim)
        y = b.add("Permute", "6", y, dims=[2, 0, 1])
    y = b.add("LayerScale", "layer_scale", y, init_value=layer_scale)
    y = b.add("StochasticDepth", "stochastic_depth", y, p=sd_prob, mode="row")
    return b.add("Add", "add", y, x)


# name: (widths, depths, stochastic depth), as torchvision's builders have them.
_VARIANTS = {
    "tiny": ((96, 192, 384, 768), (3, 3, 9, 3), 0.1),
    "small": ((96, 192, 384, 768), (3, 3, 27, 3), 0.4),
    "base": ((128, 256, 512, 1024), (3, 3, 27, 3), 0.5),
    "large": ((192, 384, 768, 1536), (3, 3, 27, 3), 0.5),
}
_TEXT = {
    "tiny": "ConvNeXt-T (2022): a ResNet modernised towards the vision transformer (7×7 "
            "depthwise, LayerNorm, inverted MLP, layer scale), 28.6 M parameters",
    "small": "ConvNeXt-S: ConvNeXt-T with 27 blocks in stage 3, 50.2 M parameters",
    "base": "ConvNeXt-B: ConvNeXt-S widened to 128-1024 channels, 88.6 M parameters",
    "large": "ConvNeXt-L: ConvNeXt-S widened to 192-1536 channels, 197.8 M parameters",
}

for _name, (_widths, _depths, _sd) in _VARIANTS.items():
    register(f"convnext_{_name}", "convnext", f"{_TEXT[_name]} (torchvision's layout)",
             partial(build_convnext, stochastic_depth_prob=_sd), torchvision=True,
             widths=_widths, depths=_depths)
