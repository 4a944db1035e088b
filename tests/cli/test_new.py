"""`cnnstudio new` as a user runs it: a project from a preset with pretrained weights from the
hub cache (no download: the network door is off), a new head, a frozen backbone, the data
named on the command line; offline, one line that says where to put the file."""

from __future__ import annotations

import pytest
import torch

from cnnstudio.cli.main import main
from cnnstudio.engine import checkpoint as ckpt
from cnnstudio.engine import pretrained
from cnnstudio.graph import analyze
from cnnstudio.project import load_project
from tests.engine.test_pretrained import cache_checkpoint, door  # noqa: F401 - a fixture


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_new_resnet18_with_cached_weights_and_ten_classes(door, tmp_path, capsys) -> None:  # noqa: F811
    source, _ = cache_checkpoint("resnet18", seed=5)
    out = tmp_path / "p.cnnproj"
    code, text, err = run(capsys, "new", "resnet18", "--weights", "DEFAULT", "--classes", "10",
                          "--out", str(out))
    assert code == 0, err
    assert door.calls == [] and "11,181,642 parameters" in text and "pretrained" in text
    project = load_project(out)
    assert analyze(project.graph).input_shape == (3, 224, 224)
    state = ckpt.from_bytes(project.weights[project.current_weights])
    before = source.state_dict()
    assert state["fc.weight"].shape == (10, 512)
    assert all(torch.equal(state[k], v) for k, v in before.items() if not k.startswith("fc."))
    assert project.dataset.normalize == "custom" and project.dataset.resize == 256
    code, _, err = run(capsys, "new", "resnet18", "--weights", "DEFAULT", "--out", str(out))
    assert code == 2 and "--force" in err  # never overwritten without asking


def test_offline_without_the_file_exit_2_and_nothing_written(door, tmp_path, capsys) -> None:  # noqa: F811
    out = tmp_path / "p.cnnproj"
    code, _, err = run(capsys, "new", "resnet18", "--weights", "DEFAULT", "--classes", "10",
                       "--out", str(out))
    info = pretrained.resolve("resnet18")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert info.file_name in err and info.url in err and str(pretrained.cache_dir()) in err
    assert not out.exists()
    assert [timeout for _, timeout in door.calls] == [pretrained.TIMEOUT_S]
    assert pretrained.TIMEOUT_S <= 15  # an unreachable server is given up on in seconds


def test_freeze_backbone_and_data(door, tmp_path, capsys) -> None:  # noqa: F811
    cache_checkpoint("squeezenet1_1")
    images = tmp_path / "images"
    images.mkdir()
    out = tmp_path / "sq.cnnproj"
    code, text, err = run(capsys, "new", "squeezenet1_1", "--weights", "IMAGENET1K_V1",
                          "--classes", "4", "--input", "3,96,96", "--data",
                          f"folder:{images}", "--freeze-backbone", "--out", str(out))
    assert code == 0, err
    project = load_project(out)
    assert analyze(project.graph).trainable_params == 512 * 4 + 4
    assert "(2,052 trainable)" in text
    assert project.dataset.source == "folder" and project.dataset.path == "images"
    assert project.dataset.resize == round(256 * 96 / 224)


def test_new_without_weights_is_a_fresh_preset(tmp_path, capsys) -> None:
    out = tmp_path / "l.cnnproj"
    code, text, err = run(capsys, "new", "lenet5", "--classes", "3", "--data", "digits",
                          "--out", str(out))
    assert code == 0, err
    assert "random weights" in text
    project = load_project(out)
    assert project.current_weights is None and project.dataset.source == "digits"
    assert analyze(project.graph).nodes["classifier.output"].shape == (3,)


@pytest.mark.parametrize("argv, message", [
    (["new", "lenet5", "--weights", "DEFAULT", "--out", "x.cnnproj"], "no pretrained weights"),
    (["new", "resnet18", "--weights", "V9", "--out", "x.cnnproj"], "IMAGENET1K_V1"),
    (["new", "resnet18", "--freeze-backbone", "--out", "x.cnnproj"], "needs --weights"),
    (["new", "resnet18", "--data", "folder:nowhere", "--out", "x.cnnproj"], "no such folder"),
    (["new", "resnet18", "--data", "imagenet", "--out", "x.cnnproj"], "--data expects"),
    (["new", "resnet18", "--out", "x.json"], ".cnnproj"),
    (["new", "nonet", "--out", "x.cnnproj"], "nonet"),
])
def test_bad_input_is_one_line(door, tmp_path, monkeypatch, capsys, argv, message) -> None:  # noqa: F811
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.cnnproj").exists()


def test_the_three_phase_recipe_from_the_command_line(door, tmp_path, capsys) -> None:  # noqa: F811
    """`--recipe three-phase` makes the window's recipe button's changes: the backbone
    frozen in the network, the head trainable, the phases' rates and unfreezing steps."""
    cache_checkpoint("resnet18", seed=1)
    out = tmp_path / "r.cnnproj"
    code, text, err = run(capsys, "new", "resnet18", "--weights", "DEFAULT", "--classes", "5",
                          "--input", "3,64,64", "--epochs", "9", "--recipe", "three-phase",
                          "--out", str(out))
    assert code == 0, err
    assert "recipe: Phase 1, epochs 1–3: the head at 1e-3, the rest frozen." in text
    project = load_project(out)
    report = analyze(project.graph)
    assert report.trainable_params == report.nodes["fc"].params == 512 * 5 + 5
    transfer = project.training.transfer
    assert [(s.epoch, s.nodes) for s in transfer.unfreeze][0] == (4, ["layer4"])
    assert project.training.schedule.milestones == [3, 6] and project.training.epochs == 9
    code, _, err = run(capsys, "new", "resnet18", "--epochs", "2", "--recipe", "three-phase",
                       "--out", str(tmp_path / "short.cnnproj"))
    assert code == 2 and err.count("\n") == 1 and "at least 3 epochs" in err
    assert not (tmp_path / "short.cnnproj").exists()
