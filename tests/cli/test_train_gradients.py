"""``cnnstudio train`` and gradient flow: a vanishing warning printed once an epoch, and a
``gradients`` line per sample in --log-json."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from cnnstudio.cli.main import main
from cnnstudio.graph import load_graph
from cnnstudio.project import load_project, save_project

LENET = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


def project_with(tmp_path: Path, activation: str, depth: int) -> Path:
    """The digits example (200 images) with a plain stack of ``depth`` Linear layers."""
    path = tmp_path / f"{activation.lower()}.cnnproj"
    shutil.copy(LENET, path)
    project = load_project(path)
    nodes = [{"id": "input", "type": "Input", "params": {"shape": [1, 32, 32]}},
             {"id": "flatten", "type": "Flatten"}]
    for i in range(depth):
        nodes += [{"id": f"fc{i}", "type": "Linear", "params": {"out_features": 32}},
                  {"id": f"act{i}", "type": activation}]
    nodes.append({"id": "head", "type": "Linear", "params": {"out_features": 10}})
    project.graph = load_graph({"format": "cnnstudio.graph", "version": 1, "nodes": nodes})
    project.dataset.limit = 200
    save_project(project, path)
    return path


def train(path: Path, log: Path) -> list[dict]:
    assert main(["train", str(path), "--epochs", "2", "--device", "cpu", "--log-json",
                 str(log)]) == 0
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_the_vanishing_warning_is_printed_once_an_epoch(tmp_path, capsys) -> None:
    lines = train(project_with(tmp_path, "Sigmoid", 10), tmp_path / "log.jsonl")
    err = capsys.readouterr().err.splitlines()
    warned = [line for line in err if "vanishing gradients in fc0" in line]
    assert [line.split(",")[0] for line in warned] == ["epoch 1", "epoch 2"]
    grads = [x for x in lines if x["event"] == "gradients"]
    project = load_project(tmp_path / "sigmoid.cnnproj")
    steps = math.ceil(project.runs[-1].dataset["summary"]["counts"]["train"] / 16)
    assert len(grads) == 2 * min(4, steps)
    first = grads[0]
    assert (first["epoch"], first["step"], first["steps"]) == (1, 1, steps)
    assert list(first["grad_norm"]) == [f"fc{i}" for i in range(10)] + ["head"]
    assert list(first["update_ratio"]) == list(first["grad_norm"])
    assert first["grad_norm"]["fc0"] < 1e-4 * first["grad_norm"]["head"]
    assert first["warning"] in warned[0]
    # the lines come in order: a sample's line before its epoch's end
    kinds = [x["event"] for x in lines]
    assert kinds.index("gradients") < kinds.index("epoch_end")


def test_a_healthy_network_prints_no_warning(tmp_path, capsys) -> None:
    lines = train(project_with(tmp_path, "ReLU", 2), tmp_path / "log.jsonl")
    assert "gradients" not in capsys.readouterr().err
    grads = [x for x in lines if x["event"] == "gradients"]
    assert grads and all(x["warning"] is None for x in grads)
