"""Where a new project's data comes from, as dataset fields: one rule for the command line's
``--data SPEC`` and the window's fine-tune dialog, so both accept and refuse the same."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .config import SOURCES, ConfigError

FILE_SOURCES = ("folder", "csv")
BUILT_IN = tuple(s for s in SOURCES if s not in FILE_SOURCES)
"""The sources that need no path: the digits and the torchvision sets."""
BUILT_IN_CLASSES = {"digits": 10, "mnist": 10, "fashion_mnist": 10, "kmnist": 10,
                    "cifar10": 10, "cifar100": 100, "svhn": 10}
"""How many classes each built-in set has (known without loading it)."""


def dataset_fields(source: str, path: str | None = None,
                   base: Path | None = None) -> dict[str, Any]:
    """The dataset fields for ``source``: a built-in set alone; a folder or CSV with its path,
    which must exist, kept relative to ``base`` (the project's folder) when given, else
    absolute (a project not saved yet has no folder)."""
    if source in BUILT_IN:
        return {"source": source}
    if source not in FILE_SOURCES:
        raise ConfigError(f"dataset.source: expected {', '.join(SOURCES)}, not {source!r}")
    noun = "folder" if source == "folder" else "file"
    if not path or not path.strip():
        raise ConfigError(f"dataset.path: a {source} dataset needs the {noun}'s path")
    where = Path(path.strip()).expanduser()
    if not (where.is_dir() if source == "folder" else where.is_file()):
        raise ConfigError(f"dataset.path: no such {noun}: {where}")
    if base is None:
        return {"source": source, "path": str(where.resolve())}
    try:
        kept = os.path.relpath(where.resolve(), base.resolve())
    except ValueError:  # another drive (Windows): keep it absolute
        kept = str(where.resolve())
    return {"source": source, "path": kept}


def classes_of(source: str, path: str) -> int | None:
    """The data's number of classes when it is cheap to know: a built-in set's, or an image
    folder's class folders (not hidden, not empty: what the loader counts). A CSV's labels
    are known only by reading every row, so None."""
    if source in BUILT_IN_CLASSES:
        return BUILT_IN_CLASSES[source]
    folder = Path(path.strip()).expanduser() if source == "folder" and path.strip() else None
    if folder is None or not folder.is_dir():
        return None
    try:
        return sum(1 for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")
                   and any(not f.name.startswith(".") for f in os.scandir(e.path)))
    except OSError:
        return None
