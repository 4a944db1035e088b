"""The shipped examples are templates: every way of opening one (the command line, the welcome
page, File > Open recent, File > Open…, a drop on the window) gives an untitled copy, a run
trained in it stays in memory, Save asks where starting in the user's documents, and the
shipped file's bytes never change. Also: the welcome page names no project in the title and
shows no network's totals."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog

from cnnstudio.app import preferences
from cnnstudio.app.training.controller import IDLE
from cnnstudio.app.window import MainWindow
from cnnstudio.project import DatasetConfig, Project, load_project, save_project
from cnnstudio.project.examples import examples_folder, is_example

EXAMPLES = Path(__file__).resolve().parents[2] / "projects"
SHIPPED = sorted(EXAMPLES.glob("*.cnnproj"))
FASTEST = EXAMPLES / "lenet5-digits.cnnproj"  # offline, 1,797 small images


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def shipped_unchanged():
    """Every test here ends with every shipped example byte for byte as it began."""
    before = {p.name: digest(p) for p in SHIPPED}
    yield
    assert {p.name: digest(p) for p in SHIPPED} == before


@pytest.fixture
def documents(tmp_path, monkeypatch) -> Path:
    """A home folder of the test's own, with a Documents folder in it."""
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))  # no user-dirs.dirs there
    return home / "Documents"


def by_command_line(window: MainWindow, path: Path, _mp: pytest.MonkeyPatch) -> None:
    window.open_file(path)  # what main.run(path) does once the window shows


def by_welcome_page(window: MainWindow, path: Path, _mp: pytest.MonkeyPatch) -> None:
    window.welcome.open_example.emit(str(path))


def by_open_recent(window: MainWindow, path: Path, _mp: pytest.MonkeyPatch) -> None:
    preferences.add_recent(path)  # listed by an older version, or by hand
    window.recent_menu.aboutToShow.emit()
    (action,) = [a for a in window.recent_menu.actions() if a.text() == str(path)]
    action.trigger()


def by_open_dialog(window: MainWindow, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    window.act["open"].trigger()


def by_drop(window: MainWindow, path: Path, _mp: pytest.MonkeyPatch) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))


ROUTES: dict[str, Callable[[MainWindow, Path, pytest.MonkeyPatch], None]] = {
    "command line": by_command_line, "welcome page": by_welcome_page,
    "open recent": by_open_recent, "open dialog": by_open_dialog, "drop": by_drop}


def open_by(route: str, window: MainWindow, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ROUTES[route](window, path, monkeypatch)


def test_the_examples_are_found_and_recognised() -> None:
    assert examples_folder() is not None and examples_folder().samefile(EXAMPLES)
    assert len(SHIPPED) >= 5 and all(is_example(p) for p in SHIPPED)


def test_is_example_follows_links_and_refuses_other_folders(tmp_path) -> None:
    link = tmp_path / "mine.cnnproj"
    link.symlink_to(FASTEST)
    assert is_example(link)  # a link to a template is the template
    assert is_example(EXAMPLES / "not-yet.cnnproj")  # a save target among them, too
    assert is_example(tmp_path / ".." / tmp_path.name / "mine.cnnproj")
    copy = tmp_path / "copy.cnnproj"
    copy.write_bytes(FASTEST.read_bytes())
    assert not is_example(copy)
    assert not is_example(tmp_path / "no-such-folder" / "x.cnnproj")


@pytest.mark.parametrize("route", ROUTES)
def test_every_example_opens_untitled_by_every_route(window, answers, documents, route,
                                                     monkeypatch) -> None:
    for path in SHIPPED:
        open_by(route, window, path, monkeypatch)
        doc = window.document
        assert window.stack.currentWidget() is window.view, path.name
        assert doc.path is None and not doc.dirty, (route, path.name)
        assert doc.project.name == load_project(path).name
        assert path.name not in window.windowTitle()
        assert not is_example(window.default_folder() / path.name)
    if route != "open recent":  # opening examples never lists them as recent files
        assert not any(is_example(p) for p in preferences.recent_files())


@pytest.mark.parametrize("route", ROUTES)
def test_a_run_in_an_example_stays_in_memory_and_save_asks_in_documents(
        window, answers, documents, qtbot, route, monkeypatch) -> None:
    open_by(route, window, FASTEST, monkeypatch)
    doc = window.document
    assert doc.path is None
    doc.project.training.epochs = 1
    window.training.act["train"].trigger()
    qtbot.waitUntil(lambda: window.training.controller.state == IDLE, timeout=120_000)
    assert doc.project.runs and doc.project.runs[-1].status == "finished"
    assert doc.path is None and doc.dirty  # kept in memory, waiting for a place to go
    assert not load_project(FASTEST).runs

    asked: list[str] = []

    def save_where(parent, caption, suggestion, *args, **kwargs):
        asked.append(suggestion)
        return "", ""  # the user cancels

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_where)
    window.act["save"].trigger()
    (suggestion,) = asked
    assert Path(suggestion).parent == documents
    assert not is_example(suggestion)
    assert not is_example(window.default_folder() / "x.cnnproj")
    assert doc.dirty and doc.path is None

    mine = documents / "trained.cnnproj"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(mine), ""))
    window.act["save"].trigger()
    assert doc.path == mine and not doc.dirty
    assert load_project(mine).runs[-1].status == "finished"


def test_save_as_over_an_example_is_refused(window, answers, documents, monkeypatch) -> None:
    shown, _ = answers
    window.open_file(FASTEST)
    window.document.mark_dirty()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(FASTEST), ""))
    assert not window.save_as()
    assert shown[-1][0] == "The project was not saved" and "example" in shown[-1][1]
    assert window.document.path is None and window.document.dirty


def test_the_first_save_never_starts_among_the_examples(window, documents) -> None:
    preferences.add_recent(FASTEST)  # the old behaviour left this at the top of the list
    assert window.default_folder() == documents
    mine = documents / "own" / "net.cnnproj"
    mine.parent.mkdir()
    preferences.add_recent(mine)
    preferences.add_recent(FASTEST)
    assert window.default_folder() == mine.parent  # the user's own last folder still counts


def test_a_copy_keeps_its_relative_data_folder_working(window, tmp_path) -> None:
    folder = tmp_path / "course"
    (folder / "images").mkdir(parents=True)
    project = Project(name="Mine", graph=load_project(FASTEST).graph,
                      dataset=DatasetConfig(source="folder", path="images"))
    save_project(project, folder / "mine.cnnproj")
    assert window.open_file(folder / "mine.cnnproj", as_copy=True)
    assert window.document.path is None
    assert Path(window.document.project.dataset.path) == folder / "images"


def test_the_welcome_page_names_no_project_and_shows_no_totals(window, answers) -> None:
    assert window.windowTitle() == "CNN Studio" and not window.isWindowModified()
    window.new_from_preset("lenet5")
    assert window.windowTitle() == "lenet5[*] — CNN Studio"
    assert "valid" in window.validity.text() and "Params" in window.totals.text()
    window.document.set_params("features.c1", {"out_channels": 8})
    assert window.isWindowModified()
    window.act["welcome"].trigger()
    assert window.windowTitle() == "CNN Studio" and not window.isWindowModified()
    assert window.validity.text() == window.totals.text() == ""
    assert window.validity.isHidden() and window.totals.isHidden()
    window.show_canvas()  # back to the same network: its title and totals again
    assert window.windowTitle() == "lenet5[*] — CNN Studio" and window.isWindowModified()
    assert "valid" in window.validity.text() and "Params" in window.totals.text()
    assert window.totals.isVisible()
