"""Errors known before any work (issue 25, cases 4 and 7): refused before the run is recorded,
so the project file keeps its bytes and gains no failed run; one line on stderr, no prefix said
twice. Dataset folders: more classes than the network's outputs is refused the same way, and
`train` says which files it skipped, and why, once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from cnnstudio.cli.main import main
from cnnstudio.engine.training.session import Session
from cnnstudio.engine.training.trainer import Failed
from cnnstudio.project import load_project, save_project

from ..engine.data import fakes


@pytest.fixture
def no_gpu(monkeypatch) -> None:
    """As on a machine without CUDA or Metal, whatever this one has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def folder(root: Path, classes: int, per_class: int = 4) -> Path:
    """``classes`` class folders of 8×8 grey PNGs (the example network's input)."""
    for c in range(classes):
        for i in range(per_class):
            fakes.save_image(root / f"c{c}" / f"{i}.png", fakes.pattern(c, i, (8, 8)))
    return root


def edited(path: Path, change) -> Path:
    project = load_project(path)
    change(project)
    save_project(project, path)
    return path


def use_folder(root: Path):
    def change(project) -> None:
        project.dataset.source, project.dataset.path = "folder", str(root)
        project.dataset.val_fraction = 0.25
    return change


def three_weights(project) -> None:
    project.training.loss.class_weights = [1.0, 2.0, 3.0]


CASES = {
    "cuda": (["--device", "cuda"], None, 1, "training.device is 'cuda' but no CUDA GPU"),
    "mps": (["--device", "mps"], None, 1, "training.device is 'mps' but Apple's Metal"),
    "huge lr": (["--lr", "1e308"], None, 2, "training.optimizer.lr: must be at most 1000"),
    "lr inf": (["--lr", "inf"], None, 2, "training.optimizer.lr: expected a finite number"),
    "class weights": ([], three_weights, 1,
                      "training.loss.class_weights: 3 weights for 10 classes; give one per "
                      "class, 'balanced', or leave it empty"),
    "empty folder": ([], "empty", 1, "holds no images"),
    "11 classes": ([], 11, 1, "the network gives [10] outputs per image and the dataset has "
                   "11 classes: give the last layer 11 outputs"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_before_the_run_is_recorded(lenet, tmp_path, capsys, no_gpu, case) -> None:
    args, change, code, fragment = CASES[case]
    if change == "empty":
        (tmp_path / "empty").mkdir()
        change = use_folder(tmp_path / "empty")
    elif isinstance(change, int):
        change = use_folder(folder(tmp_path / "set", change))
    if change is not None:
        edited(lenet, change)
    before = lenet.read_bytes()
    log = tmp_path / "log.jsonl"
    assert main(["train", str(lenet), "--epochs", "1", "--log-json", str(log), *args]) == code
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1, err
    assert "internal error" not in err and err.count("training failed") <= 1, err
    assert lenet.read_bytes() == before  # no failed run appended, nothing rewritten
    if log.exists():  # the log says it failed, never that anything started or was saved
        assert [json.loads(line)["event"] for line in log.read_text().splitlines()] == \
            ["failed"]


def test_lamb_without_timm_is_refused_before_the_run(lenet, capsys, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "timm.optim", None)  # an import of it fails
    edited(lenet, lambda project: setattr(project.training.optimizer, "name", "lamb"))
    before = lenet.read_bytes()
    assert main(["train", str(lenet), "--epochs", "1", "--device", "cpu"]) == 1
    assert capsys.readouterr().err == (
        "cnnstudio: training failed: training.optimizer.name: LAMB is timm's optimizer: install "
        "it with pip install 'cnnstudio[timm]', or choose another\n")
    assert lenet.read_bytes() == before


def test_the_window_s_session_refuses_too_and_leaves_the_project_alone(lenet, no_gpu) -> None:
    project = load_project(lenet)
    project.training.device = "cuda"
    events = list(Session(project, lenet).events())
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert project.runs == [] and project.graph_revision == load_project(lenet).graph_revision


def test_a_refused_resume_leaves_the_interrupted_run_as_it_was(lenet, no_gpu) -> None:
    project = load_project(lenet)
    project.training.epochs, project.training.device = 2, "cpu"
    session = Session(project, lenet)
    for event in session.events():
        if session.trainer is not None:
            session.trainer.report_interval = 0.0
        if event.event == "batch_end":
            session.stop()
    stopped = load_project(lenet)
    assert stopped.runs[-1].status == "stopped" and stopped.checkpoint is not None
    stopped.checkpoint.config["device"] = "cuda"  # resumed where the GPU is gone
    save_project(stopped, lenet)
    before = lenet.read_bytes()
    project = load_project(lenet)
    events = list(Session(project, lenet, resume=True, resume_epochs=3).events())
    assert [e.event for e in events] == ["failed"] and "no CUDA GPU" in events[0].message
    run = project.runs[-1]
    assert run.status == "stopped" and run.training["epochs"] == 2  # untouched in memory
    assert project.checkpoint.config["epochs"] == 2 and lenet.read_bytes() == before


def test_a_failure_while_training_says_training_failed_once(lenet, capsys, monkeypatch) -> None:
    from cnnstudio.engine import build

    def broken(self, x):
        raise IndexError("Target 10 is out of bounds.")

    monkeypatch.setattr(build.GraphModule, "forward", broken)
    assert main(["train", str(lenet), "--epochs", "1", "--device", "cpu", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == "cnnstudio: training failed: IndexError: Target 10 is out of bounds.\n"


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX links")
def test_train_says_once_which_files_it_skipped_and_why(lenet, tmp_path, capsys) -> None:
    root = folder(tmp_path / "set", 2)
    os.symlink(root, root / "loop")  # was: a third class holding every image
    (root / "c0" / "notes.txt").write_text("not an image")
    (root / "c1" / "table.csv").write_text("a,b\n")
    edited(lenet, use_folder(root))
    log = tmp_path / "log.jsonl"
    assert main(["train", str(lenet), "--epochs", "1", "--device", "cpu", "--quiet",
                 "--log-json", str(log)]) == 0
    err = capsys.readouterr().err
    line = ("cnnstudio: skipped 3 files: 1 a link that loops (loop), "
            "2 not images (c0/notes.txt, c1/table.csv)\n")
    assert err == line
    run = load_project(lenet).runs[-1]
    assert run.dataset["summary"]["classes"] == ["c0", "c1"]
    assert run.dataset["summary"]["skipped"]["count"] == 3
    logged = [json.loads(x) for x in log.read_text().splitlines()]
    skipped = [x for x in logged if x["event"] == "skipped"]
    assert len(skipped) == 1 and skipped[0]["count"] == 3
    assert {f["file"] for f in skipped[0]["files"]} == {"loop", "c0/notes.txt",
                                                         "c1/table.csv"}
