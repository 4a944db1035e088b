"""`cnnstudio train` and the training session as a user runs them: the example project, the
JSON log, stop and resume, faults, bad input, and two processes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from cnnstudio.cli.main import main
from cnnstudio.engine.training.session import Session
from cnnstudio.engine.training.trainer import BatchEnd, Failed, Finished
from cnnstudio.project import load_project, save_project

EXAMPLES = Path(__file__).resolve().parents[2] / "projects"



def test_every_example_project_opens_and_is_valid() -> None:
    from cnnstudio.graph import analyze

    names = sorted(p.name for p in EXAMPLES.glob("*.cnnproj"))
    assert names == ["alexnet-mnist.cnnproj", "lenet5-digits.cnnproj",
                     "plain56-digits.cnnproj", "resnet18-cifar10.cnnproj",
                     "resnet18-mnist.cnnproj", "resnet56-digits.cnnproj",
                     "simple-cnn-digits.cnnproj"]
    for name in names:
        project = load_project(EXAMPLES / name)
        assert analyze(project.graph).ok and project.description and not project.runs


def test_the_example_reaches_95_percent_in_5_epochs(lenet, tmp_path, capsys) -> None:
    log = tmp_path / "log.jsonl"
    code = main(["train", str(lenet), "--epochs", "5", "--device", "cpu", "--log-json",
                 str(log)])
    assert code == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    epochs = [x for x in lines if x["event"] == "epoch_end"]
    assert len(epochs) == 5
    assert set(epochs[0]) >= {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
                              "seconds", "samples_per_s"}
    assert epochs[-1]["val_acc"] >= 0.95
    assert lines[-1]["event"] == "finished" and lines[-1]["status"] == "finished"
    project = load_project(lenet)
    run = project.runs[-1]
    assert run.status == "finished" and len(run.epochs) == 5
    assert run.evaluation["accuracy"] == pytest.approx(epochs[-1]["val_acc"])
    assert run.dataset["summary"]["counts"] == {"train": 1438, "val": 359, "test": 0}
    assert project.current_weights in project.weights and project.checkpoint is None
    with zipfile.ZipFile(lenet) as zf:  # no pickle anywhere
        assert all(n.endswith((".json", ".safetensors")) for n in zf.namelist())
        for name in zf.namelist():
            assert not zf.read(name).startswith(b"\x80")


def test_continue_starts_from_the_current_weights(lenet) -> None:
    assert main(["train", str(lenet), "--epochs", "1", "--device", "cpu", "--quiet"]) == 0
    first = load_project(lenet).runs[-1].epochs[0]
    assert main(["train", str(lenet), "--epochs", "1", "--device", "cpu", "--quiet",
                 "--continue"]) == 0
    project = load_project(lenet)
    assert [r.id for r in project.runs] == [1, 2]
    assert project.runs[1].epochs[0].train_loss < first.train_loss


def test_stop_then_resume_finishes_the_same_run(lenet) -> None:
    project = load_project(lenet)
    project.training.epochs = 2
    project.training.device = "cpu"
    session = Session(project, lenet)
    seen = 0
    for event in session.events():
        if session.trainer is not None:  # a report every batch, however fast the machine
            session.trainer.report_interval = 0.0
        if isinstance(event, BatchEnd):
            seen += 1
            if seen == 2:
                session.stop()
    saved = load_project(lenet)
    assert saved.runs[-1].status == "stopped" and saved.checkpoint is not None
    assert main(["train", str(lenet), "--resume", "--quiet"]) == 0
    done = load_project(lenet)
    assert len(done.runs) == 1 and done.runs[0].status == "finished"
    assert [e.epoch for e in done.runs[0].epochs] == [1, 2] and done.checkpoint is None


def test_out_of_memory_is_retried_with_a_smaller_batch(lenet, monkeypatch) -> None:
    from cnnstudio.engine import build

    real = build.GraphModule.forward

    def limited(self, x):
        if x.shape[0] > 8 and self.training:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")
        return real(self, x)

    monkeypatch.setattr(build.GraphModule, "forward", limited)
    project = load_project(lenet)
    project.training.epochs = 1
    events = list(Session(project, lenet, retry_oom=True).events())
    failures = [e for e in events if isinstance(e, Failed)]
    assert [f.suggested_batch_size for f in failures] == [8]
    assert isinstance([e for e in events if e.event != "saved"][-1], Finished)
    assert load_project(lenet).runs[-1].training["batch_size"] == 8
    events = [e for e in Session(load_project(lenet), lenet).events() if e.event != "saved"]
    assert isinstance(events[-1], Failed) and "out of memory with batch size 16" in \
        events[-1].message
    assert load_project(lenet).runs[-1].status == "failed"


def test_a_download_backed_example_says_what_it_needs_offline(tmp_path, monkeypatch,
                                                               capsys) -> None:
    from cnnstudio.engine.data import sources

    def offline(url):
        raise OSError("network is unreachable")

    monkeypatch.setattr(sources, "_urlopen", offline)
    path = tmp_path / "alexnet.cnnproj"
    shutil.copy(EXAMPLES / "alexnet-mnist.cnnproj", path)
    code = main(["train", str(path), "--epochs", "1", "--quiet", "--data-cache",
                 str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 1 and "download" in err and "MB" in err
    assert load_project(path).runs[-1].status == "failed"


@pytest.mark.parametrize("args, fragment", [
    (["train", "missing.cnnproj"], "missing.cnnproj: no such project file"),
    (["train", "{lenet}", "--lr", "-1"], "bad option: training.optimizer.lr"),
    (["train", "{notzip}"], "not a CNN Studio project"),
])
def test_bad_input_exits_2_with_one_line(lenet, tmp_path, capsys, args, fragment) -> None:
    notzip = tmp_path / "x.cnnproj"
    notzip.write_text("hello")
    args = [a.format(lenet=lenet, notzip=notzip) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_options_set_the_settings_the_panel_edits(lenet) -> None:
    """--epochs, --batch-size, --lr, --seed, --device go through the same rule as the
    window's settings panel (project.options.with_options), before anything trains."""
    from cnnstudio.cli.train import load_for_training

    args = SimpleNamespace(project=str(lenet), epochs=3, batch_size=8, lr=0.02, seed=5,
                           device="cpu")
    t = load_for_training(args).training
    assert (t.epochs, t.batch_size, t.optimizer.lr, t.seed, t.device) == (3, 8, 0.02, 5, "cpu")
    untouched = load_for_training(SimpleNamespace(project=str(lenet), epochs=None,
                                                  batch_size=None, lr=None, seed=None,
                                                  device=None)).training
    assert untouched.to_dict() == load_project(lenet).training.to_dict()
    taught = load_for_training(SimpleNamespace(project=str(lenet), teacher="t.cnnproj",
                                               kd_alpha=0.25)).training.distill
    assert (taught.teacher, taught.alpha, taught.temperature) == ("t.cnnproj", 0.25, 4.0)


def test_resume_without_an_interrupted_run_is_refused(lenet, capsys) -> None:
    assert main(["train", str(lenet), "--resume", "--quiet"]) == 1
    assert "no interrupted run to resume" in capsys.readouterr().err


def test_a_graph_with_errors_is_not_trained(lenet, capsys) -> None:
    project = load_project(lenet)
    project.graph.set_param("features.c1", "kernel_size", 40)
    save_project(project, lenet)
    assert main(["train", str(lenet), "--quiet"]) == 1
    assert "fix them before training" in capsys.readouterr().err


def test_two_processes_train_the_example_and_write_one_project(lenet, tmp_path) -> None:
    out = tmp_path / "ddp.cnnproj"
    done = subprocess.run(
        [sys.executable, "-m", "cnnstudio", "train", str(lenet), "--epochs", "2", "--device",
         "cpu", "--nproc", "2", "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    project = load_project(out)
    run = project.runs[-1]
    assert run.status == "finished" and len(run.epochs) == 2
    assert run.device.endswith("× 2 processes")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp.cnnproj", "lenet.cnnproj"]


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes(lenet, tmp_path) -> None:
    import signal
    import time

    log = tmp_path / "log.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cnnstudio", "train", str(lenet), "--epochs", "200",
         "--device", "cpu", "--quiet", "--log-json", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and '"epoch_end"' not in (
            log.read_text() if log.exists() else ""):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-1000:]
    project = load_project(lenet)
    run = project.runs[-1]
    assert run.status == "stopped" and project.checkpoint is not None
    done_epochs = len(run.epochs)
    assert 1 <= done_epochs < 200
    assert main(["train", str(lenet), "--resume", "--epochs", str(done_epochs + 1),
                 "--quiet"]) == 0
    finished = load_project(lenet).runs[-1]
    assert finished.status == "finished" and len(finished.epochs) == done_epochs + 1
    assert main(["train", str(lenet), "--resume", "--lr", "0.1"]) == 2


def test_preview_writes_a_grid_png(tmp_path, capsys) -> None:
    from PIL import Image

    out = tmp_path / "grid.png"
    assert main(["preview", str(EXAMPLES / "simple-cnn-digits.cnnproj"), "--out", str(out),
                 "--n", "9"]) == 0
    image = Image.open(out)
    assert image.mode == "RGB" and image.width == image.height > 3 * 28
    assert main(["preview", str(EXAMPLES / "simple-cnn-digits.cnnproj"), "--out",
                 str(tmp_path / "missing" / "x.png")]) == 2
    assert "missing does not exist" in capsys.readouterr().err


def test_the_three_phase_recipe_trains_from_the_command_line(lenet, capsys) -> None:
    """`--recipe three-phase` (after --epochs) freezes the backbone in the network, sets the
    phases and trains them; the saved project holds what the window's button would set."""
    code = main(["train", str(lenet), "--epochs", "3", "--recipe", "three-phase", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "recipe: Phase 2, epochs 2–2: classifier.f6 unfreeze, at 1e-4." in out
    project = load_project(lenet)
    assert project.runs[-1].status == "finished" and len(project.runs[-1].epochs) == 3
    assert [r.lr for r in project.runs[-1].epochs] == pytest.approx([1e-3, 1e-4, 1e-5])
    frozen = {n.id for n in project.graph if n.frozen}
    assert "classifier.output" not in frozen and {"features.c1", "classifier.f6"} <= frozen
    assert [s.epoch for s in project.training.transfer.unfreeze] == [2, 3]
    code = main(["train", str(lenet), "--resume", "--recipe", "three-phase"])
    assert code == 2 and "(not --recipe)" in capsys.readouterr().err
