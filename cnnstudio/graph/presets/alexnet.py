"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012): torchvision's single-GPU variant (node ids
equal its module paths, so its weights load) and the paper's network as the seeds describe it,
with local response normalisation and, optionally, the two-GPU grouped convolutions. Beside it
ZFNet (Zeiler and Fergus, 2013), the AlexNet their visualisations taught them to retune."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Graph
from .builder import Builder
from .registry import register


def build_alexnet(
    *,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
    dropout: float = 0.5,
) -> Graph:
    """torchvision's AlexNet: 64-192-384-256-256 filters (not the paper's 96-256-384-384-256),
    no LRN, and an adaptive 6×6 average pool so any input of at least 63×63 fits."""
    b = Builder(input_shape)
    with b.scope("features", "Feature extractor"):
        x = b.add("Conv2d", "0", b.input, out_channels=64, kernel_size=11, stride=4, padding=2)
        x = b.add("ReLU", "1", x)
        x = b.add("MaxPool2d", "2", x, kernel_size=3, stride=2)
        x = b.add("Conv2d", "3", x, out_channels=192, kernel_size=5, padding=2)
        x = b.add("ReLU", "4", x)
        x = b.add("MaxPool2d", "5", x, kernel_size=3, stride=2)
        x = b.add("Conv2d", "6", x, out_channels=384, kernel_size=3, padding=1)
        x = b.add("ReLU", "7", x)
        x = b.add("Conv2d", "8", x, out_channels=256, kernel_size=3, padding=1)
        x = b.add("ReLU", "9", x)
        x = b.add("Conv2d", "10", x, out_channels=256, kernel_size=3, padding=1)
        x = b.add("ReLU", "11", x)
        x = b.add("MaxPool2d", "12", x, kernel_size=3, stride=2)
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=(6, 6))
    x = b.add("Flatten", "flatten", x)
    with b.scope("classifier", "Classifier"):
        x = b.add("Dropout", "0", x, p=dropout)
        x = b.add("Linear", "1", x, out_features=4096)
        x = b.add("ReLU", "2", x)
        x = b.add("Dropout", "3", x, p=dropout)
        x = b.add("Linear", "4", x, out_features=4096)
        x = b.add("ReLU", "5", x)
        b.add("Linear", "6", x, out_features=num_classes)
    return b.graph


def build_alexnet_paper(
    *,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 227, 227),
    dropout: float = 0.5,
    split_gpus: bool = False,
) -> Graph:
    """The 2012 network: 227×227 input, conv1 96 11×11/4 → 55×55, LRN and 3×3/2 overlapping
    max pooling after conv1 and conv2, conv3–conv5 at 13×13, pool5 6×6×256 = 9,216, FC 4096,
    4096, classes with dropout. ``split_gpus`` gives conv2, conv4 and conv5 two groups: in the
    original each GPU held half of the filters and these layers saw only their own GPU's half.

    The paper's LRN constants are k = 2, n = 5, α = 1e-4, β = 0.75; torch's LocalResponseNorm
    divides alpha by the window size, so the paper's α is torch's alpha = 5·1e-4.
    """
    groups = 2 if split_gpus else 1
    lrn = {"size": 5, "alpha": 5e-4, "beta": 0.75, "k": 2.0}
    b = Builder(input_shape)
    with b.scope("features", "Feature extractor"):
        x = b.add("Conv2d", "conv1", b.input, out_channels=96, kernel_size=11, stride=4)
        x = b.add("ReLU", "relu1", x)
        x = b.add("LocalResponseNorm", "norm1", x, **lrn)
        x = b.add("MaxPool2d", "pool1", x, kernel_size=3, stride=2)
        x = b.add("Conv2d", "conv2", x, out_channels=256, kernel_size=5, padding=2,
                  groups=groups)
        x = b.add("ReLU", "relu2", x)
        x = b.add("LocalResponseNorm", "norm2", x, **lrn)
        x = b.add("MaxPool2d", "pool2", x, kernel_size=3, stride=2)
        x = b.add("Conv2d", "conv3", x, out_channels=384, kernel_size=3, padding=1)
        x = b.add("ReLU", "relu3", x)
        x = b.add("Conv2d", "conv4", x, out_channels=384, kernel_size=3, padding=1,
                  groups=groups)
        x = b.add("ReLU", "relu4", x)
        x = b.add("Conv2d", "conv5", x, out_channels=256, kernel_size=3, padding=1,
                  groups=groups)
        x = b.add("ReLU", "relu5", x)
        x = b.add("MaxPool2d", "pool5", x, kernel_size=3, stride=2)
    x = b.add("Flatten", "flatten", x)
    with b.scope("classifier", "Classifier"):
        x = b.add("Linear", "fc6", x, out_features=4096)
        x = b.add("ReLU", "relu6", x)
        x = b.add("Dropout", "dropout6", x, p=dropout)
        x = b.add("Linear", "fc7", x, out_features=4096)
        x = b.add("ReLU", "relu7", x)
        x = b.add("Dropout", "dropout7", x, p=dropout)
        b.add("Linear", "fc8", x, out_features=num_classes)
    return b.graph


def build_zfnet(
    *,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
    dropout: float = 0.5,
) -> Graph:
    """Zeiler & Fergus 2013, Fig. 3: AlexNet with a 7×7 stride-2 first layer (11×11 stride 4
    had left dead and aliased filters) and a stride-2 second layer, on one GPU: 224 → 110 → 55
    → 26 → 13 → 6. Their pools round up (ceil mode), which gives the paper's 55 and 13; the
    contrast normalisation is AlexNet's LRN."""
    lrn = {"size": 5, "alpha": 5e-4, "beta": 0.75, "k": 2.0}
    b = Builder(input_shape)
    with b.scope("features", "Feature extractor"):
        x = b.add("Conv2d", "conv1", b.input, out_channels=96, kernel_size=7, stride=2,
                  padding=1)
        x = b.add("ReLU", "relu1", x)
        x = b.add("MaxPool2d", "pool1", x, kernel_size=3, stride=2, ceil_mode=True)
        x = b.add("LocalResponseNorm", "norm1", x, **lrn)
        x = b.add("Conv2d", "conv2", x, out_channels=256, kernel_size=5, stride=2)
        x = b.add("ReLU", "relu2", x)
        x = b.add("MaxPool2d", "pool2", x, kernel_size=3, stride=2, ceil_mode=True)
        x = b.add("LocalResponseNorm", "norm2", x, **lrn)
        for i, filters in ((3, 384), (4, 384), (5, 256)):
            x = b.add("Conv2d", f"conv{i}", x, out_channels=filters, kernel_size=3, padding=1)
            x = b.add("ReLU", f"relu{i}", x)
        x = b.add("MaxPool2d", "pool5", x, kernel_size=3, stride=2, ceil_mode=True)
    x = b.add("Flatten", "flatten", x)
    with b.scope("classifier", "Classifier"):
        for i in (6, 7):
            x = b.add("Linear", f"fc{i}", x, out_features=4096)
            x = b.add("ReLU", f"relu{i}", x)
            x = b.add("Dropout", f"dropout{i}", x, p=dropout)
        b.add("Linear", "fc8", x, out_features=num_classes)
    return b.graph


register("alexnet", "alexnet", "AlexNet (torchvision's variant): 5 convolutions 64-192-384-256-"
         "256, adaptive 6×6 pool, 3 FC layers with dropout, 61.1 M parameters",
         build_alexnet, torchvision=True)
register("alexnet_paper", "alexnet", "AlexNet as in the 2012 paper: 227×227 input, 5 "
         "convolutions 96-256-384-384-256, ReLU, LRN, overlapping max pooling, FC 4096-4096 "
         "with dropout, 62.4 M parameters (61.0 M with the two-GPU split)", build_alexnet_paper)
register("zfnet", "alexnet", "ZFNet (Zeiler & Fergus 2013): AlexNet retuned after visualising its "
         "filters, 7×7 stride-2 first layer, 96-256-384-384-256 filters on one GPU, FC "
         "4096-4096 with dropout, 62.4 M parameters", build_zfnet)
