"""Tools ▸ Initialisation lab on an open network (a line per scheme through depth, the chosen
scheme's histograms and numbers), and the inspector's plot of an activation function (shown for
a ReLU with its own parameters, absent for a Conv2d)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QMenu

from cnnstudio.app.initlab import COLUMNS, InitLabDialog, open_initlab
from cnnstudio.app.panels.activation_plot import ActivationPlot, plottable


def plots_in(layout_widget) -> list:
    return [item for item in layout_widget.ci.items if hasattr(item, "listDataItems")]


def test_the_lab_draws_a_line_per_scheme_and_the_histograms(qtbot, window):
    window.new_from_preset("lenet5")
    tools = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Tools")
    assert window.act["init_lab"] in tools.actions()
    window.act["init_lab"].trigger()
    dialog = window.findChild(InitLabDialog)
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    assert open_initlab(window) is dialog
    dialog.batch.setValue(4)
    assert dialog.run()
    assert not dialog.run() and not dialog.run_button.isEnabled()  # one run at a time
    qtbot.waitUntil(lambda: not dialog.running, timeout=180000)
    assert "digits" in dialog.status.text() and "4 images" in dialog.status.text()
    assert [r.init["scheme"] for r in dialog.runs] == list(dialog.lines["act"])
    for key in ("act", "grad"):
        lines = dialog.lines[key]
        assert len(lines) == 6
        assert dialog.std_plots[key].getViewBox().state["logMode"] == [False, True]
        x, y = lines["kaiming_normal"].getOriginalDataset()
        assert list(x) == [1, 2, 3, 4, 5] and np.all(y > 0)
    zx, _zy = dialog.lines["act"]["zeros"].getOriginalDataset()
    assert zx is None or len(zx) == 0  # all 0: nothing to draw on a log axis
    _gx, gy = dialog.lines["grad"]["zeros"].getOriginalDataset()
    assert np.isnan(gy[:-1]).all() and gy[-1] > 0  # only the scores get a gradient
    labels = [label.text for _sample, label in dialog.legend.items]
    assert labels[0] == "Zeros (all 0)" and "Normal σ=0.01" in labels
    x, y = dialog.lines["act"]["normal"].getOriginalDataset()
    assert y[-2] < y[0] / 100  # σ = 0.01: the signal fades layer by layer

    assert dialog.scheme.currentData() == "kaiming_normal"
    assert len(plots_in(dialog.histograms)) == 5
    assert dialog.table.rowCount() == 5 and dialog.table.columnCount() == len(COLUMNS)
    assert dialog.table.item(0, 1).text() == "features.c1_act"
    dialog.scheme.setCurrentIndex(dialog.scheme.findData("zeros"))
    assert len(plots_in(dialog.histograms)) == 5
    assert {dialog.table.item(r, 4).text() for r in range(5)} == {"0"}  # every std is 0

    window.new_from_preset("simple_cnn")  # another network: the old figures go
    assert dialog.runs == [] and dialog.lines["act"] == {} and not plots_in(dialog.histograms)


def test_the_lab_refuses_a_network_with_errors(qtbot, window):
    window.new_blank()
    dialog = InitLabDialog(window.document, window)
    qtbot.addWidget(dialog)
    assert not dialog.run()
    assert "errors" in dialog.status.text()


def activation_of(window, node_id: str) -> ActivationPlot | None:
    window.document.select([node_id])
    return window.inspector.page.activation


def test_the_inspector_plots_a_relu_and_not_a_conv(qtbot, window):
    window.new_from_preset("simple_cnn")
    conv = activation_of(window, "block1.conv")
    assert conv is None and window.inspector.page.findChild(ActivationPlot) is None
    plot = activation_of(window, "block1.relu")
    assert plot is not None and plot.isVisible()
    qtbot.waitUntil(lambda: plot.curve is not None, timeout=60000)
    x, y = plot.f_curve.getData()
    assert len(x) == 481 and np.array_equal(y, np.maximum(x, 0))
    assert np.array_equal(plot.slope_curve.getData()[1], (x > 0).astype(float))
    assert plot.curve.flat == ((-6.0, 0.0),)
    assert len(plot.regions) == 2  # the shaded region and its label
    assert plot.plot.height() == plot.plot.minimumHeight() == plot.plot.maximumHeight()
    assert "ReLU: f(x) = max(0, x)" in plot.plot.getPlotItem().titleLabel.text


def test_the_plot_follows_the_nodes_parameters(qtbot, window):
    window.new_from_preset("simple_cnn")
    doc = window.document
    node = doc.add_node("LeakyReLU")
    plot = activation_of(window, node)
    qtbot.waitUntil(lambda: plot.curve is not None, timeout=60000)
    assert plot.curve.y[0] == pytest.approx(-0.06) and plot.regions == []
    doc.set_params(node, {"negative_slope": 0.3})
    qtbot.waitUntil(lambda: plot.curve.y[0] == pytest.approx(-1.8), timeout=60000)
    doc.set_params(node, {"negative_slope": -1.0})
    qtbot.waitUntil(lambda: plot.curve is None, timeout=60000)
    assert "negative_slope must be at least 0" in plot.message.text()


def test_only_element_wise_activations_are_plotted():
    assert plottable("GELU") and plottable("PReLU") and plottable("Hardsigmoid")
    assert not plottable("Softmax") and not plottable("BranchSoftmax")
    assert not plottable("Conv2d") and not plottable("BatchNorm2d")
