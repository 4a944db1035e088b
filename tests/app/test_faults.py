"""Faults while working never lose the user's work: a save to a read-only place or a full disk
keeps the old file and the open, unsaved document; a process killed mid-save leaves the old
file or the new one, never half of one; a training process killed mid-run is offered for
resume at the next open and goes on from its last checkpoint; a dataset that vanishes, an
out-of-memory step end the run with a message and keep the last good weights."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from cnnstudio import fileio
from cnnstudio.app import autosave
from cnnstudio.app.training import threads
from cnnstudio.app.training.controller import IDLE
from cnnstudio.app.window import MainWindow
from cnnstudio.graph import graph_to_dict
from cnnstudio.project import Checkpoint, Project, Run, archive, load_project, lock, save_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "projects" / "lenet5-digits.cnnproj"

ERRORS = {
    "read-only": (lambda: PermissionError(errno.EACCES, "Permission denied"),
                  "permission denied"),
    "full disk": (lambda: OSError(errno.ENOSPC, "No space left on device"), "disk is full"),
}


def temporaries(folder: Path) -> list[str]:
    """Files in ``folder`` other than projects: what a save may have left beside them."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".cnnproj"))


# -- saving to a read-only place or a full disk ----------------------------------------------
def fail_at(monkeypatch: pytest.MonkeyPatch, where: str, error: Callable[[], OSError]) -> None:
    """Make the next save fail where a read-only folder or a full disk makes it fail: creating
    the temporary file, writing it (after some bytes are on the disk), renaming it over the
    old file."""
    if where == "create":
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise error()

        monkeypatch.setattr(fileio.tempfile, "mkstemp", refuse)
    elif where == "write":
        real = archive._write_zip

        class Filling:
            """The temporary file, whose disk fills up after 256 bytes."""

            def __init__(self, fh: Any) -> None:
                self.fh, self.written = fh, 0

            def write(self, data: Any) -> int:
                if self.written + len(data) > 256:
                    raise error()
                self.written += len(data)
                return self.fh.write(data)

            def __getattr__(self, name: str) -> Any:
                return getattr(self.fh, name)

        monkeypatch.setattr(archive, "_write_zip", lambda fh, members: real(Filling(fh), members))
    else:
        def refuse_rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            raise error()

        monkeypatch.setattr(fileio.os, "replace", refuse_rename)


@pytest.mark.parametrize("where", ["create", "write", "rename"])
@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_a_failed_save_keeps_the_old_file_and_the_unsaved_work(
        window: MainWindow, tmp_path: Path, answers: Any, monkeypatch: pytest.MonkeyPatch,
        where: str, kind: str) -> None:
    """Save over an existing project fails: the file on disk is byte for byte the old one, no
    temporary file is left beside it, the document stays open and unsaved, and the message
    names the reason. Saved again once the fault is gone, nothing of the work is lost."""
    shown, _ = answers
    error, reason = ERRORS[kind]
    folder = tmp_path / "work"
    folder.mkdir()
    window.new_from_preset("lenet5")
    path = folder / "mine.cnnproj"
    assert window._save_to(path)
    old = path.read_bytes()
    project = window.document.project
    before = (project.graph_revision, project.modified, project.name)
    window.document.set_params("features.c1", {"out_channels": 8})
    assert window.isWindowModified()

    fail_at(monkeypatch, where, error)
    assert not window.save()
    assert path.read_bytes() == old
    assert temporaries(folder) == []
    assert window.isWindowModified() and window.document.dirty
    assert not window.document.undo_stack.isClean()
    assert window.document.path == path and window.stack.currentWidget() is window.view
    assert (project.graph_revision, project.modified, project.name) == before
    title, text = shown[-1]
    assert title == "The project was not saved"
    assert reason in text and str(path) in text and "still open and unsaved" in text

    monkeypatch.undo()
    assert window.save()
    assert not window.isWindowModified() and temporaries(folder) == []
    assert load_project(path).graph.node("features.c1").params["out_channels"] == 8


@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_save_as_into_a_read_only_or_full_place_creates_nothing(
        window: MainWindow, tmp_path: Path, answers: Any, monkeypatch: pytest.MonkeyPatch,
        kind: str) -> None:
    """Save As of a new document where the temporary file cannot even be made: no file, the
    document keeps no path and its name, and stays unsaved."""
    shown, _ = answers
    error, reason = ERRORS[kind]
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    window.new_from_preset("lenet5")
    window.document.set_params("features.c1", {"out_channels": 8})
    name = window.document.project.name
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(folder / "new.cnnproj"), ""))
    fail_at(monkeypatch, "create", error)
    assert not window.save()
    assert list(folder.iterdir()) == []
    assert window.document.path is None and window.document.project.name == name
    assert window.isWindowModified()
    assert shown[-1][0] == "The project was not saved" and reason in shown[-1][1]


def test_a_failing_autosave_neither_crashes_nor_spoils_the_last_recovery_file(
        window: MainWindow, answers: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The autosave timer fires on a full disk: it says so in the status bar; the recovery
    files of the autosave before stay byte-identical and are still offered after a crash.
    That holds for a failure at the project file and at the small file naming it."""
    window.new_from_preset("lenet5")
    window.document.set_params("features.c1", {"out_channels": 12})
    window.autosave_now()
    (recovery,) = autosave.pending()
    folder = recovery.project_file.parent
    kept = {p.name: p.read_bytes() for p in folder.iterdir()}
    window.document.set_params("features.c1", {"out_channels": 16})

    full = OSError(errno.ENOSPC, "No space left on device")
    real_write = fileio.atomic_write

    def full_at_meta(path: Any, data: bytes) -> None:
        def fill(*args: Any) -> None:
            raise full

        with monkeypatch.context() as m:  # the JSON file runs out of room halfway
            m.setattr(fileio.os, "fsync", fill)
            real_write(path, data)

    with monkeypatch.context() as m:  # the disk fills up while the project file is written
        fail_at(m, "write", lambda: full)
        window.autosave_now()  # no exception reaches the timer
    assert "Autosave failed" in window.statusBar().currentMessage()
    assert "disk is full" in window.statusBar().currentMessage()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == kept
    (still,) = autosave.pending()
    assert still.load().graph.node("features.c1").params["out_channels"] == 12

    with monkeypatch.context() as m:  # the project file is written, the one naming it not
        m.setattr(autosave, "atomic_write", full_at_meta)
        window.autosave_now()
    assert "Autosave failed" in window.statusBar().currentMessage()
    assert recovery.meta_file.read_bytes() == kept[recovery.meta_file.name]
    assert sorted(p.name for p in folder.iterdir()) == sorted(kept)
    (still,) = autosave.pending()  # still offered, now with the newer work
    assert still.load().graph.node("features.c1").params["out_channels"] == 16
    assert window.isWindowModified()


# -- a process killed while it saves ---------------------------------------------------------
SAVER = r"""
import json, os, struct, sys
from cnnstudio.graph import presets
from cnnstudio.project import Project, save_project

n = 24 << 20  # a 24 MiB weights member: one save takes a good part of a second
head = json.dumps({"w": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}}).encode()
head += b" " * (-len(head) % 8)
project = Project(name="big", graph=presets.build("lenet5"))
project.weights["weights/big.safetensors"] = struct.pack("<Q", len(head)) + head + os.urandom(n)
print("ready", flush=True)
i = 0
while True:
    i += 1
    project.description = f"save {i}"
    save_project(project, sys.argv[1])
"""


def test_a_save_killed_midway_leaves_the_old_file_or_the_new_one(tmp_path: Path) -> None:
    """A process saving a large project over and over is killed (SIGKILL: no clean-up runs) at
    different moments. Each time the project file is absent (killed in its first save) or a
    complete project that opens; what a kill leaves beside it is a hidden temporary file, never
    a file that looks like a project, and the next save in that folder removes it once it is
    stale (no live process holds it)."""
    if not hasattr(signal, "SIGKILL"):
        pytest.skip("needs SIGKILL")
    folder = tmp_path / "projects"
    folder.mkdir()
    path = folder / "big.cnnproj"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    seen: set[str] = set()
    cut_midway = 0
    for delay in (0.05, 0.15, 0.25, 0.35, 0.45, 0.5):
        child = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], env=env,
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            time.sleep(delay)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            child.stdout.close()
        if path.exists():
            project = load_project(path)  # complete: every member checks out
            assert project.description.startswith("save ")
            assert len(project.weights["weights/big.safetensors"]) > 24 << 20
        left = set(temporaries(folder))
        # The killed writer's lock file may stay (the system released its lock): the next
        # writer takes it over and removes it when done.
        left.discard(lock.lock_path(path).name)
        assert all(fileio.is_temporary(name, path.name) for name in left), left
        cut_midway += bool(left - seen)
        seen = left
    assert path.exists()
    assert cut_midway >= 1, "no kill landed inside a save: the test proved nothing"
    # Later (the files' age says so), a save in that folder clears what the kills left.
    past = time.time() - 2 * fileio.STALE_SECONDS
    for name in seen:
        os.utime(folder / name, (past, past))
    save_project(load_project(path), path)
    assert temporaries(folder) == []


def test_a_live_save_keeps_its_temporary_file_however_old(tmp_path: Path) -> None:
    """Stale means left by a dead process: a save still writing (it holds the lock) keeps its
    temporary file even when the file's age says stale, and both saves complete."""
    path = tmp_path / "a.cnnproj"
    with fileio.atomic_writer(path) as fh:
        fh.write(b"first")
        (mine,) = temporaries(tmp_path)
        past = time.time() - 2 * fileio.STALE_SECONDS
        os.utime(tmp_path / mine, (past, past))
        assert fileio.remove_stale_temporaries(path) == []
        fileio.atomic_write(path, b"second")
        assert (tmp_path / mine).exists()
        fh.write(b" and more")
    assert path.read_bytes() == b"first and more"
    assert temporaries(tmp_path) == []
    lookalike = tmp_path / ".a.cnnproj.backup.tmp"  # not a name atomic_writer makes
    lookalike.write_bytes(b"the user's")
    os.utime(lookalike, (past, past))
    fileio.atomic_write(path, b"third")
    assert lookalike.exists()


# -- a process killed while it trains --------------------------------------------------------
def small_digits(path: Path, epochs: int, **training: Any) -> Project:
    """The LeNet-5 example on a few of the digits (quick epochs), saved to ``path``."""
    project = load_project(EXAMPLE)
    project.dataset.limit = 96
    project.dataset.val_fraction = 0.05
    project.training.epochs = epochs
    project.training.batch_size = 32
    for key, value in training.items():
        setattr(project.training, key, value)
    save_project(project, path)
    return project


def wait_for(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.03)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_run_killed_midway_is_offered_for_resume_and_finishes_from_its_checkpoint(
        window: MainWindow, tmp_path: Path, answers: Any, qtbot: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`cnnstudio train` is killed after its first checkpoint. The file holds that checkpoint
    and the epochs up to it (all that is lost is the epoch in progress); opening it in the
    window asks to resume the run, and Yes finishes it with the epochs from before the kill."""
    if not hasattr(signal, "SIGKILL"):
        pytest.skip("needs SIGKILL")
    shown, reply = answers
    path = tmp_path / "lenet.cnnproj"
    epochs = 5  # the kill lands epochs before the end, however busy the machine
    project = load_project(EXAMPLE)  # LeNet-5 on a small image folder: no scikit-learn to load
    project.dataset.source = "folder"
    project.dataset.path = str(image_folder(tmp_path / "images", per_class=48))
    project.training.epochs, project.training.batch_size = epochs, 16
    project.training.checkpoint_every = 1
    save_project(project, path)
    # One thread: steady epochs on a busy machine, and no fight with this process's threads.
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    child = subprocess.Popen([sys.executable, "-m", "cnnstudio", "train", str(path), "--quiet"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def checkpointed() -> Project | None:
        assert child.poll() is None, child.stderr.read().decode()
        project = load_project(path)
        done = project.checkpoint is not None and project.checkpoint.state["epoch"] >= 1
        return project if done else None

    try:
        wait_for(checkpointed, 90, "the first checkpoint")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stderr.close()

    # (a) The file is whole and holds the run up to its last checkpoint.
    before = load_project(path)
    (run,) = before.runs
    k = before.checkpoint.state["epoch"]
    assert 1 <= k < epochs and before.checkpoint.run_id == run.id
    assert run.status == "running"  # what a kill leaves; a stop says "stopped"
    assert [e.epoch for e in run.epochs] == list(range(1, k + 1))
    assert before.current_weights == run.weights and run.weights in before.weights

    # (b) Opening it offers to resume; (c) Yes resumes and the run finishes. On one thread
    # like the child (a busy machine makes several slower; the conftest restores them after).
    threads.cores()
    monkeypatch.setattr(threads, "_cores", 1)
    reply["question"] = QMessageBox.StandardButton.Yes
    assert window.open_file(path)
    title, text = shown[-1]
    assert title == "Resume the interrupted run?"
    assert text == (f"Run {run.id} stopped at epoch {k} of {epochs} before it finished (the "
                    "application closed or crashed). Resume it?")
    c = window.training.controller
    assert c.running
    qtbot.waitUntil(lambda: c.state == IDLE, timeout=120_000)
    assert [t for t, _ in shown].count("Training stopped") == 0
    after = load_project(path)
    (resumed,) = after.runs
    assert resumed.id == run.id and resumed.status == "finished"
    assert [e.epoch for e in resumed.epochs] == list(range(1, epochs + 1))
    assert [e.to_dict() for e in resumed.epochs[:k]] == [e.to_dict() for e in run.epochs]
    assert after.checkpoint is None and not window.document.dirty


def fake_checkpoint(project: Project, status: str) -> None:
    """A run that saved a checkpoint after epoch 1 and then ended as ``status``."""
    from cnnstudio.engine import checkpoint as ckpt
    from cnnstudio.project.model import graph_hash, now

    run = Run(id=1, started=now(), graph_revision=1, graph_hash=graph_hash(project.graph),
              seed=0, training=project.training.to_dict(), dataset={}, status=status)
    project.runs.append(run)
    import torch

    project.checkpoint = Checkpoint(1, {"epoch": 1, "step": 0,
                                        "config": project.training.to_dict()},
                                    ckpt.to_bytes({"x": torch.zeros(1)}))


@pytest.mark.parametrize("status", ["stopped", "failed", "running"])
def test_only_a_run_cut_short_is_offered_and_declining_keeps_it(
        window: MainWindow, tmp_path: Path, answers: Any, status: str) -> None:
    """A run the user stopped (or one that failed) is not asked about when its project opens;
    one still marked running (the process died) is. Declined, nothing starts, the run is
    marked interrupted and its checkpoint stays for Train → Resume."""
    shown, reply = answers
    reply["question"] = QMessageBox.StandardButton.No
    path = tmp_path / "p.cnnproj"
    project = load_project(EXAMPLE)
    fake_checkpoint(project, status)
    save_project(project, path)
    assert window.open_file(path)
    asked = [t for t, _ in shown if t == "Resume the interrupted run?"]
    assert asked == ([] if status != "running" else ["Resume the interrupted run?"])
    assert not window.training.controller.running
    run = window.document.project.runs[0]
    assert run.status == ("interrupted" if status == "running" else status)
    assert window.document.project.checkpoint is not None
    assert window.training.act["resume"].isEnabled()
    assert not window.document.dirty


# -- the dataset vanishing mid-run -----------------------------------------------------------
def image_folder(root: Path, per_class: int = 20) -> Path:
    """Two classes of small grey PNGs (dark and light noise): learnable, quick to read."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, level in (("dark", 60), ("light", 190)):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(level - 40, level + 40, (12, 12), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def folder_project(window: MainWindow, tmp_path: Path, epochs: int = 3) -> tuple[Path, Path]:
    images = image_folder(tmp_path / "images")
    project = load_project(EXAMPLE)
    project.dataset.source, project.dataset.path = "folder", str(images)
    project.dataset.val_fraction = 0.2
    project.training.epochs, project.training.batch_size = epochs, 8
    path = tmp_path / "folder.cnnproj"
    save_project(project, path)
    assert window.open_file(path)
    return path, images


def after_first_checkpoint(window: MainWindow, monkeypatch: pytest.MonkeyPatch,
                           act: Callable[[], None]) -> dict[str, Any]:
    """Run ``act`` on the training thread right after the run saved its first checkpoint,
    before the next epoch reads a batch; returns what that save wrote."""
    c = window.training.controller
    real = c._save
    first: dict[str, Any] = {}

    def save(project: Project, path: Path) -> None:
        real(project, path)
        if not first:
            first["weights"] = project.weights[project.current_weights]
            first["epoch"] = project.checkpoint.state["epoch"]
            act()

    monkeypatch.setattr(c, "_save", save)
    return first


def test_a_dataset_read_at_the_start_may_vanish_mid_run(
        window: MainWindow, tmp_path: Path, answers: Any, qtbot: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder dataset that fits the memory budget (any ordinary one) is read whole when the
    run starts and kept in memory, so deleting the folder mid-run changes nothing: the run
    finishes. (Only one too large for memory is read batch by batch: next test.)"""
    shown, _ = answers
    path, images = folder_project(window, tmp_path)
    first = after_first_checkpoint(window, monkeypatch, lambda: shutil.rmtree(images))
    assert window.training.train()
    qtbot.waitUntil(lambda: window.training.controller.state == IDLE, timeout=60_000)
    assert first["epoch"] == 1 and not images.exists()
    assert shown == []
    run = load_project(path).runs[-1]
    assert run.status == "finished" and [e.epoch for e in run.epochs] == [1, 2, 3]
    assert run.dataset["summary"]["storage"] == "device"


def test_a_dataset_read_batch_by_batch_that_vanishes_ends_the_run_with_a_message(
        window: MainWindow, tmp_path: Path, answers: Any, qtbot: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A dataset too large for memory is decoded from its files batch by batch; deleted after
    the first checkpoint, the run ends with a message that names the missing file and says
    what to do, the window is idle with the project open, and the weights of that checkpoint
    are the project's."""
    from cnnstudio.engine.data.load import load_data
    from cnnstudio.graph import analyze

    shown, _ = answers
    path, images = folder_project(window, tmp_path)
    project = window.document.project
    c = window.training.controller
    c.data = load_data(project.dataset, analyze(project.graph).input_shape, memory_budget=1)
    assert c.data.storage == "files"
    first = after_first_checkpoint(window, monkeypatch, lambda: shutil.rmtree(images))
    assert window.training.train()
    qtbot.waitUntil(lambda: c.state == IDLE, timeout=60_000)
    assert c.last_failure.kind == "data"
    title, text = shown[-1]
    assert title == "Training stopped"
    assert str(images) in text and "can no longer be read" in text
    assert "Traceback" not in text and "Check the dataset" in text
    assert window.document.path == path and window.stack.currentWidget() is window.view
    saved = load_project(path)
    run = saved.runs[-1]
    assert run.status == "failed" and [e.epoch for e in run.epochs] == [1]
    assert saved.weights[saved.current_weights] == first["weights"]
    assert saved.checkpoint is not None and saved.checkpoint.state["epoch"] == 1
    # The Feature maps view probes with validation images read from those files: it says
    # they are gone instead of raising in a Qt slot.
    view = window.training.panel("Feature maps")
    window.training.show_panel("Feature maps")
    qtbot.waitUntil(lambda: view.data is not None, timeout=10_000)
    view.index.setValue(1)
    assert "can no longer be read" in view.status.text() and view.status.isVisible()


# -- out of memory -------------------------------------------------------------------------
OOM = {
    "cuda": lambda: __import__("torch").OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)"),
    "cpu": lambda: RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. "
                                "DefaultCPUAllocator: not enough memory: you tried to "
                                "allocate 1073741824 bytes."),
}


@pytest.mark.parametrize("device", sorted(OOM))
def test_out_of_memory_mid_run_is_shown_with_advice_and_keeps_the_weights(
        window: MainWindow, tmp_path: Path, answers: Any, qtbot: Any,
        monkeypatch: pytest.MonkeyPatch, device: str) -> None:
    """A step runs out of memory in epoch 2: the window says so and advises a smaller batch,
    the controller is idle again, the project is open and unchanged but for the failed run,
    and the weights of the epoch-1 checkpoint are kept (in memory and in the file)."""
    from cnnstudio.engine import build

    shown, _ = answers
    path = tmp_path / "digits.cnnproj"
    small_digits(path, epochs=3)
    assert window.open_file(path)
    doc = window.document
    before = {"graph": graph_to_dict(doc.graph), "training": doc.project.training.to_dict(),
              "dataset": doc.project.dataset.to_dict()}
    full = {"now": False}
    real = build.GraphModule.forward

    def forward(self: Any, x: Any) -> Any:
        if full["now"] and self.training:
            raise OOM[device]()
        return real(self, x)

    monkeypatch.setattr(build.GraphModule, "forward", forward)
    first = after_first_checkpoint(window, monkeypatch, lambda: full.update(now=True))
    c = window.training.controller
    assert window.training.train()
    qtbot.waitUntil(lambda: c.state == IDLE, timeout=60_000)
    title, text = shown[-1]
    assert title == "Training stopped"
    assert "Out of memory with batch size 32: try 16" in text
    assert "smaller batch size" in text and "its last good weights are kept" in text
    assert not doc.locked and window.training.act["train"].isEnabled()
    assert doc.path == path and window.stack.currentWidget() is window.view
    assert graph_to_dict(doc.graph) == before["graph"]
    assert doc.project.training.to_dict() == before["training"]
    assert doc.project.dataset.to_dict() == before["dataset"]
    (run,) = doc.project.runs
    assert run.status == "failed" and "out of memory" in run.message
    assert [e.epoch for e in run.epochs] == [1]
    assert doc.project.weights[doc.project.current_weights] == first["weights"]
    saved = load_project(path)
    assert saved.runs[0].status == "failed"
    assert saved.weights[saved.current_weights] == first["weights"]
    assert not doc.dirty
