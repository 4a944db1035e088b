"""LeNet-5 (LeCun et al., 1998) as the seeds describe it: 32×32 grey input, two convolution +
average-pooling stages, C5 as a 5×5 convolution, F6 and the output; tanh throughout."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Graph
from .builder import Builder
from .registry import register

_ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU", "sigmoid": "Sigmoid"}
_POOLS = {"avg": "AvgPool2d", "max": "MaxPool2d"}


def build_lenet5(
    *,
    num_classes: int = 10,
    input_shape: Sequence[int] = (1, 32, 32),
    activation: str = "tanh",
    pooling: str = "avg",
) -> Graph:
    act = _ACTIVATIONS.get(activation)
    pool = _POOLS.get(pooling)
    if act is None or pool is None:
        raise ValueError(f"activation is one of {', '.join(_ACTIVATIONS)} and pooling one of "
                         f"{', '.join(_POOLS)}")
    b = Builder(input_shape)
    with b.scope("features", "Feature extractor", group=True):
        x = b.add("Conv2d", "c1", b.input, out_channels=6, kernel_size=5)
        x = b.add(act, "c1_act", x)
        x = b.add(pool, "s2", x, kernel_size=2)
        x = b.add("Conv2d", "c3", x, out_channels=16, kernel_size=5)
        x = b.add(act, "c3_act", x)
        x = b.add(pool, "s4", x, kernel_size=2)
        x = b.add("Conv2d", "c5", x, out_channels=120, kernel_size=5)
        x = b.add(act, "c5_act", x)
    x = b.add("Flatten", "flatten", x)
    with b.scope("classifier", "Classifier"):
        x = b.add("Linear", "f6", x, out_features=84)
        x = b.add(act, "f6_act", x)
        b.add("Linear", "output", x, out_features=num_classes)
    return b.graph


register("lenet5", "lenet", "LeNet-5 (1998): 32×32 grey digits, tanh, average pooling, "
         "61.7 K parameters", build_lenet5)
