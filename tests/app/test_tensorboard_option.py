"""The window's "TensorBoard logs" option: a preference of this machine (not the project's),
chosen with a folder dialog and turned off again, said to be unavailable without the package,
and a run trained in the window writes its folder of event files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from cnnstudio.app import preferences
from cnnstudio.app.document import Document
from cnnstudio.app.training import settings_device
from cnnstudio.app.training.controller import IDLE, TrainingController
from cnnstudio.app.training.settings_panel import TrainingSettings
from cnnstudio.project import load_project

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


@pytest.fixture
def prefs(tmp_path):
    preferences.use_folder(tmp_path / "settings")
    yield tmp_path
    preferences.use_folder(None)


def test_the_folder_is_a_preference_chosen_and_turned_off(qtbot, prefs, monkeypatch) -> None:
    project = load_project(EXAMPLE)
    panel = TrainingSettings(Document(project))
    qtbot.addWidget(panel)
    row = panel.device.tensorboard
    assert row.text == "off" and not row.off.isEnabled()
    chosen = str(prefs / "logs")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: chosen)
    row.choose.click()
    assert preferences.tensorboard_folder() == chosen and row.text == chosen
    assert "run-<id>" in row.where.toolTip() and row.off.isEnabled()
    assert "tensorboard" not in project.training.to_dict()  # nothing in the project file
    again = TrainingSettings(Document(load_project(EXAMPLE)))  # the next panel remembers it
    qtbot.addWidget(again)
    assert again.device.tensorboard.text == chosen
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "")
    row.choose.click()  # cancelled: unchanged
    assert preferences.tensorboard_folder() == chosen
    row.off.click()
    assert preferences.tensorboard_folder() is None and row.text == "off"


def test_without_the_package_the_option_says_what_to_install(qtbot, prefs, monkeypatch) -> None:
    preferences.set_tensorboard_folder(str(prefs / "logs"))
    monkeypatch.setattr(settings_device, "tensorboard_problem",
                        lambda: "TensorBoard logs need the tensorboard package: "
                        "pip install 'cnnstudio[tensorboard]'")
    row = settings_device.TensorBoardRow()
    qtbot.addWidget(row)
    row.show()
    qtbot.waitUntil(lambda: row.known, timeout=10_000)
    assert "pip install 'cnnstudio[tensorboard]'" in row.text
    assert not row.choose.isEnabled() and row.off.isEnabled()


def test_with_the_package_the_option_can_be_chosen(qtbot, prefs) -> None:
    pytest.importorskip("tensorboard")
    row = settings_device.TensorBoardRow()
    qtbot.addWidget(row)
    row.show()
    qtbot.waitUntil(lambda: row.known, timeout=60_000)
    assert row.problem is None and row.choose.isEnabled()


def test_a_run_in_the_window_writes_its_run_folder(qtbot, prefs) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from cnnstudio.engine.inference.model import project_data

    logs = prefs / "logs"
    preferences.set_tensorboard_folder(str(logs))
    project = load_project(EXAMPLE)
    project.training.epochs, project.training.batch_size = 1, 64
    project.training.device = "cpu"
    c = TrainingController(Document(project))
    c.data = project_data(project)
    assert c.train()
    qtbot.waitUntil(lambda: c.state == IDLE, timeout=120_000)
    run = project.runs[-1]
    assert run.status == "finished"
    acc = EventAccumulator(str(logs / f"run-{run.id}"))
    acc.Reload()
    assert [s.value for s in acc.Scalars("epoch/val_acc")] == \
        pytest.approx([run.epochs[0].val_acc])
    assert acc.Tags()["graph"] and acc.Tags()["images"] == ["predictions/validation"]
