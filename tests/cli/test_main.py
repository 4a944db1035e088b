"""The command line as a user runs it: output, exit statuses, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from cnnstudio.cli.main import main
from cnnstudio.graph import presets, save_graph


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_presets_lists_every_preset_with_a_description(capsys) -> None:
    code, out, _ = run(capsys, "presets")
    assert code == 0
    for name in presets.names():
        assert f"\n{name} " in f"\n{out}"
    code, out, _ = run(capsys, "presets", "--json")
    items = json.loads(out)
    assert {i["name"] for i in items} == set(presets.names())
    resnet = next(i for i in items if i["name"] == "resnet50")
    assert resnet["torchvision"] and resnet["options"]["input_shape"] == [3, 224, 224]


def test_summary_resnet50_json_matches_the_contract(capsys) -> None:
    code, out, err = run(capsys, "summary", "resnet50", "--json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["total_params"] == 25_557_032
    assert round(doc["macs"] / 1e9, 2) == 4.09
    assert doc["output_shapes"] == [[1000]] and doc["input_shape"] == [3, 224, 224]
    assert doc["errors"] == []
    fc = doc["nodes"][-1]
    assert (fc["id"], fc["output_shape"], fc["params"]) == ("fc", [1000], 2_049_000)
    assert doc["training_memory"]["batch_size"] == 32


def test_summary_table_options_and_explain(capsys) -> None:
    code, out, _ = run(capsys, "summary", "resnet18", "--input", "3,64,64", "--classes", "10",
                       "--explain", "conv1", "--batch-size", "8", "--optimizer", "sgd")
    assert code == 0
    assert "fc  " in out and "[10]" in out and "[64, 32, 32]" in out
    assert "Total params:         11,181,642" in out
    assert "for batch 8 with sgd" in out
    assert "(64 − 7 + 2·3) / 2" in out
    assert "The graph is valid." in out


def test_summary_of_a_graph_file_with_errors_exits_1(tmp_path, capsys) -> None:
    graph = presets.build("simple_cnn")
    graph.set_param("block2.conv", "out_channels", 0)
    path = tmp_path / "broken.json"
    save_graph(graph, path)
    code, out, err = run(capsys, "summary", str(path))
    assert code == 1 and err == ""
    assert "block2.conv: out_channels must be at least 1 (got 0)" in out
    code, out, _ = run(capsys, "summary", str(path), "--json")
    assert code == 1 and json.loads(out)["errors"][0]["node"] == "block2.conv"


def test_summary_of_a_graph_file_takes_input_and_classes(tmp_path, capsys) -> None:
    path = tmp_path / "net.json"
    save_graph(presets.build("lenet5"), path)
    code, out, _ = run(capsys, "summary", str(path), "--classes", "3", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["output_shapes"] == [[3]]
    code, out, _ = run(capsys, "summary", str(path), "--input", "1,28,28")
    assert code == 1 and "does not fit" in out  # LeNet-5 needs 32×32 without padding


@pytest.mark.parametrize("args, fragment", [
    (("summary", "resnet5O"), "no preset named 'resnet5O' (did you mean resnet56, resnet50"),
    (("summary", "missing/net.json"), "missing/net.json: no such file"),
    (("summary", "resnet50", "--input", "3,x,4"), "--input expects C,H,W"),
    (("summary", "resnet50", "--input", "0,4,4"), "--input expects C,H,W"),
    (("summary", "resnet50", "--explain", "nope"), "--explain: no node 'nope'"),
])
def test_bad_input_is_one_line_on_stderr_with_status_2(capsys, args, fragment) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and fragment in err and "Traceback" not in err


def test_unreadable_files_exit_2(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "cnnstudio.graph", "version": 9, "nodes": []}')
    code, _, err = run(capsys, "summary", str(bad))
    assert code == 2 and "newer CNN Studio" in err
    project = tmp_path / "p.cnnproj"
    with zipfile.ZipFile(project, "w") as zf:
        zf.writestr("project.json", "{}")
    code, _, err = run(capsys, "summary", str(project))
    assert code == 2 and "p.cnnproj: project.json" in err
    code, _, err = run(capsys, "summary", str(tmp_path))
    assert code == 2 and "is a folder" in err


def test_argument_errors_and_help(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["summary", "resnet50", "--classes", "-3"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err == ("cnnstudio summary: error: argument --classes: expected a positive integer, "
                   "not '-3' (see `cnnstudio summary --help`)\n")
    with pytest.raises(SystemExit):
        main(["summary"])
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "summary" in capsys.readouterr().out


def test_summary_of_a_project(capsys) -> None:
    code, out, _ = run(capsys, "summary", "projects/lenet5-digits.cnnproj", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["total_params"] == 61_706
    assert doc["source"] == "project projects/lenet5-digits.cnnproj"


def test_the_window_opens_with_the_file_given(monkeypatch, capsys) -> None:
    from cnnstudio.app import main as app_main

    opened = []
    monkeypatch.setattr(app_main, "run", lambda path=None: opened.append(path) or 0)
    assert run(capsys)[0] == 0 and opened == [None]
    assert run(capsys, "projects/lenet5-digits.cnnproj")[0] == 0
    assert opened[-1] == "projects/lenet5-digits.cnnproj"


def test_no_display_is_one_clear_line(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run(capsys)
    assert code == 1 and "no display" in err and err.count("\n") == 1


def test_python_dash_m_works_like_the_command() -> None:
    done = subprocess.run([sys.executable, "-m", "cnnstudio", "summary", "lenet5", "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and json.loads(done.stdout)["total_params"] == 61_706
    done = subprocess.run([sys.executable, "-m", "cnnstudio", "summary", "nope"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and done.stderr.startswith("cnnstudio: error:")
