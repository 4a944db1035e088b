"""`cnnstudio sweep` as a user runs it: a study on a copy of the digits example with --json,
progress on stderr, the runs in the project, the study in SQLite; bad input exits 2 with one
line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from cnnstudio.cli.main import main
from cnnstudio.project import load_project, save_project

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


@pytest.fixture
def lenet(tmp_path) -> Path:
    """A copy of the example on a few samples, so each trial takes about a second."""
    path = tmp_path / "lenet.cnnproj"
    shutil.copy(EXAMPLE, path)
    project = load_project(path)
    project.dataset.limit, project.dataset.val_fraction = 96, 0.1
    project.training.device = "cpu"
    save_project(project, path)
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_sweep_json_on_a_copy_of_the_example(lenet, tmp_path, capsys) -> None:
    out = tmp_path / "swept.cnnproj"
    logs = tmp_path / "tb"
    code, stdout, err = run(capsys, "sweep", str(lenet), "--trials", "2", "--epochs", "1",
                            "--sampler", "random", "--out", str(out), "--json",
                            "--tensorboard", str(logs))
    assert code == 0
    doc = json.loads(stdout)
    storage = f"sqlite:///{tmp_path / 'swept.sweep.db'}"
    assert (doc["study"], doc["storage"], doc["directions"]) == ("swept", storage,
                                                                  ["maximize"])
    assert [t["number"] for t in doc["trials"]] == [0, 1]
    assert all(t["state"] == "complete" and set(t["params"]) == {
        "optimizer.lr", "batch_size", "optimizer.name", "optimizer.weight_decay"}
        for t in doc["trials"])
    best = max(doc["trials"], key=lambda t: t["values"][0])
    assert doc["best"] == [best]
    # one progress line per trial on stderr, then the best one
    lines = err.splitlines()
    assert lines[0].startswith("trial 0 complete: value ") and "optimizer.lr=" in lines[0]
    assert lines[1].startswith("trial 1 complete")
    assert lines[2].startswith("best trial of study 'swept'")
    swept = load_project(out)
    assert [(r.id, r.extra["sweep"]["trial"]) for r in swept.runs] == [(1, 0), (2, 1)]
    assert [t["run_id"] for t in doc["trials"]] == [1, 2]
    assert swept.training.epochs == load_project(lenet).training.epochs  # --epochs: trials'
    assert not load_project(lenet).runs  # the source project is not written
    study = optuna.load_study(study_name="swept", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    # --tensorboard: each trial's event files in its own folder, its epoch read back
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert sorted(p.name for p in logs.iterdir()) == ["trial-0", "trial-1"]
    for trial in doc["trials"]:
        events = EventAccumulator(str(logs / f"trial-{trial['number']}"))
        events.Reload()
        accuracy = events.Scalars("epoch/val_acc")
        assert [e.step for e in accuracy] == [1]
        assert accuracy[0].value == pytest.approx(trial["values"][0], abs=1e-6)


def test_the_example_itself_is_never_written(capsys) -> None:
    code, out, err = run(capsys, "sweep", str(EXAMPLE), "--trials", "1")
    assert code == 2 and out == ""
    assert "example project" in err and "--out" in err and len(err.splitlines()) == 1
    assert not EXAMPLE.with_suffix(".sweep.db").exists()


@pytest.mark.parametrize("extra, fragment", [
    (["--trials", "0"], "--trials"),
    (["--trials", "2", "--jobs", "0"], "--jobs"),
    (["--trials", "2", "--storage", "nosuchdb://x"], "cannot open the storage"),
    (["--trials", "2", "--sampler", "bayes"], "--sampler"),
    (["--trials", "2", "--out", "x.zip"], "--out must be a .cnnproj"),
])
def test_bad_input_exits_2_with_one_line(lenet, capsys, extra, fragment) -> None:
    code = None
    try:
        code, out, err = run(capsys, "sweep", str(lenet), *extra)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
        out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_an_unknown_option_in_the_stored_space_exits_2(lenet, capsys) -> None:
    project = load_project(lenet)
    project.extra["sweep"] = {"dimensions": [{"target": "optimizer.learning_rate",
                                              "low": 0.001, "high": 0.1}]}
    save_project(project, lenet)
    code, out, err = run(capsys, "sweep", str(lenet), "--trials", "2")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "optimizer.learning_rate" in err and "no such option" in err


def test_a_missing_project_exits_2(tmp_path, capsys) -> None:
    code, out, err = run(capsys, "sweep", str(tmp_path / "none.cnnproj"), "--trials", "1")
    assert code == 2 and "no such project file" in err


def test_a_space_file_is_swept_and_kept_with_the_runs(lenet, tmp_path, capsys) -> None:
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"sampler": "grid", "dimensions": [
        {"target": "optimizer.lr", "kind": "choice", "choices": [0.001, 0.01]}]}))
    out = tmp_path / "swept.cnnproj"
    code, stdout, _ = run(capsys, "sweep", str(lenet), "--trials", "2", "--epochs", "1",
                          "--space", str(space), "--out", str(out), "--json")
    assert code == 0
    doc = json.loads(stdout)
    assert sorted(t["params"]["optimizer.lr"] for t in doc["trials"]) == [0.001, 0.01]
    kept = load_project(out).extra["sweep"]
    assert kept["sampler"] == "grid" and kept["dimensions"][0]["target"] == "optimizer.lr"
    assert "sweep" not in load_project(lenet).extra  # the source is not written


@pytest.mark.parametrize("text, fragment", [
    ("{not json", "--space:"),
    ('{"dimensions": [{"target": "optimizer.nope", "low": 0.1, "high": 1}]}', "optimizer.nope"),
])
def test_a_bad_space_file_exits_2_with_one_line(lenet, tmp_path, capsys, text,
                                                fragment) -> None:
    space = tmp_path / "space.json"
    space.write_text(text)
    code, out, err = run(capsys, "sweep", str(lenet), "--trials", "1", "--space", str(space))
    assert code == 2 and out == "" and fragment in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "sweep", str(lenet), "--trials", "1", "--space",
                       str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read" in err
