"""`cnnstudio train --tensorboard DIR`: the example trained into a copy writes DIR/run-<id>
that TensorBoard reads; without the tensorboard package it stops before training, in one
line that says what to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cnnstudio.cli.main import main
from cnnstudio.project import load_project

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


def test_the_example_trained_with_tensorboard_logs(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs, out = tmp_path / "logs", tmp_path / "lenet.cnnproj"
    code = main(["train", str(EXAMPLE), "--epochs", "2", "--device", "cpu", "--quiet",
                 "--tensorboard", str(logs), "--out", str(out)])
    assert code == 0
    run = load_project(out).runs[-1]
    assert [p.name for p in logs.iterdir()] == [f"run-{run.id}"]
    acc = EventAccumulator(str(logs / f"run-{run.id}"), size_guidance={"scalars": 0})
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    # batch points come a few times a second (a fast machine may report none in 2 short
    # epochs; tests/engine/training/test_tblog.py checks them with every step reported)
    assert {"epoch/train_loss", "epoch/val_acc", "epoch/lr", "epoch/samples_per_s",
            "hparam/best_val_acc", "hparam/final_val_loss"} <= tags
    assert [s.step for s in acc.Scalars("epoch/val_acc")] == [1, 2]
    assert [s.value for s in acc.Scalars("epoch/val_acc")] == \
        pytest.approx([r.val_acc for r in run.epochs])
    steps = [s.step for s in acc.Scalars("batch/train_loss")] \
        if "batch/train_loss" in tags else [1]
    per_epoch = -(-1438 // 16)  # the digits' training split in batches of 16
    assert steps == sorted(set(steps)) and 1 <= steps[0] and steps[-1] <= 2 * per_epoch
    assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")
    assert acc.Tags()["graph"] and acc.Tags()["images"] == ["predictions/validation"]


def test_without_tensorboard_it_says_what_to_install(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` fails
    logs, out = tmp_path / "logs", tmp_path / "lenet.cnnproj"
    code = main(["train", str(EXAMPLE), "--epochs", "1", "--device", "cpu",
                 "--tensorboard", str(logs), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "pip install 'cnnstudio[tensorboard]'" in err
    assert not out.exists() and not logs.exists()  # stopped before any training
