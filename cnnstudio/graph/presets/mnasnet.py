"""MnasNet-B1 (Tan et al., 2019), the mobile network found by platform-aware architecture search,
block by block as torchvision builds it (node ids equal torchvision's module paths, so its
weights load). ``alpha`` scales every width but the 1280-channel head."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Graph
from .builder import Builder, make_divisible
from .registry import register

BN_MOMENTUM = 1 - 0.9997
"""The paper's TensorFlow batch-norm decay 0.9997 as torch's momentum."""

_DEPTHS = (32, 16, 24, 40, 80, 96, 192, 320)
"""Stem width, the separable convolution's output, then the six stacks' outputs at α = 1."""

# (kernel, first stride, expansion, repeats) of the six stacks of inverted residuals.
_STACKS = ((3, 2, 3, 3), (5, 2, 3, 3), (5, 2, 6, 3), (3, 1, 6, 2), (5, 2, 6, 4), (3, 1, 6, 1))
_HEAD = 1280


def depths(alpha: float) -> list[int]:
    """The widths at ``alpha``: torchvision's _get_depths, whose _round_to_multiple_of (round to
    a multiple of 8, up where rounding down would lose over 10%) is make_divisible."""
    return [make_divisible(d * alpha, 8) for d in _DEPTHS]


def build_mnasnet(
    *,
    alpha: float,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
    dropout: float = 0.2,
) -> Graph:
    """MnasNet: a strided 3×3 stem and a depthwise-separable convolution, six stacks of
    inverted residual blocks (1×1 expansion, 3×3 or 5×5 depthwise, linear 1×1 projection; a
    skip connection where the shape is kept), a 1×1 head convolution to 1280 channels, global
    average pooling, dropout and one linear layer."""
    if alpha <= 0:
        raise ValueError("alpha must be positive, e.g. 0.5, 0.75, 1.0 or 1.3")
    widths = depths(alpha)
    b = Builder(input_shape)
    with b.scope("layers", group=False):
        x = b.add("Conv2d", "0", b.input, out_channels=widths[0], kernel_size=3, stride=2,
                  padding=1, bias=False)
        x = _bn_relu(b, x, 1, 2)
        x = b.add("Conv2d", "3", x, out_channels=widths[0], kernel_size=3, padding=1,
                  groups=widths[0], bias=False)
        x = _bn_relu(b, x, 4, 5)
        x = b.add("Conv2d", "6", x, out_channels=widths[1], kernel_size=1, bias=False)
        x = b.add("BatchNorm2d", "7", x, momentum=BN_MOMENTUM)
        _gather(b, "stem", "Stem: 3×3 convolution, stride 2, and a separable convolution",
                range(0, 8))
        cin = widths[1]
        for s, ((k, stride, expand, repeats), out) in enumerate(zip(_STACKS, widths[2:]),
                                                                 start=1):
            with b.scope(str(7 + s), f"Stage {s}: MBConv{expand} {k}×{k} ×{repeats}"):
                for i in range(repeats):
                    first = stride if i == 0 else 1
                    with b.scope(str(i), f"Block {s}.{i + 1}" +
                                 (", stride 2" if first == 2 else "")):
                        x = _inverted_residual(b, x, cin, out, k, first, expand)
                    cin = out
        x = b.add("Conv2d", "14", x, out_channels=_HEAD, kernel_size=1, bias=False)
        x = _bn_relu(b, x, 15, 16)
        _gather(b, "head", "Head: 1×1 convolution to 1280 channels", range(14, 17))
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)  # torchvision: x.mean([2, 3])
    x = b.add("Flatten", "flatten", x)
    with b.scope("classifier", "Classifier"):
        x = b.add("Dropout", "0", x, p=dropout)
        b.add("Linear", "1", x, out_features=num_classes)
    return b.graph


def _bn_relu(b: Builder, x: str, bn: int, relu: int) -> str:
    x = b.add("BatchNorm2d", str(bn), x, momentum=BN_MOMENTUM)
    return b.add("ReLU", str(relu), x)


def _gather(b: Builder, group_id: str, label: str, indices: range) -> None:
    """Make a block of the current scope's nodes ``indices``: torchvision keeps them in one
    flat Sequential with the stages, so no path prefix can be the block."""
    b.graph.add_group(group_id, label)
    for i in indices:
        b.graph.set_node_attrs(b.path(str(i)), group=group_id)


def _inverted_residual(b: Builder, x: str, cin: int, out: int, k: int, stride: int,
                       expand: int) -> str:
    """torchvision's _InvertedResidual: ``layers.0-7`` 1×1 expansion, k×k depthwise, linear 1×1
    projection (each with BatchNorm), plus the input where the shape is kept."""
    mid = cin * expand
    with b.scope("layers", group=False):
        y = b.add("Conv2d", "0", x, out_channels=mid, kernel_size=1, bias=False)
        y = _bn_relu(b, y, 1, 2)
        y = b.add("Conv2d", "3", y, out_channels=mid, kernel_size=k, stride=stride,
                  padding=k // 2, groups=mid, bias=False)
        y = _bn_relu(b, y, 4, 5)
        y = b.add("Conv2d", "6", y, out_channels=out, kernel_size=1, bias=False)
        y = b.add("BatchNorm2d", "7", y, momentum=BN_MOMENTUM)
    if cin == out and stride == 1:
        y = b.add("Add", "add", y, x)
    return y


for _alpha, _name, _params in ((0.5, "0_5", "2.2 M"), (0.75, "0_75", "3.2 M"),
                               (1.0, "1_0", "4.4 M"), (1.3, "1_3", "6.3 M")):
    register(f"mnasnet{_name}", "mnasnet", f"MnasNet-B1 ×{_alpha} (2019): inverted residuals "
             f"found by mobile architecture search, {_params} parameters (torchvision's "
             "layout)", build_mnasnet, torchvision=True, alpha=_alpha)
