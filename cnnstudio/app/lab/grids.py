"""A grid of numbers a person edits (a table, with the matrix as JSON in a line above it for
pasting, and Ctrl+V that reads JSON or rows of numbers from a sheet), and the read-only output
grid whose cells carry their formulas. A number, a vector or a matrix: vectors show as one
row, and the grid remembers which it holds."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...engine.lab import LabError, LabResult, num, parse_matrix

HIGHLIGHT = QColor(246, 195, 68)  # amber: readable with dark text in both themes
CELL_WIDTH = 52


def as_rows(value: Any) -> list[list[Any]]:
    if isinstance(value, list) and value and isinstance(value[0], list):
        return value
    return [value] if isinstance(value, list) else [[value]]


def grid_index(index: tuple[int, ...]) -> tuple[int, int]:
    """Where an engine index sits in a grid: a vector's element i in row 0."""
    return (index[0], index[1]) if len(index) == 2 else (0, index[0]) if index else (0, 0)


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _number(text: str) -> int | float:
    text = text.strip().replace("−", "-")
    try:
        return int(text)
    except ValueError:
        return float(text)


class _Table(QTableWidget):
    pasted = Signal(str)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if event.matches(QKeySequence.StandardKey.Paste):
            self.pasted.emit(QGuiApplication.clipboard().text())
            return
        super().keyPressEvent(event)


def _table(editable: bool) -> _Table:
    table = _Table()
    table.horizontalHeader().setDefaultSectionSize(CELL_WIDTH)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.setMouseTracking(True)
    if not editable:
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    return table


def _fit(table: QTableWidget, named: bool = False) -> None:
    """As small as its cells (up to a size), so that small matrices look like matrices; the
    headers count from 0, as the formulas' indices do."""
    table.setHorizontalHeaderLabels([str(c) for c in range(table.columnCount())])
    if not named:
        table.setVerticalHeaderLabels([str(r) for r in range(table.rowCount())])
    table.resizeColumnsToContents()
    width = table.verticalHeader().width() + table.horizontalHeader().length() + 4
    height = table.horizontalHeader().height() + table.verticalHeader().length() + 4
    table.setMinimumSize(min(width, 560), min(height, 320))
    table.setMaximumHeight(max(height, 60))


class MatrixEditor(QWidget):
    """``value`` is a number, vector or matrix; ``changed`` after any edit that reads."""

    changed = Signal()
    problem = Signal(str)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._dims = 2
        self.text = QLineEdit()
        self.text.setPlaceholderText("paste JSON such as [[1,2],[3,4]] or rows: 1 2; 3 4")
        self.text.setToolTip(f"The {name} as JSON or rows of numbers (';' between rows); "
                             "Enter to use it. Ctrl+V in the grid reads the same.")
        self.text.returnPressed.connect(lambda: self.set_text(self.text.text()))
        self.table = _table(editable=True)
        self.table.itemChanged.connect(self._edited)
        self.table.pasted.connect(self.set_text)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        layout.addWidget(self.table)
        layout.addStretch(1)

    def set_text(self, text: str) -> None:
        try:
            self.set_value(parse_matrix(text, f"the {self.name}"))
        except LabError as exc:
            self.problem.emit(str(exc))
            return
        self.changed.emit()

    def set_value(self, value: Any) -> None:
        self._dims = 0 if not isinstance(value, list) else \
            2 if value and isinstance(value[0], list) else 1
        rows = as_rows(value)
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        self.table.setColumnCount(len(rows[0]))
        for r, row in enumerate(rows):
            for c, x in enumerate(row):
                item = QTableWidgetItem(_text(x))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.blockSignals(False)
        self.text.setText(json.dumps(value))
        self.text.setCursorPosition(0)
        _fit(self.table)

    def value(self) -> Any:
        """The grid's numbers, or a LabError naming the cell that is not one."""
        rows = []
        for r in range(self.table.rowCount()):
            row = []
            for c in range(self.table.columnCount()):
                item = self.table.item(r, c)
                try:
                    row.append(_number(item.text() if item else ""))
                except ValueError:
                    raise LabError(f"the {self.name}, row {r + 1}, column {c + 1}: "
                                   f"{item.text() if item else ''!r} is not a number") from None
            rows.append(row)
        return rows if self._dims == 2 else rows[0] if self._dims == 1 else rows[0][0]

    def _edited(self, _item: QTableWidgetItem) -> None:
        try:
            self.text.setText(json.dumps(self.value()))
        except LabError as exc:
            self.problem.emit(str(exc))
            return
        self.changed.emit()

    def highlight(self, cells: set[tuple[int, int]]) -> None:
        for r in range(self.table.rowCount()):
            for c in range(self.table.columnCount()):
                item = self.table.item(r, c)
                if item is None:
                    continue
                on = (r, c) in cells
                item.setBackground(QBrush(HIGHLIGHT) if on else QBrush())
                item.setForeground(QBrush(QColor("black")) if on else QBrush())


class OutputGrid(QTableWidget):
    """The result: every cell's tooltip is its formula; a result whose cells are named (layer
    sizes, parameter counts) shows as a column with the names as row headers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: LabResult | None = None
        self.horizontalHeader().setDefaultSectionSize(CELL_WIDTH)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setMouseTracking(True)
        self.positions: dict[tuple[int, int], int] = {}  # grid cell → index in result.cells

    def show_result(self, result: LabResult | None) -> None:
        self.result = result
        self.positions = {}
        self.clear()
        if result is None:
            self.setRowCount(0)
            self.setColumnCount(0)
            return
        named = any(cell.label for cell in result.cells)
        places = [(n, 0) if named else grid_index(cell.index)
                  for n, cell in enumerate(result.cells)]
        self.setRowCount(max(r for r, _ in places) + 1)
        self.setColumnCount(max(c for _, c in places) + 1)
        for n, (cell, (r, c)) in enumerate(zip(result.cells, places)):
            item = QTableWidgetItem(num(cell.value))
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setToolTip(cell.formula)
            self.setItem(r, c, item)
            self.positions[(r, c)] = n
        _fit(self, named)
        if named:
            self.setVerticalHeaderLabels([c.label or str(n) for n, c in enumerate(result.cells)])
            self.setHorizontalHeaderLabels([result.op])
            self.resizeColumnsToContents()

    def cell_at(self, row: int, column: int) -> Any:
        n = self.positions.get((row, column))
        return None if n is None or self.result is None else self.result.cells[n]

    def mark(self, row: int, column: int) -> None:
        for (r, c) in self.positions:
            item = self.item(r, c)
            on = (r, c) == (row, column)
            item.setBackground(QBrush(HIGHLIGHT) if on else QBrush())
            item.setForeground(QBrush(QColor("black")) if on else QBrush())
