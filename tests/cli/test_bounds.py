"""Issue 25, cases 3 and 6: what a command reads is bounded. A FIFO or a device is refused at
once, sizes past any machine are graph errors, and a model too big for this machine's memory
is refused before torch allocates it (one line each, never "internal error")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnstudio.cli.main import main
from cnnstudio.engine import build
from cnnstudio.graph import analyze, graph_to_dict, presets, save_graph
from cnnstudio.graph.analysis import MAX_LAYER_VALUES
from cnnstudio.graph.jsonformat import graph_from_dict

GB = 10**9


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    """The error line, after checking it is the only one and no internal error."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cnnstudio: error: "), err
    return lines[0]


def simple_cnn(tmp_path: Path, name: str, **changes: dict) -> Path:
    """simple_cnn's graph file with ``changes`` merged into the params of nodes by id."""
    doc = graph_to_dict(presets.build("simple_cnn"))
    for node in doc["nodes"]:
        node.setdefault("params", {}).update(changes.get(node["id"].replace(".", "_"), {}))
    path = tmp_path / f"{name}.json"
    save_graph(graph_from_dict(doc), path)
    return path


# -- case 3: readers end at once ---------------------------------------------------------------
@pytest.fixture
def fifo(tmp_path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", [["summary"], ["export", "--format", "pth"]])
@pytest.mark.parametrize("which", ["fifo", "device"])
def test_a_fifo_or_a_device_is_refused_at_once(command, which, fifo, tmp_path) -> None:
    """Before: `summary`/`export` of a FIFO waited for a writer forever, and of /dev/zero read
    until memory ran out. A subprocess, so that a hang fails the test instead of the suite."""
    target = str(fifo) if which == "fifo" else os.devnull
    out = ["--out", str(tmp_path / "x.pth")] if command[0] == "export" else []
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "cnnstudio", *command, target, *out],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    kind = "a FIFO" if which == "fifo" else "a character device"
    assert one_line_error(done.stderr) == (
        f"cnnstudio: error: {target}: it is not a regular file ({kind}), so not a graph or "
        "project file")
    assert time.monotonic() - started < 100
    assert not (tmp_path / "x.pth").exists()


# -- case 6: sizes past any machine are graph errors -------------------------------------------
@pytest.mark.parametrize("changes, node, message", [
    ({"block1_conv": {"out_channels": 10**30}}, "block1.conv",
     "out_channels must be at most 2,147,483,647 (got a number of 31 digits)"),
    ({"classifier_fc1": {"out_features": 10**12}}, "classifier.fc1",
     "out_features must be at most 2,147,483,647 (got 1000000000000)"),
    ({"classifier_fc1": {"out_features": 10**9}}, "classifier.fc1",
     "it would have 3137.0 G weights (12,548.0 GB), more than the 4.3 G values (17.2 GB) one "
     "layer may hold: use fewer channels or features"),
    ({"input": {"shape": [1, 100000, 100000]}}, "input",
     "a sample would hold 10.0 G values (40.0 GB per sample), more than the 4.3 G values "
     "(17.2 GB) one layer may hold: use a smaller input"),
    ({"block1_conv": {"padding": 10**6}}, "block1.conv",
     "its output would hold 128003.3 G values (512,013.3 GB per sample), more than the 4.3 G "
     "values (17.2 GB) one layer may hold: use fewer channels or a smaller input"),
])
def test_sizes_past_any_machine_are_graph_errors(changes, node, message, tmp_path,
                                                 capsys) -> None:
    """Before: `summary` called these graphs valid (training memory in yottabytes) and
    `export` ended in "internal error" with allocator text or a C++ stack trace."""
    path = simple_cnn(tmp_path, "big", **changes)
    code, out, _ = run(capsys, "summary", str(path), "--json")
    assert code == 1
    assert json.loads(out)["errors"] == [{"node": node, "message": message}]
    code, _, err = run(capsys, "export", str(path), "--format", "pth",
                       "--out", str(tmp_path / "big.pth"))
    assert code == 1
    assert one_line_error(err) == (f"cnnstudio: error: the graph cannot be built: {node}: "
                                   f"{message}; fix them first")
    assert not (tmp_path / "big.pth").exists()


@pytest.mark.parametrize("command", [["summary"], ["export", "--format", "onnx"]])
def test_an_input_option_past_any_machine_is_a_graph_error(command, tmp_path, capsys) -> None:
    out = ["--out", str(tmp_path / "x.onnx")] if command[0] == "export" else []
    code, stdout, err = run(capsys, *command, "simple_cnn", "--input", "3,100000,100000", *out)
    assert code == 1
    if command[0] == "summary":
        assert "input: a sample would hold 30.0 G values (120.0 GB per sample)" in stdout
    else:
        one_line_error(err)
    assert "internal error" not in err and "alloc" not in err


def test_the_layer_limit_leaves_real_networks_alone() -> None:
    for name in ("resnet50", "vgg16", "efficientnet_b7"):
        report = analyze(presets.build(name))
        assert report.ok, report.errors
        assert all(n.params <= MAX_LAYER_VALUES for n in report.nodes.values())


# -- case 3 and 6: the memory estimate against this machine's memory ---------------------------
def machine(monkeypatch, total: int, free: int) -> None:
    monkeypatch.setattr(build, "machine_memory", lambda: (total, free))


def test_weights_past_this_machine_are_refused_before_allocating(monkeypatch) -> None:
    graph = presets.build("simple_cnn", hidden=250_000)  # fc1: 3136 × 250,000 = 784 M weights
    machine(monkeypatch, 2 * GB, GB)
    analyze(graph)  # warm, so the time measured is the check's
    started = time.perf_counter()
    with pytest.raises(build.TooLargeError) as caught:
        build.to_module(graph)
    assert time.perf_counter() - started < 1  # building it would take seconds
    assert str(caught.value) == ("the model would need 3.15 GB for its weights; this machine "
                                 "has 1.00 GB free of 2.00 GB")


def test_export_of_a_conv2d_with_a_million_channels_is_refused_at_once(monkeypatch, tmp_path,
                                                                       capsys) -> None:
    """Before: it grew past 6 GB and went on. Now the layer outputs of one sample (two
    [1000000, 64, 64] maps: 32.8 GB) and the weights are weighed before anything is built."""
    path = simple_cnn(tmp_path, "wide", input={"shape": [3, 64, 64]},
                      block1_conv={"out_channels": 1_000_000})
    machine(monkeypatch, 24 * GB, 20 * GB)
    started = time.perf_counter()
    code, _, err = run(capsys, "export", str(path), "--format", "onnx",
                       "--out", str(tmp_path / "wide.onnx"))
    assert time.perf_counter() - started < 1
    assert code == 2
    assert one_line_error(err) == (
        "cnnstudio: error: cannot export: the model would need 35.19 GB to run one sample "
        "(weights 2.42 GB, layer outputs 32.77 GB); this machine has 20.00 GB free of 24.00 GB")
    assert list(tmp_path.iterdir()) == [path]


def test_export_weighs_its_check_at_batch_3_before_running_it(monkeypatch, tmp_path,
                                                              capsys) -> None:
    """The verification runs the model and the exported copy at batch 3: a model that fits
    for one sample but not for that is refused before the export, and nothing is written."""
    graph = presets.build("simple_cnn")
    report = analyze(graph)
    weights = (report.total_params + report.buffers) * 4
    fits_one = 2 * weights + build.inference_peak(graph, report) + 1000
    machine(monkeypatch, 8 * GB, fits_one)
    code, _, err = run(capsys, "export", "simple_cnn", "--format", "pth",
                       "--out", str(tmp_path / "s.pth"))
    assert code == 2
    assert one_line_error(err) == (
        "cnnstudio: error: cannot export: the model would need 3.98 MB to run a batch of 3 "
        "(weights 3.37 MB for 2 copies, layer outputs 602.11 KB); this machine has 3.57 MB free "
        "of 8.00 GB")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    code, _, err = run(capsys, "export", "simple_cnn", "--format", "pth",
                       "--out", str(tmp_path / "s.pth"))
    assert code == 0, err


def test_inference_peak_counts_what_the_forward_pass_keeps() -> None:
    """A chain keeps two values at once (a layer's input and output); a residual block also
    keeps the skip until the Add."""
    graph = presets.build("simple_cnn")
    report = analyze(graph)
    conv = report.nodes["block1.conv"].memory
    assert build.inference_peak(graph, report) == 2 * conv  # conv → relu: both [32, 28, 28]
    resnet = presets.build("resnet18")
    report = analyze(resnet)
    peak = build.inference_peak(resnet, report)
    pairs = max(report.nodes[n].memory + sum(report.nodes[s].memory
                                             for s in resnet.input_map()[n])
                for n in report.nodes)
    assert pairs <= peak < report.activation_memory
