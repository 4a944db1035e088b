"""Two writers of one project file (issue 25, case 2): the lock beside the file refuses a second
process naming the first, and a save checks the file did not change since it was read: another
writer's runs are merged, a changed network is saved aside as a conflict copy."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cnnstudio.graph import presets
from cnnstudio.project import ProjectError, load_project, lock, ondisk, save_project
from cnnstudio.project.model import Project, Run

from .builders import tensors

WEIGHTS = tensors(1)


def tiny_project() -> Project:
    return Project(name="a", graph=presets.build("lenet5"))





def run(n: int, started: str = "2026-01-01T10:00:00+00:00") -> Run:
    return Run(id=n, started=started, graph_revision=1, graph_hash="abc", seed=n,
               training={}, dataset={}, status="finished")


def test_a_second_process_is_refused_naming_the_first(tmp_path, other_process) -> None:
    path = tmp_path / "a.cnnproj"
    proc = other_process(path)
    with pytest.raises(lock.LockedError) as info, lock.hold(path):
        pass
    message = str(info.value)
    assert message.startswith(f"{path} is being written by pid {proc.pid} "
                              "(cnnstudio train other.cnnproj) since ")
    assert message.endswith("; wait for it to finish") and "\n" not in message
    assert lock.holder(path).pid == proc.pid
    project = tiny_project()
    with pytest.raises(lock.LockedError):  # a save takes the lock too
        save_project(project, path)
    assert not path.exists()


def test_the_lock_is_free_again_when_its_holder_ends(tmp_path, other_process) -> None:
    path = tmp_path / "a.cnnproj"
    proc = other_process(path)
    proc.kill()  # killed: the system drops its lock; the stale lock file is taken over
    proc.wait()
    assert lock.lock_path(path).exists() and lock.holder(path) is None
    with lock.hold(path):
        assert lock.holder(path).pid == os.getpid()
        with lock.hold(path):  # again: a save inside the command that holds it
            pass
        assert lock.lock_path(path).exists()
    assert not lock.lock_path(path).exists()  # nothing left beside the project


def test_a_child_process_doing_the_work_uses_its_parent_s_lock(tmp_path) -> None:
    path = tmp_path / "a.cnnproj"
    with lock.hold(path):
        env = {**os.environ, **lock.child_env()}
        code = "import sys\nfrom cnnstudio.project import lock\nwith lock.hold(sys.argv[1]): pass"
        refused = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True)
        allowed = subprocess.run([sys.executable, "-c", code, str(path)], env=env)
    assert refused.returncode != 0 and b"LockedError" in refused.stderr
    assert allowed.returncode == 0


def test_runs_another_writer_added_are_merged_at_save(tmp_path) -> None:
    path = tmp_path / "a.cnnproj"
    save_project(tiny_project(), path)
    ours = load_project(path)
    theirs = load_project(path)
    theirs.runs.append(run(1, "2026-01-01T10:00:00+00:00"))
    theirs.weights["weights/run-1-last.safetensors"] = WEIGHTS
    theirs.runs[0].weights = "weights/run-1-last.safetensors"
    save_project(theirs, path)
    ours.runs.append(run(1, "2026-01-01T11:00:00+00:00"))  # ours: the same id, another run
    merged = save_project(ours, path)
    assert [r.id for r in merged] == [2]
    saved = load_project(path)
    assert [(r.id, r.started[11:16]) for r in saved.runs] == [(1, "11:00"), (2, "10:00")]
    assert saved.runs[1].weights == "weights/run-2-last.safetensors"
    assert saved.weights["weights/run-2-last.safetensors"] == WEIGHTS
    theirs.runs.append(run(2, "2026-01-01T12:00:00+00:00"))  # theirs saves again: ours merged
    assert [r.started[11:16] for r in save_project(theirs, path)] == ["11:00"]
    assert sorted(r.started[11:16] for r in load_project(path).runs) == ["10:00", "11:00",
                                                                          "12:00"]
    assert save_project(ours, path) and len(load_project(path).runs) == 3  # no duplicates


def test_a_network_changed_on_disk_is_not_overwritten(tmp_path) -> None:
    path = tmp_path / "a.cnnproj"
    save_project(tiny_project(), path)
    ours, theirs = load_project(path), load_project(path)
    theirs.graph.set_node_attrs("features.c1", frozen=True)
    save_project(theirs, path)
    before = path.read_bytes()
    ours.runs.append(run(1))
    with pytest.raises(ProjectError) as info:
        save_project(ours, path)
    aside = [p for p in tmp_path.iterdir() if ".conflict-" in p.name]
    assert len(aside) == 1 and aside[0].name.startswith("a.conflict-")
    assert str(info.value) == (f"{path} changed on disk since it was read (its network was "
                               f"changed there), so it was not overwritten: your version was "
                               f"saved as {aside[0].name} beside it")
    assert path.read_bytes() == before
    assert len(load_project(aside[0]).runs) == 1


def test_saving_elsewhere_or_aside_keeps_to_the_file_read(tmp_path) -> None:
    path, copy = tmp_path / "a.cnnproj", tmp_path / "recovery.cnnproj"
    save_project(tiny_project(), path)
    project = load_project(path)
    save_project(project, copy, aside=True)  # a recovery file: still the user's a.cnnproj
    assert project.disk.path == os.path.realpath(path)
    assert not ondisk.changed_since(project, path)
    save_project(load_project(path), path)  # rewritten by someone else
    assert ondisk.changed_since(project, path)


def test_a_run_another_writer_trained_further_is_not_cut_back(tmp_path) -> None:
    """The window read a run while a command still trained it (2 epochs, running); the
    command finished it (5 epochs, its weights); the window's Save keeps the finished run."""
    from cnnstudio.project.model import EpochRecord

    path = tmp_path / "a.cnnproj"
    project = tiny_project()
    project.runs.append(run(1))
    project.runs[0].status = "running"
    project.runs[0].epochs = [EpochRecord(e) for e in (1, 2)]
    save_project(project, path)
    ours = load_project(path)
    theirs = load_project(path)
    theirs.runs[0].status = "finished"
    theirs.runs[0].epochs = [EpochRecord(e) for e in range(1, 6)]
    theirs.weights["weights/run-1-last.safetensors"] = WEIGHTS
    theirs.runs[0].weights = "weights/run-1-last.safetensors"
    save_project(theirs, path)
    assert [i for i, _ in ondisk.runs_trained_on(ours, load_project(path))] == [0]
    ours.description = "edited in the window"
    taken = save_project(ours, path)
    assert [r.id for r in taken] == [1]
    on_disk = load_project(path)
    assert on_disk.description == "edited in the window"
    assert [(r.id, r.status, len(r.epochs)) for r in on_disk.runs] == [(1, "finished", 5)]
    assert on_disk.weights[on_disk.runs[0].weights] == WEIGHTS
