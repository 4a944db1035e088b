"""`cnnstudio train` with each optimizer, schedule, penalty and loss of issue 24 (item 6): one
epoch on 100 digits, finished and saved into the project."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from cnnstudio.cli.main import main
from cnnstudio.project import TrainConfig, load_project, save_project

LENET = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


@pytest.mark.parametrize("training", [
    {"optimizer": {"name": "adadelta", "lr": 1.0, "rho": 0.95},
     "schedule": {"name": "polynomial", "power": 2.0, "eta_min": 0.01},
     "loss": {"name": "hinge"}},
    {"optimizer": {"name": "lamb", "lr": 0.01, "lookahead_k": 3},
     "schedule": {"name": "cyclic", "cycle_mode": "triangular2", "cycle_epochs": 0.5},
     "loss": {"l1": 1e-5}},
    {"optimizer": {"name": "sgd", "lr": 0.05, "lookahead_k": 2, "lookahead_alpha": 0.8},
     "schedule": {"name": "plateau", "min_lr": 1e-3}},
], ids=["adadelta-polynomial-hinge", "lamb-lookahead-cyclic-l1", "sgd-lookahead-plateau"])
def test_one_epoch_with_the_new_choices(tmp_path, training: dict) -> None:
    if training["optimizer"]["name"] == "lamb":
        pytest.importorskip("timm")
    path = tmp_path / "lenet.cnnproj"
    shutil.copy(LENET, path)
    project = load_project(path)
    project.dataset.limit = 100
    doc = project.training.to_dict()
    for section, values in training.items():
        doc[section].update(values)
    project.training = TrainConfig.from_dict(doc, "training")
    save_project(project, path)

    log = tmp_path / "log.jsonl"
    assert main(["train", str(path), "--epochs", "1", "--device", "cpu", "--quiet",
                 "--log-json", str(log)]) == 0
    events = [json.loads(line) for line in log.read_text().splitlines()]
    (epoch,) = [e for e in events if e["event"] == "epoch_end"]
    assert math.isfinite(epoch["train_loss"]) and math.isfinite(epoch["val_loss"])
    assert events[-1]["event"] == "finished" and events[-1]["status"] == "finished"
    saved = load_project(path)
    assert saved.runs[-1].status == "finished"
    for section in training:  # the new settings kept as they were
        assert saved.training.to_dict()[section] == doc[section]
