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
