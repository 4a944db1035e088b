"""``cnnstudio import timm:NAME``: a timm model becomes a project with timm's weights (random, or
pretrained from the Hugging Face cache), its errors are one line with the contract's exit
status, and a Python file that builds a timm model imports with --trust-code. No network."""

from __future__ import annotations

import pytest
import torch

from cnnstudio.cli.main import main
from cnnstudio.engine import checkpoint as ckpt
from cnnstudio.engine.importers import timm_source
from cnnstudio.graph import analyze
from cnnstudio.project import load_project
from tests.engine.importers.test_timm_source import (  # noqa: F401 - fixtures
    door,
    hub,
    place,
    safetensors_of,
    timm_model,
)

timm = pytest.importorskip("timm", reason="timm is an optional extra (pip install '.[timm]')")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def project_output(path, x: torch.Tensor) -> torch.Tensor:
    from cnnstudio.engine import to_module

    project = load_project(path)
    module = to_module(project.graph)
    module.load_state_dict(ckpt.from_bytes(project.weights[project.current_weights]))
    with torch.no_grad():
        return module.eval()(x)


def test_a_timm_model_with_classes_and_input_becomes_a_project(tmp_path, capsys) -> None:
    out = tmp_path / "r.cnnproj"
    code, text, err = run(capsys, "import", "timm:resnet18d", "--classes", "10", "--input",
                          "3,64,64", "--out", str(out))
    assert code == 0, err
    assert "timm resnet18d" in text
    project = load_project(out)
    assert list(analyze(project.graph).input_shape) == [3, 64, 64]
    assert project_output(out, torch.randn(2, 3, 64, 64)).shape == (2, 10)


def test_pretrained_from_the_cache_equals_timm_s_model(hub, tmp_path, capsys) -> None:  # noqa: F811
    reference = timm_model("resnet18", seed=3)
    weights = timm_source.weights_of("resnet18")
    place(timm_source.hub_cache(), weights.repo, weights.file_name, safetensors_of(reference))
    out = tmp_path / "r.cnnproj"
    code, text, err = run(capsys, "import", "timm:resnet18", "--pretrained", "--input",
                          "3,64,64", "--out", str(out))
    assert code == 0, err
    assert "pretrained weights timm/resnet18.a1_in1k" in text and hub.calls == []
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(project_output(out, x), reference(x), atol=1e-4, rtol=1e-4)


def test_pretrained_offline_exit_2_one_line_and_nothing_written(hub, tmp_path, capsys) -> None:  # noqa: F811
    out = tmp_path / "r.cnnproj"
    code, _, err = run(capsys, "import", "timm:resnet18", "--pretrained", "--out", str(out))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "model.safetensors" in err and str(timm_source.hub_cache()) in err
    assert "https://huggingface.co/timm/resnet18.a1_in1k" in err
    assert not out.exists()


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["timm:resnet17"], 1, "did you mean"),
    (["timm:resnet18", "--weights", "DEFAULT"], 2, "timm models take --pretrained"),
    (["torchvision:resnet18", "--pretrained"], 2, "--pretrained goes with timm:NAME"),
])
def test_wrong_options_are_one_line(tmp_path, capsys, argv, code, message) -> None:
    out = tmp_path / "x.cnnproj"
    got, _, err = run(capsys, "import", *argv, "--out", str(out))
    assert got == code and message in err and err.count("\n") == 1
    assert not out.exists()


def test_without_timm_exit_1_says_how_to_install(tmp_path, capsys, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "timm", None)
    code, _, err = run(capsys, "import", "timm:resnet18", "--out", str(tmp_path / "x.cnnproj"))
    assert code == 1 and "pip install 'cnnstudio[timm]'" in err and err.count("\n") == 1


def test_a_python_file_that_builds_a_timm_model_imports_with_trust_code(tmp_path,
                                                                        capsys) -> None:
    source = tmp_path / "net.py"
    source.write_text("import timm\n\n\ndef build_model():\n"
                      "    return timm.create_model('resnet10t', num_classes=3)\n")
    out = tmp_path / "net.cnnproj"
    code, _, err = run(capsys, "import", str(source), "--input", "3,64,64", "--out", str(out))
    assert code == 2 and "--trust-code" in err
    code, text, err = run(capsys, "import", str(source), "--trust-code", "--input", "3,64,64",
                          "--out", str(out))
    assert code == 0, err
    assert project_output(out, torch.randn(1, 3, 64, 64)).shape == (1, 3)
