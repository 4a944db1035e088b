"""The seeds' small teaching CNNs: the digit classifier INPUT → [CONV → RELU → POOL]×2 → FC →
RELU → FC, and the 5-layer CNN that ends in global average pooling instead of flattening a
large feature map. Both output class scores: the cross-entropy loss applies the softmax."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Graph
from .builder import Builder
from .registry import register


def build_simple_cnn(
    *,
    num_classes: int = 10,
    input_shape: Sequence[int] = (1, 28, 28),
    channels: Sequence[int] = (32, 64),
    hidden: int = 128,
    dropout: float = 0.0,
) -> Graph:
    """One [3×3 conv (padding 1) → ReLU → 2×2 max pool] block per entry of ``channels``, each
    halving H and W (28 → 14 → 7), then Flatten (7·7·64 = 3,136), FC ``hidden`` → ReLU →
    [Dropout] → FC ``num_classes``."""
    if not channels:
        raise ValueError("channels needs at least one entry (the filters of each conv block)")
    b = Builder(input_shape)
    x = b.input
    for i, filters in enumerate(channels, start=1):
        with b.scope(f"block{i}", f"Conv block {i}: CONV → RELU → POOL"):
            x = b.add("Conv2d", "conv", x, out_channels=filters, kernel_size=3, padding=1)
            x = b.add("ReLU", "relu", x)
            x = b.add("MaxPool2d", "pool", x, kernel_size=2)
    x = b.add("Flatten", "flatten", x)
    with b.scope("classifier", "Classifier"):
        x = b.add("Linear", "fc1", x, out_features=hidden)
        x = b.add("ReLU", "relu", x)
        if dropout > 0:
            x = b.add("Dropout", "dropout", x, p=dropout)
        b.add("Linear", "fc2", x, out_features=num_classes)
    return b.graph


def build_gap_cnn(
    *,
    num_classes: int = 10,
    input_shape: Sequence[int] = (3, 224, 224),
    batch_norm: bool = False,
    dropout: float = 0.5,
) -> Graph:
    """Three 3×3 convolutions (32, 64, 128 filters, padding 1) with ReLU, 2×2 max pooling after
    the first two, global average pooling (each of the 128 maps → one number), FC 128 → ReLU →
    Dropout → FC ``num_classes``. ``batch_norm`` puts a BatchNorm2d after each convolution (whose
    bias it would cancel, so the convolutions lose theirs)."""
    b = Builder(input_shape)
    x = b.input
    for i, filters in enumerate((32, 64, 128), start=1):
        pool = i < 3
        label = f"Conv block {i}: CONV → {'BN → ' if batch_norm else ''}RELU" \
            + (" → POOL" if pool else "")
        with b.scope(f"block{i}", label):
            x = b.add("Conv2d", "conv", x, out_channels=filters, kernel_size=3, padding=1,
                      bias=not batch_norm)
            if batch_norm:
                x = b.add("BatchNorm2d", "bn", x)
            x = b.add("ReLU", "relu", x)
            if pool:
                x = b.add("MaxPool2d", "pool", x, kernel_size=2)
    x = b.add("AdaptiveAvgPool2d", "gap", x, output_size=1)
    x = b.add("Flatten", "flatten", x)
    with b.scope("classifier", "Classifier"):
        x = b.add("Linear", "fc1", x, out_features=128)
        x = b.add("ReLU", "relu", x)
        if dropout > 0:
            x = b.add("Dropout", "dropout", x, p=dropout)
        b.add("Linear", "fc2", x, out_features=num_classes)
    return b.graph


def build_cs231n_pattern(
    *,
    num_classes: int = 10,
    input_shape: Sequence[int] = (3, 32, 32),
    n: int = 2,
    m: int = 2,
    k: int = 1,
    width: int = 32,
    hidden: int = 128,
    pool: bool = True,
) -> Graph:
    """cs231n's recipe INPUT → [[CONV → RELU]×N → POOL?]×M → [FC → RELU]×K → FC: M blocks of
    ``n`` 3×3 convolutions (padding 1, so only the pools shrink the maps) with ``width``
    filters, doubled after each 2×2 max pool, then ``k`` hidden layers of ``hidden`` units.
    Without ``pool`` the width stays and the maps keep the input's size."""
    if n < 1 or m < 1 or k < 0:
        raise ValueError(f"n and m are at least 1 and k at least 0, not n={n}, m={m}, k={k}")
    b = Builder(input_shape)
    x = b.input
    filters = width
    for i in range(1, m + 1):
        label = f"Block {i}: [CONV → RELU]×{n}" + (" → POOL" if pool else "")
        with b.scope(f"block{i}", label):
            for j in range(1, n + 1):
                x = b.add("Conv2d", f"conv{j}", x, out_channels=filters, kernel_size=3,
                          padding=1)
                x = b.add("ReLU", f"relu{j}", x)
            if pool:
                x = b.add("MaxPool2d", "pool", x, kernel_size=2)
                filters *= 2
    x = b.add("Flatten", "flatten", x)
    with b.scope("classifier", f"Classifier: [FC → RELU]×{k} → FC"):
        for j in range(1, k + 1):
            x = b.add("Linear", f"fc{j}", x, out_features=hidden)
            x = b.add("ReLU", f"relu{j}", x)
        b.add("Linear", "output", x, out_features=num_classes)
    return b.graph


register("simple_cnn", "simple", "Simple CNN for 28×28 digits: [CONV 3×3 → RELU → POOL 2×2]×2 "
         "(32, 64 filters), flatten 7×7×64 = 3,136, FC 128 → RELU → FC 10; 421.6 K parameters",
         build_simple_cnn)
register("gap_cnn", "simple", "5-layer CNN with global average pooling: 3 conv blocks (32, 64, "
         "128 filters) on 224×224×3, GAP instead of flatten, FC 128 → dropout → FC 10; outputs "
         "class scores, 111 K parameters", build_gap_cnn)
register("cs231n_pattern", "simple", "cs231n pattern: INPUT → [[CONV → RELU]×N → POOL?]×M → "
         "[FC → RELU]×K → FC with N, M, K, the width and pooling as options; by default "
         "N=2, M=2, K=1 on 32×32×3 (32 then 64 filters), 591 K parameters", build_cs231n_pattern)
