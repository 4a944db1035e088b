"""File ▸ Import model ▸ A timm model, as a user drives it: a searchable list of timm's CNNs,
Preview and Import as for torchvision, pretrained weights downloaded with a progress bar (from a
test door, never the network), and a clear line when timm or the network is missing."""

from __future__ import annotations

import sys

import pytest
import torch

from cnnstudio.engine import checkpoint
from tests.engine.importers.test_timm_source import (  # noqa: F401 - fixtures
    door,
    hub,
    safetensors_of,
    timm_model,
)

pytest.importorskip("timm", reason="timm is an optional extra (pip install '.[timm]')")


def finish(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: dialog.task is None, timeout=60000)


def test_a_timm_model_is_searched_previewed_and_imported(window, qtbot, answers) -> None:
    dialog = window.exchange.import_model("timm", show=False)
    for widget, shown in ((dialog.timm_model, True), (dialog.pretrained, True),
                          (dialog.classes, True), (dialog.model, False),
                          (dialog.file_row, False), (dialog.symbol, False)):
        assert widget.isVisibleTo(dialog) is shown
    completer = dialog.timm_model.completer()
    completer.setCompletionPrefix("SEresnet1")  # any part of the name, any case
    found = [completer.completionModel().index(i, 0).data()
             for i in range(completer.completionModel().rowCount())]
    assert "seresnet18" in found and all("seresnet1" in n for n in found)
    dialog.timm_model.setCurrentText("resnet18d")
    dialog.classes.setValue(10)
    dialog.input.setText("3,64,64")
    assert dialog.preview()
    finish(qtbot, dialog)
    assert dialog.summary.toPlainText().startswith("resnet18d becomes ")
    assert dialog.start() and dialog.task is None  # the preview is kept
    qtbot.waitUntil(lambda: window.document.project.name == "resnet18d", timeout=10000)
    assert "timm resnet18d" in window.document.project.description


def test_pretrained_weights_download_with_progress(window, qtbot, answers, hub,  # noqa: F811
                                                  monkeypatch) -> None:
    reference = timm_model("resnet18", seed=4)
    hub.body = safetensors_of(reference)
    dialog = window.exchange.import_model("timm", show=False)
    seen: list[tuple[float, str]] = []
    shown = dialog._progressed

    def spy(fraction: float, text: str) -> None:
        seen.append((fraction, text))
        shown(fraction, text)

    monkeypatch.setattr(dialog, "_progressed", spy)
    dialog.timm_model.setCurrentText("resnet18")
    dialog.pretrained.setChecked(True)
    dialog.input.setText("3,64,64")
    assert dialog.start()
    finish(qtbot, dialog)
    qtbot.waitUntil(lambda: window.document.project.name == "resnet18", timeout=10000)
    assert seen and seen[-1][0] == 1.0 and "Downloading resnet18's weights" in seen[-1][1]
    project = window.document.project
    state = checkpoint.from_bytes(project.weights[project.current_weights])
    assert torch.equal(state["fc.weight"], reference.state_dict()["fc.weight"])


def test_offline_the_reason_is_one_line(window, qtbot, answers, hub) -> None:  # noqa: F811
    dialog = window.exchange.import_model("timm", show=False)
    dialog.timm_model.setCurrentText("resnet18")
    dialog.pretrained.setChecked(True)
    assert dialog.start()
    finish(qtbot, dialog)
    text = dialog.status.text()
    assert text.startswith("Import failed: cannot download model.safetensors") and "\n" not in text
    assert "huggingface.co/timm/resnet18.a1_in1k" in text and dialog.imported is None


def test_without_timm_the_dialog_says_how_to_install_it(window, answers, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)
    dialog = window.exchange.import_model("timm", show=False)
    assert "pip install 'cnnstudio[timm]'" in dialog.status.text()
    assert not dialog.start() and dialog.task is None
