"""Layers as source: each catalogue type is written as the class its spec names (the same class
and keyword arguments engine/build.py constructs), positional where torch's signature has no
default, and only the keywords that differ from torch's defaults."""

from __future__ import annotations

import importlib
import inspect
from functools import cache
from typing import Any

from ...graph import layers
from .. import build
from ..modules.batch_instance_norm import BatchInstanceNorm2d
from ..modules.layer_scale import scale_parameter
from ..modules.own_layers import BlurPool2d, BranchSoftmax, GlobalResponseNorm
from ..modules.std_conv import StdConv2d
from .text import Call, literal


class Code(str):
    """Source text standing for a value (a constructor argument's name), not a literal."""


_STD = frozenset({"collections", "math"})

COPIED: dict[str, type] = {"cnnstudio:ChannelAffine": build.ChannelAffine,
                           "cnnstudio:Chunk": build.Chunk, "cnnstudio:Slice": build.Slice,
                           "cnnstudio:StdConv2d": StdConv2d,
                           "cnnstudio:GlobalResponseNorm": GlobalResponseNorm,
                           "cnnstudio:BranchSoftmax": BranchSoftmax,
                           "cnnstudio:BlurPool2d": BlurPool2d,
                           "cnnstudio:BatchInstanceNorm2d": BatchInstanceNorm2d}
"""The engine's own layer modules the file carries as source (inspect.getsource: one source
for both), so that it builds them without CNN Studio."""


class Imports:
    """What the generated file needs besides ``torch`` and ``nn``."""

    def __init__(self) -> None:
        self.names: dict[str, set[str]] = {}
        self.modules: set[str] = set()  # ``import math``
        self.copied: list[type] = []  # COPIED classes the file defines, in first-use order

    def add(self, module: str, name: str) -> None:
        self.names.setdefault(module, set()).add(name)

    def add_module(self, module: str) -> None:
        """A standard-library module imported whole (``import math``)."""
        assert module in _STD, module
        self.modules.add(module)

    def lines(self) -> list[str]:
        std = [m for m in self.names if m in _STD]
        third = [m for m in self.names if m not in std]
        out = [f"import {m}" for m in sorted(self.modules)]
        out += [f"from {m} import {', '.join(sorted(self.names[m]))}" for m in sorted(std)]
        if out:
            out.append("")
        out += ["import torch", "from torch import nn"]
        out += [f"from {m} import {', '.join(sorted(self.names[m]))}" for m in sorted(third)]
        return out


@cache
def _torch_class(path: str) -> tuple[str, type]:
    if path in COPIED:
        return "", COPIED[path]
    module, _, name = path.rpartition(".")
    return module, getattr(importlib.import_module(module), name)


@cache
def _params(path: str) -> tuple[tuple[str, Any], ...]:
    """(name, default or inspect.Parameter.empty) of the class's constructor."""
    _, cls = _torch_class(path)
    sig = inspect.signature(cls.__init__)
    return tuple((p.name, p.default) for p in sig.parameters.values()
                 if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def class_ref(type_name: str, imports: Imports, path: str | None = None) -> str:
    """How the file names the layer's class (``path``, by default the type's): ``nn.Conv2d``,
    or an imported name."""
    path = path or layers.get(type_name).torch_class
    if path in COPIED:
        if COPIED[path] not in imports.copied:
            imports.copied.append(COPIED[path])
        return COPIED[path].__name__
    if path is None or path.startswith("cnnstudio:"):
        raise ValueError(f"{type_name} is not a layer class")
    module, _ = _torch_class(path)
    name = path.rpartition(".")[2]
    if module == "torch.nn":
        return f"nn.{name}"
    imports.add(module, name)
    return name


def layer_call(type_name: str, kwargs: dict[str, Any], imports: Imports) -> Call:
    """The constructor call of a layer; ``kwargs`` values are literals or ``Code``."""
    path = layers.get(type_name).torch_class_for(kwargs)
    call = Call(class_ref(type_name, imports, path))
    params = _params(path)  # type: ignore[arg-type]
    positional = True
    written = set()
    for name, default in params:
        if name not in kwargs:
            positional = positional and default is not inspect.Parameter.empty
            continue
        value = kwargs[name]
        written.add(name)
        text = value if isinstance(value, Code) else literal(value)
        if positional and default is inspect.Parameter.empty:
            call.args.append(text)
            continue
        positional = False
        if isinstance(value, Code) or not _is_default(value, default):
            call.kwargs.append((name, text))
    for name, value in kwargs.items():
        if name not in written:
            call.kwargs.append((name, value if isinstance(value, Code) else literal(value)))
    return call


def _is_default(value: Any, default: Any) -> bool:
    if default is inspect.Parameter.empty:
        return False
    return type(value) is type(default) and value == default


PARAMETERS: dict[str, Any] = {"cnnstudio:LayerScale": scale_parameter}
"""Layers whose one parameter is the node itself (engine/modules/layer_scale.py): the file
makes it with the engine's function, copied as source, and assigns it where a module would
go."""


def parameter_layer(type_name: str | None) -> bool:
    return type_name is not None and layers.get(type_name).torch_class in PARAMETERS


def parameter_call(type_name: str, kwargs: dict[str, Any], imports: Imports) -> Call:
    """``scale_parameter(96, 1e-06)``: the parameter made as to_module makes it."""
    make = PARAMETERS[layers.get(type_name).torch_class]  # type: ignore[index]
    if make not in imports.copied:
        imports.copied.append(make)  # the file carries its source, like the copied classes
    args = [kwargs[name] for name in inspect.signature(make).parameters]
    return Call(make.__name__, [v if isinstance(v, Code) else literal(v) for v in args])
