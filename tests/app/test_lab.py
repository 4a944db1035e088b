"""Tools ▸ Numeric sandbox as a student uses it: choose an exercise, read the output grid,
hover a cell to light up its input window and read its formula, edit a number and see the
result follow, paste a matrix, and read the seed's answer with its correction."""

from __future__ import annotations

from PySide6.QtWidgets import QTableWidget

from cnnstudio.app.lab import SandboxWindow, open_sandbox
from cnnstudio.app.lab.grids import HIGHLIGHT


def grid(table: QTableWidget) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def lit(table: QTableWidget) -> set[tuple[int, int]]:
    return {(r, c) for r in range(table.rowCount()) for c in range(table.columnCount())
            if table.item(r, c).background().color() == HIGHLIGHT}


def sandbox(qtbot) -> SandboxWindow:
    w = SandboxWindow()
    qtbot.addWidget(w)
    w.show()
    return w


def test_an_exercise_fills_the_grids_and_hover_lights_its_window(qtbot):
    w = sandbox(qtbot)
    w.choose_exercise("conv-5x5")
    assert w.op.currentData() == "conv"
    assert grid(w.output) == [["12", "12", "17"], ["10", "17", "19"], ["9", "6", "14"]]
    assert "agrees" in w.seed.text()
    w.output.cellEntered.emit(1, 2)  # the mouse over output cell [1, 2]
    assert lit(w.input.table) == {(r, c) for r in (1, 2, 3) for c in (2, 3, 4)}
    assert lit(w.output) == {(1, 2)}
    assert w.formula.text().endswith("= 19")
    assert w.output.item(1, 2).toolTip() == w.result.cells[5].formula


def test_editing_a_cell_recomputes(qtbot):
    w = sandbox(qtbot)
    w.choose_exercise("conv-5x5")
    w.input.table.item(0, 0).setText("13")  # weight 0 at [0, 0] of the kernel: no change
    assert w.output.item(0, 0).text() == "12"
    w.input.table.item(0, 1).setText("4")  # weight 1: one more
    assert w.output.item(0, 0).text() == "13"
    assert "changed the exercise's numbers" in w.seed.text()
    w.input.table.item(0, 1).setText("x")
    assert w.problem.isVisible() and "row 1, column 2" in w.problem.text()
    assert w.result is None


def test_a_wrong_seed_shows_its_value_and_the_note(qtbot):
    w = sandbox(qtbot)
    w.choose_exercise("gap-4x4")
    assert grid(w.output) == [["3.9375"]]
    assert "3.875" in w.seed.text() and "63 / 16" in w.seed.text()
    w.show_cell(0, 0)
    assert len(lit(w.input.table)) == 16


def test_a_pasted_matrix_and_an_op_chosen_by_hand(qtbot):
    w = sandbox(qtbot)
    w.op.setCurrentIndex(w.op.findData("maxpool"))
    assert not w.second.isVisibleTo(w)  # pooling has no kernel grid
    w.input.set_text("1 3 2 4\n5 6 1 2\n7 8 9 1\n3 4 2 5")
    assert grid(w.output) == [["6", "4"], ["8", "9"]]
    w.widgets["stride"].setValue(1)
    assert w.output.rowCount() == 3
    w.input.set_text("[[1, 2]")
    assert "not valid JSON" in w.problem.text()


def test_layer_sizes_show_as_named_rows(qtbot):
    w = sandbox(qtbot)
    w.choose_exercise("alexnet-sizes-224")
    assert w.output.verticalHeaderItem(0).text() == "Conv1 11×11/4"
    assert w.output.item(0, 0).text() == "54"
    assert "227×227" in w.seed.text()


def test_tools_menu_opens_one_sandbox(window):
    titles = [a.text() for a in window.menuBar().actions()]
    assert "&Tools" in titles
    first = open_sandbox(window)
    assert open_sandbox(window) is first and first.isVisible() and not first.isModal()
