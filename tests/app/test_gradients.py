"""The Gradients panel: samples reach it through the controller's signal and are drawn by its
timer (a bar per layer, by depth, flagged ones in the warning colour, the heat strip), the
warning shows above the plots, and a real short training fills it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QColor

from cnnstudio.app.document import Document
from cnnstudio.app.style import WARNING_COLOR
from cnnstudio.app.training.controller import TrainingController
from cnnstudio.app.training.gradients import GradientFlowView, GradientHistory
from cnnstudio.engine.training.gradflow import GradientSample
from cnnstudio.engine.training.trainer import Started
from cnnstudio.project import load_project

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"
LAYERS = ["features.c1", "features.c3", "features.c5", "classifier.f6", "classifier.output"]


@pytest.fixture
def panel(qtbot):
    doc = Document(load_project(EXAMPLE))
    widget = GradientFlowView(doc, TrainingController(doc))
    qtbot.addWidget(widget)
    widget.resize(1000, 420)
    with qtbot.waitExposed(widget):
        widget.show()
    return widget


def sample(step: int, norms: list[float], warning: str | None = None,
           flagged: tuple[str, ...] = ()) -> GradientSample:
    layers = {n: (g, 1e-3) for n, g in zip(LAYERS, norms)}
    return GradientSample(1, step, 8, layers, flagged, warning)


def bar_widths(widget: GradientFlowView) -> np.ndarray:
    return np.asarray(widget.view.bars.opts["width"])


def test_samples_are_drawn_by_the_timer_as_bars_by_depth(qtbot, panel) -> None:
    panel.controller.gradients.emit(sample(1, [1e-6, 1e-4, 1e-3, 1e-2, 1e-1]))
    assert len(bar_widths(panel)) == 0  # stored, not drawn yet
    qtbot.waitUntil(lambda: len(bar_widths(panel)) == 5, timeout=3000)
    widths = bar_widths(panel)
    assert np.all(np.diff(widths) > 0)  # log scale: each decade one more unit of length
    assert np.diff(widths) == pytest.approx([2, 1, 1, 1])
    ticks = panel.view.plots["norm"].getAxis("left")._tickLevels[0]
    assert [name for _, name in ticks] == LAYERS  # the input's layer at the top
    assert not panel.warning.isVisible()
    assert "Epoch 1, step 1 of 8: 5 layers" in panel.title.text()


def test_the_warning_shows_above_in_the_warning_colour(qtbot, panel) -> None:
    warning = "vanishing gradients in features.c1 (under 1e-4 of classifier.output's norm 0.1)"
    panel.controller.gradients.emit(sample(1, [1e-9, 1e-4, 1e-3, 1e-2, 1e-1], warning,
                                           ("features.c1",)))
    panel.flush()
    assert panel.warning.isVisible() and warning in panel.warning.text()
    assert WARNING_COLOR in panel.warning.text()
    brushes = [b.color() for b in panel.view.bars.opts["brushes"]]
    assert brushes[0] == QColor(WARNING_COLOR) and brushes[1] != QColor(WARNING_COLOR)
    panel.controller.gradients.emit(sample(3, [1e-3] * 5))  # a later healthy sample
    panel.flush()
    assert not panel.warning.isVisible()
    assert panel.view.image.image.shape == (2, 5)  # samples × layers


def test_a_new_run_clears_the_panel(panel) -> None:
    panel.controller.gradients.emit(sample(1, [1e-3] * 5))
    panel.flush()
    panel.controller.started.emit(Started(2, 1, 8, 1, 0, "cpu", "CPU", 10, 0, 100))
    assert panel.history.samples == [] and len(bar_widths(panel)) == 0


def test_a_layer_unfrozen_later_joins_at_its_depth() -> None:
    history = GradientHistory()
    rank = {n: i for i, n in enumerate(LAYERS)}
    history.add(GradientSample(1, 1, 8, {"classifier.output": (1.0, 1e-3)}), rank)
    history.add(GradientSample(2, 1, 8, {"features.c3": (0.5, 1e-3),
                                         "classifier.output": (1.0, 1e-3)}), rank)
    assert history.layers == ["features.c3", "classifier.output"]
    matrix = history.matrix(0)
    assert np.isnan(matrix[0, 0]) and matrix[1].tolist() == [0.5, 1.0]
    assert history.x().tolist() == pytest.approx([1 / 8, 1 + 1 / 8])


def test_a_real_training_shows_a_bar_for_each_layer(qtbot) -> None:
    project = load_project(EXAMPLE)
    project.training.epochs = 1
    project.dataset.limit = 200
    doc = Document(project)
    controller = TrainingController(doc)
    widget = GradientFlowView(doc, controller)
    qtbot.addWidget(widget)
    widget.resize(1000, 420)
    with qtbot.waitExposed(widget):
        widget.show()
    received: list[GradientSample] = []
    controller.gradients.connect(received.append)
    assert controller.train()
    qtbot.waitUntil(lambda: controller.state == "idle", timeout=90_000)
    assert 1 <= len(received) <= 4
    widget.flush()
    assert widget.history.layers == LAYERS  # the conv and linear layers, by depth
    assert len(bar_widths(widget)) == len(LAYERS) and np.all(bar_widths(widget) > 0)
    assert widget.view.image.image.shape == (len(received), len(LAYERS))


def test_the_panel_does_not_import_torch() -> None:
    code = ("import sys; import cnnstudio.app.training.gradients; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
