"""DenseNet-BC (Huang et al., 2017) as torchvision builds it: inside a dense block every layer
takes the Concat of the block input and all earlier layers' outputs and adds growth_rate new
channels; transitions halve the channels and the resolution (node ids equal torchvision's module
paths, so its weights load)."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Graph
from .builder import Builder
from .registry import register


def _dense_layer(b: Builder, features: list[str], name: str, growth_rate: int, bn_size: int,
                 drop_rate: float) -> str:
    """BN → ReLU → 1×1 conv (bn_size·k bottleneck) → BN → ReLU → 3×3 conv (k new channels)."""
    with b.scope(name, "Dense layer"):
        x = features[0] if len(features) == 1 else b.add("Concat", "cat", *features)
        x = b.add("BatchNorm2d", "norm1", x)
        x = b.add("ReLU", "relu1", x)
        x = b.add("Conv2d", "conv1", x, out_channels=bn_size * growth_rate, kernel_size=1,
                  bias=False)
        x = b.add("BatchNorm2d", "norm2", x)
        x = b.add("ReLU", "relu2", x)
        x = b.add("Conv2d", "conv2", x, out_channels=growth_rate, kernel_size=3, padding=1,
                  bias=False)
        if drop_rate > 0:
            x = b.add("Dropout", "dropout", x, p=drop_rate)
        return x


def build_densenet(
    *,
    growth_rate: int,
    block_config: Sequence[int],
    num_init_features: int,
    bn_size: int = 4,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
    drop_rate: float = 0.0,
) -> Graph:
    """torchvision's DenseNet; ``drop_rate`` > 0 adds a Dropout after each dense layer."""
    b = Builder(input_shape)
    with b.scope("features", "Feature extractor"):
        x = b.add("Conv2d", "conv0", b.input, out_channels=num_init_features, kernel_size=7,
                  stride=2, padding=3, bias=False)
        x = b.add("BatchNorm2d", "norm0", x)
        x = b.add("ReLU", "relu0", x)
        x = b.add("MaxPool2d", "pool0", x, kernel_size=3, stride=2, padding=1)
        channels = num_init_features
        for i, num_layers in enumerate(block_config, start=1):
            with b.scope(f"denseblock{i}", f"Dense block {i}"):
                features = [x]
                for j in range(1, num_layers + 1):
                    features.append(_dense_layer(b, features, f"denselayer{j}", growth_rate,
                                                 bn_size, drop_rate))
                x = b.add("Concat", "cat", *features)
            channels += num_layers * growth_rate
            if i != len(block_config):
                channels //= 2
                with b.scope(f"transition{i}", "Transition"):
                    x = b.add("BatchNorm2d", "norm", x)
                    x = b.add("ReLU", "relu", x)
                    x = b.add("Conv2d", "conv", x, out_channels=channels, kernel_size=1,
                              bias=False)
                    x = b.add("AvgPool2d", "pool", x, kernel_size=2, stride=2)
        x = b.add("BatchNorm2d", "norm5", x)
    x = b.add("ReLU", "relu", x)
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=1)
    x = b.add("Flatten", "flatten", x)
    b.add("Linear", "classifier", x, out_features=num_classes)
    return b.graph


for _name, _k, _blocks, _init, _text in (
    ("densenet121", 32, (6, 12, 24, 16), 64, "DenseNet-121: k = 32, dense blocks 6-12-24-16, "
     "8.0 M parameters"),
    ("densenet161", 48, (6, 12, 36, 24), 96, "DenseNet-161: k = 48, dense blocks 6-12-36-24, "
     "96 initial channels, 28.7 M parameters"),
    ("densenet169", 32, (6, 12, 32, 32), 64, "DenseNet-169: k = 32, dense blocks 6-12-32-32, "
     "14.1 M parameters"),
    ("densenet201", 32, (6, 12, 48, 32), 64, "DenseNet-201: k = 32, dense blocks 6-12-48-32, "
     "20.0 M parameters"),
):
    register(_name, "densenet", f"{_text} (torchvision's layout, every layer fed the "
             "concatenation of all earlier ones)", build_densenet, torchvision=True,
             growth_rate=_k, block_config=_blocks, num_init_features=_init, bn_size=4)
