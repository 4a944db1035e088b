"""The classic architectures as editable graphs (DESIGN.md §5).

``build(name, **options)`` returns a Graph; ``names()`` lists the presets. Presets that share a
name with a torchvision builder have torchvision's module paths, so its weights load.
"""

from . import (  # noqa: F401  (each family registers its presets)
    alexnet,
    convnext,
    densenet,
    efficientnet,
    googlenet,
    inception,
    lenet,
    mnasnet,
    mobilenet,
    regnet,
    resnet,
    shufflenet,
    simple,
    squeezenet,
    vgg,
    xception,
)
from .registry import Preset, PresetError, all_presets, build, describe, get, names

__all__ = ["Preset", "PresetError", "all_presets", "build", "describe", "get", "names"]
