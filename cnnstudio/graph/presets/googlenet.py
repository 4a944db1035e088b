"""GoogLeNet / Inception-v1 (Szegedy et al., 2014) as torchvision builds it: batch-normalised
convolutions, nine Inception modules of four parallel branches joined by a Concat, and two
auxiliary classifiers that exist in training only (node ids equal torchvision's module paths,
so its weights load)."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Graph
from .builder import Builder
from .registry import register

# torchvision's transform_input (GoogLeNet and Inception-v3): images normalised with ImageNet's
# mean and std, as torchvision's transforms for the ported weights do, are re-normalised to
# mean 0.5, std 0.5 per channel, x·(std / 0.5) + (mean − 0.5) / 0.5, which those weights expect.
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
TRANSFORM_INPUT = {"scale": [s / 0.5 for s in _STD], "shift": [(m - 0.5) / 0.5 for m in _MEAN]}

# name: 1×1, 3×3 reduce, 3×3, "5×5" reduce, "5×5" (3×3 in torchvision), pool projection.
_INCEPTIONS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def add_transform_input(b: Builder) -> str:
    """torchvision's transform_input as a ChannelAffine node after the Input (no weights, so
    the state_dict is unchanged)."""
    return b.add("ChannelAffine", "transform_input", b.input, **TRANSFORM_INPUT)


def _basic_conv(b: Builder, x: str, name: str, out: int, k: int, stride: int = 1,
                padding: int = 0) -> str:
    """torchvision's BasicConv2d: convolution without bias → BatchNorm (ε = 0.001) → ReLU."""
    with b.scope(name, f"{k}×{k} conv, BN, ReLU"):
        x = b.add("Conv2d", "conv", x, out_channels=out, kernel_size=k, stride=stride,
                  padding=padding, bias=False)
        x = b.add("BatchNorm2d", "bn", x, eps=0.001)
        return b.add("ReLU", "relu", x)


def _inception(b: Builder, x: str, name: str, ch1: int, ch3red: int, ch3: int, ch5red: int,
               ch5: int, pool_proj: int) -> str:
    """Four parallel branches on the same input, stacked along the channels."""
    with b.scope(f"inception{name}", f"Inception {name}"):
        b1 = _basic_conv(b, x, "branch1", ch1, 1)
        with b.scope("branch2", "1×1 reduce → 3×3"):
            b2 = _basic_conv(b, x, "0", ch3red, 1)
            b2 = _basic_conv(b, b2, "1", ch3, 3, padding=1)
        with b.scope("branch3", "1×1 reduce → 3×3 (the paper's 5×5)"):
            b3 = _basic_conv(b, x, "0", ch5red, 1)
            b3 = _basic_conv(b, b3, "1", ch5, 3, padding=1)
        with b.scope("branch4", "3×3 max pool → 1×1 projection"):
            b4 = b.add("MaxPool2d", "0", x, kernel_size=3, stride=1, padding=1, ceil_mode=True)
            b4 = _basic_conv(b, b4, "1", pool_proj, 1)
        return b.add("Concat", "cat", b1, b2, b3, b4)


def _aux(b: Builder, x: str, name: str, num_classes: int, dropout: float) -> str:
    """An auxiliary classifier; its Output is returned in training mode only."""
    with b.scope(name, "Auxiliary classifier (training only)"):
        x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=4)
        x = _basic_conv(b, x, "conv", 128, 1)
        x = b.add("Flatten", "flatten", x)
        x = b.add("Linear", "fc1", x, out_features=1024)
        x = b.add("ReLU", "relu", x)
        x = b.add("Dropout", "dropout", x, p=dropout)
        x = b.add("Linear", "fc2", x, out_features=num_classes)
        return b.add("Output", "output", x, training_only=True)


def build_googlenet(
    *,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
    aux_logits: bool = True,
    transform_input: bool = False,
    dropout: float = 0.2,
    dropout_aux: float = 0.7,
) -> Graph:
    """torchvision's ``googlenet()``. With ``aux_logits`` the two auxiliary classifiers (after
    Inception 4a and 4d) are built; in training mode the model returns (logits, aux2, aux1) as
    torchvision does, in evaluation mode the logits only. ``transform_input`` re-normalises
    ImageNet-normalised images as torchvision's ported weights expect (a ChannelAffine node
    ``transform_input``); torchvision sets it when it loads those weights."""
    b = Builder(input_shape)
    x = add_transform_input(b) if transform_input else b.input
    x = _basic_conv(b, x, "conv1", 64, 7, stride=2, padding=3)
    x = b.add("MaxPool2d", "maxpool1", x, kernel_size=3, stride=2, ceil_mode=True)
    x = _basic_conv(b, x, "conv2", 64, 1)
    x = _basic_conv(b, x, "conv3", 192, 3, padding=1)
    x = b.add("MaxPool2d", "maxpool2", x, kernel_size=3, stride=2, ceil_mode=True)
    taps: dict[str, str] = {}
    for name, channels in _INCEPTIONS.items():
        x = _inception(b, x, name, *channels)
        taps[name] = x
        if name == "3b":
            x = b.add("MaxPool2d", "maxpool3", x, kernel_size=3, stride=2, ceil_mode=True)
        elif name == "4e":
            x = b.add("MaxPool2d", "maxpool4", x, kernel_size=2, stride=2, ceil_mode=True)
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
    x = b.add("Flatten", "flatten", x)
    x = b.add("Dropout", "dropout", x, p=dropout)
    x = b.add("Linear", "fc", x, out_features=num_classes)
    if aux_logits:
        b.add("Output", "output", x)
        _aux(b, taps["4d"], "aux2", num_classes, dropout_aux)
        _aux(b, taps["4a"], "aux1", num_classes, dropout_aux)
    return b.graph


register("googlenet", "googlenet", "GoogLeNet / Inception-v1 (2014): nine Inception modules, "
         "global average pooling, 6.6 M parameters (13.0 M with the training-only auxiliary "
         "classifiers)", build_googlenet, torchvision=True)
