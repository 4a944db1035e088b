"""Training as a user does it in the window: Train on the example, the network locked during
the run, the charts fed, a failure shown with advice, a network with errors refused, and a
window closed during a run stopping it cleanly."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from cnnstudio.app.training.controller import IDLE
from cnnstudio.app.window import MainWindow
from cnnstudio.project import load_project

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


def open_example(win: MainWindow, tmp_path: Path, epochs: int, **training) -> Path:
    project = load_project(EXAMPLE)
    project.training.epochs = epochs
    for key, value in training.items():
        setattr(project.training, key, value)
    from cnnstudio.project import save_project

    path = tmp_path / "digits.cnnproj"
    save_project(project, path)
    assert win.open_file(path)
    return path


def test_train_locks_the_network_feeds_the_charts_and_saves(window, tmp_path, qtbot) -> None:
    path = open_example(window, tmp_path, epochs=2)
    doc = window.document
    assert window.training.act["train"].isEnabled()
    window.statusBar().showMessage("Opened the example", 60_000)  # as opening one says
    window.training.act["train"].trigger()
    assert doc.locked and not window.training.act["train"].isEnabled()
    # The progress line replaces the message instead of being drawn over it.
    assert window.statusBar().currentMessage() == ""
    assert window.training.progress_text.isVisible()
    assert window.training.act["stop"].isEnabled()
    before = doc.graph.nodes["features.c1"].params.get("out_channels")
    doc.set_params("features.c1", {"out_channels": 12})  # refused while training
    assert doc.graph.nodes["features.c1"].params.get("out_channels") == before
    qtbot.waitUntil(lambda: window.training.controller.state == IDLE, timeout=120_000)
    assert not doc.locked and window.training.act["continue"].isEnabled()
    charts = window.training.panel("Charts")
    assert sorted(charts.epochs) == [1, 2] and len(charts.batches) > 0
    assert charts.title.text().endswith("— finished")  # the event's, not a run not yet updated
    saved = load_project(path)  # the worker saved the run into the open file
    assert saved.runs[-1].status == "finished" and len(saved.runs[-1].epochs) == 2
    assert saved.runs[-1].epochs[-1].val_acc > 0.9
    assert saved.current_weights in saved.weights
    assert not doc.dirty
    # An image dropped on the window gets the trained model's top-5 in the Evaluation panel.
    from PIL import Image

    from cnnstudio.engine.inference.model import project_data

    data = project_data(doc.project)
    image = tmp_path / "digit.png"
    Image.fromarray(data.val.images([0])[0, 0].numpy()).save(image)
    view = window.training.panel("Evaluation")
    with qtbot.waitSignal(view.predicted, timeout=60_000):
        drop(window, image)
    assert len(view.last_prediction) == 5
    assert window.docks["Evaluation"].isVisible()


def drop(window: MainWindow, path: Path) -> None:
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    action, left = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton
    enter = QDragEnterEvent(QPointF(10, 10).toPoint(), action, mime, left,
                            Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    window.dropEvent(QDropEvent(QPointF(10, 10), action, mime, left,
                                Qt.KeyboardModifier.NoModifier))


def test_a_network_with_errors_is_not_trained(window, answers) -> None:
    shown, _ = answers
    window.new_blank()  # an Input alone: nothing is returned
    assert not window.training.train()
    assert shown and "cannot be trained" in shown[-1][0]
    assert window.training.controller.state == IDLE


def test_a_failure_reaches_the_user_with_advice(window, tmp_path, qtbot, answers) -> None:
    shown, _ = answers
    open_example(window, tmp_path, epochs=2)
    doc = window.document
    from cnnstudio.engine.inference.model import project_data

    data = project_data(doc.project)
    data.train.set_normalization([0.5], [0.0])  # x / 0: a NaN loss at the first step
    window.training.controller.data = data
    window.training.train()
    qtbot.waitUntil(lambda: window.training.controller.state == IDLE, timeout=120_000)
    title, text = shown[-1]
    assert title == "Training stopped"
    assert text.startswith("The loss became NaN") and "Find a learning rate" in text
    assert "The project is kept (no weights had been saved yet)" in text  # it failed at once
    assert "last good weights" not in text
    assert not doc.locked


def test_closing_during_a_run_asks_then_stops_and_keeps_it(window, tmp_path, qtbot,
                                                            answers) -> None:
    shown, reply = answers
    path = open_example(window, tmp_path, epochs=50, batch_size=4)
    c = window.training.controller
    window.training.train()
    qtbot.waitUntil(lambda: c.state == "running", timeout=60_000)
    reply["question"] = QMessageBox.StandardButton.Cancel
    assert not window.close()  # the user keeps the run
    assert c.running
    reply["question"] = QMessageBox.StandardButton.Yes
    window.document.undo_stack.setClean()
    assert window.close()
    assert not c.running
    assert any("training run is in progress" in title for title, _ in shown)
    saved = load_project(path)
    assert saved.runs[-1].status == "stopped" and saved.checkpoint is not None


def test_the_progress_line_changes_without_laying_the_window_out_again(window, qtbot) -> None:
    """A relayout of the main window moves every dock (2-3 times a second, while the GUI
    thread shares the cores with the run): the progress line keeps its size instead."""
    from PySide6.QtCore import QEvent, QObject

    from cnnstudio.app.training.ui import WIDEST_PROGRESS
    from cnnstudio.engine.training.trainer import BatchEnd, Started

    ui = window.training
    ui._started(Started(1, 100, 1000, 0, 0, "cpu", "CPU (2 threads)", 900, 100, 61706))
    ui.progress_text.show()
    ui.progress_bar.show()

    class Layouts(QObject):
        count = 0

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.LayoutRequest:
                Layouts.count += 1
            return False

    counter = Layouts()
    for widget in (window, window.statusBar()):
        widget.installEventFilter(counter)
    for _ in range(40):  # the layout of showing the line settles first (slow on a busy machine)
        Layouts.count = 0
        qtbot.wait(100)
        if Layouts.count == 0:
            break
    size = ui.progress_text.size()
    for step, rate in ((1, 5.0), (200, 12_345.0), (1000, 987_654.0)):
        ui._batch(BatchEnd(7 + step // 100, step, 1000, 0.5, 0.9, 0.01, rate))
        qtbot.wait(30)
    assert "step 1000/1000" in ui.progress_text.text()
    assert counter.count == 0 and ui.progress_text.size() == size
    metrics = ui.progress_text.fontMetrics()
    assert metrics.horizontalAdvance(ui.progress_text.text()) <= size.width()
    assert metrics.horizontalAdvance(WIDEST_PROGRESS) <= size.width()


def test_a_run_says_which_starting_weights_fit_and_which_start_fresh(window) -> None:
    """Training on from weights a changed network half fits (a replaced head): the status
    bar says what was loaded and what starts fresh."""
    from cnnstudio.engine.training.trainer import Started

    summary = "loaded 8 of 10 tensors; fresh: fc.weight, fc.bias"
    window.training._started(Started(1, 3, 10, 1, 0, "cpu", "CPU", 90, 10, 1000,
                                      {"loaded": 8, "summary": summary}))
    assert window.statusBar().currentMessage() == f"Weights: {summary}"
    window.statusBar().clearMessage()
    window.training._started(Started(2, 3, 10, 1, 0, "cpu", "CPU", 90, 10, 1000))
    assert window.statusBar().currentMessage() == ""
