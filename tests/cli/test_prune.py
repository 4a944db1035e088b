"""``cnnstudio prune``: a new project with narrower layers and their weights, scored before and
after, fine-tuned as a run; bad input refused in one line before any work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cnnstudio import fileio
from cnnstudio.cli.main import main
from cnnstudio.engine import checkpoint, to_module
from cnnstudio.graph import analyze
from cnnstudio.project import load_project
from tests.cli.conftest import SIMPLE as EXAMPLE


def test_a_pruned_and_fine_tuned_project(trained, tmp_path, capsys) -> None:
    out = tmp_path / "pruned.cnnproj"
    before = trained.read_bytes()
    assert main(["prune", str(trained), "--macs", "0.5", "--out", str(out),
                 "--finetune-epochs", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert abs(doc["macs_kept"] - 0.5) < 0.03 and doc["params_after"] < doc["params_before"]
    assert all(0 <= doc[k] <= 1 for k in ("accuracy_before", "accuracy_pruned",
                                           "accuracy_finetuned"))
    assert set(doc["layers"]) == {"block1.conv", "block2.conv", "classifier.fc1"}
    assert trained.read_bytes() == before  # the source is left as it was
    project = load_project(out)
    report = analyze(project.graph)
    assert report.macs == doc["macs_after"]
    assert project.graph.node("block1.conv").params["out_channels"] == \
        doc["layers"]["block1.conv"][1]
    assert len(project.runs) == 1 and project.runs[0].status == "finished"  # the fine-tuning
    run = project.runs[0].training  # gentler than the project's own settings, which it keeps
    assert run["optimizer"]["lr"] == pytest.approx(project.training.optimizer.lr / 10)
    assert run["schedule"]["name"] == "cosine" and run["epochs"] == 1
    assert project.training == load_project(trained).training
    state = checkpoint.from_bytes(project.weights[project.current_weights])
    to_module(project.graph).load_state_dict(state, strict=True)


def test_bad_input_is_one_line(trained, tmp_path, capsys) -> None:
    untrained = tmp_path / "untrained.cnnproj"
    shutil.copy(EXAMPLE, untrained)
    (tmp_path / "taken.cnnproj").write_bytes(b"x")
    out = str(tmp_path / "p.cnnproj")
    for args, words in (
            ([str(trained), "--macs", "1.2", "--out", out], "between 0 and 1"),
            ([str(trained), "--macs", "0.5", "--out", str(tmp_path / "p.onnx")],
             "must be a .cnnproj"),
            ([str(trained), "--macs", "0.5", "--out", str(tmp_path / "taken.cnnproj")],
             "exists; pass --force"),
            ([str(untrained), "--macs", "0.5", "--out", out], "no trained weights"),
            ([str(trained), "--macs", "0.5", "--out", out, "--finetune-epochs", "-1"],
             "--finetune-epochs must be")):
        assert main(["prune", *args]) == 2, args
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, err
    assert not Path(out).exists()


def test_the_curve_as_json_and_as_a_table(trained, capsys) -> None:
    before = trained.read_bytes()
    assert main(["prune", str(trained), "--curve", "--targets", "0.5,0.8", "--importance",
                 "taylor", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    points = doc["points"]
    assert doc["importance"] == "taylor" and [p["target"] for p in points] == [1.0, 0.8, 0.5]
    assert points[0]["macs_kept"] == 1.0 > points[1]["macs_kept"] > points[2]["macs_kept"]
    assert all(0 <= p["accuracy"] <= 1 and p["finetuned"] is None for p in points)
    assert points[2]["params"] < points[0]["params"]
    assert trained.read_bytes() == before  # nothing written
    assert main(["prune", str(trained), "--curve", "--targets", "0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["target", "MACs"] and len(lines) == 3
    assert lines[2].lstrip().startswith("50%")


def test_bad_curve_input_is_one_line(trained, capsys) -> None:
    for args, words in (
            (["--curve", "--targets", "0.5,1.5"], "--targets: each target must be"),
            (["--curve", "--targets", "half"], "--targets: targets must be fractions"),
            (["--targets", "0.5"], "--targets goes with --curve"),
            (["--macs", "0.5"], "give --macs and --out")):
        assert main(["prune", str(trained), *args]) == 2, args
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, err



def test_too_little_free_space_is_refused_before_pruning(trained, tmp_path, monkeypatch,
                                                         capsys) -> None:
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(fileio.shutil, "disk_usage", lambda _: usage._replace(free=1000))
    out = tmp_path / "pruned.cnnproj"
    assert main(["prune", str(trained), "--macs", "0.5", "--out", str(out),
                 "--finetune-epochs", "1"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"cnnstudio: error: --out {out}: its folder has 0.0 MB free, too "
                           "little for the pruned project")
    assert not out.exists()
