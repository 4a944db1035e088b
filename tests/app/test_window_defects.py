"""Small defects of the window (issue 21): Find a layer, the memory warning, spin boxes that
changed what was typed, the theme, clipped text, a stale receptive-field caption."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QIcon, QImage, QPalette
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox, QVBoxLayout, QWidget

from cnnstudio.app.document import Document
from cnnstudio.app.panels import SummaryTable
from cnnstudio.app.panels.summary import COLUMNS, MACS, NUMERIC_COLUMNS
from cnnstudio.app.style import ERROR_COLOR, apply_theme, is_dark
from cnnstudio.app.training import settings_device
from cnnstudio.app.training.features import UNIT_PROMPT
from cnnstudio.app.training.settings_device import DeviceInfo, check_memory
from cnnstudio.app.widgets import DoubleSpinBox, SpinBox
from cnnstudio.graph.analysis import analyze
from cnnstudio.graph.model import Graph
from cnnstudio.project import Project, TrainConfig
from tests.app.test_features import WAIT, pixels, shown  # noqa: F401 - a fixture

GiB = 2**30


@pytest.fixture
def system_theme_after():
    """Every test that changes the theme leaves the system's behind it."""
    yield
    apply_theme("system")


def conv_net(channels: int = 8) -> Graph:
    g = Graph()
    g.add_node("Input", "in", {"shape": [3, 32, 32]})
    g.add_node("Conv2d", "conv", {"out_channels": channels, "kernel_size": 3})
    g.connect("in", "conv")
    g.add_node("Flatten", "flat")
    g.connect("conv", "flat")
    g.add_node("Linear", "fc", {"out_features": 10})
    g.connect("flat", "fc")
    return g


# -- 1. Edit ▸ Find a layer -----------------------------------------------------------------------
def test_find_layer_puts_the_cursor_in_the_palette_search(qtbot, window):
    palette = window.palette_panel
    palette.search.setText("pool")
    window.docks["Layers"].hide()
    window.activateWindow()
    window.act["find_layer"].trigger()
    assert window.docks["Layers"].isVisible()
    qtbot.waitUntil(palette.search.hasFocus, timeout=5000)
    assert palette.search.selectedText() == "pool"  # typing replaces the last search
    qtbot.keyClicks(QApplication.focusWidget(), "relu")
    assert palette.search.text() == "relu"
    names = palette.visible_names()
    assert "ReLU" in names and "Conv2d" not in names


# -- 2. The memory warning --------------------------------------------------------------------
def answer_box(qtbot, key: Qt.Key) -> dict:
    """Press ``key`` in the next message box; returns what it showed."""
    seen: dict = {}

    def press() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, press)
            return
        seen["default"] = box.defaultButton().text() if box.defaultButton() else None
        seen["buttons"] = [b.text() for b in box.buttons()]
        qtbot.keyClick(box, key)

    QTimer.singleShot(0, press)
    return seen


def open_graph(window, graph: Graph) -> None:
    window.open_project(Project(name="test", graph=graph), None)


def test_enter_in_the_memory_warning_uses_the_batch_that_fits(qtbot, window, monkeypatch):
    open_graph(window, conv_net(64))
    window.document.change_settings("training", {"batch_size": 4096}, "Batch 4096")
    monkeypatch.setattr(settings_device, "probe_device",
                        lambda choice: DeviceInfo("cpu", "CPU", 2 * GiB, GiB, 4))
    seen = answer_box(qtbot, Qt.Key.Key_Return)
    assert window.training._memory_ok()  # Enter: the suggested batch, not "Train anyway"
    batch = window.document.project.training.batch_size
    assert seen["default"] == f"Use batch {batch}" and batch < 4096
    assert "Train anyway" in seen["buttons"]


def test_enter_or_escape_cancel_when_no_batch_fits(qtbot, window, monkeypatch):
    open_graph(window, conv_net(400_000))
    monkeypatch.setattr(settings_device, "probe_device",
                        lambda choice: DeviceInfo("cpu", "CPU", 16 * GiB, 12 * GiB, 4))
    for key in (Qt.Key.Key_Return, Qt.Key.Key_Escape):
        seen = answer_box(qtbot, key)
        assert not window.training._memory_ok()
        assert seen["default"] == "Cancel"
        assert not window.training.controller.running


def test_lookahead_s_slow_weights_count_in_the_memory_check() -> None:
    from cnnstudio.app.training.settings_device import HEADROOM

    report = analyze(conv_net(8))
    config = TrainConfig()
    config.batch_size = 1
    plain = report.training_memory(1, "adam").total
    slow = report.training_memory(1, "adam", lookahead=True).total
    free = int((plain + slow) / 2 / HEADROOM)  # room for Adam, not for Adam and Lookahead
    info = DeviceInfo("cpu", "CPU", 2 * free, free, 4)
    assert check_memory(report, config, info)[0]
    config.optimizer.lookahead_k = 5
    assert not check_memory(report, config, info)[0]


def test_a_huge_network_is_warned_about_even_without_a_reading(window, monkeypatch):
    graph = conv_net(400_000)
    report = analyze(graph)
    assert report.total_params > 3 * 10**9  # each layer under analysis.MAX_LAYER_VALUES
    assert report.training_memory(1, "adam").activations < report.trainable_params
    fits, message, batch = check_memory(report, TrainConfig(), None)  # no device reading
    assert not fits and batch is None and "Even batch 1 does not fit" in message
    assert check_memory(analyze(conv_net(8)), TrainConfig(), None)[0]  # a small one fits

    def no_reading(choice):
        raise RuntimeError("no device here")

    monkeypatch.setattr(settings_device, "probe_device", no_reading)
    open_graph(window, graph)
    fits, message, _ = window.training.panel("Training").memory_check()
    assert not fits and "GiB" in message


# -- 3. Spin boxes keep what was typed ------------------------------------------------------------
@pytest.fixture
def form(qtbot):
    box = QWidget()
    layout = QVBoxLayout(box)
    spin, double, other = SpinBox(), DoubleSpinBox(), QLineEdit()
    spin.setRange(1, 100)
    spin.setValue(3)
    double.setRange(0.0, 1.0)
    double.setValue(0.5)
    for w in (spin, double, other):
        layout.addWidget(w)
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    yield spin, double, other
    box.close()  # the fixture holds the form while the test runs


def type_into(qtbot, spin, text: str) -> None:
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, text)


def test_a_typed_minus_sign_stays_and_is_shown_invalid(qtbot, form):
    spin, _, other = form
    type_into(qtbot, spin, "-5")
    assert spin.text() == "-5" and spin.value() == 3
    assert spin.typed_out_of_range()
    assert "1 to 100" in spin.toolTip() and "stays 3" in spin.toolTip()
    assert ERROR_COLOR in spin.lineEdit().styleSheet()
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert spin.text() == "-5" and spin.value() == 3  # Enter does not put 3 back
    other.setFocus()
    qtbot.waitUntil(lambda: not spin.hasFocus(), timeout=5000)
    assert spin.text() == "-5" and spin.value() == 3  # nor does leaving the field
    type_into(qtbot, spin, "42")
    assert spin.value() == 42 and spin.toolTip() == "" and spin.lineEdit().styleSheet() == ""


def test_a_number_above_the_maximum_is_kept_and_flagged(qtbot, form):
    spin, _, _ = form
    type_into(qtbot, spin, "500")
    assert spin.text() == "500"  # Qt alone drops the last 0
    assert spin.typed_out_of_range() and "1 to 100" in spin.toolTip()


def test_negatives_are_taken_where_the_range_allows_them(qtbot, form):
    spin, _, _ = form
    spin.setRange(-10, 10)
    type_into(qtbot, spin, "-5")
    assert spin.value() == -5 and not spin.typed_out_of_range() and spin.toolTip() == ""


def test_a_double_outside_its_range_is_kept_and_flagged(qtbot, form):
    _, double, _ = form
    type_into(qtbot, double, "-0.25")
    assert double.text() == "-0.25" and double.value() != -0.25
    assert double.typed_out_of_range()
    assert "0.00 to 1.00" in double.toolTip()
    assert f"stays {double.textFromValue(double.value())}" in double.toolTip()


# -- 4. The theme -------------------------------------------------------------------------------
def theme_action(window, text: str) -> QAction:
    return next(a for a in window.findChildren(QAction) if a.text() == text)


def test_follow_the_system_after_dark_is_the_starting_palette(window, system_theme_after):
    app = QApplication.instance()
    start = QPalette(app.palette())
    assert not is_dark()  # the offscreen platform's palette is light
    theme_action(window, "Dark").trigger()
    assert is_dark()
    theme_action(window, "Follow the system").trigger()
    assert not is_dark()
    assert app.palette() == start


def contrast(pixmap, background: QColor) -> float:
    """Mean lightness difference from ``background`` over the icon's drawn pixels."""
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_ARGB32)
    bg, total, n = background.lightness(), 0.0, 0
    for y in range(image.height()):
        for x in range(image.width()):
            c = image.pixelColor(x, y)
            if c.alpha():
                a = c.alphaF()
                total += abs(c.lightness() * a + bg * (1 - a) - bg)
                n += 1
    return total / max(n, 1)


def test_disabled_toolbar_icons_are_dimmed_in_the_dark(window, system_theme_after):
    action = window.act["redo"]
    assert not action.isEnabled()  # nothing to redo
    theme_action(window, "Dark").trigger()
    background = QApplication.palette().color(QPalette.ColorRole.Window)
    size = QSize(24, 24)
    enabled = contrast(action.icon().pixmap(size), background)
    disabled = contrast(action.icon().pixmap(size, QIcon.Mode.Disabled), background)
    assert disabled < 0.6 * enabled


def test_feature_map_gaps_follow_the_theme(qtbot, shown, system_theme_after):  # noqa: F811
    _, _, view = shown

    def gap() -> tuple[int, ...]:
        return tuple(int(v) for v in pixels(view.grid)[28, 0])  # between the two tile rows

    def window_colour() -> tuple[int, ...]:
        return view.palette().color(QPalette.ColorRole.Window).getRgb()[:3]

    assert gap() == window_colour()
    apply_theme("dark")
    assert is_dark() and gap() == window_colour()
    apply_theme("light")
    assert not is_dark() and gap() == window_colour()


# -- 5. Clipped text ----------------------------------------------------------------------------
def test_a_long_status_message_ends_at_a_word_with_the_whole_in_the_tooltip(window):
    status = window.statusBar()
    window.resize(700, 500)
    text = " ".join(f"word{i}" for i in range(80))
    status.showMessage(text, 60_000)
    shown_text = status.currentMessage()
    assert shown_text.endswith("…") and shown_text != text
    kept = shown_text[:-1]
    assert text.startswith(kept) and text[len(kept)] == " "  # cut between two words
    assert status.fontMetrics().horizontalAdvance(shown_text) <= status.message_width()
    assert status.toolTip() == text
    status.showMessage("Saved", 60_000)
    assert status.currentMessage() == "Saved" and status.toolTip() == ""


def test_numeric_summary_columns_fit_their_widest_cell(qtbot):
    doc = Document(Project(graph=conv_net(8)))
    table = SummaryTable(doc)
    qtbot.addWidget(table)
    table.show()
    doc.flush()
    doc.set_params("conv", {"out_channels": 999_999})  # new numbers, the same rows
    doc.flush()
    fm = table.view.fontMetrics()
    header = table.view.horizontalHeader()
    for col in NUMERIC_COLUMNS:
        cells = [table.model.index(r, col).data() for r in range(table.model.rowCount())]
        widest = max(fm.horizontalAdvance(c) for c in cells + [COLUMNS[col]])
        assert header.sectionSize(col) >= widest, (COLUMNS[col], cells)
    assert any("G" in table.model.index(r, MACS).data() for r in range(table.model.rowCount()))


# -- 6. The receptive-field caption after Next ----------------------------------------------------
def test_next_probe_clears_the_clicked_units_field(qtbot, shown):  # noqa: F811
    _, _, view = shown
    frame = view.grid.target()
    scale = frame.width() / view.grid.image.width()
    x, y = frame.left() + 15.5 * scale, frame.top() + 11.5 * scale  # map 0, unit (11, 15)
    qtbot.mouseClick(view.grid, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y)))
    assert "Unit (11, 15)" in view.captions["unit"].text()
    with qtbot.waitSignal(view.rendered, timeout=WAIT):
        view.next_button.click()
    assert view.unit is None and view.probe_view.rects == []
    assert view.captions["unit"].text() == UNIT_PROMPT

