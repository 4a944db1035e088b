"""Upgrading older project files (DESIGN.md §3.5): a chain of pure functions.

``MIGRATIONS[n]`` turns the JSON documents of a version-``n`` project (archive member name →
parsed JSON, e.g. ``{"project.json": {...}, "graph.json": {...}, "runs.json": {...}}``) into
those of version ``n + 1``. It may add, change, rename or drop documents; it must not touch
anything outside its argument. ``migrate`` applies the chain up to ``CURRENT_VERSION`` and sets
``project.json``'s ``"version"`` after each step, so a migration need not.

To change the format: bump ``CURRENT_VERSION``, add ``MIGRATIONS[old]``, and add a test that
opens a file written in the old format.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

CURRENT_VERSION = 1
"""The project format version this CNN Studio writes (and the newest it reads)."""

Docs = dict[str, Any]

MIGRATIONS: dict[int, Callable[[Docs], Docs]] = {}


class MigrationError(ValueError):
    """The chain has a gap, or a migration failed on the documents it was given."""


def migrate(docs: Docs, version: int) -> Docs:
    """The documents of a version-``version`` project, upgraded to ``CURRENT_VERSION``; the
    argument is left as it was."""
    docs = copy.deepcopy(docs)
    while version < CURRENT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise MigrationError(f"no migration from project format version {version} to "
                                 f"{version + 1}")
        try:
            docs = step(docs)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise MigrationError(f"upgrading from project format version {version} failed "
                                 f"({type(exc).__name__}: {exc})") from None
        if not isinstance(docs, dict) or not isinstance(docs.get("project.json"), dict):
            raise MigrationError(f"the migration from version {version} lost project.json")
        version += 1
        docs["project.json"]["version"] = version
    return docs
