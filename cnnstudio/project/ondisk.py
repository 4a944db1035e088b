"""Whether a project file changed on disk since this project was read from it (or last saved
to it), and what to do then: the runs another writer added are merged into ours when the
network and settings are the same; anything else is a conflict, saved beside the file instead
of over it. The lock (lock.py) keeps well-behaved writers apart; this catches the rest: a
window that had the file open while a command trained it, an older CNN Studio, a copy tool.

Why merge rather than refuse: runs are self-contained records (their own settings, graph hash
and weights), so adding another writer's runs to ours loses nothing and invents nothing; a
changed network or changed settings are choices only the user can reconcile."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import Project, Run, graph_hash


@dataclass(frozen=True)
class DiskState:
    """What the file was when the project was read from it or written to it."""

    path: str
    """The file's real path."""
    file: tuple[int, int, int]
    """(modification time in ns, size, inode): a rewrite (always a new inode) changes it."""
    graph: str
    """The network's hash, then."""
    settings: str
    """The dataset and training settings, then (canonical JSON)."""
    runs: frozenset[tuple[Any, ...]]
    """The runs, then (``run_key``)."""


def file_key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def current_key(path: str | os.PathLike[str]) -> tuple[int, int, int] | None:
    """The file's key now (None: no such file)."""
    try:
        return file_key(os.stat(path))
    except OSError:
        return None


def state_of(project: Project, path: str | os.PathLike[str],
             st: os.stat_result | None = None) -> DiskState | None:
    """``project`` as the file at ``path`` holds it (``st``: the file's stat, by default now)."""
    try:
        st = st or os.stat(path)
    except OSError:
        return None
    return DiskState(os.path.realpath(path), file_key(st), graph_hash(project.graph),
                     settings_text(project), frozenset(run_key(r) for r in project.runs))


def settings_text(project: Project) -> str:
    return json.dumps([project.dataset.to_dict(), project.training.to_dict()], sort_keys=True)


def run_key(run: Run) -> tuple[Any, ...]:
    """What identifies a run across files, whatever id it was given (a merge renumbers)."""
    return (run.started, run.graph_hash, run.seed, json.dumps(run.training, sort_keys=True))


def changed_since(project: Project, path: str | os.PathLike[str]) -> bool:
    """Whether the file at ``path`` is no longer the one ``project`` was read from or saved
    to (False when the project never came from that file: saving there replaces it)."""
    state = project.disk
    if state is None or state.path != os.path.realpath(path):
        return False
    return current_key(path) != state.file


def new_runs(project: Project, disk: Project) -> list[Run]:
    """The runs of ``disk`` that ``project`` neither has nor had when it was read."""
    known = {run_key(r) for r in project.runs}
    if project.disk is not None:
        known |= project.disk.runs
    return [r for r in disk.runs if run_key(r) not in known]


def conflict(project: Project, disk: Project) -> str | None:
    """Why ``disk``'s runs cannot simply join ``project`` (None: they can): the other writer
    changed the network or the settings to something other than ours."""
    base = project.disk
    graphs = {graph_hash(project.graph)} | ({base.graph} if base else set())
    settings = {settings_text(project)} | ({base.settings} if base else set())
    if graph_hash(disk.graph) not in graphs:
        return "its network was changed there"
    if settings_text(disk) not in settings:
        return "its dataset or training settings were changed there"
    return None


def went_further(ours: Run, theirs: Run) -> bool:
    """Whether ``theirs``, the same run as ``ours`` in another writer's file, has trained on
    since ``ours`` was read (more epochs, or ended where ours still runs)."""
    return len(theirs.epochs) > len(ours.epochs) or (
        ours.status == "running" and theirs.status != "running")


def merge_runs(project: Project, disk: Project) -> list[Run]:
    """Add ``disk``'s new runs to ``project`` (a new id where theirs is taken, with their
    weights, and their checkpoint when ``project`` has none), and take ``disk``'s version of a
    run both have where it went further (a window that read a run while a command was still
    training it must not write back the run cut short); the runs added or updated."""
    added = _update_runs(project, disk)
    for theirs in new_runs(project, disk):
        taken = {r.id for r in project.runs}
        run = _copy_run(project, disk, theirs,
                        project.next_run_id() if theirs.id in taken else theirs.id)
        cp = disk.checkpoint
        if cp is not None and cp.run_id == theirs.id and project.checkpoint is None:
            project.checkpoint = type(cp)(run.id, dict(cp.state), cp.tensors)
        project.runs.append(run)
        added.append(run)
    return added


def runs_trained_on(project: Project, disk: Project) -> list[tuple[int, Run]]:
    """(index in ``project.runs``, ``disk``'s version) of each run both have that ``disk``
    took further (``went_further``)."""
    theirs_by_key = {run_key(r): r for r in disk.runs}
    found = []
    for i, ours in enumerate(project.runs):
        theirs = theirs_by_key.get(run_key(ours))
        if theirs is not None and went_further(ours, theirs):
            found.append((i, theirs))
    return found


def _update_runs(project: Project, disk: Project) -> list[Run]:
    updated = []
    for i, theirs in runs_trained_on(project, disk):
        ours = project.runs[i]
        run = _copy_run(project, disk, theirs, ours.id)
        cp = disk.checkpoint
        if cp is not None and cp.run_id == theirs.id:
            project.checkpoint = type(cp)(run.id, dict(cp.state), cp.tensors)
        elif project.checkpoint is not None and project.checkpoint.run_id == ours.id:
            project.checkpoint = None  # the run went on past it: resuming it would go back
        project.runs[i] = run
        updated.append(run)
    return updated


def _copy_run(project: Project, disk: Project, theirs: Run, run_id: int) -> Run:
    """``disk``'s run ``theirs`` as run ``run_id`` of ``project``, its weights copied in."""
    run = Run.from_dict(theirs.to_dict(), "run")
    run.id = run_id
    for attr in ("weights", "best_weights"):
        member = getattr(theirs, attr)
        if member is not None and member in disk.weights:
            name = _free_name(project, member, theirs.id, run.id, disk.weights[member])
            project.weights[name] = disk.weights[member]
            setattr(run, attr, name)
    return run


def _free_name(project: Project, member: str, old_id: int, new_id: int, data: bytes) -> str:
    prefix = f"weights/run-{old_id}-"
    name = f"weights/run-{new_id}-{member[len(prefix):]}" if member.startswith(prefix) \
        else member
    stem, n = name.removesuffix(".safetensors"), 1
    while name in project.weights and project.weights[name] != data:
        n += 1
        name = f"{stem}-{n}.safetensors"
    return name


def conflict_path(path: str | os.PathLike[str]) -> Path:
    """``NAME.conflict-20260102-100200.cnnproj`` beside ``path``, not yet taken."""
    target = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    stem = target.name.removesuffix(".cnnproj")
    candidate, n = target.with_name(f"{stem}.conflict-{stamp}.cnnproj"), 1
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{stem}.conflict-{stamp}-{n}.cnnproj")
    return candidate
