"""Inception-v3 (Szegedy et al., 2015) as torchvision builds it: factorised convolutions (5×5
as two 3×3, 7×7 as 1×7 then 7×1), grid-reducing Inception modules, and an auxiliary classifier
after Mixed_6e that exists in training only (node ids equal torchvision's module paths, so its
weights load)."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Graph
from .builder import Builder
from .googlenet import add_transform_input
from .registry import register

Size = int | tuple[int, int]


def _basic_conv(b: Builder, x: str, name: str, out: int, k: Size, stride: int = 1,
                padding: Size = 0) -> str:
    """torchvision's BasicConv2d: convolution without bias → BatchNorm (ε = 0.001) → ReLU."""
    kh, kw = (k, k) if isinstance(k, int) else k
    with b.scope(name, f"{kh}×{kw} conv, BN, ReLU"):
        return _conv_bn_relu(b, x, out, k, stride, padding)


def _conv_bn_relu(b: Builder, x: str, out: int, k: Size, stride: int = 1,
                  padding: Size = 0) -> str:
    kernel = k if isinstance(k, int) else list(k)
    pad = padding if isinstance(padding, int) else list(padding)
    x = b.add("Conv2d", "conv", x, out_channels=out, kernel_size=kernel, stride=stride,
              padding=pad, bias=False)
    x = b.add("BatchNorm2d", "bn", x, eps=0.001)
    return b.add("ReLU", "relu", x)


def _chain(b: Builder, x: str, prefix: str, steps: Sequence[tuple]) -> str:
    """BasicConv2d layers ``prefix_1``, ``prefix_2`` … in a row; a step is
    (suffix, out, kernel, padding[, stride])."""
    for suffix, out, k, pad, *stride in steps:
        x = _basic_conv(b, x, f"{prefix}_{suffix}", out, k, stride[0] if stride else 1, pad)
    return x


def _pool_branch(b: Builder, x: str, out: int) -> str:
    """3×3 average pooling (stride 1, torchvision's F.avg_pool2d) → 1×1 BasicConv2d; the pool
    sits in the ``branch_pool`` block beside the convolution it feeds."""
    with b.scope("branch_pool", "3×3 average pool → 1×1 conv"):
        x = b.add("AvgPool2d", "pool", x, kernel_size=3, stride=1, padding=1)
        return _conv_bn_relu(b, x, out, 1)


def _inception_a(b: Builder, x: str, name: str, pool_features: int) -> str:
    with b.scope(name, f"Inception A ({name})"):
        b1 = _basic_conv(b, x, "branch1x1", 64, 1)
        b5 = _chain(b, x, "branch5x5", [("1", 48, 1, 0), ("2", 64, 5, 2)])
        b3 = _chain(b, x, "branch3x3dbl", [("1", 64, 1, 0), ("2", 96, 3, 1), ("3", 96, 3, 1)])
        bp = _pool_branch(b, x, pool_features)
        return b.add("Concat", "cat", b1, b5, b3, bp)


def _inception_b(b: Builder, x: str, name: str) -> str:
    with b.scope(name, f"Inception B, grid reduction ({name})"):
        b3 = _basic_conv(b, x, "branch3x3", 384, 3, stride=2)
        bd = _chain(b, x, "branch3x3dbl", [("1", 64, 1, 0), ("2", 96, 3, 1),
                                           ("3", 96, 3, 0, 2)])
        bp = b.add("MaxPool2d", "branch_pool", x, kernel_size=3, stride=2)
        return b.add("Concat", "cat", b3, bd, bp)


def _inception_c(b: Builder, x: str, name: str, c7: int) -> str:
    row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
    with b.scope(name, f"Inception C, factorised 7×7 ({name})"):
        b1 = _basic_conv(b, x, "branch1x1", 192, 1)
        b7 = _chain(b, x, "branch7x7", [("1", c7, 1, 0), ("2", c7, *row), ("3", 192, *col)])
        bd = _chain(b, x, "branch7x7dbl", [("1", c7, 1, 0), ("2", c7, *col), ("3", c7, *row),
                                           ("4", c7, *col), ("5", 192, *row)])
        bp = _pool_branch(b, x, 192)
        return b.add("Concat", "cat", b1, b7, bd, bp)


def _inception_d(b: Builder, x: str, name: str) -> str:
    with b.scope(name, f"Inception D, grid reduction ({name})"):
        b3 = _chain(b, x, "branch3x3", [("1", 192, 1, 0), ("2", 320, 3, 0, 2)])
        b7 = _chain(b, x, "branch7x7x3", [("1", 192, 1, 0), ("2", 192, (1, 7), (0, 3)),
                                          ("3", 192, (7, 1), (3, 0)), ("4", 192, 3, 0, 2)])
        bp = b.add("MaxPool2d", "branch_pool", x, kernel_size=3, stride=2)
        return b.add("Concat", "cat", b3, b7, bp)


def _split(b: Builder, x: str, prefix: str) -> str:
    """InceptionE's fork: a 1×3 and a 3×1 convolution side by side, stacked."""
    a = _basic_conv(b, x, f"{prefix}a", 384, (1, 3), padding=(0, 1))
    c = _basic_conv(b, x, f"{prefix}b", 384, (3, 1), padding=(1, 0))
    return b.add("Concat", f"{prefix}cat", a, c)


def _inception_e(b: Builder, x: str, name: str) -> str:
    with b.scope(name, f"Inception E, expanded filter bank ({name})"):
        b1 = _basic_conv(b, x, "branch1x1", 320, 1)
        b3 = _split(b, _basic_conv(b, x, "branch3x3_1", 384, 1), "branch3x3_2")
        bd = _chain(b, x, "branch3x3dbl", [("1", 448, 1, 0), ("2", 384, 3, 1)])
        bd = _split(b, bd, "branch3x3dbl_3")
        bp = _pool_branch(b, x, 192)
        return b.add("Concat", "cat", b1, b3, bd, bp)


def _aux(b: Builder, x: str, num_classes: int) -> str:
    """torchvision's InceptionAux on Mixed_6e's 17×17 map (it needs at least 17×17 there,
    which the full 299×299 input gives); returns the logits, before its Output."""
    with b.scope("AuxLogits", "Auxiliary classifier (training only)"):
        x = b.add("AvgPool2d", "pool", x, kernel_size=5, stride=3)
        x = _basic_conv(b, x, "conv0", 128, 1)
        x = _basic_conv(b, x, "conv1", 768, 5)
        x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
        x = b.add("Flatten", "flatten", x)
        return b.add("Linear", "fc", x, out_features=num_classes)


def build_inception_v3(
    *,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 299, 299),
    aux_logits: bool = True,
    transform_input: bool = False,
    dropout: float = 0.5,
) -> Graph:
    """torchvision's ``inception_v3()``. With ``aux_logits`` the auxiliary classifier after
    Mixed_6e is built; in training mode the model returns (logits, aux) as torchvision does,
    in evaluation mode the logits only (it needs the full 299×299 input; without it the net
    takes inputs down to 75×75). ``transform_input`` re-normalises ImageNet-normalised images
    as torchvision's ported weights expect (a ChannelAffine node ``transform_input``);
    torchvision sets it when it loads those weights."""
    b = Builder(input_shape)
    x = add_transform_input(b) if transform_input else b.input
    x = _basic_conv(b, x, "Conv2d_1a_3x3", 32, 3, stride=2)
    x = _basic_conv(b, x, "Conv2d_2a_3x3", 32, 3)
    x = _basic_conv(b, x, "Conv2d_2b_3x3", 64, 3, padding=1)
    x = b.add("MaxPool2d", "maxpool1", x, kernel_size=3, stride=2)
    x = _basic_conv(b, x, "Conv2d_3b_1x1", 80, 1)
    x = _basic_conv(b, x, "Conv2d_4a_3x3", 192, 3)
    x = b.add("MaxPool2d", "maxpool2", x, kernel_size=3, stride=2)
    x = _inception_a(b, x, "Mixed_5b", 32)
    x = _inception_a(b, x, "Mixed_5c", 64)
    x = _inception_a(b, x, "Mixed_5d", 64)
    x = _inception_b(b, x, "Mixed_6a")
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160),
                     ("Mixed_6e", 192)):
        x = _inception_c(b, x, name, c7)
    aux = _aux(b, x, num_classes) if aux_logits else None
    x = _inception_d(b, x, "Mixed_7a")
    x = _inception_e(b, x, "Mixed_7b")
    x = _inception_e(b, x, "Mixed_7c")
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
    x = b.add("Dropout", "dropout", x, p=dropout)
    x = b.add("Flatten", "flatten", x)
    x = b.add("Linear", "fc", x, out_features=num_classes)
    if aux is not None:
        b.add("Output", "output", x)  # the logits first, then the auxiliary ones
        out = b.graph.add_node("Output", "AuxLogits.output", {"training_only": True},
                               group="AuxLogits")
        b.graph.connect(aux, out.id)
    return b.graph


register("inception_v3", "inception", "Inception-v3 (2015): factorised 7×7 and 5×5 "
         "convolutions, grid-reducing Inception modules, 299×299 input, 23.8 M parameters "
         "(27.2 M with the training-only auxiliary classifier)", build_inception_v3,
         torchvision=True)
