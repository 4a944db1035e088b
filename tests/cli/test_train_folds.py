"""`cnnstudio train --folds K`: K runs of one seed validating on each fold in turn, a per-fold
table and the pooled accuracy; `cnnstudio runs` lists them as one cross-validation group; the
combinations that cannot work are one-line errors."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from cnnstudio.cli.main import main
from cnnstudio.project import load_project, save_project
from cnnstudio.project.stats import groups

EXAMPLES = Path(__file__).resolve().parents[2] / "projects"
DIGITS = 1797


@pytest.fixture(scope="module")
def project_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("folds") / "lenet.cnnproj"
    shutil.copy(EXAMPLES / "lenet5-digits.cnnproj", path)
    project = load_project(path)
    project.dataset.limit = 150
    save_project(project, path)
    return path


@pytest.fixture(scope="module")
def cross_validated(project_file, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("folds-out") / "cv.cnnproj"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["train", str(project_file), "--folds", "3", "--seed", "2", "--epochs", "1",
                     "--device", "cpu", "--quiet", "--out", str(out)])
    assert code == 0
    return out, buffer.getvalue()


def test_folds_train_one_run_per_fold_and_pool_them(cross_validated):
    out, text = cross_validated
    project = load_project(out)
    assert [(r.seed, r.dataset["config"]["folds"], r.dataset["config"]["fold"])
            for r in project.runs] == [(2, 3, 0), (2, 3, 1), (2, 3, 2)]
    assert (project.dataset.folds, project.dataset.fold) == (3, 0)  # kept for the next ones
    counts = [r.dataset["summary"]["counts"]["val"] for r in project.runs]
    assert sum(counts) == DIGITS and max(counts) - min(counts) <= 1  # the folds cover it all
    (group,) = groups(project.runs)
    assert group.folds == 3 and group.ids == [1, 2, 3]
    assert "fold 1/3 (dataset.fold 0): seed 2\n" in text and "fold 3/3 (dataset.fold 2)" in text
    assert "runs 1, 2, 3 (3-fold cross-validation, seed 2):\n" \
           "  fold    seed  val count  final val acc  best val acc\n" in text
    assert f"pooled final val acc: {100 * group.pooled():.2f} %\n" in text
    assert "final val acc over the folds: " in text and "(95 % CI " in text


def test_runs_lists_the_cross_validation_with_its_folds(cross_validated, capsys):
    out, _ = cross_validated
    assert main(["runs", str(out)]) == 0
    text = capsys.readouterr().out
    group = groups(load_project(out).runs)[0]
    assert "configuration 1: 3 runs (runs 1, 2, 3; seed 2; 3-fold cross-validation)" in text
    assert f"  pooled final val acc: {100 * group.pooled():.2f} %\n" in text
    first = group.fold_results()[0]
    assert f"       0       2  {first.val_count:>9}  {100 * first.final_val_acc:>11.2f} %" in text
    assert main(["runs", str(out), "--json"]) == 0
    cross = json.loads(capsys.readouterr().out)["groups"][0]["cross_validation"]
    assert cross["folds"] == 3 and cross["pooled_val_acc"] == pytest.approx(group.pooled())
    assert [f["fold"] for f in cross["per_fold"]] == [0, 1, 2]


@pytest.mark.parametrize("extra, words", [
    (["--folds", "3", "--repeat", "2"], "cannot be combined with --repeat"),
    (["--folds", "3", "--resume"], "cannot be combined with --resume"),
    (["--folds", "3", "--continue"], "cannot be combined with --continue"),
    (["--folds", "3", "--nproc", "2"], "cannot be combined with --nproc"),
    (["--folds", "1"], "--folds must be from 2 to 20, not 1"),
    (["--folds", "21"], "--folds must be from 2 to 20, not 21"),
])
def test_bad_fold_requests_are_one_line_errors(project_file, capsys, extra, words):
    assert main(["train", str(project_file), *extra]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1
    assert load_project(project_file).runs == []
