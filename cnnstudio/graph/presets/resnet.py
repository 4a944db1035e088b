"""ResNet, ResNeXt, Wide ResNet and squeeze-and-excitation ResNet, block by block as torchvision
builds them (node ids equal torchvision's module paths, so its weights load)."""

from __future__ import annotations

from collections.abc import Sequence

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


def _block(b: Builder, x: str, inplanes: int, planes: int, stride: int, bottleneck: bool,
           groups: int, base_width: int, se: int) -> tuple[str, int]:
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
    shortcut = x
    if stride != 1 or inplanes != out_ch:
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
) -> Graph:
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
                                         width_per_group, se_reduction)
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
    x = b.add("Flatten", "flatten", x)
    b.add("Linear", "fc", x, out_features=num_classes)
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
             torchvision=True, layers=_layers, bottleneck=_bottleneck,
             **{"groups": 1, "width_per_group": 64, "se_reduction": 0, **_extra})

register("se_resnet18", "resnet", "SE-ResNet-18: ResNet-18 with squeeze-and-excitation "
         "channel attention in every block (reduction 16)", build_resnet,
         layers=(2, 2, 2, 2), bottleneck=False, groups=1, width_per_group=64, se_reduction=16)
register("se_resnet50", "resnet", "SE-ResNet-50: ResNet-50 with squeeze-and-excitation "
         "channel attention in every block (reduction 16)", build_resnet,
         layers=(3, 4, 6, 3), bottleneck=True, groups=1, width_per_group=64, se_reduction=16)
