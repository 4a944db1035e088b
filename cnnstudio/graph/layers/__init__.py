"""The layer catalogue (DESIGN.md §3.1): one spec per type, looked up by its torch.nn name."""

from . import (  # noqa: F401  (each module registers its specs)
    activation,
    affine,
    batch_instance,
    branches,
    conv,
    convnext,
    dense,
    norm,
    pooling,
    shuffle,
    slice,
    structure,
)
from .registry import CATEGORIES, by_category, find, get, names, unknown_type_message
from .spec import REQUIRED, WHOLE, LayerError, LayerSpec, Out, Param, Window

__all__ = [
    "CATEGORIES", "REQUIRED", "WHOLE", "LayerError", "LayerSpec", "Out", "Param", "Window",
    "by_category", "find", "get", "names", "unknown_type_message",
]
