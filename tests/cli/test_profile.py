"""``cnnstudio profile``: the table and JSON of a preset and a project, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from cnnstudio.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


def test_a_preset_s_table_lists_the_slowest_nodes(capsys) -> None:
    assert main(["profile", "lenet5", "--batch-size", "4", "--repeats", "3", "--top", "3",
                 "--no-onnx"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("preset lenet5 on cpu, batch 4, input [1, 32, 32]")
    assert "module (PyTorch):" in out and "samples/s" in out and "ONNX" not in out
    rows = [line for line in out.splitlines() if line.startswith("  features.") or
            line.startswith("  classifier.")]
    assert len(rows) == 3
    times = [float(r.split()[2]) for r in rows]
    assert times == sorted(times, reverse=True)


def test_a_project_as_json_with_its_onnx_figure(capsys) -> None:
    assert main(["profile", str(EXAMPLE), "--repeats", "2", "--warmup", "0", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["source"].startswith("project ") and doc["device"] == "cpu"
    assert doc["onnx"]["median_ms"] > 0 and doc["model"]["samples_per_s"] > 0
    assert {n["node"] for n in doc["nodes"]} >= {"features.c1", "classifier.output"}


def test_bad_input_is_one_line(capsys) -> None:
    for args, words in ((["nosuch"], "no preset named"),
                        (["lenet5", "--repeats", "100000"], "--repeats must be at most"),
                        (["lenet5", "--warmup", "-1"], "--warmup must be"),
                        (["lenet5", "--device", "mps"], "--device is 'mps'")):
        assert main(["profile", *args]) == 2, args
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, err
