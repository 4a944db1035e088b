"""Workspaces measured at the default 1440×900: Design gives the canvas ≥ 60 % of the window,
Train the charts ≥ 45 % with the network in view, Evaluate a whole 10×10 confusion matrix; a
user's layout is kept per workspace (across switches and restarts) until "Reset layout"; no
dock holds the bottom area tall; the charts' y axis and hover text stay readable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QScrollArea, QWidget

from cnnstudio.app.window import MainWindow
from cnnstudio.app.workspaces import WORKSPACES

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"
CLIPS = QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape
PANELS = ("Training", "Charts", "Feature maps", "Evaluation", "Runs")


def settle() -> None:
    for _ in range(4):  # dock layouts arrive as posted events
        QCoreApplication.processEvents()


def share(window: MainWindow, widget: QWidget) -> float:
    """The share of the window's area ``widget`` covers on screen (0 where hidden)."""
    if not widget.isVisible() or widget.visibleRegion().isEmpty():
        return 0.0
    return widget.width() * widget.height() / (window.width() * window.height())


def opened(window: MainWindow, workspace: str) -> MainWindow:
    """A network on the canvas, every training panel made, laid out as ``workspace``."""
    window.new_blank()
    for title in PANELS:
        window.training.panel(title)
    window.workspaces.switch(workspace)
    settle()
    return window


def test_the_window_opens_at_1440_by_900_with_three_workspaces(window) -> None:
    assert (window.width(), window.height()) == (1440, 900)
    assert [a.shortcut().toString() for a in window.workspaces.actions.values()] == \
        ["Ctrl+1", "Ctrl+2", "Ctrl+3"]
    assert [w.key for w in WORKSPACES] == ["design", "train", "evaluate"]
    window.new_blank()
    window.workspaces.actions["evaluate"].trigger()  # the toolbar's button, the menu's item
    assert window.workspaces.current == "evaluate"
    assert window.workspaces.actions["evaluate"].isChecked()


def test_design_gives_the_canvas_60_percent(window) -> None:
    opened(window, "design")
    assert share(window, window.stack) >= 0.60
    for name in ("Layers", "Inspector", "Summary"):  # and the panels to design with
        assert window.docks[name].isVisible()


def test_the_inspector_fits_its_narrow_design_column(window) -> None:
    """A convolution inside a ResNet-50 block (block box, parameters with long names, an
    initialisation combo box) fits the Design column's width: nothing clipped or scrolled
    sideways. Its long names go above their fields, its combo boxes ask for 12 characters."""
    window.new_from_preset("resnet50")
    window.workspaces.switch("design")
    for selection in (["layer1.0.conv1"], [], ["layer1.0.bn1"]):
        window.document.select(selection)
        settle()
        scroll = window.inspector.scroll
        assert scroll.widget().minimumSizeHint().width() <= scroll.viewport().width()
        assert not scroll.horizontalScrollBar().isVisible()
    # The Summary below it: totals and memory estimate reflow, one pair a row.
    scroll = window.summary.findChild(QScrollArea)
    assert scroll.widget().minimumSizeHint().width() <= scroll.viewport().width()
    assert not scroll.horizontalScrollBar().isVisible()
    # The Inspector's tabs fit: the training settings wait in the Train workspace.
    assert not window.docks["Training"].isVisible()


def test_train_gives_the_charts_45_percent_and_shows_the_network(window) -> None:
    opened(window, "train")
    charts = window.training.panel("Charts")
    assert share(window, charts) >= 0.45
    assert share(window, window.stack) >= 0.15


def test_evaluate_shows_a_whole_10_by_10_confusion_matrix(window) -> None:
    opened(window, "evaluate")
    view = window.training.panel("Evaluation")
    counts = (np.eye(10, dtype=int) * 180 + 3).tolist()
    view.show_matrix(counts, [str(c) for c in range(10)])
    view.pages.setCurrentIndex(1)
    settle()
    matrix = view.matrix
    assert share(window, view) > 0.4 and not matrix.visibleRegion().isEmpty()
    shown = matrix.viewport().rect()
    model = matrix.model()
    for r in range(10):
        for c in (0, 9):
            assert shown.contains(matrix.visualRect(model.index(r, c))), (r, c)
        assert shown.contains(matrix.visualRect(model.index(9, r)))
    # each cell shows its count: none is narrower than its text
    assert matrix.columnWidth(0) > matrix.fontMetrics().horizontalAdvance("183")


def test_a_users_layout_is_kept_per_workspace_and_reset_restores_the_default(window,
                                                                              qtbot) -> None:
    opened(window, "train")
    charts = window.docks["Charts"]
    default = charts.height()
    window.resizeDocks([charts], [300], Qt.Orientation.Vertical)
    settle()
    mine = charts.height()
    assert abs(mine - default) > 100
    window.workspaces.switch("design")
    settle()
    assert not charts.isVisible()
    window.workspaces.switch("train")
    settle()
    assert abs(charts.height() - mine) <= 2
    window.workspaces.reset_action.trigger()
    settle()
    assert abs(charts.height() - default) <= 2
    # across a restart: the workspace left and its layout
    window.resizeDocks([charts], [300], Qt.Orientation.Vertical)
    settle()
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    again.new_blank()
    settle()
    assert again.workspaces.current == "train"
    assert abs(again.docks["Charts"].height() - mine) <= 2


def test_a_workspace_chosen_on_the_welcome_page_waits_for_the_canvas(window) -> None:
    assert window.stack.currentWidget() is window.welcome
    window.workspaces.switch("train")
    assert not window.docks["Charts"].isVisible()  # the welcome page keeps its room
    window.new_blank()
    settle()
    assert window.workspaces.current == "train" and window.docks["Charts"].isVisible()


def test_the_bottom_docks_can_be_made_short(window) -> None:
    for workspace, dock in (("train", "Charts"), ("evaluate", "Evaluation")):
        opened(window, workspace)
        for title in ("Charts", "Feature maps", "Evaluation", "Runs", "Summary", "Problems"):
            if window.docks[title].isVisible():
                window.docks[title].raise_()  # each tab once in front: all made and shown
                settle()
        window.docks[dock].raise_()  # a tab behind another keeps its old geometry
        window.resizeDocks([window.docks[dock]], [150], Qt.Orientation.Vertical)
        settle()
        assert window.docks[dock].height() <= 200, workspace
        assert window.stack.height() >= 600, workspace


def test_training_switches_to_train_without_starving_the_canvas(window, monkeypatch) -> None:
    assert window.open_file(EXAMPLE, as_copy=True)
    started = []
    monkeypatch.setattr(window.training.controller, "train",
                        lambda **kw: started.append(kw))
    settle()
    assert window.workspaces.current == "design"
    assert window.training.train()
    settle()
    assert started and window.workspaces.current == "train"
    assert share(window, window.training.panel("Charts")) >= 0.45
    assert share(window, window.stack) >= 0.15


def test_a_flat_learning_rate_gets_several_y_ticks(window) -> None:
    opened(window, "train")
    charts = window.training.panel("Charts")
    x = np.linspace(0.0, 3.0, 60)
    charts.view.set_batches("lr", x, np.full_like(x, 0.003), None)
    settle()
    axis = charts.view.plots["lr"].getAxis("left")
    image = QImage(400, 400, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        texts = [spec[2] for spec in axis.generateDrawSpecs(painter)[2]]
    finally:
        painter.end()
    assert len(texts) >= 3, texts
    assert "0.003" in texts


def test_the_hover_text_stays_inside_the_charts(window) -> None:
    opened(window, "train")
    charts = window.training.panel("Charts")
    view = charts.view
    x = np.linspace(0.0, 3.0, 60)
    view.set_batches("loss", x, np.exp(-x), None)
    view.fit_x(3.0)
    settle()
    text = "epoch 2.95\n" + "\n".join(f"run {i} val (epoch 3): 0.{i}" for i in range(7))
    for depth, lines in ((None, 8), (260, 4)):  # the Train layout; a dock made short
        if depth:
            window.resizeDocks([window.docks["Charts"]], [depth], Qt.Orientation.Vertical)
            settle()
        for name in ("loss", "speed", "lr"):  # a top, right and bottom plot
            for at in (0.05, 2.95):  # the text right of the line, and left of it
                view.show_cross(name, at, "\n".join(text.splitlines()[:lines]))
                item = view.hover_text[name]
                assert item.isVisible()
                inside = view.mapToScene(view.viewport().rect()).boundingRect()
                assert inside.contains(item.sceneBoundingRect()), (depth, name, at)
                parent = item.parentItem()  # and nothing on the way cuts it at a plot's edge
                while parent is not None:
                    assert not parent.flags() & CLIPS
                    parent = parent.parentItem()


def test_reset_on_the_welcome_page_lays_out_the_default_when_the_canvas_shows(window) -> None:
    opened(window, "design")
    window.docks["Layers"].hide()
    window.show_welcome()
    window.workspaces.reset_action.trigger()
    window.new_blank()
    settle()
    assert window.docks["Layers"].isVisible()
    assert share(window, window.stack) >= 0.60
