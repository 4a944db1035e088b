"""The generated train.py with issue 24's techniques (item 6): clean under ruff, it imports timm
only for LAMB, copies Lookahead and the L1 penalty only when they are on, and trains."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from cnnstudio.engine.codegen.model import model_source
from cnnstudio.engine.codegen.train import training_script
from cnnstudio.engine.training.losses import l1_penalty, multiclass_hinge
from cnnstudio.engine.training.optim import lookahead
from cnnstudio.graph import presets
from cnnstudio.project import DatasetConfig, Project, TrainConfig
from tests.engine.codegen.test_codegen import ruff


def project(training: dict) -> Project:
    return Project(name="techniques", graph=presets.build("lenet5"),
                   dataset=DatasetConfig.from_dict({"source": "digits"}, "dataset"),
                   training=TrainConfig.from_dict({"batch_size": 32, **training}, "training"))


def test_plain_choices_copy_neither_lookahead_nor_l1_nor_import_timm(tmp_path) -> None:
    script = training_script(project({"optimizer": {"name": "adadelta", "lr": 1.0},
                                      "schedule": {"name": "polynomial", "power": 2.0}}))
    assert "torch.optim.Adadelta(groups, lr=LR, rho=0.9" in script
    assert "timm" not in script and "def lookahead" not in script
    assert "def l1_penalty" not in script
    assert inspect.getsource(multiclass_hinge) in script  # the loss function names it
    (tmp_path / "train.py").write_text(script, encoding="utf-8")
    ruff(tmp_path / "train.py")


def test_lamb_lookahead_cyclic_hinge_and_l1_train_on_digits(tmp_path) -> None:
    pytest.importorskip("timm")
    proj = project({"optimizer": {"name": "lamb", "lr": 0.01, "lookahead_k": 3},
                    "schedule": {"name": "cyclic", "cycle_epochs": 0.5},
                    "loss": {"name": "hinge", "l1": 1e-5}})
    script = training_script(proj, model_file="lenet.py")
    assert "import timm.optim\nimport torch\n" in script
    for function in (lookahead, l1_penalty):
        assert inspect.getsource(function) in script
    assert "    lookahead(optimizer, 3, 0.5)" in script
    (tmp_path / "lenet.py").write_text(model_source(proj.graph), encoding="utf-8")
    (tmp_path / "train.py").write_text(script, encoding="utf-8")
    ruff(tmp_path / "train.py")
    done = subprocess.run([sys.executable, "train.py", "--epochs", "1", "--limit", "100",
                           "--device", "cpu", "--out", "trained.safetensors"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "epoch 1/1" in done.stdout and "100 training" in done.stdout
    assert (tmp_path / "trained.safetensors").is_file()
