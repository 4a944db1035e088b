"""The main window as a user drives it: new, open, save, dirty title, unsaved-changes prompts,
failed saves, autosave and recovery, clipboard, import/export, themes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from cnnstudio.app import autosave, preferences
from cnnstudio.app.window import MainWindow
from cnnstudio.graph import load_graph
from cnnstudio.project import ProjectError, load_project

from .conftest import forget_changes

EXAMPLES = Path(__file__).resolve().parents[2] / "projects"


def test_starts_on_the_welcome_page_with_examples(window) -> None:
    assert window.stack.currentWidget() is window.welcome
    texts = [card.title.text() for card in window.welcome.example_cards]
    assert texts[0].startswith("LeNet-5 on handwritten digits")  # offline examples first
    assert any("ResNet-18 on CIFAR-10" in t for t in texts)
    assert window.windowTitle() == "CNN Studio"  # no project yet: no name, no totals
    assert not window.totals.isVisible()


def test_new_from_preset_shows_it_validated(window) -> None:
    window.new_from_preset("resnet18")
    assert window.stack.currentWidget() is window.view
    assert window.document.report.total_params == 11_689_512
    assert "valid" in window.validity.text() and "11.69 M" in window.totals.text()
    assert not window.isWindowModified()


def test_edit_save_open_round_trip_and_dirty_title(window, tmp_path) -> None:
    window.new_from_preset("lenet5")
    window.document.set_params("features.c1", {"out_channels": 8})
    assert window.isWindowModified()
    path = tmp_path / "mine.cnnproj"
    assert window._save_to(path)
    assert not window.isWindowModified() and window.windowTitle() == "mine.cnnproj[*] — CNN Studio"
    assert preferences.recent_files()[0] == str(path)
    saved = load_project(path)
    assert saved.graph.node("features.c1").params["out_channels"] == 8
    window.new_blank()
    assert window.open_file(path)
    assert window.document.graph == saved.graph and window.document.path == path


def test_a_file_that_is_not_a_project_gives_a_message(window, tmp_path, answers) -> None:
    shown, _ = answers
    bad = tmp_path / "bad.cnnproj"
    bad.write_text("hello")
    assert not window.open_file(bad)
    assert shown and shown[-1][0] == "Cannot open the file" and "bad.cnnproj" in shown[-1][1]
    graph_json = tmp_path / "broken.json"
    graph_json.write_text('{"format": "cnnstudio.graph", "version": 1, "nodes": [{"id": "x"}]}')
    assert not window.open_file(graph_json)
    assert "nodes[0].type" in shown[-1][1]


def test_a_failed_save_keeps_the_document_open_and_dirty(window, tmp_path, answers,
                                                           monkeypatch) -> None:
    shown, _ = answers
    window.new_from_preset("lenet5")
    window.document.set_params("features.c1", {"out_channels": 8})

    def full_disk(project, path):
        raise ProjectError(f"cannot save to {path}: no space left on the disk")

    monkeypatch.setattr("cnnstudio.app.window.save_project", full_disk)
    assert not window._save_to(tmp_path / "x.cnnproj")
    assert window.isWindowModified() and "no space left" in shown[-1][1]
    assert not (tmp_path / "x.cnnproj").exists()


def test_unsaved_changes_ask_before_closing(window, answers, qtbot) -> None:
    shown, reply = answers
    window.new_from_preset("lenet5")
    window.document.set_params("features.c1", {"out_channels": 8})
    reply["question"] = QMessageBox.StandardButton.Cancel
    window.close()
    assert window.isVisible() and shown[-1][0] == "Unsaved changes"
    reply["question"] = QMessageBox.StandardButton.Discard
    window.close()
    assert not window.isVisible()


def test_autosave_and_recovery_after_a_crash(window, qtbot, answers) -> None:
    _, reply = answers
    window.new_from_preset("lenet5")
    window.document.set_params("features.c1", {"out_channels": 12})
    window.autosave_now()
    assert len(autosave.pending()) == 1
    # The process dies here: nothing closes cleanly. The next start offers the work back.
    again = MainWindow()
    qtbot.addWidget(again, before_close_func=forget_changes)
    reply["question"] = QMessageBox.StandardButton.Open
    assert again.offer_recovery()
    assert again.document.graph.node("features.c1").params["out_channels"] == 12
    assert again.isWindowModified()  # recovered work is unsaved work
    assert autosave.pending() == []  # taken back, so not offered twice


def test_saving_removes_the_recovery_file(window, tmp_path) -> None:
    window.new_from_preset("lenet5")
    window.document.set_params("features.c1", {"out_channels": 12})
    window.autosave_now()
    assert autosave.pending()
    window._save_to(tmp_path / "a.cnnproj")
    assert autosave.pending() == []


def test_copy_paste_through_the_clipboard_as_graph_json(window) -> None:
    window.new_from_preset("lenet5")
    window.document.select(["features.c1", "features.c1_act"])
    window.copy()
    text = QApplication.clipboard().text()
    doc = json.loads(text)
    assert doc["format"] == "cnnstudio.graph" and len(doc["nodes"]) == 2
    before = len(window.document.graph)
    window.paste()
    assert len(window.document.graph) == before + 2
    window.document.undo_stack.undo()
    assert len(window.document.graph) == before
    QApplication.clipboard().setText("not a graph")
    window.paste()
    assert len(window.document.graph) == before


def test_import_and_export_graph_json(window, tmp_path, monkeypatch) -> None:
    window.new_from_preset("simple_cnn")
    out = tmp_path / "net.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    window.export_graph()
    assert load_graph(out) == window.document.graph
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(out), ""))
    before = len(window.document.graph)
    window.import_graph()
    assert len(window.document.graph) == 2 * before  # added beside the current network


def test_examples_open_as_unsaved_copies(window) -> None:
    window.open_file(EXAMPLES / "lenet5-digits.cnnproj", as_copy=True)
    assert window.document.path is None
    assert window.document.project.dataset.source == "digits"


def test_themes_switch(window) -> None:
    from cnnstudio.app.style import is_dark

    window._set_theme("dark")
    assert is_dark() and preferences.theme() == "dark"
    window._set_theme("light")
    assert not is_dark()


def test_window_state_is_restored(window, qtbot) -> None:
    assert not window.docks["Summary"].isVisible()  # the welcome page has no panels
    window.new_from_preset("lenet5")
    assert window.docks["Summary"].isVisible()
    window.docks["Problems"].hide()
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    again.new_from_preset("lenet5")
    assert not again.docks["Problems"].isVisible() and again.docks["Summary"].isVisible()


def test_the_window_starts_without_torch() -> None:
    code = ("import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
            "from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "from cnnstudio.app.window import MainWindow\n"
            "w = MainWindow(); w.new_from_preset('resnet50'); w.show(); app.processEvents()\n"
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip().endswith("False")
