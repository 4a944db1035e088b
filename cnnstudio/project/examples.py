"""The example projects shipped beside the package: templates that open as untitled copies and
are never written, by the window or the command line. One rule, here, for what counts as one."""

from __future__ import annotations

import os
from pathlib import Path

from .archive import ProjectError, load_project
from .model import Project

OFFLINE_SOURCES = ("digits", "folder", "csv")
"""Datasets an example trains on without a download: listed first."""


def examples_folder() -> Path | None:
    """The example projects beside the package (a source checkout or the bundle's
    ``_internal/projects``), or None when they are not installed."""
    folder = Path(__file__).resolve().parents[2] / "projects"
    return folder if folder.is_dir() else None


def examples() -> list[tuple[Path, str, str]]:
    """(path, name, description) of each example project, the offline ones first."""
    folder = examples_folder()
    if folder is None:
        return []
    found = []
    for path in sorted(folder.glob("*.cnnproj")):
        try:
            project = load_project(path)
        except ProjectError:
            continue
        offline = project.dataset.source in OFFLINE_SOURCES
        found.append((not offline, path, project.name, project.description))
    return [(p, n, d) for _, p, n, d in sorted(found, key=lambda t: (t[0], t[1].name))]


def is_example(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is (or links to) a file in the installed examples folder. The file need
    not exist (a save target); symlinks are followed and the folders compared as the file
    system sees them, so another spelling of the same folder counts too."""
    folder = examples_folder()
    if folder is None:
        return False
    try:
        return Path(path).expanduser().resolve().parent.samefile(folder)
    except OSError:  # the folder it would be in does not exist: not the examples'
        return False


def untitled_copy(project: Project, origin: str | os.PathLike[str]) -> Project:
    """``project`` read from ``origin``, made ready to live as an untitled copy: a dataset
    path relative to ``origin``'s folder becomes absolute, since the copy has no folder."""
    dataset = project.dataset
    if dataset.path and not Path(dataset.path).expanduser().is_absolute():
        dataset.path = str(Path(origin).resolve().parent / dataset.path)
    return project
