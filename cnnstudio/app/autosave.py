"""Recovery files: the open document is written aside every few minutes while it has unsaved
changes; after a crash the next start offers them back. Saving or closing cleanly removes
the document's recovery file."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..fileio import atomic_write
from ..project import Project, ProjectError, load_project, save_project
from . import preferences

INTERVAL_MS = 2 * 60 * 1000


@dataclass
class Recovery:
    project_file: Path
    meta_file: Path
    original: str | None
    name: str
    saved_at: float

    def load(self) -> Project:
        return load_project(self.project_file)

    def discard(self) -> None:
        for f in (self.project_file, self.meta_file):
            try:
                f.unlink()
            except OSError:
                pass


def folder() -> Path:
    path = preferences.data_folder() / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path


class Autosaver:
    """Writes one document's recovery file; ``key`` stays the same for the document's life."""

    def __init__(self) -> None:
        self.key = uuid.uuid4().hex[:12]

    @property
    def project_file(self) -> Path:
        return folder() / f"{self.key}.cnnproj"

    @property
    def meta_file(self) -> Path:
        return folder() / f"{self.key}.json"

    def write(self, project: Project, original: Path | None) -> None:
        """Both files are written atomically: an autosave that fails (a full disk) leaves the
        previous recovery files as they were, still offered after a crash."""
        save_project(project, self.project_file, aside=True)  # still the user's file's
        meta = {"original": str(original) if original else None, "name": project.name,
                "saved_at": time.time()}
        atomic_write(self.meta_file, json.dumps(meta).encode("utf-8"))

    def clear(self) -> None:
        Recovery(self.project_file, self.meta_file, None, "", 0).discard()


def pending() -> list[Recovery]:
    """Recovery files left by documents that were not saved or closed cleanly."""
    found = []
    for meta in sorted(folder().glob("*.json")):
        project_file = meta.with_suffix(".cnnproj")
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
            found.append(Recovery(project_file, meta, info.get("original"),
                                  str(info.get("name", "Untitled")),
                                  float(info.get("saved_at", 0))))
        except (OSError, ValueError, TypeError, AttributeError):
            continue
    return [r for r in found if r.project_file.exists()]


__all__ = ["INTERVAL_MS", "Autosaver", "ProjectError", "Recovery", "pending"]
