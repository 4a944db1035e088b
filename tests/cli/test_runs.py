"""`cnnstudio train --repeat` and `cnnstudio runs`: runs of one configuration with successive
seeds, listed as a group with statistics, every run as a CSV row, and two configurations
compared with the settings that differ."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from cnnstudio.cli.main import main
from cnnstudio.project import EpochRecord, Project, Run, TrainConfig, load_project, save_project
from cnnstudio.project.stats import groups

EXAMPLES = Path(__file__).resolve().parents[2] / "projects"


@pytest.fixture(scope="module")
def repeated(tmp_path_factory) -> tuple[Path, str]:
    """A small copy of the digits example trained for one epoch with seeds 4, 5, 6."""
    path = tmp_path_factory.mktemp("repeat") / "lenet.cnnproj"
    shutil.copy(EXAMPLES / "lenet5-digits.cnnproj", path)
    project = load_project(path)
    project.dataset.limit = 300
    save_project(project, path)
    log = path.with_suffix(".jsonl")
    code = main(["train", str(path), "--repeat", "3", "--seed", "4", "--epochs", "1",
                 "--device", "cpu", "--quiet", "--log-json", str(log)])
    assert code == 0
    return path, log.read_text()


def test_repeat_trains_one_run_per_seed(repeated, capsys):
    path, log = repeated
    project = load_project(path)
    assert [(r.id, r.seed, r.status) for r in project.runs] == \
        [(1, 4, "finished"), (2, 5, "finished"), (3, 6, "finished")]
    assert project.training.seed == 4  # where the repeats began: the next ones pair with them
    found = groups(project.runs)
    assert len(found) == 1 and found[0].ids == [1, 2, 3]
    finished = [json.loads(line) for line in log.splitlines()
                if json.loads(line)["event"] == "finished"]
    assert len(finished) == 3  # the log holds every run, not only the last


def test_runs_lists_the_group_with_statistics(repeated, capsys):
    path, _ = repeated
    assert main(["runs", str(path)]) == 0
    out = capsys.readouterr().out
    assert "configuration 1: 3 runs (runs 1, 2, 3; seeds 4, 5, 6)" in out
    group = groups(load_project(path).runs)[0]
    s = group.summary()
    assert f"best val acc: {100 * s.mean:.2f} ± {100 * s.std:.2f} % (95 % CI " \
           f"{100 * s.low:.2f}–{100 * s.high:.2f})" in out
    assert main(["runs", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (g,) = doc["groups"]
    assert g["runs"] == [1, 2, 3] and g["seeds"] == [4, 5, 6] and g["n"] == 3
    assert g["best_val_acc"]["mean"] == pytest.approx(s.mean)
    assert g["best_val_acc"]["ci95"] == pytest.approx([s.low, s.high])
    assert "training.seed" not in g["config"] and doc["other_runs"] == []


def test_runs_csv_has_a_row_per_run(repeated, tmp_path, capsys):
    path, _ = repeated
    out = tmp_path / "runs.csv"
    assert main(["runs", str(path), "--csv", str(out)]) == 0
    assert f"wrote 3 run(s) to {out}" in capsys.readouterr().out
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    project = load_project(path)
    assert [r["seed"] for r in rows] == ["4", "5", "6"]
    assert rows[0]["dataset.limit"] == "300" and rows[0]["training.epochs"] == "1"
    assert float(rows[1]["best_val_acc"]) == project.runs[1].epochs[-1].val_acc
    assert float(rows[2]["final_train_loss"]) == project.runs[2].epochs[-1].train_loss


def _run(run_id: int, seed: int, acc: float, lr: float, status: str = "finished") -> Run:
    training = TrainConfig().to_dict()
    training["seed"] = seed
    training["optimizer"]["lr"] = lr
    return Run(id=run_id, started="2026-01-01T00:00:00+00:00", graph_revision=1,
               graph_hash="abc", seed=seed, training=training,
               dataset={"config": {"source": "digits"}}, status=status,
               epochs=[EpochRecord(1, train_loss=0.5, val_loss=1 - acc, val_acc=acc)])


@pytest.fixture
def two_configs(tmp_path) -> Path:
    runs = [_run(1, 0, 0.90, 0.001), _run(2, 1, 0.92, 0.001), _run(3, 2, 0.94, 0.001),
            _run(4, 0, 0.88, 0.01), _run(5, 1, 0.90, 0.01), _run(6, 2, 0.91, 0.01),
            _run(7, 3, 0.20, 0.01, "stopped")]
    path = tmp_path / "two.cnnproj"
    save_project(Project(name="two", runs=runs), path)
    return path


def test_compare_two_configurations(two_configs, capsys):
    assert main(["runs", str(two_configs), "--compare", "2", "6"]) == 0
    out = capsys.readouterr().out
    assert "A: run 2's configuration, 3 run(s) (1, 2, 3)" in out
    assert "A is better than B by 2.33 points in best val acc (95 % CI 0.90..3.77 points, " \
           "paired by seed)" in out
    assert "settings that differ (A → B):\n  training.optimizer.lr: 0.001 → 0.01\n" in out
    assert "training.seed" not in out
    assert main(["runs", str(two_configs), "--compare", "2", "6", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    acc = doc["comparisons"][0]
    assert acc["paired"] and acc["within_noise"] is False
    assert acc["ci95"] == pytest.approx([0.008991157567501922, 0.037675509099164714])
    assert acc["differing"] == [{"setting": "training.optimizer.lr", "a": 0.001, "b": 0.01}]


def test_listing_names_what_tells_the_groups_apart(two_configs, capsys):
    assert main(["runs", str(two_configs)]) == 0
    out = capsys.readouterr().out
    assert "configuration 1: 3 runs (runs 4, 5, 6; seeds 0, 1, 2)\n" \
           "  training.optimizer.lr = 0.01\n" in out
    assert "not counted (did not finish): run 7 (stopped)" in out


def test_bad_requests_are_one_line_errors(two_configs, tmp_path, capsys):
    assert main(["runs", str(two_configs), "--compare", "1", "7"]) == 2
    assert "run 7 did not finish (stopped)" in capsys.readouterr().err
    assert main(["runs", str(two_configs), "--compare", "1", "99"]) == 2
    assert "no run 99" in capsys.readouterr().err
    assert main(["runs", str(tmp_path / "none.cnnproj")]) == 2
    assert main(["train", str(two_configs), "--repeat", "2", "--resume"]) == 2
    assert "cannot be combined with --resume" in capsys.readouterr().err
    assert main(["train", str(two_configs), "--repeat", "2", "--nproc", "2"]) == 2
    assert "cannot be combined with --nproc" in capsys.readouterr().err
