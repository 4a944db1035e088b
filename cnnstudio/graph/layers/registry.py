"""The layer catalogue: one registered spec per type name."""

from __future__ import annotations

from .spec import LayerSpec

_SPECS: dict[str, LayerSpec] = {}

CATEGORIES = (
    "Structure", "Convolution", "Pooling", "Activation", "Normalization", "Linear",
    "Regularization", "Reshape",
)


def register(cls: type[LayerSpec]) -> type[LayerSpec]:
    """Class decorator: instantiate and register a spec; a second spec of a name is a bug."""
    spec = cls()
    if not spec.type:
        raise ValueError(f"{cls.__name__} has no type name")
    if spec.type in _SPECS:
        raise ValueError(f"layer type {spec.type!r} is registered twice")
    if spec.category not in CATEGORIES:
        raise ValueError(f"{spec.type}: unknown category {spec.category!r}")
    _SPECS[spec.type] = spec
    return cls


def get(type_name: str) -> LayerSpec:
    """The spec of ``type_name``; KeyError names the closest known types."""
    try:
        return _SPECS[type_name]
    except KeyError:
        raise KeyError(unknown_type_message(type_name)) from None


def find(type_name: str) -> LayerSpec | None:
    return _SPECS.get(type_name)


def names() -> list[str]:
    return list(_SPECS)


def by_category() -> dict[str, list[LayerSpec]]:
    grouped: dict[str, list[LayerSpec]] = {c: [] for c in CATEGORIES}
    for spec in _SPECS.values():
        grouped[spec.category].append(spec)
    return grouped


def unknown_type_message(type_name: str) -> str:
    import difflib

    close = difflib.get_close_matches(str(type_name), _SPECS, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"unknown layer type {type_name!r}{hint}"
