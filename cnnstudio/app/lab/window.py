"""Tools ▸ Numeric sandbox: one op of a CNN computed cell by cell on numbers a student types,
or on a textbook's worked example. Hovering or selecting an output cell lights up the input
cells it came from and shows its formula with the numbers filled in; an exercise shows the
seed's stated answer beside the computed one, with a note where the seed is wrong. The
arithmetic is the command line's (``engine.lab``): nothing is computed here."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ...engine.lab import (
    DESCRIPTIONS,
    Exercise,
    LabError,
    LabResult,
    Options,
    check,
    compute,
    exercises,
    parse_matrix,
)
from ..style import ERROR_COLOR
from ..widgets.inputs import ComboBox, DoubleSpinBox, SpinBox
from ..widgets.text import colored, error_label, esc, muted_label, show_problem
from .grids import MatrixEditor, OutputGrid, grid_index

PARAMS: dict[str, tuple[str, ...]] = {
    "conv": ("stride", "padding", "dilation"),
    "maxpool": ("kernel_size", "stride", "padding", "dilation"),
    "avgpool": ("kernel_size", "stride", "padding"),
    "outsize": ("kernel_size", "stride", "padding", "dilation", "layers"),
    "leaky_relu": ("slope",), "cross_entropy": ("target", "from_probs"),
    "batchnorm": ("eps", "gamma", "beta"), "sgd_step": ("lr", "momentum", "velocity"),
    "params": ("bias",),
}
"""The settings each op reads; the others are hidden."""
SECOND_GRID = {"conv": "kernel", "sgd_step": "gradient"}
STARTERS: dict[str, Any] = {
    "conv": [[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]],
    "outsize": 224, "params": [3, 3, 3, 64], "sgd_step": 0.5,
    "cross_entropy": [2.0, 1.0, 0.1], "softmax": [2.0, 1.0, 0.1],
}
"""An input to start from when an op is chosen by hand (the rest: a 4×4 map)."""
DEFAULT_INPUT = [[1, 3, 2, 4], [5, 6, 1, 2], [7, 8, 9, 1], [3, 4, 2, 5]]
OWN = "(your own numbers)"


def _spin(low: int, high: int, special: str = "") -> SpinBox:
    box = SpinBox()
    box.setRange(low, high)
    if special:
        box.setSpecialValueText(special)
    return box


def _double(low: float, high: float, decimals: int, step: float) -> DoubleSpinBox:
    box = DoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(low, high)
    box.setSingleStep(step)
    return box


class SandboxWindow(QDialog):
    """``result`` is the latest computation (None while the input cannot be computed)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Numeric sandbox")
        self.setModal(False)
        self.resize(900, 640)
        self.result: LabResult | None = None
        self.exercise: Exercise | None = None
        self._loading = False
        self._computed: tuple[str, Any, Options] | None = None

        self.exercises = ComboBox()
        self.exercises.addItem(OWN, None)
        for ex in exercises():
            self.exercises.addItem(f"{ex.name} — {ex.title}", ex.name)
        self.exercises.setToolTip("The worked examples of the textbooks, with the answers "
                                  "they state")
        self.op = ComboBox()
        for name, description in DESCRIPTIONS.items():
            self.op.addItem(name, name)
            self.op.setItemData(self.op.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        self.widgets: dict[str, QWidget] = {
            "kernel_size": _spin(0, 64, "default"), "stride": _spin(0, 64, "default"),
            "padding": _spin(0, 64), "dilation": _spin(1, 16),
            "target": _spin(0, 4095), "from_probs": QCheckBox("the input holds probabilities"),
            "lr": _double(0, 100, 6, 0.01), "momentum": _double(0, 1, 4, 0.1),
            "velocity": QLineEdit(), "eps": _double(0, 1, 6, 1e-5),
            "gamma": _double(-100, 100, 4, 0.1), "beta": _double(-100, 100, 4, 0.1),
            "slope": _double(0, 10, 4, 0.01), "bias": QCheckBox("with a bias"),
            "layers": QLineEdit(),
        }
        self.widgets["velocity"].setPlaceholderText("none: the first step")
        self.widgets["layers"].setPlaceholderText("[[kernel, stride, padding], …]")
        self.form = QFormLayout()
        for key, label in (("kernel_size", "Window size"), ("stride", "Stride"),
                           ("padding", "Padding"), ("dilation", "Dilation"),
                           ("layers", "Layers"), ("target", "Target class"),
                           ("from_probs", ""), ("lr", "Learning rate"),
                           ("momentum", "Momentum"), ("velocity", "Velocity"),
                           ("eps", "ε"), ("gamma", "γ"), ("beta", "β"),
                           ("slope", "Negative slope"), ("bias", "")):
            self.form.addRow(label, self.widgets[key])
        self.input = MatrixEditor("input")
        self.second = MatrixEditor("kernel")
        self.second_title = QLabel("Kernel")
        self.output = OutputGrid()
        self.formula = QLabel("Hover over an output cell to see its formula.")
        self.formula.setWordWrap(True)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes = muted_label()
        self.seed = QLabel()
        self.seed.setWordWrap(True)
        self.problem = error_label()
        self._layout()
        self._connect()
        self._set_defaults()
        self.input.set_value(DEFAULT_INPUT)
        self.second.set_value([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]])
        self._op_chosen()

    # -- building ----------------------------------------------------------------------------
    def _layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Exercise"))
        top.addWidget(self.exercises, 3)
        top.addWidget(QLabel("Op"))
        top.addWidget(self.op, 1)
        grids = QGridLayout()
        grids.addWidget(QLabel("Input"), 0, 0)
        grids.addWidget(self.second_title, 0, 1)
        grids.addWidget(QLabel("Output (hover a cell)"), 0, 2)
        grids.addWidget(self.input, 1, 0)
        grids.addWidget(self.second, 1, 1)
        grids.addWidget(self.output, 1, 2)
        grids.setColumnStretch(0, 1)
        grids.setColumnStretch(1, 1)
        grids.setColumnStretch(2, 1)
        settings = QHBoxLayout()
        settings.addLayout(self.form)
        settings.addStretch(1)
        main = QVBoxLayout(self)
        main.addLayout(top)
        main.addLayout(settings)
        main.addLayout(grids)
        main.addWidget(self.problem)
        main.addWidget(self.formula)
        main.addWidget(self.notes)
        main.addWidget(self.seed)
        main.addStretch(1)

    def _connect(self) -> None:
        self.exercises.currentIndexChanged.connect(self._exercise_chosen)
        self.op.currentIndexChanged.connect(self._op_chosen)
        for widget in self.widgets.values():
            for signal in ("valueChanged", "toggled", "editingFinished"):
                if hasattr(widget, signal):
                    getattr(widget, signal).connect(self.recompute)
                    break
        for editor in (self.input, self.second):
            editor.changed.connect(self.recompute)
            editor.problem.connect(self._show_problem)
        self.output.cellEntered.connect(self.show_cell)
        self.output.currentCellChanged.connect(lambda r, c, *_: self.show_cell(r, c))

    def _set_defaults(self) -> None:
        defaults = Options()
        self._loading = True
        for key, widget in self.widgets.items():
            value = getattr(defaults, key)
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QLineEdit):
                widget.setText("" if value is None else json.dumps(value, ensure_ascii=False))
            else:
                widget.setValue(value or 0)
        self._loading = False

    # -- choosing ----------------------------------------------------------------------------
    def choose_exercise(self, name: str) -> None:
        self.exercises.setCurrentIndex(self.exercises.findData(name))

    def _exercise_chosen(self) -> None:
        name = self.exercises.currentData()
        self._computed = None  # the seed's line changes even where the numbers do not
        if name is None:
            self.exercise = None
            self.recompute()
            return
        ex = next(e for e in exercises() if e.name == name)
        self._loading = True
        self._set_defaults()
        self._loading = True
        self.op.setCurrentIndex(self.op.findData(ex.op))
        for key, value in ex.options.items():
            if key in ("kernel", "grad"):
                self.second.set_value(value)
            elif isinstance(self.widgets.get(key), QLineEdit):
                self.widgets[key].setText(json.dumps(value, ensure_ascii=False))
            elif isinstance(self.widgets.get(key), QCheckBox):
                self.widgets[key].setChecked(bool(value))
            elif key in self.widgets:
                self.widgets[key].setValue(value)
        self.input.set_value(ex.input)
        self.exercise = ex
        self._loading = False
        self._show_params()
        self.recompute()

    def _op_chosen(self) -> None:
        self._show_params()
        if self._loading:
            return
        op = self.op.currentData()
        if self.exercise is not None and self.exercise.op != op:  # a new op: the user's own
            self.exercises.blockSignals(True)
            self.exercises.setCurrentIndex(0)
            self.exercises.blockSignals(False)
            self.exercise = None
        if self.exercise is None:
            self.input.set_value(STARTERS.get(op, DEFAULT_INPUT))
            if op == "sgd_step":
                self.second.set_value(0.3)
            elif op == "conv":
                self.second.set_value([[0, 1, 2], [2, 2, 0], [0, 1, 2]])
        self.recompute()

    def _show_params(self) -> None:
        op = self.op.currentData()
        wanted = PARAMS.get(op, ())
        for key, widget in self.widgets.items():
            self.form.setRowVisible(widget, key in wanted)
        second = SECOND_GRID.get(op)
        self.second.setVisible(second is not None)
        self.second_title.setVisible(second is not None)
        if second:
            self.second.name = second
            self.second_title.setText(second.capitalize())

    # -- computing ---------------------------------------------------------------------------
    def options(self) -> Options:
        """The settings shown, as the engine's options (a LabError for one it cannot read)."""
        op = self.op.currentData()
        w = self.widgets
        values: dict[str, Any] = {
            "kernel_size": w["kernel_size"].value() or None, "stride": w["stride"].value() or None,
            "padding": w["padding"].value(), "dilation": w["dilation"].value(),
            "target": w["target"].value(), "from_probs": w["from_probs"].isChecked(),
            "lr": w["lr"].value(), "momentum": w["momentum"].value(),
            "eps": w["eps"].value(), "gamma": w["gamma"].value(), "beta": w["beta"].value(),
            "slope": w["slope"].value(), "bias": w["bias"].isChecked()}
        velocity, layers = w["velocity"].text().strip(), w["layers"].text().strip()
        if velocity:
            values["velocity"] = parse_matrix(velocity, "the velocity")
        if layers:
            try:
                values["layers"] = json.loads(layers)
            except ValueError:
                raise LabError(f"the layers are not valid JSON: {layers[:40]!r}") from None
        if op in SECOND_GRID:
            values["kernel" if op == "conv" else "grad"] = self.second.value()
        return replace(Options(), **values)

    def recompute(self) -> None:
        if self._loading:
            return
        op = self.op.currentData()
        try:
            value, options = self.input.value(), self.options()
            if self.result is not None and (op, value, options) == self._computed:
                return  # a field left without a change (editingFinished): keep the hover
            result = compute(op, value, options)
        except LabError as exc:
            self._show_problem(str(exc))
            return
        self._computed = (op, value, options)
        show_problem(self.problem, None)
        self.result = result
        self.output.show_result(result)
        self.notes.setText("\n".join(result.notes))
        self.notes.setVisible(bool(result.notes))
        self.formula.setText("Hover over an output cell to see its formula.")
        self.input.highlight(set())
        self._show_seed(op, value, options)

    def _show_problem(self, message: str) -> None:
        show_problem(self.problem, message)
        self.result = None
        self.output.show_result(None)
        self.notes.hide()

    def _show_seed(self, op: str, value: Any, options: Options) -> None:
        ex = self.exercise
        if ex is None:
            self.seed.hide()
            return
        checked = check(ex)
        same = op == ex.op and value == ex.input and options == ex.to_options()
        where = f"<b>{esc(ex.title)}</b> — {esc(ex.seed)}: {esc(ex.locator)}<br>"
        if not same:
            text = (f"You changed the exercise's numbers; the seed's answer "
                    f"{esc(json.dumps(ex.answer))} is for its own.")
        elif checked.agrees:
            text = esc(checked.summary())
        else:
            text = colored(checked.summary(), ERROR_COLOR, True)
        self.seed.setText(where + text)
        self.seed.show()

    def show_cell(self, row: int, column: int) -> None:
        """Lights up the input cells output cell (row, column) came from; shows its formula."""
        cell = self.output.cell_at(row, column)
        if cell is None or self.result is None:
            return
        self.output.mark(row, column)
        self.formula.setText(f"<b>[{esc(', '.join(map(str, cell.index)))}]</b> "
                             f"{esc(cell.label + ': ' if cell.label else '')}"
                             f"{esc(cell.formula)}")
        self.input.highlight(self._sources(cell))

    def _sources(self, cell: Any) -> set[tuple[int, int]]:
        if cell.window:
            return {grid_index(i) for i in cell.window}
        op, shape = self.result.op, (self.input.table.rowCount(), self.input.table.columnCount())
        every = {(r, c) for r in range(shape[0]) for c in range(shape[1])}
        if op == "softmax":
            row = grid_index(cell.index)[0]
            return {(r, c) for r, c in every if r == row}
        if op == "batchnorm":
            column = cell.index[-1] if len(cell.index) == 2 else None
            return every if column is None else {(r, c) for r, c in every if c == column}
        if op == "cross_entropy":
            return every
        if op in ("outsize", "params"):
            return set()
        place = grid_index(cell.index)
        return {place} if place in every else set()


def open_sandbox(window: Any) -> SandboxWindow:
    """The window's one sandbox, made on first use and brought forward."""
    sandbox = window.findChild(SandboxWindow)
    if sandbox is None:
        sandbox = SandboxWindow(window)
    sandbox.show()
    sandbox.raise_()
    sandbox.activateWindow()
    return sandbox
