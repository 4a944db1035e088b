"""`cnnstudio train` never writes a run into a shipped example: without --out (or with --out
naming an example) it refuses on one line with exit status 2, before loading anything."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cnnstudio.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "projects"
LENET = EXAMPLES / "lenet5-digits.cnnproj"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("argv", [
    ["train", str(LENET), "--epochs", "1", "--device", "cpu"],
    ["train", "projects/../projects/lenet5-digits.cnnproj", "--epochs", "1"],
    ["train", str(LENET), "--out", str(EXAMPLES / "simple-cnn-digits.cnnproj")],
])
def test_training_into_an_example_is_refused(argv, capsys, monkeypatch) -> None:
    monkeypatch.chdir(EXAMPLES.parent)
    before = {p.name: digest(p) for p in EXAMPLES.glob("*.cnnproj")}
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "example" in err and "--out" in err
    assert {p.name: digest(p) for p in EXAMPLES.glob("*.cnnproj")} == before


def test_an_example_trains_into_a_file_of_its_own(tmp_path, capsys) -> None:
    before = digest(LENET)
    out = tmp_path / "trained.cnnproj"
    assert main(["train", str(LENET), "--epochs", "1", "--device", "cpu", "--quiet",
                 "--out", str(out)]) == 0
    from cnnstudio.project import load_project

    assert load_project(out).runs[-1].status == "finished"
    assert digest(LENET) == before
