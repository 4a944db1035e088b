"""VGG (Simonyan and Zisserman, 2014): stacks of 3×3 convolutions (stride 1, padding 1) and 2×2
max pooling, channels doubling 64 → 512, then three fully connected layers; laid out as
torchvision's flat ``features``/``classifier`` sequences so its weights load."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Graph
from .builder import Builder
from .registry import register

# torchvision's configurations: filters per 3×3 convolution, "M" a 2×2 max pooling.
CONFIGS: dict[str, tuple[int | str, ...]] = {
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "B": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
          "M"),
    "E": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512,
          512, 512, 512, "M"),
}


def build_vgg(
    *,
    config: Sequence[int | str],
    batch_norm: bool = False,
    num_classes: int = 1000,
    input_shape: Sequence[int] = (3, 224, 224),
    dropout: float = 0.5,
) -> Graph:
    b = Builder(input_shape)
    x = b.input
    with b.scope("features", "Feature extractor (5 stages of 3×3 convolutions)"):
        i = 0
        for v in config:
            if v == "M":
                x = b.add("MaxPool2d", str(i), x, kernel_size=2, stride=2)
                i += 1
                continue
            x = b.add("Conv2d", str(i), x, out_channels=v, kernel_size=3, padding=1)
            i += 1
            if batch_norm:
                x = b.add("BatchNorm2d", str(i), x)
                i += 1
            x = b.add("ReLU", str(i), x)
            i += 1
    x = b.add("AdaptiveAvgPool2d", "avgpool", x, output_size=(7, 7))
    x = b.add("Flatten", "flatten", x)
    with b.scope("classifier", "Classifier"):
        x = b.add("Linear", "0", x, out_features=4096)
        x = b.add("ReLU", "1", x)
        x = b.add("Dropout", "2", x, p=dropout)
        x = b.add("Linear", "3", x, out_features=4096)
        x = b.add("ReLU", "4", x)
        x = b.add("Dropout", "5", x, p=dropout)
        b.add("Linear", "6", x, out_features=num_classes)
    return b.graph


for _depth, _cfg, _convs, _params, _bn_params, _macs in (
    (11, "A", 8, "132.9 M parameters", "132.9 M", "7.6"),
    (13, "B", 10, "133.0 M parameters", "133.1 M", "11.3"),
    (16, "D", 13, "138.4 M parameters (123.6 M of them in the FC layers)", "138.4 M", "15.5"),
    (19, "E", 16, "143.7 M parameters", "143.7 M", "19.6"),
):
    register(f"vgg{_depth}", "vgg", f"VGG-{_depth}: {_convs} convolutions, all 3×3, in 5 stages + "
             f"3 FC layers (4096-4096-classes), {_params}, {_macs} G MACs",
             build_vgg, torchvision=True, config=CONFIGS[_cfg], batch_norm=False)
    register(f"vgg{_depth}_bn", "vgg", f"VGG-{_depth} with batch normalisation after each of its "
             f"{_convs} 3×3 convolutions, {_bn_params} parameters, {_macs} G MACs", build_vgg,
             torchvision=True, config=CONFIGS[_cfg], batch_norm=True)
