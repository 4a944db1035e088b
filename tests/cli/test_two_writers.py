"""Two commands writing one project (issue 25, case 2): the second is refused at once, before
any training, with the first named; the first completes and its run is in the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnstudio.engine.training.session import Session
from cnnstudio.engine.training.trainer import Failed
from cnnstudio.project import load_project, lock


def cnnstudio(*args: str) -> list[str]:
    return [sys.executable, "-m", "cnnstudio", *args]


def wait_for_holder(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while (found := lock.holder(path)) is None or found.pid != proc.pid:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)


@pytest.mark.parametrize("in_place", [True, False], ids=["in-place", "same-out"])
def test_a_second_train_is_refused_and_the_first_keeps_its_run(lenet, tmp_path,
                                                                in_place) -> None:
    target = lenet if in_place else tmp_path / "out.cnnproj"
    out = [] if in_place else ["--out", str(target)]
    train = cnnstudio("train", str(lenet), "--epochs", "2", "--device", "cpu", "--quiet", *out)
    first = subprocess.Popen(train, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_holder(target, first)
        first.send_signal(signal.SIGSTOP)  # it holds the lock for as long as the second runs
        second = subprocess.run(train, capture_output=True, text=True, timeout=120)
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert second.returncode == 2 and second.stdout == ""
    line = second.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"cnnstudio: error: {target} is being written by pid {first.pid} "
                           f"(cnnstudio train {lenet} --epochs 2 ")
    assert line.endswith("; wait for it to finish or pass --out another file")
    project = load_project(target)
    assert [(r.id, r.status, len(r.epochs)) for r in project.runs] == [(1, "finished", 2)]
    assert not lock.lock_path(target).exists()


def test_a_refused_session_leaves_the_project_untouched(lenet, other_process) -> None:
    other = other_process(lenet, "cnnstudio sweep lenet.cnnproj")
    project = load_project(lenet)
    events = list(Session(project, lenet).events())
    assert len(events) == 1 and isinstance(events[0], Failed) and events[0].kind == "locked"
    assert f"being written by pid {other.pid} (cnnstudio sweep lenet.cnnproj)" in \
        events[0].message
    assert project.runs == [] and load_project(lenet).runs == []


def test_sweep_holds_the_lock_of_the_project_it_writes(lenet, tmp_path, other_process) -> None:
    other = other_process(lenet, "cnnstudio train lenet.cnnproj")
    done = subprocess.run(cnnstudio("sweep", str(lenet), "--trials", "1", "--epochs", "1"),
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 2, done.stderr
    assert f"is being written by pid {other.pid} (cnnstudio train" in done.stderr
    assert not list(tmp_path.glob("*.db")) and load_project(lenet).runs == []
