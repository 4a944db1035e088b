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

from ..graph import graph_from_dict
from ..graph.edits import members_of
from .model import graph_hash

CURRENT_VERSION = 2
"""The project format version this CNN Studio writes (and the newest it reads)."""

Docs = dict[str, Any]


def _pop_freeze(training: Any) -> list[Any]:
    """Remove ``transfer.freeze`` from a training-settings dict; returns its ids."""
    transfer = training.get("transfer") if isinstance(training, dict) else None
    ids = transfer.pop("freeze", None) if isinstance(transfer, dict) else None
    return ids if isinstance(ids, list) else []


def _freeze_into_graph(docs: Docs) -> Docs:
    """Version 1 → 2: one notion of frozen. The training settings' ``transfer.freeze`` ids
    (frozen when a run starts, invisible on the canvas) become the graph's own ``frozen``
    flags on the nodes they name, which the canvas shows and the analysis counts; the
    setting is dropped (from the runs' and the checkpoint's copies too). Runs (and the
    project) recorded under the old graph get the new graph's fingerprint, so an
    interrupted run can still be resumed: what trains is the same."""
    ids = _pop_freeze(docs["project.json"].get("training"))
    runs = docs.get("runs.json", {}).get("runs", [])
    runs = runs if isinstance(runs, list) else []
    for record in runs:
        _pop_freeze(record.get("training") if isinstance(record, dict) else None)
    state = docs.get("checkpoint/state.json")
    if isinstance(state, dict):
        _pop_freeze(state.get("config"))
    if not ids or "graph.json" not in docs:
        return docs
    graph = graph_from_dict(docs["graph.json"])
    old = graph_hash(graph)
    named = set().union(*(members_of(graph, str(i)) for i in ids))
    for item in docs["graph.json"]["nodes"]:
        if item["id"] in named:
            item["frozen"] = True
            graph.set_node_attrs(item["id"], frozen=True)
    new = graph_hash(graph)
    for record in [docs["project.json"], *runs]:
        if isinstance(record, dict) and record.get("graph_hash") == old:
            record["graph_hash"] = new
    return docs


MIGRATIONS: dict[int, Callable[[Docs], Docs]] = {1: _freeze_into_graph}


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
