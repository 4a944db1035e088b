"""SqueezeNet (Iandola et al., 2016): AlexNet-level accuracy with 50× fewer parameters, from Fire
modules (a 1×1 "squeeze" convolution feeding parallel 1×1 and 3×3 "expand" convolutions whose
outputs are concatenated) and a classifier without fully connected layers (a 1×1 convolution
to the classes, then global average pooling). torchvision's module paths, so its weights load."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Graph
from .builder import Builder
from .registry import register

# The layers of ``features``: ("conv", filters, kernel, stride) (followed by a ReLU), ("pool",)
# a 3×3/2 max pooling in ceil mode, or ("fire", squeeze, expand1x1, expand3x3).
_LAYOUTS: dict[str, tuple[tuple, ...]] = {
    "1_0": (
        ("conv", 96, 7, 2), ("pool",),
        ("fire", 16, 64, 64), ("fire", 16, 64, 64), ("fire", 32, 128, 128), ("pool",),
        ("fire", 32, 128, 128), ("fire", 48, 192, 192), ("fire", 48, 192, 192),
        ("fire", 64, 256, 256), ("pool",),
        ("fire", 64, 256, 256),
    ),
    "1_1": (
        ("conv", 64, 3, 2), ("pool",),
        ("fire", 16, 64, 64), ("fire", 16, 64, 64), ("pool",),
        ("fire", 32, 128, 128), ("fire", 32, 128, 128), ("pool",),
        ("fire", 48, 192, 192), ("fire", 48, 192, 192), ("fire", 64, 256, 256),
        ("fire", 64, 256, 256),
    ),
}


def _fire(b: Builder, x: str, squeeze: int, expand1x1: int, expand3x3: int) -> str:
    """Squeeze to few channels with 1×1 filters, expand with 1×1 and 3×3 filters side by side,
    concatenate the two expansions along the channels."""
    s = b.add("Conv2d", "squeeze", x, out_channels=squeeze, kernel_size=1)
    s = b.add("ReLU", "squeeze_activation", s)
    e1 = b.add("Conv2d", "expand1x1", s, out_channels=expand1x1, kernel_size=1)
    e1 = b.add("ReLU", "expand1x1_activation", e1)
    e3 = b.add("Conv2d", "expand3x3", s, out_channels=expand3x3, kernel_size=3, padding=1)
    e3 = b.add("ReLU", "expand3x3_activation", e3)
    return b.add("Concat", "concat", e1, e3)


def build_squeezenet(
    *,
    version: str,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
    dropout: float = 0.5,
) -> Graph:
    try:
        layout = _LAYOUTS[version]
    except KeyError:
        raise ValueError(f"SqueezeNet version is one of {', '.join(_LAYOUTS)}") from None
    b = Builder(input_shape)
    x = b.input
    with b.scope("features", "Feature extractor"):
        i = 0
        for layer in layout:
            kind = layer[0]
            if kind == "conv":
                _, filters, k, stride = layer
                x = b.add("Conv2d", str(i), x, out_channels=filters, kernel_size=k,
                          stride=stride)
                x = b.add("ReLU", str(i + 1), x)
                i += 2
            elif kind == "pool":
                x = b.add("MaxPool2d", str(i), x, kernel_size=3, stride=2, ceil_mode=True)
                i += 1
            else:
                with b.scope(str(i), "Fire module"):
                    x = _fire(b, x, *layer[1:])
                i += 1
    with b.scope("classifier", "Classifier: 1×1 convolution to the classes, global average "
                 "pooling"):
        x = b.add("Dropout", "0", x, p=dropout)
        x = b.add("Conv2d", "1", x, out_channels=num_classes, kernel_size=1)
        x = b.add("ReLU", "2", x)
        x = b.add("AdaptiveAvgPool2d", "3", x, output_size=(1, 1))
    b.add("Flatten", "flatten", x)
    return b.graph


register("squeezenet1_0", "squeezenet", "SqueezeNet 1.0: 8 Fire modules (1×1 squeeze, 1×1 + 3×3 "
         "expand), no FC layers (1×1 convolution + global average pooling); AlexNet accuracy "
         "with 1.25 M parameters, 50× fewer", build_squeezenet, torchvision=True, version="1_0")
register("squeezenet1_1", "squeezenet", "SqueezeNet 1.1: 3×3 stem and earlier pooling, 2.4× less "
         "computation than 1.0 for the same accuracy, 1.24 M parameters", build_squeezenet,
         torchvision=True, version="1_1")
