"""Preset registry: each name maps to a family's builder with fixed arguments (resnet50 is the
ResNet builder with bottleneck blocks 3-4-6-3), the way torchvision registers its models."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import init
from ..model import Graph, plain


@dataclass(frozen=True)
class Preset:
    name: str
    family: str
    description: str
    builder: Callable[..., Graph]
    fixed: dict[str, Any] = field(default_factory=dict)
    torchvision: bool = False
    """True when torchvision has the same model under the same name, with the same keys."""
    layout: tuple[str, ...] = ()
    """Options that leave torchvision's layout when set away from their defaults (a ResNet's
    ``skip``): the graph then no longer takes its weights, and its origin says so."""

    def options(self) -> dict[str, Any]:
        """The options a user may set, with their defaults."""
        sig = inspect.signature(self.builder)
        return {
            name: p.default for name, p in sig.parameters.items()
            if name not in self.fixed and p.kind == p.KEYWORD_ONLY
        }

    def build(self, **options: Any) -> Graph:
        allowed = self.options()
        for key in options:
            if key not in allowed:
                raise PresetError(
                    f"preset {self.name!r} has no option {key!r}; its options are "
                    f"{', '.join(allowed) or 'none'}")
        graph = self.builder(**self.fixed, **options)
        same_layout = all(options.get(key, allowed[key]) == allowed[key] for key in self.layout)
        graph.metadata["origin"] = {
            "preset": self.name, "options": plain({**allowed, **options}),
            "torchvision": self.torchvision and same_layout,
        }
        if self.torchvision:  # torchvision's models start as its builders initialise them
            graph.metadata[init.KEY] = {"scheme": "torchvision", "family": self.family}
        return graph


class PresetError(ValueError):
    """An unknown preset or option."""


_PRESETS: dict[str, Preset] = {}


def register(name: str, family: str, description: str, builder: Callable[..., Graph], *,
             torchvision: bool = False, layout: tuple[str, ...] = (), **fixed: Any) -> None:
    if name in _PRESETS:
        raise ValueError(f"preset {name!r} is registered twice")
    _PRESETS[name] = Preset(name, family, description, builder, fixed, torchvision, layout)


def get(name: str) -> Preset:
    try:
        return _PRESETS[name]
    except KeyError:
        close = difflib.get_close_matches(name, _PRESETS, n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise PresetError(f"no preset named {name!r}{hint}; `cnnstudio presets` lists them") \
            from None


def names() -> list[str]:
    return list(_PRESETS)


def all_presets() -> list[Preset]:
    return list(_PRESETS.values())


def build(name: str, **options: Any) -> Graph:
    """The graph of preset ``name``, e.g. ``build("resnet50", num_classes=10)``."""
    return get(name).build(**options)


def describe(name: str) -> str:
    return get(name).description
