"""Where the commands write (issue 25, cases 1, 5 and 8): every ``--out`` goes through one
check before any work, which refuses what is no regular file (a device, a FIFO, a socket, a
folder), a missing or unwritable folder and a name too long once the save's temporary suffix
is added, each as one line with exit 2 and the thing at the path untouched; a symlink is
followed; a save that fails mid-run ends the run with a ``failed`` event, exit 1 and the old
file intact; a project path that is a folder or a FIFO is named as such."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cnnstudio import fileio
from cnnstudio.cli.main import main
from cnnstudio.engine.training.session import Session
from cnnstudio.engine.training.trainer import CheckpointSaved, Failed
from cnnstudio.project import ProjectError, load_project, save_project

EXAMPLES = Path(__file__).resolve().parents[2] / "projects"
POSIX = pytest.mark.skipif(os.name != "posix", reason="FIFOs, sockets and devices are POSIX")


@pytest.fixture
def small(tmp_path) -> Path:
    """The LeNet example on 200 images: an epoch in a second or two."""
    path = tmp_path / "small.cnnproj"
    shutil.copy(EXAMPLES / "lenet5-digits.cnnproj", path)
    project = load_project(path)
    project.dataset.limit = 200
    save_project(project, path)
    return path


def make(kind: str, folder: Path, suffix: str) -> str:
    """A path of ``kind`` ending in ``suffix`` that no command may write through, in
    ``folder``."""
    path = folder / f"{kind}{suffix}"
    if kind == "device":  # through a link where the command wants a suffix
        device = "/dev/full" if os.path.exists("/dev/full") else os.devnull
        if not suffix:
            return device
        path.symlink_to(device)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    elif kind == "folder":
        path.mkdir()
    elif kind == "missing-folder":
        path = folder / "missing" / f"out{suffix}"
    elif kind == "file-as-folder":
        (folder / "plain").write_text("x")
        path = folder / "plain" / f"out{suffix}"
    elif kind == "long-name":  # 250 characters fit a name, not with ".NAME.XXXXXXXX.tmp"
        path = folder / ("n" * (250 - len(suffix)) + suffix)
    elif kind == "unwritable":
        path = unwritable_folder(folder) / f"out{suffix}"
    return str(path)


def unwritable_folder(folder: Path) -> Path:
    """A folder that takes no new file: read-only by its mode, or for root (whom modes do not
    stop) sysfs, which refuses every new file."""
    if os.geteuid() == 0:
        if not os.path.isdir("/sys/kernel"):
            pytest.skip("running as root without /sys: no folder refuses root")
        return Path("/sys/kernel")
    locked = folder / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return locked


EXPECTED = {
    "device": "it is a character device, not a file to replace; choose a file name",
    "fifo": "it is a FIFO, not a file to replace; choose a file name",
    "socket": "it is a socket, not a file to replace; choose a file name",
    "folder": "it is a folder; choose a file name",
    "missing-folder": "does not exist; choose another folder",
    "file-as-folder": "part of the path is not a folder; choose another folder",
    "long-name": "the name is too long for this disk once the temporary suffix of the save is "
                 "added; choose a shorter one",
    "unwritable": "permission denied; choose another folder",
}

COMMANDS = {  # each command that writes: its arguments, given the project and the path
    "train": lambda p, out: ["train", p, "--epochs", "1", "--quiet", "--out", out],
    "export-pt2": lambda p, out: ["export", p, "--format", "pt2", "--out", out],
    "export-python": lambda p, out: ["export", p, "--format", "python", "--out", out],
    "new": lambda p, out: ["new", "lenet5", "--out", out, "--force"],
    "import": lambda p, out: ["import", "model.onnx", "--out", out, "--force"],
    "prune": lambda p, out: ["prune", p, "--macs", "0.5", "--out", out, "--force"],
    "quantize": lambda p, out: ["quantize", p, "--out", out],
    "sweep": lambda p, out: ["sweep", p, "--trials", "1", "--out", out],
    "runs-csv": lambda p, out: ["runs", p, "--csv", out],
    "preview": lambda p, out: ["preview", p, "--out", out],
}
SUFFIXES = {"export-pt2": ".pt2", "export-python": ".py", "quantize": ".onnx",
            "runs-csv": ".csv", "preview": ".png", "new": ".cnnproj", "import": ".cnnproj",
            "prune": ".cnnproj", "sweep": ".cnnproj"}
"""The suffix each command wants (the check, not the suffix, is on trial); train takes any."""


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.lstat().st_mode, p.lstat().st_size) for p in sorted(folder.rglob("*"))
            if "locked" not in p.parts}


@POSIX
@pytest.mark.parametrize("kind", sorted(EXPECTED))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_output_is_checked_before_any_work(small, tmp_path, capsys, kind, command) -> None:
    work = tmp_path / "work"
    work.mkdir()
    out = make(kind, work, SUFFIXES.get(command, ""))
    before = snapshot(work), small.read_bytes()
    code = main(COMMANDS[command](str(small), out))
    got = capsys.readouterr()
    line = got.err.strip()
    assert code == 2 and "\n" not in line, got.err
    option = "--csv" if command == "runs-csv" else "--out"
    assert line.startswith(f"cnnstudio: error: {option} {out}: "), line
    assert line.endswith(EXPECTED[kind]), line
    assert (snapshot(work), small.read_bytes()) == before  # nothing made, nothing replaced
    if kind == "device":
        assert stat.S_ISCHR(os.stat(out).st_mode)


@POSIX
def test_train_in_place_refuses_a_folder_it_cannot_write_before_training(small, tmp_path,
                                                                          capsys) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes a read-only folder")
    folder = tmp_path / "ro"
    folder.mkdir()
    project = folder / "p.cnnproj"
    shutil.copy(small, project)
    folder.chmod(0o500)
    try:
        assert main(["train", str(project), "--epochs", "1", "--quiet"]) == 2
    finally:
        folder.chmod(0o700)
    assert capsys.readouterr().err.strip() == (
        f"cnnstudio: error: PROJECT {project}: permission denied; choose another folder")
    assert load_project(project).runs == []


@POSIX
@pytest.mark.parametrize("kind", ["folder", "fifo"])
@pytest.mark.parametrize("command", ["train", "quantize", "runs", "sweep"])
def test_a_project_that_is_a_folder_or_a_fifo_is_named_as_such(tmp_path, capsys, kind,
                                                                command) -> None:
    path = tmp_path / "p.cnnproj"
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    extra = {"quantize": ["--out", str(tmp_path / "q.onnx")], "sweep": ["--trials", "1"]}
    assert main([command, str(path), *extra.get(command, [])]) == 2
    what = {"folder": "it is a folder, not a project file",
            "fifo": "it is not a regular file (a FIFO), so not a project file"}[kind]
    assert capsys.readouterr().err.strip() == f"cnnstudio: error: cannot open {path}: {what}"


def test_a_missing_project_is_still_no_such_project_file(tmp_path, capsys) -> None:
    assert main(["train", str(tmp_path / "none.cnnproj")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"cnnstudio: error: {tmp_path / 'none.cnnproj'}: no such project file")


@pytest.mark.parametrize("argv", [["export", "lenet5", "--format", "onnx", "--input", ""],
                                  ["new", "lenet5", "--out", ""],
                                  ["train", "", "--epochs", "1"]])
def test_an_empty_value_is_refused(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse's own exit, as for any bad option
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and len(err.splitlines()) == 1
    assert "needs a value, not an empty string" in err


@POSIX
def test_a_symlink_is_followed_and_stays(small, tmp_path, capsys) -> None:
    """The file the link points at is written, as the project save writes it (an editor saving
    through a link does the same), and the link itself stays a link."""
    real = tmp_path / "real.cnnproj"
    shutil.copy(small, real)
    link = tmp_path / "link.cnnproj"
    link.symlink_to(real)
    assert main(["train", str(small), "--epochs", "1", "--quiet", "--out", str(link)]) == 0
    assert link.is_symlink() and len(load_project(real).runs) == 1
    weights = tmp_path / "w.safetensors"
    weights.symlink_to(tmp_path / "real.safetensors")  # dangling: the file is made there
    assert main(["export", str(real), "--format", "safetensors", "--out", str(weights)]) == 0
    assert weights.is_symlink() and (tmp_path / "real.safetensors").stat().st_size > 1000
    device = tmp_path / "null.cnnproj"
    device.symlink_to(os.devnull)
    capsys.readouterr()
    assert main(["train", str(small), "--epochs", "1", "--out", str(device)]) == 2
    assert "it is a character device" in capsys.readouterr().err


def test_too_little_free_space_is_refused_before_training(small, monkeypatch, capsys) -> None:
    usage = shutil.disk_usage(small.parent)
    monkeypatch.setattr(fileio.shutil, "disk_usage",
                        lambda _: usage._replace(free=small.stat().st_size))
    before = small.read_bytes()
    assert main(["train", str(small), "--epochs", "1", "--quiet"]) == 2
    line = capsys.readouterr().err.strip()
    # LeNet-5: 61,706 parameters, five float32 copies of them beside the project
    assert line == (f"cnnstudio: error: --out {small}: its folder has 0.0 MB free, too little "
                    "for the project with a checkpoint (about 1.2 MB); free some space or "
                    "choose another folder")
    assert small.read_bytes() == before
    # A sweep keeps each trial's last and best weights: 2 × 20 trials × 61,706 × 4 bytes.
    assert main(["sweep", str(small), "--trials", "20", "--epochs", "1"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"cnnstudio: error: --out {small}: its folder has 0.0 MB free, "
                           "too little for the runs of every trial (about 9.4 MB)")
    assert small.read_bytes() == before
    # An export holds the float32 weights and the graph: 61,706 × 4 bytes + 1 MB.
    onnx = small.with_suffix(".onnx")
    assert main(["export", str(small), "--format", "onnx", "--out", str(onnx)]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]  # after a note: random weights
    assert line.startswith(f"cnnstudio: error: --out {onnx}: its folder has 0.0 MB free, "
                           "too little for the exported model (about 1.2 MB)")
    assert not onnx.exists()


def limited(limit: int) -> None:
    """In the child: files may grow to ``limit`` bytes; a write past that fails with EFBIG (the
    signal it would raise is ignored), as a full disk fails it with ENOSPC."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE as on Linux")
def test_a_save_that_fails_mid_run_ends_the_run_and_keeps_the_file(small, tmp_path) -> None:
    log = tmp_path / "log.jsonl"
    before = small.read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "cnnstudio", "train", str(small), "--epochs", "2", "--quiet",
         "--device", "cpu", "--log-json", str(log)],
        capture_output=True, text=True, timeout=600, preexec_fn=lambda: limited(100_000))
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.strip() == (
        f"cnnstudio: training failed: cannot save to {small}: the file is larger than this "
        "disk or a limit allows; choose another folder")
    events = [json.loads(line) for line in log.read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert "checkpoint" not in kinds and "finished" not in kinds  # never claimed
    assert kinds.count("epoch_end") == 1 and events[-1]["event"] == "failed"
    assert events[-1]["kind"] == "save"
    assert small.read_bytes() == before  # the last good save, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.jsonl", "small.cnnproj"]


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE as on Linux")
def test_a_failed_save_of_new_is_one_line_with_exit_2(tmp_path) -> None:
    out = tmp_path / "new.cnnproj"
    done = subprocess.run([sys.executable, "-m", "cnnstudio", "new", "lenet5", "--out",
                           str(out)], capture_output=True, text=True, timeout=300,
                          preexec_fn=lambda: limited(500))
    assert done.returncode == 2 and done.stderr.strip() == (
        f"cnnstudio: error: cannot save to {out}: the file is larger than this disk or a "
        "limit allows; choose another folder")
    assert list(tmp_path.iterdir()) == []


def test_the_session_reports_a_checkpoint_only_once_it_is_saved(small) -> None:
    """The window's path: its save function fails (a full disk) at the first checkpoint."""
    def full(project, path) -> None:
        raise ProjectError(f"cannot save to {path}: the disk is full; free some space or "
                           "choose another folder")

    project = load_project(small)
    events = list(Session(project, small, save=full).events())
    assert not any(isinstance(e, CheckpointSaved) for e in events)
    last = events[-1]
    assert isinstance(last, Failed) and last.kind == "save" and "the disk is full" in last.message
    assert project.runs[-1].status == "failed" and len(project.runs[-1].epochs) == 1


def test_a_log_to_a_fifo_nobody_reads_is_refused_not_waited_on(small, tmp_path, capsys) -> None:
    """--log-json may stream into a FIFO (a reader there is a real use), but with no reader
    opening it would block for ever: refused at once, before any training."""
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    before = small.read_bytes()
    assert main(["train", str(small), "--epochs", "1", "--quiet", "--log-json", str(fifo)]) == 2
    assert capsys.readouterr().err == (f"cnnstudio: error: --log-json {fifo}: cannot write (no "
                                       "process is reading that FIFO)\n")
    assert small.read_bytes() == before


def test_tensorboard_into_a_file_is_refused_before_training(small, tmp_path, capsys) -> None:
    pytest.importorskip("tensorboard")
    not_a_folder = tmp_path / "tb"
    not_a_folder.write_text("a file")
    assert main(["train", str(small), "--epochs", "1", "--tensorboard", str(not_a_folder)]) == 2
    assert capsys.readouterr().err == (f"cnnstudio: error: --tensorboard {not_a_folder}: it is "
                                       "not a folder; choose a folder\n")
