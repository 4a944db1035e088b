"""``cnnstudio quantize``: an int8 ONNX file (QDQ, int8 weights) written and measured against the
float32 one on the validation split; bad input refused in one line before any work."""

from __future__ import annotations

import json
import shutil

import onnx

from cnnstudio.cli.main import main
from tests.cli.conftest import SIMPLE as EXAMPLE


def test_an_int8_file_is_written_and_measured(trained, tmp_path, capsys) -> None:
    out = tmp_path / "simple-int8.onnx"
    assert main(["quantize", str(trained), "--out", str(out), "--calibrate", "64",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"fp32_accuracy", "int8_accuracy", "fp32_bytes", "int8_bytes", "fp32_ms",
            "int8_ms"} <= set(doc)
    assert doc["calibration_images"] == 64 and doc["validation_images"] == 359
    assert 0 <= doc["int8_accuracy"] <= 1 and doc["fp32_ms"] > 0 and doc["int8_ms"] > 0
    assert doc["int8_bytes"] == out.stat().st_size and doc["fp32_bytes"] > 3 * doc["int8_bytes"]
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    int8 = [i for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert len(int8) >= 4  # two convolutions' and two linear layers' weights
    assert not list(tmp_path.glob(".cnnstudio-quantize-*"))  # its work folder is gone
    sensitivity = doc["sensitivity_db"]
    assert {"block1.relu", "block2.relu", "classifier.fc2"} <= set(sensitivity)
    assert all(v > 0 for v in sensitivity.values())


def test_a_layer_kept_in_float_keeps_its_float_weights(trained, tmp_path, capsys) -> None:
    out = tmp_path / "kept.onnx"
    assert main(["quantize", str(trained), "--out", str(out), "--calibrate", "32",
                 "--keep-float", "classifier.fc2"]) == 0
    text = capsys.readouterr().out
    assert "kept in float32: classifier.fc2" in text and "--keep-float " in text
    weights = {i.name: i.data_type for i in onnx.load(str(out)).graph.initializer}
    assert weights["classifier.fc2.weight"] == onnx.TensorProto.FLOAT
    assert weights["classifier.fc1.weight_quantized"] == onnx.TensorProto.INT8


def test_bad_input_is_refused_before_any_work(trained, tmp_path, capsys) -> None:
    untrained = tmp_path / "untrained.cnnproj"
    shutil.copy(EXAMPLE, untrained)
    (tmp_path / "folder.onnx").mkdir()
    for args, words in (
            ([str(untrained), "--out", str(tmp_path / "a.onnx")], "no trained weights"),
            ([str(trained), "--out", str(tmp_path / "a.pt")], "must be an .onnx file"),
            ([str(trained), "--out", str(tmp_path / "folder.onnx")], "is a folder"),
            ([str(trained), "--out", str(tmp_path / "no" / "a.onnx")], "does not exist"),
            ([str(trained), "--out", str(tmp_path / "a.onnx"), "--weights", "best"],
             "no weights named 'best'"),
            ([str(tmp_path / "none.cnnproj"), "--out", str(tmp_path / "a.onnx")],
             "no such project file"),
            ([str(trained), "--out", str(tmp_path / "a.onnx"), "--keep-float", "nope"],
             "no node 'nope'")):
        assert main(["quantize", *args]) == 2, args
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "a.onnx").exists()


def test_quantisation_aware_fine_tuning_runs_when_int8_loses(trained, tmp_path) -> None:
    from cnnstudio.engine.compress.quantize import quantize_project
    from cnnstudio.project import load_project

    project = load_project(trained)
    seen: list[str] = []
    result = quantize_project(project, tmp_path / "qat.onnx", calibrate=32, qat_epochs=1,
                              qat_below=-1.0, base_dir=trained.parent, progress=seen.append)
    assert result.qat_epochs == 1 and result.ptq_accuracy is not None
    assert result.int8_accuracy >= result.ptq_accuracy  # the better of the two is kept
    assert any("quantisation-aware epoch 1/1" in line for line in seen), seen
    assert result.to_dict()["ptq_int8_accuracy"] == result.ptq_accuracy
    onnx.checker.check_model(str(result.path))
    plain = quantize_project(project, tmp_path / "plain.onnx", calibrate=32, qat_epochs=1,
                             qat_below=1.0, base_dir=trained.parent)
    assert plain.qat_epochs == 0 and plain.ptq_accuracy is None  # int8 lost too little
