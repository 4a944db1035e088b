"""`cnnstudio export` and `cnnstudio import` as a user runs them: presets and projects to each
format, verified; imports that become projects; bad input as one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from cnnstudio.cli.main import main
from cnnstudio.engine import checkpoint as ckpt
from cnnstudio.engine.build import to_module
from cnnstudio.graph import analyze, presets
from cnnstudio.project import load_project
from tests.engine.test_pretrained import cache_checkpoint, door  # noqa: F401 - a fixture

EXAMPLES = Path(__file__).resolve().parents[2] / "projects"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_export_preset_to_onnx_prints_the_verification(tmp_path, capsys) -> None:
    out = tmp_path / "lenet.onnx"
    code, text, err = run(capsys, "export", "lenet5", "--format", "onnx", "--out", str(out))
    assert code == 0, err
    assert out.is_file() and out.stat().st_size > 200_000  # 61.7 K float32 weights inside
    assert "max abs difference:" in text
    diff = float(text.rsplit("max abs difference:", 1)[1].split()[0])
    assert 0 <= diff < 1e-4


def test_export_json_and_static_batch(tmp_path, capsys) -> None:
    out = tmp_path / "net.pt2"
    code, text, err = run(capsys, "export", "simple_cnn", "--format", "pt2", "--out", str(out),
                          "--static-batch", "--json")
    assert code == 0, err
    doc = json.loads(text)
    assert doc["format"] == "pt2" and doc["paths"] == [str(out)]
    assert doc["batches"] == [1] and doc["max_rel"] <= 1e-4


def test_export_project_weights_as_safetensors(tmp_path, capsys) -> None:
    out = tmp_path / "weights.safetensors"
    code, _, err = run(capsys, "export", str(EXAMPLES / "lenet5-digits.cnnproj"),
                       "--format", "safetensors", "--out", str(out))
    assert code == 0
    assert "no trained weights" in err  # the examples ship untrained
    graph = load_project(EXAMPLES / "lenet5-digits.cnnproj").graph
    model = to_module(graph)
    model.load_state_dict(load_file(out), strict=True)
    for key, value in to_module(graph, seed=0).state_dict().items():
        assert torch.equal(model.state_dict()[key], value)


def test_export_python_with_training_script(tmp_path, capsys) -> None:
    project = tmp_path / "lenet.cnnproj"
    shutil.copy(EXAMPLES / "lenet5-digits.cnnproj", project)
    out = tmp_path / "lenet.py"
    code, text, err = run(capsys, "export", str(project), "--format", "python", "--out",
                          str(out), "--training-script")
    assert code == 0, err
    assert out.is_file() and (tmp_path / "lenet.safetensors").is_file()
    script = (tmp_path / "train.py").read_text()
    compile(script, "train.py", "exec")  # valid Python (compiled, not run)
    assert "from lenet import build_model" in script
    assert "training script:" in text


def test_export_at_another_input_size(tmp_path, capsys) -> None:
    out = tmp_path / "r.onnx"
    code, text, err = run(capsys, "export", "resnet18", "--format", "onnx", "--out", str(out),
                          "--input", "3,64,64", "--classes", "10", "--json")
    assert code == 0, err
    import onnx

    model = onnx.load(str(out), load_external_data=False)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:]] == [3, 64, 64]
    assert dims[0].dim_param  # the batch axis is symbolic


@pytest.mark.parametrize("argv, message", [
    (["export", "nonet", "--format", "onnx"], "nonet"),
    (["export", "lenet5", "--format", "onnx", "--input", "3,x"], "--input expects C,H,W"),
    (["export", "lenet5", "--format", "onnx", "--training-script"], "--format python"),
    (["export", "lenet5", "--format", "python", "--training-script"], "needs a project"),
    (["export", str(EXAMPLES / "lenet5-digits.cnnproj"), "--format", "onnx", "--classes", "3"],
     "--classes"),
    (["export", str(EXAMPLES / "lenet5-digits.cnnproj"), "--format", "onnx", "--weights",
      "weights/nothing.safetensors"], "no weights named"),
])
def test_export_bad_input_is_one_line(capsys, argv, message) -> None:
    code, _, err = run(capsys, *argv)
    assert code != 0
    assert message in err and err.count("\n") == 1


def test_export_into_a_missing_folder_fails_cleanly(tmp_path, capsys) -> None:
    code, _, err = run(capsys, "export", "lenet5", "--format", "torchscript", "--out",
                       str(tmp_path / "nowhere" / "l.pt"))
    assert code == 2 and err.startswith("cnnstudio: error:") and err.count("\n") == 1
    assert "does not exist" in err and not (tmp_path / "nowhere").exists()


def test_failed_verification_exits_1_and_keeps_the_report(tmp_path, capsys, monkeypatch):
    from cnnstudio import engine

    def broken(*args, **kwargs):
        raise engine.ExportError("verification failed: max rel difference 0.3 > 1e-4",
                                 "node conv1: outputs differ\n")

    monkeypatch.setattr(engine, "export_model", broken)  # where the command looks it up
    out = tmp_path / "l.onnx"
    code, _, err = run(capsys, "export", "lenet5", "--format", "onnx", "--out", str(out))
    assert code == 1 and "verification failed" in err
    assert not out.exists()
    report = tmp_path / "l.onnx.export-report.txt"
    assert report.read_text() == "node conv1: outputs differ\n" and str(report) in err


# -- import --------------------------------------------------------------------------------------
def test_import_torchvision_model_becomes_a_project(tmp_path, capsys) -> None:
    out = tmp_path / "r18.cnnproj"
    code, text, err = run(capsys, "import", "torchvision:resnet18", "--out", str(out),
                          "--classes", "10", "--input", "3,64,64")
    assert code == 0, err
    assert "11,181,642 parameters" in text  # ResNet-18 with 10 classes
    project = load_project(out)
    report = analyze(project.graph)
    assert report.ok and report.input_shape == (3, 64, 64)
    assert "layer1.0.conv1" in project.graph.nodes and project.current_weights
    preset = presets.build("resnet18", num_classes=10, input_shape=(3, 64, 64))
    assert report.total_params == analyze(preset).total_params
    code, _, err = run(capsys, "import", "resnet18", "--out", str(out))
    assert code == 2 and "--force" in err  # never overwritten without asking


def test_import_python_file_needs_trust(tmp_path, capsys) -> None:
    source = tmp_path / "tiny.py"
    source.write_text(
        "from torch import nn\n\n\n"
        "class Tiny(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv2d(1, 4, 3)\n"
        "        self.head = nn.Linear(4 * 6 * 6, 3)\n\n"
        "    def forward(self, x):\n"
        "        return self.head(self.conv(x).relu().flatten(1))\n")
    out = tmp_path / "tiny.cnnproj"
    code, _, err = run(capsys, "import", str(source), "--out", str(out), "--input", "1,8,8")
    assert code == 2 and "--trust-code" in err and not out.exists()
    code, text, err = run(capsys, "import", str(source), "--out", str(out), "--input", "1,8,8",
                          "--trust-code")
    assert code == 0, err
    assert {"conv", "head"} <= set(load_project(out).graph.nodes)


@pytest.mark.parametrize("argv, message", [
    (["import", "torchvision:nonet", "--out", "x.cnnproj"], "nonet"),
    (["import", "missing.onnx", "--out", "x.cnnproj"], "no such file"),
    (["import", "resnet18", "--out", "x.json"], ".cnnproj"),
])
def test_import_bad_input_is_one_line(tmp_path, monkeypatch, capsys, argv, message) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code != 0 and message in err and err.count("\n") == 1


def test_import_torchvision_with_cached_pretrained_weights(door, tmp_path, capsys) -> None:  # noqa: F811
    source, _ = cache_checkpoint("squeezenet1_1", seed=6)
    out = tmp_path / "sq.cnnproj"
    code, text, err = run(capsys, "import", "torchvision:squeezenet1_1", "--weights", "DEFAULT",
                          "--classes", "3", "--input", "3,64,64", "--out", str(out))
    assert code == 0, err
    assert "SqueezeNet1_1_Weights.IMAGENET1K_V1" in text and door.calls == []
    project = load_project(out)
    state = ckpt.from_bytes(project.weights[project.current_weights])
    kept = {k: v for k, v in source.state_dict().items() if not k.startswith("classifier.1.")}
    assert all(torch.equal(state[k], v) for k, v in kept.items())
    assert state["classifier.1.weight"].shape[0] == 3
    assert project.dataset.normalize == "custom" and project.dataset.resize == 73


def test_import_pretrained_offline_exit_2_and_nothing_written(door, tmp_path, capsys) -> None:  # noqa: F811
    out = tmp_path / "r.cnnproj"
    code, _, err = run(capsys, "import", "torchvision:resnet18", "--weights", "IMAGENET1K_V1",
                       "--out", str(out))
    assert code == 2 and "resnet18-f37072fd.pth" in err and err.count("\n") == 1
    assert not out.exists()
    code, _, err = run(capsys, "import", "model.onnx", "--weights", "DEFAULT", "--out",
                       str(out))
    assert code == 2 and "--weights goes with torchvision" in err
