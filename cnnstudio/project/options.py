"""One way to change a project's settings: ``section.path = value`` on a plain dict, checked by
the config classes. The command line's options (``--lr``, ``--epochs`` ...) and the window's
settings panel both go through ``with_options``, so they accept and refuse the same values with
the same words."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from .config import ConfigError, DatasetConfig, TrainConfig

SECTIONS: dict[str, type] = {"dataset": DatasetConfig, "training": TrainConfig}
"""The settings sections of a project (``project.dataset``, ``project.training``)."""


def section_class(section: str) -> type:
    """The config class of a section; ValueError for an unknown one (a programming error)."""
    try:
        return SECTIONS[section]
    except KeyError:
        raise ValueError(f"unknown settings section {section!r}") from None


def with_options(section: str, values: dict[str, Any], changes: dict[str, Any]
                 ) -> dict[str, Any]:
    """A copy of ``values`` (a section as a dict) with each ``{dotted path: value}`` of
    ``changes`` set, e.g. ``{"optimizer.lr": 0.01}``; raises ConfigError, naming the option
    as ``section.path``, for an unknown option or a value the section refuses."""
    cls = section_class(section)
    out = copy.deepcopy(values)
    for path, value in changes.items():
        *outer, name = path.split(".")
        target, owner = out, cls
        for part in outer:
            owner = _nested(owner, part)
            target = target.get(part) if isinstance(target, dict) else None
        if owner is None or not isinstance(target, dict) or name not in _fields(owner):
            raise ConfigError(f"{section}.{path}: no such option")
        target[name] = copy.deepcopy(value)
    cls.from_dict(copy.deepcopy(out), section)  # raises on a refused value
    return out


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if f.name != "extra"}


def _nested(cls: type | None, name: str) -> type | None:
    """The section class of option ``name`` of ``cls`` when it is a section itself."""
    if cls is None:
        return None
    f = _fields(cls).get(name)
    return f.metadata.get("nested") if f is not None else None
