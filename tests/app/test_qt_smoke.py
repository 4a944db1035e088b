"""The pinned PySide6 and pyqtgraph work together (pyqtgraph supports only some Qt minors)."""

import numpy as np
import pyqtgraph as pg


def test_plot_widget_builds_and_draws(qtbot) -> None:
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    curve = widget.plot(np.arange(10.0), np.arange(10.0) ** 2)
    widget.resize(200, 150)
    widget.show()
    qtbot.waitExposed(widget)
    x, y = curve.getData()
    assert y[-1] == 81.0
    image = widget.grab().toImage()
    assert image.width() == 200 and image.height() == 150
