"""File ▸ Export model and File ▸ Import model as a user drives them: the export runs on a worker
thread, verifies the file and says so; a failure shows its reason and report and writes nothing;
an import opens the model as a new, unsaved project with its weights."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import torch
from PySide6.QtWidgets import QMenu, QMessageBox

from cnnstudio.engine import checkpoint
from cnnstudio.engine.export.exporter import ExportError
from cnnstudio.project import load_project

EXAMPLES = Path(__file__).resolve().parents[2] / "projects"


def open_lenet(window) -> None:
    assert window.open_file(EXAMPLES / "lenet5-digits.cnnproj", as_copy=True)


def finish(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: dialog.task is None, timeout=60000)


def test_the_menu_has_export_and_import(window) -> None:
    texts = [a.text() for menu in window.menuBar().findChildren(QMenu) for a in menu.actions()]
    assert "Export &model…" in texts and "Import mo&del" in texts
    assert window.exchange.export_action.shortcut().toString() == "Ctrl+E"


def test_export_to_onnx_verifies_and_writes_the_file(window, qtbot, tmp_path) -> None:
    open_lenet(window)
    dialog = window.exchange.export_model(show=False)
    dialog.format.setCurrentIndex(dialog.format.findData("onnx"))
    assert dialog.path.text().endswith(".onnx") and dialog.opset.isEnabled()
    target = tmp_path / "lenet.onnx"
    dialog.path.setText(str(target))
    assert dialog.start()
    assert not dialog.close_button.isEnabled()  # an export in progress finishes first
    finish(qtbot, dialog)
    assert dialog.result is not None and dialog.result.paths == [target]
    assert "verified at batch 1 and 3" in dialog.status.text()
    assert dialog.progress.value() == 100 and dialog.close_button.isEnabled()
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[1:] == [1, 32, 32]
    assert isinstance(session.get_inputs()[0].shape[0], str)  # any batch size


def test_the_file_name_follows_the_format_and_weights_disable_shape(window) -> None:
    open_lenet(window)
    dialog = window.exchange.export_model(show=False)
    for key, suffix in (("pt2", ".pt2"), ("torchscript", ".pt"), ("pth", ".pth")):
        dialog.format.setCurrentIndex(dialog.format.findData(key))
        assert dialog.path.text().endswith(suffix)
    assert not dialog.input.isEnabled() and not dialog.opset.isEnabled()
    assert not dialog.script.isEnabled()
    dialog.format.setCurrentIndex(dialog.format.findData("python"))
    assert dialog.script.isEnabled() and dialog.path.text().endswith(".py")


def test_exported_weights_are_the_trained_ones(window, qtbot, tmp_path) -> None:
    open_lenet(window)
    project = window.document.project
    graph_weights = {k: torch.full_like(v, 0.5) if v.is_floating_point() else v
                     for k, v in _fresh_state(window).items()}
    project.weights["weights/run-1.safetensors"] = checkpoint.to_bytes(graph_weights)
    project.current_weights = "weights/run-1.safetensors"
    dialog = window.exchange.export_model(show=False)
    assert dialog.weights.currentData() == "trained"
    dialog.format.setCurrentIndex(dialog.format.findData("safetensors"))
    dialog.path.setText(str(tmp_path / "w.safetensors"))
    assert dialog.start()
    finish(qtbot, dialog)
    from safetensors.torch import load_file

    written = load_file(str(tmp_path / "w.safetensors"))
    assert written.keys() == graph_weights.keys()
    assert all(torch.equal(written[k], graph_weights[k]) for k in written)


def _fresh_state(window) -> dict[str, torch.Tensor]:
    from cnnstudio.engine import to_module

    return to_module(window.document.graph, seed=0).state_dict()


def test_a_failed_export_shows_why_and_writes_nothing(window, qtbot, tmp_path,
                                                     monkeypatch) -> None:
    from cnnstudio import engine

    def broken(*args, **kwargs):
        raise ExportError("the ONNX export failed: Unsupported operator", "Error Report\nline 2")

    monkeypatch.setattr(engine, "export_model", broken)  # where the dialog looks it up
    open_lenet(window)
    dialog = window.exchange.export_model(show=False)
    dialog.path.setText(str(tmp_path / "m.onnx"))
    assert dialog.start()
    finish(qtbot, dialog)
    assert dialog.result is None
    assert "Export failed: the ONNX export failed" in dialog.status.text()
    assert "Nothing was written" in dialog.status.text()
    assert dialog.report.isVisibleTo(dialog)
    assert dialog.report.toPlainText() == "Error Report\nline 2"
    assert not (tmp_path / "m.onnx").exists()


def test_bad_options_are_refused_before_starting(window, tmp_path) -> None:
    open_lenet(window)
    dialog = window.exchange.export_model(show=False)
    dialog.path.setText("")
    assert not dialog.start() and "Choose a file" in dialog.status.text()
    dialog.path.setText(str(tmp_path / "m.onnx"))
    dialog.input.setText("3,x,28")
    assert not dialog.start() and "Input size" in dialog.status.text()
    assert dialog.task is None


def test_export_at_another_input_size(window, qtbot, tmp_path) -> None:
    window.new_from_preset("simple_cnn")
    dialog = window.exchange.export_model(show=False)
    dialog.format.setCurrentIndex(dialog.format.findData("pt2"))
    dialog.path.setText(str(tmp_path / "m.pt2"))
    dialog.input.setText("1,32,32")
    assert dialog.start()
    finish(qtbot, dialog)
    assert dialog.result is not None, dialog.status.text()
    program = torch.export.load(str(tmp_path / "m.pt2")).module()
    assert program(torch.randn(2, 1, 32, 32)).shape[0] == 2


def test_import_a_torchvision_model_opens_it_unsaved(window, qtbot, answers) -> None:
    dialog = window.exchange.import_model("torchvision", show=False)
    dialog.model.setCurrentText("resnet18")
    dialog.classes.setValue(10)
    dialog.input.setText("3,64,64")
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.imported is not None or dialog.task is None, timeout=60000)
    qtbot.waitUntil(lambda: window.document.project.name == "resnet18", timeout=10000)
    project = window.document.project
    assert project.current_weights is not None
    state = checkpoint.from_bytes(project.weights[project.current_weights])
    assert sum(v.numel() for k, v in state.items() if "running" not in k
               and "num_batches" not in k) == 11_181_642
    assert window.document.dirty and window.document.path is None
    assert "torchvision" in project.description


def test_import_a_python_file_asks_first(window, tmp_path, answers, monkeypatch) -> None:
    shown, _ = answers
    code = tmp_path / "net.py"
    code.write_text("from torch import nn\n\nclass Net(nn.Sequential):\n"
                    "    def __init__(self):\n        super().__init__(nn.Flatten(), "
                    "nn.Linear(12, 3))\n", encoding="utf-8")
    dialog = window.exchange.import_model("python", show=False)
    assert dialog.warning.isVisibleTo(dialog)
    dialog.path.setText(str(code))
    dialog.input.setText("3,2,2")
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda *a, **k: QMessageBox.StandardButton.Cancel)
    assert not dialog.start() and dialog.task is None  # declined: nothing ran
    assert dialog.imported is None


def test_import_a_missing_file_is_refused(window, tmp_path, answers) -> None:
    dialog = window.exchange.import_model("onnx", show=False)
    dialog.path.setText(str(tmp_path / "nope.onnx"))
    assert not dialog.start() and "Choose an existing file" in dialog.status.text()


def test_a_failed_import_keeps_the_open_project(window, qtbot, tmp_path, answers) -> None:
    open_lenet(window)
    window.document.undo_stack.setClean()
    before = window.document.project
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    dialog = window.exchange.import_model("onnx", show=False)
    dialog.path.setText(str(bad))
    assert dialog.start()
    finish(qtbot, dialog)
    assert dialog.status.text().startswith("Import failed: ")
    assert "\n" not in dialog.status.text()
    assert window.document.project is before


def test_saving_an_imported_project_keeps_its_weights(window, tmp_path, answers,
                                                     monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    from cnnstudio.engine.importers.modules import from_torchvision

    imported = from_torchvision("resnet18", num_classes=10, input_shape=[3, 32, 32])
    window.exchange.open_imported(imported, "r18")
    assert window.document.dirty
    path = tmp_path / "r18.cnnproj"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    assert window.save() and not window.document.dirty
    project = load_project(path)
    state = checkpoint.from_bytes(project.weights[project.current_weights])
    assert state.keys() == imported.state.keys()
    assert all(torch.equal(state[k], imported.state[k]) for k in imported.state)


def test_preview_shows_what_the_model_becomes_and_import_keeps_it(window, qtbot,
                                                                   answers) -> None:
    """Preview imports in the background and says what the model becomes (layers, blocks,
    parameters, which operations became which layers); Import then opens that very result
    without importing again. Changing an option makes Import work anew."""
    dialog = window.exchange.import_model("torchvision", show=False)
    dialog.model.setCurrentText("resnet18")
    dialog.classes.setValue(10)
    dialog.input.setText("3,64,64")
    assert dialog.preview()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=60000)
    text = dialog.summary.toPlainText().splitlines()
    assert text[0].startswith("resnet18 becomes 69 layers in 15 blocks, ")
    assert "11,181,642 parameters" in text[0]
    assert "20 × Conv2d  ← torch.nn.Conv2d" in text and "8 × Add  ← operator.add" in text
    assert dialog.summary.isVisibleTo(dialog) and dialog.imported is None
    previewed = dialog.previewed[1]
    assert dialog.start() and dialog.task is None  # nothing ran again
    assert dialog.imported is previewed
    qtbot.waitUntil(lambda: window.document.project.name == "resnet18", timeout=10000)
    dialog = window.exchange.import_model("torchvision", show=False)
    dialog.previewed = ((), previewed)  # another import's options
    dialog.input.setText("3,32,32")
    assert dialog.start() and dialog.task is not None
    finish(qtbot, dialog)
    assert dialog.imported is not previewed


def test_preview_of_a_model_that_cannot_come_in_names_why(window, qtbot, tmp_path,
                                                          answers) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    dialog = window.exchange.import_model("onnx", show=False)
    dialog.path.setText(str(bad))
    assert dialog.preview()
    finish(qtbot, dialog)
    assert dialog.status.text().startswith("Import failed: ") and dialog.previewed is None
    assert not dialog.summary.isVisibleTo(dialog)
