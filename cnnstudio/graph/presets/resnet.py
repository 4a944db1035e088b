"""ResNet, ResNeXt, Wide ResNet and squeeze-and-excitation ResNet, block by block as torchvision
builds them (node ids equal torchvision's module paths, so its weights load)."""

from __future__ import annotations

from collections.abc import Sequence

from .. import init
from ..model import Graph
from .builder import Builder
from .registry import register


def _conv_bn(b: Builder, x: str, idx: str, out: int, k: int, stride: int = 1,
             groups: int = 1) -> str:
    x = b.add("Conv2d", f"conv{idx}", x, out_channels=out, kernel_size=k, stride=stride,
              padding=k // 2, groups=groups, bias=False)
    return b.add("BatchNorm2d", f"bn{idx}", x)


def _squeeze_excite(b: Builder, x: str, channels: int, reduction: int) -> str:
    """SE block: global pool → 1×1 conv squeeze → ReLU → 1×1 conv excite → sigmoid → scale."""
    with b.scope("se", "Squeeze-and-excitation"):
        s = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
        s = b.add("Conv2d", "fc1", s, out_channels=max(1, channels // reduction), kernel_size=1)
        s = b.add("ReLU", "relu", s)
        s = b.add("Conv2d", "fc2", s, out_channels=channels, kernel_size=1)
        s = b.add("Sigmoid", "sigmoid", s)
        return b.add("Mul", "scale", x, s)


def _zero_padded_shortcut(b: Builder, x: str, inplanes: int, out_ch: int, stride: int) -> str:
    """He et al.'s option A, without parameters: keep every stride-th pixel (a 1×1 pool) and
    append as many all-zero channels (the same maps times 0) as the block adds; the stages
    double their width, so the zeros are a copy of the input's size."""
    if out_ch != 2 * inplanes:
        raise ValueError(f"option A shortcuts double the width; {inplanes} → {out_ch} does not")
    with b.scope("downsample", "Identity shortcut, zero-padded (option A)"):
        x = b.add("MaxPool2d", "subsample", x, kernel_size=1, stride=stride)
        zeros = b.add("ChannelAffine", "zeros", x, scale=0.0)
        return b.add("Concat", "pad", x, zeros)


def _block(b: Builder, x: str, inplanes: int, planes: int, stride: int, bottleneck: bool,
           groups: int, base_width: int, se: int, skip: bool,
           shortcut_kind: str = "B") -> tuple[str, int]:
    expansion = 4 if bottleneck else 1
    out_ch = planes * expansion
    if bottleneck:
        width = int(planes * (base_width / 64.0)) * groups
        y = b.add("ReLU", "relu1", _conv_bn(b, x, "1", width, 1))
        y = b.add("ReLU", "relu2", _conv_bn(b, y, "2", width, 3, stride, groups))
        y = _conv_bn(b, y, "3", out_ch, 1)
    else:
        y = b.add("ReLU", "relu1", _conv_bn(b, x, "1", planes, 3, stride))
        y = _conv_bn(b, y, "2", planes, 3)
    if se:
        y = _squeeze_excite(b, y, out_ch, se)
    if not skip:  # a plain stack: the same layers without the shortcut (He et al.'s baseline)
        return b.add("ReLU", "relu3" if bottleneck else "relu2", y), out_ch
    shortcut = x
    if (stride != 1 or inplanes != out_ch) and shortcut_kind == "A":
        shortcut = _zero_padded_shortcut(b, x, inplanes, out_ch, stride)
    elif stride != 1 or inplanes != out_ch:
        with b.scope("downsample", "Projection shortcut"):
            shortcut = b.add("Conv2d", "0", x, out_channels=out_ch, kernel_size=1,
                             stride=stride, bias=False)
            shortcut = b.add("BatchNorm2d", "1", shortcut)
    y = b.add("Add", "add", y, shortcut)
    return b.add("ReLU", "relu3" if bottleneck else "relu2", y), out_ch


def build_resnet(
    *,
    layers: Sequence[int],
    bottleneck: bool,
    groups: int = 1,
    width_per_group: int = 64,
    se_reduction: int = 0,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
    skip: bool = True,
) -> Graph:
    """``skip=False`` removes every shortcut (the Add and the projection convolutions): the
    plain network the paper compares against, with the same layers otherwise."""
    b = Builder(input_shape)
    x = b.add("Conv2d", "conv1", b.input, out_channels=64, kernel_size=7, stride=2, padding=3,
              bias=False)
    x = b.add("BatchNorm2d", "bn1", x)
    x = b.add("ReLU", "relu", x)
    x = b.add("MaxPool2d", "maxpool", x, kernel_size=3, stride=2, padding=1)
    kind = "Bottleneck" if bottleneck else "Basic block"
    inplanes = 64
    for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
        with b.scope(f"layer{stage}", f"Stage {stage}"):
            for i in range(blocks):
                stride = 2 if stage > 1 and i == 0 else 1
                with b.scope(str(i), kind):
                    x, inplanes = _block(b, x, inplanes, planes, stride, bottleneck, groups,
                                         width_per_group, se_reduction, skip)
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
    x = b.add("Flatten", "flatten", x)
    b.add("Linear", "fc", x, out_features=num_classes)
    return b.graph


_SHORTCUTS = ("A", "B")


def build_resnet_cifar(
    *,
    depth: int,
    num_classes: int = 10,
    input_shape: Sequence[int] = (3, 32, 32),
    skip: bool = True,
    shortcut: str = "A",
) -> Graph:
    """He et al. 2016 §4.2: a 3×3 convolution with 16 filters, three stages of n basic blocks
    with 16, 32 and 64 filters on 32×32, 16×16 and 8×8 maps, global average pooling and the
    classifier, 6n + 2 weighted layers. ``shortcut`` "A" (the paper's choice on CIFAR) makes
    the widening shortcuts parameter-free zero padding, "B" 1×1 projections; ``skip=False`` is
    the paper's plain network."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth is 6n + 2 (20, 32, 44, 56, 110), not {depth}")
    if shortcut not in _SHORTCUTS:
        raise ValueError(f"shortcut is 'A' (zero padding) or 'B' (projection), not {shortcut!r}")
    n = (depth - 2) // 6
    b = Builder(input_shape)
    x = b.add("Conv2d", "conv1", b.input, out_channels=16, kernel_size=3, padding=1, bias=False)
    x = b.add("BatchNorm2d", "bn1", x)
    x = b.add("ReLU", "relu", x)
    kind = "Basic block" if skip else "Plain block"
    inplanes = 16
    for stage, planes in enumerate((16, 32, 64), start=1):
        with b.scope(f"layer{stage}", f"Stage {stage}: {n} blocks of {planes} filters"):
            for i in range(n):
                stride = 2 if stage > 1 and i == 0 else 1
                with b.scope(str(i), kind):
                    x, inplanes = _block(b, x, inplanes, planes, stride, False, 1, 64, 0, skip,
                                         shortcut)
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
    x = b.add("Flatten", "flatten", x)
    b.add("Linear", "fc", x, out_features=num_classes)
    b.graph.metadata[init.KEY] = {"scheme": "kaiming_normal"}  # the paper's init, its ref. [13]
    return b.graph


_TV = "torchvision's"
for _name, _layers, _bottleneck, _extra, _text in (
    ("resnet18", (2, 2, 2, 2), False, {}, "ResNet-18: basic residual blocks 2-2-2-2, 11.7 M "
     "parameters"),
    ("resnet34", (3, 4, 6, 3), False, {}, "ResNet-34: basic residual blocks 3-4-6-3"),
    ("resnet50", (3, 4, 6, 3), True, {}, "ResNet-50: bottleneck blocks 3-4-6-3, 25.6 M "
     "parameters, 4.1 G MACs"),
    ("resnet101", (3, 4, 23, 3), True, {}, "ResNet-101: bottleneck blocks 3-4-23-3"),
    ("resnet152", (3, 8, 36, 3), True, {}, "ResNet-152: bottleneck blocks 3-8-36-3, the "
     "ILSVRC 2015 winner"),
    ("resnext50_32x4d", (3, 4, 6, 3), True, {"groups": 32, "width_per_group": 4},
     "ResNeXt-50 32×4d: ResNet-50 with 32-group convolutions (aggregated transformations)"),
    ("resnext101_32x8d", (3, 4, 23, 3), True, {"groups": 32, "width_per_group": 8},
     "ResNeXt-101 32×8d"),
    ("resnext101_64x4d", (3, 4, 23, 3), True, {"groups": 64, "width_per_group": 4},
     "ResNeXt-101 64×4d"),
    ("wide_resnet50_2", (3, 4, 6, 3), True, {"width_per_group": 128},
     "Wide ResNet-50-2: ResNet-50 with bottlenecks twice as wide"),
    ("wide_resnet101_2", (3, 4, 23, 3), True, {"width_per_group": 128},
     "Wide ResNet-101-2"),
):
    # Everything structural is fixed: a user option may not turn resnet50 into another net.
    register(_name, "resnet", f"{_text} ({_TV} layout, skip connections)", build_resnet,
             torchvision=True, layout=("skip",), layers=_layers, bottleneck=_bottleneck,
             **{"groups": 1, "width_per_group": 64, "se_reduction": 0, **_extra})

register("se_resnet18", "resnet", "SE-ResNet-18: ResNet-18 with squeeze-and-excitation "
         "channel attention in every block (reduction 16)", build_resnet,
         layers=(2, 2, 2, 2), bottleneck=False, groups=1, width_per_group=64, se_reduction=16)
register("se_resnet50", "resnet", "SE-ResNet-50: ResNet-50 with squeeze-and-excitation "
         "channel attention in every block (reduction 16)", build_resnet,
         layers=(3, 4, 6, 3), bottleneck=True, groups=1, width_per_group=64, se_reduction=16)

for _depth, _params in ((20, "0.27"), (32, "0.46"), (44, "0.66"), (56, "0.85"), (110, "1.7")):
    register(f"resnet{_depth}", "resnet", f"ResNet-{_depth} for CIFAR-10 (He et al. 2016): "
             f"3×3 stem, 3 stages of {(_depth - 2) // 6} basic blocks with 16-32-64 filters, "
             f"global average pooling, {_params} M parameters; skip off gives plain-{_depth}",
             build_resnet_cifar, depth=_depth)
