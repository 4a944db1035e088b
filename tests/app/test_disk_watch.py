"""The window says when the open project's file changed on disk (issue 25, case 2): another
writer's save shows "NAME changed on disk (N new runs)." with Reload and Keep mine; the
window's own saves show nothing; Keep mine then Save keeps both writers' runs; a save or a run
refused by another process's lock says so in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QMessageBox

from cnnstudio.graph import presets
from cnnstudio.project import EpochRecord, Project, Run, load_project, save_project
from cnnstudio.project.model import graph_hash


def a_run(project: Project, run_id: int, day: int) -> Run:
    run = Run(id=run_id, started=f"2026-01-0{day}T10:00:00+00:00", graph_revision=1,
              graph_hash=graph_hash(project.graph), seed=day,
              training=project.training.to_dict(), dataset={}, status="finished")
    run.epochs.append(EpochRecord(1, 1.0, 0.5, 0.9, 0.6, 0.01, 1.0, 100.0))
    return run


@pytest.fixture
def opened(window, tmp_path) -> Path:
    """A project saved to a file and open in the window."""
    path = tmp_path / "net.cnnproj"
    save_project(Project(name="net", graph=presets.build("lenet5")), path)
    assert window.open_file(path)
    return path


def another_writer(path: Path, day: int = 2, network: bool = False) -> Run:
    """What a command training ``path`` in place does: read it, add a run, save it."""
    theirs = load_project(path)
    if network:
        theirs.graph.node("features.c1").params["out_channels"] = 4
    run = a_run(theirs, theirs.next_run_id(), day)
    theirs.runs.append(run)
    save_project(theirs, path)
    return run


def bar_shown(window, qtbot) -> str:
    assert window.disk_watch.check()  # what the timer does every second
    qtbot.waitUntil(window.disk_bar.isVisible, timeout=5000)
    return window.disk_bar.label.text()


def test_another_writer_shows_the_bar_with_the_run_count(window, opened, qtbot) -> None:
    assert not window.disk_watch.check() and window.disk_bar.isHidden()
    another_writer(opened)
    assert bar_shown(window, qtbot) == "net.cnnproj changed on disk (1 new run)."
    assert not window.disk_watch.check()  # told once, not every second
    another_writer(opened, day=3)  # it changed again: told again, counted again
    window.disk_bar.dismiss()
    assert bar_shown(window, qtbot) == "net.cnnproj changed on disk (2 new runs)."


def test_the_windows_own_saves_show_nothing(window, opened, qtbot) -> None:
    window.document.set_params("features.c1", {"out_channels": 8})
    assert window._save_to(opened)
    assert not window.disk_watch.check() and window.disk_bar.isHidden()
    with window.training.controller.save_lock:  # mid-save: the file is new, the record not yet
        another_writer(opened)
        assert not window.disk_watch.check()
    assert window.disk_watch.check() and window.disk_watch.wait()


def test_a_file_that_cannot_be_read_now_is_said_so(window, opened, qtbot) -> None:
    opened.write_bytes(b"half a zip")  # a copy tool, mid-way
    assert "net.cnnproj changed on disk (no new runs; it cannot be read now: " \
        in bar_shown(window, qtbot)


def test_reload_shows_the_new_run_in_the_runs_list(window, opened, qtbot, answers) -> None:
    shown, reply = answers
    runs = window.training.panel("Runs")
    assert runs.table.rowCount() == 0
    window.document.set_params("features.c1", {"out_channels": 8})  # unsaved: asked about
    theirs = another_writer(opened)
    bar_shown(window, qtbot)
    reply["question"] = QMessageBox.StandardButton.Cancel
    window.disk_bar.reload_button.click()
    assert shown[-1][0] == "Reload from disk?" and window.document.dirty
    assert window.document.project.runs == [] and window.disk_bar.isVisible()
    reply["question"] = QMessageBox.StandardButton.Discard
    window.disk_bar.reload_button.click()
    doc = window.document
    assert [r.started for r in doc.project.runs] == [theirs.started] and not doc.dirty
    assert doc.graph.node("features.c1").params["out_channels"] == 6  # as on disk
    assert window.disk_bar.isHidden() and not window.disk_watch.check()
    qtbot.waitUntil(lambda: runs.table.rowCount() == 1, timeout=5000)


def test_keep_mine_then_save_keeps_both_runs(window, opened, qtbot) -> None:
    doc = window.document
    window.training.show_panel("Runs")
    runs = window.training.panel("Runs")
    mine = a_run(doc.project, 1, day=1)
    doc.add_run(mine)  # a run of this window, not saved yet
    qtbot.waitUntil(lambda: runs.table.rowCount() == 1, timeout=5000)
    theirs = another_writer(opened, day=2)  # the file's first run is run 1 too
    assert bar_shown(window, qtbot) == "net.cnnproj changed on disk (1 new run)."
    window.disk_bar.keep_button.click()
    assert window.disk_bar.isHidden() and not window.disk_watch.check()
    assert "Save takes the 1 run from disk into it" in window.statusBar().currentMessage()
    assert window.save()
    on_disk = load_project(opened)
    assert sorted((r.id, r.started) for r in on_disk.runs) == [(1, mine.started),
                                                             (2, theirs.started)]
    assert [r.started for r in doc.project.runs] == [mine.started, theirs.started]
    assert "with 1 run from disk" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: runs.table.rowCount() == 2, timeout=5000)


def test_a_changed_network_on_disk_is_saved_beside_it(window, opened, qtbot, answers) -> None:
    shown, _ = answers
    another_writer(opened, network=True)
    assert bar_shown(window, qtbot) == \
        "net.cnnproj changed on disk (1 new run; its network was changed there)."
    window.disk_bar.keep_button.click()
    assert "conflict copy" in window.statusBar().currentMessage()
    assert not window.save()
    title, text = shown[-1]
    copies = list(opened.parent.glob("net.conflict-*.cnnproj"))
    assert title == "The project was not saved" and len(copies) == 1
    assert f"your version was saved as {copies[0].name} beside it" in text
    assert load_project(opened).graph.node("features.c1").params["out_channels"] == 4


def test_a_save_refused_by_the_lock_says_who_in_one_line(window, opened, answers,
                                                          other_process) -> None:
    shown, _ = answers
    proc = other_process(opened)
    window.document.set_params("features.c1", {"out_channels": 8})
    before = opened.read_bytes()
    assert not window.save()
    title, text = shown[-1]
    assert title == "The project was not saved" and "\n" not in text
    assert text.startswith(f"{opened} is being written by pid {proc.pid} "
                           "(cnnstudio train other.cnnproj) since ")
    assert text.endswith("; wait for it to finish or save to another file")
    assert window.document.dirty and opened.read_bytes() == before


def test_training_while_another_process_writes_says_who(window, opened, qtbot, answers,
                                                         other_process) -> None:
    shown, _ = answers
    proc = other_process(opened)
    assert window.training.train()
    controller = window.training.controller
    qtbot.waitUntil(lambda: not controller.running, timeout=60000)
    QCoreApplication.processEvents()
    title, text = next(s for s in shown if s[0] == "Training stopped")
    assert f"net.cnnproj is being written by pid {proc.pid} (cnnstudio train " \
           "other.cnnproj) since " in text
    assert controller.last_failure.kind == "locked"
    assert window.document.project.runs == [] and load_project(opened).runs == []
