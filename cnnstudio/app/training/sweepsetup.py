"""The Sweep panel's "Search space" tab: which settings a sweep varies and over what values, how
it searches (sampler, pruner, objectives, trials), and Start/Stop. The space is the project's
(``project.extra["sweep"]``, the one ``cnnstudio sweep`` reads); every edit that the space's own
checks accept is stored as one undo step, an edit they refuse is shown in red and not stored.
The domains offered come from project/sweep_suggest.py; running is sweeprun.SweepRunner's."""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...project.config import ConfigError
from ...project.sweep import (
    KINDS,
    MAX_TRIALS,
    OBJECTIVES,
    Dimension,
    SweepSpace,
    check_space,
    own_value,
)
from ...project.sweep_suggest import default_space, suggest, sweepable
from ..widgets import error_label, muted_label, show_problem
from .sweeprun import SweepRunner

SAMPLER_NAMES = {"tpe": "TPE (Bayesian)", "random": "Random", "grid": "Grid",
                 "cmaes": "CMA-ES (numbers)"}
PRUNER_NAMES = {"median": "Median", "hyperband": "Hyperband", "none": "None"}
OBJECTIVE_NAMES = {"val_acc": "Validation accuracy", "params": "Parameters", "macs": "MACs",
                   "latency_ms": "Latency"}
OBJECTIVE_TIPS = {
    "val_acc": "the last epoch's validation accuracy (higher is better)",
    "params": "the network's parameter count (fewer is better)",
    "macs": "multiply-accumulates per sample (fewer is better)",
    "latency_ms": "the trained model's measured milliseconds per sample on the trial's device "
                  "(median of 20 passes; less is better)",
}
COLUMNS = ("Setting", "Kind", "From", "To", "Step", "Log", "Choices")
SETTING, KIND, LOW, HIGH, STEP, LOG, CHOICES = range(len(COLUMNS))
WORDS = {"true": True, "false": False, "null": None, "none": None}


def parse_choice(text: str) -> Any:
    """One choice as typed: a whole number, a number, true/false/null, or else the text."""
    text = text.strip()
    if text.lower() in WORDS:
        return WORDS[text.lower()]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def show_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


class SweepSetup(QWidget):
    """The tab. ``runner`` starts and stops the sweep (shared with the window's close)."""

    def __init__(self, document: Any, runner: SweepRunner, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.document = document
        self.runner = runner
        self._filling = False

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setMinimumHeight(96)  # three rows; the panel shares a short dock
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(SETTING, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(CHOICES, QHeaderView.ResizeMode.Stretch)
        for column, width in ((KIND, 78), (LOW, 72), (HIGH, 72), (STEP, 56), (LOG, 40)):
            self.table.setColumnWidth(column, width)
        self.table.setToolTip("Double-click a cell to edit it; choices are separated by commas")
        self.table.itemChanged.connect(lambda _item: self._edited())
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.add_button = QToolButton()
        self.add_button.setText("Add setting")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_menu = QMenu(self)
        self.add_menu.aboutToShow.connect(self._fill_add_menu)
        self.add_button.setMenu(self.add_menu)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.default_button = QPushButton("Default space")
        self.default_button.setToolTip("Learning rate, batch size, optimizer and weight decay "
                                       "around the project's own values")
        self.default_button.clicked.connect(self.use_default)
        edit_row = QHBoxLayout()
        for w in (self.add_button, self.remove_button):
            edit_row.addWidget(w)
        edit_row.addStretch(1)
        edit_row.addWidget(self.default_button)

        self.sampler = QComboBox()
        for key, text in SAMPLER_NAMES.items():
            self.sampler.addItem(text, key)
        self.sampler.setToolTip("Optuna's sampler: TPE learns from earlier trials; grid tries "
                                "every point (each range needs a step); CMA-ES for numbers")
        self.pruner = QComboBox()
        for key, text in PRUNER_NAMES.items():
            self.pruner.addItem(text, key)
        self.pruner.setToolTip("Stop a poor trial early from its epochs' validation accuracy "
                               "(single-objective sweeps by accuracy)")
        self.objectives = {}
        objective_row = QHBoxLayout()
        for key in OBJECTIVES:
            box = QCheckBox(OBJECTIVE_NAMES[key])
            box.setToolTip(OBJECTIVE_TIPS[key])
            box.toggled.connect(lambda _on: self._edited())
            self.objectives[key] = box
            objective_row.addWidget(box)
        objective_row.addStretch(1)
        for combo in (self.sampler, self.pruner):
            combo.activated.connect(lambda _i: self._edited())
        self.trials = QSpinBox()
        self.trials.setRange(1, MAX_TRIALS)
        self.trials.setToolTip("Trials the study should have: finished, pruned or failed")
        self.trials.editingFinished.connect(self._edited)
        self.jobs = QSpinBox()
        self.jobs.setRange(1, max(1, os.cpu_count() or 1))
        self.jobs.setToolTip("Worker processes on this machine, each with its share of the "
                             "cores (with several GPUs, one GPU each in turn)")
        self.epochs = QSpinBox()
        self.epochs.setRange(0, 100_000)
        self.epochs.setSpecialValueText("as the project")
        self.epochs.setToolTip("Epochs of each trial (an 'epochs' setting above still wins)")
        run_row = QHBoxLayout()
        for label, w in (("Trials", self.trials), ("Processes", self.jobs),
                         ("Epochs per trial", self.epochs)):
            run_row.addWidget(QLabel(label))
            run_row.addWidget(w)
        run_row.addStretch(1)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        search = QHBoxLayout()
        search.addWidget(self.sampler)
        search.addWidget(QLabel("Pruner"))
        search.addWidget(self.pruner)
        search.addStretch(1)
        form.addRow("Sampler", search)
        form.addRow("Objectives", objective_row)
        form.addRow("Run", run_row)

        self.problem = error_label()
        self.start_button = QPushButton("Start sweep")
        self.start_button.setToolTip("Run the study in worker processes; each trial becomes a "
                                     "run of the project")
        self.start_button.clicked.connect(lambda: self.start())
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End the workers now; their trials run again when the "
                                    "sweep is started again")
        self.stop_button.clicked.connect(runner.stop)
        self.status = muted_label(wrap=False)
        for label in (self.problem, self.status):  # one line each, cut at the panel's edge
            label.setWordWrap(False)  # (wrapped text would make the tab ask for its full
            label.setSizePolicy(QSizePolicy.Policy.Ignored,  # height, scrolling the dock)
                                QSizePolicy.Policy.Preferred)
        action_row = QHBoxLayout()
        action_row.addWidget(self.start_button)
        action_row.addWidget(self.stop_button)
        action_row.addWidget(self.problem, 1)  # in the row: a problem moves nothing below
        action_row.addWidget(self.status, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(edit_row)
        layout.addLayout(form)
        layout.addLayout(action_row)

        document.settings_changed.connect(lambda section: self.refresh()
                                          if section == "sweep" else None)
        document.reset.connect(self.refresh)
        document.locked_changed.connect(lambda _locked: self._update_buttons())
        runner.state_changed.connect(lambda _running: self._update_buttons())
        runner.trial_done.connect(self._trial_done)
        runner.ended.connect(self._status)
        self.refresh()

    # -- the space -------------------------------------------------------------------------
    def space(self) -> SweepSpace:
        """The project's space, or the default one when it has none (or a broken one)."""
        doc = self.document.sweep_space()
        try:
            return default_space(self.document.project) if doc is None else \
                SweepSpace.from_dict(doc)
        except ConfigError:
            return default_space(self.document.project)

    def refresh(self) -> None:
        """Show the project's space (after an edit, undo or another project)."""
        space = self.space()
        labels = {target: label for _, target, label in sweepable(self.document.project)}
        self._filling = True
        try:
            self.table.setRowCount(0)
            for d in space.dimensions:
                self._add_row(d, labels.get(d.target, d.target))
            self.sampler.setCurrentIndex(self.sampler.findData(space.sampler))
            self.pruner.setCurrentIndex(self.pruner.findData(space.pruner))
            for key, box in self.objectives.items():
                box.setChecked(key in space.objectives)
            self.trials.setValue(space.trials)
        finally:
            self._filling = False
        self._say(self._fit_problem(space))
        self._update_buttons()

    def _add_row(self, d: Dimension, label: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        name = QTableWidgetItem(label)
        name.setData(Qt.ItemDataRole.UserRole, d.target)
        name.setToolTip(d.target)
        name.setFlags(name.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.table.setItem(row, SETTING, name)
        kind = QComboBox()
        kind.addItems(list(KINDS))
        kind.setCurrentText(d.kind)
        kind.activated.connect(lambda _i, r=row: self._kind_changed(r))
        self.table.setCellWidget(row, KIND, kind)
        numeric = d.kind != "choice"
        cells = {LOW: show_value(d.low) if numeric else "",
                 HIGH: show_value(d.high) if numeric else "",
                 STEP: show_value(d.step) if numeric and d.step is not None else "",
                 CHOICES: "" if numeric else ", ".join(show_value(c) for c in d.choices)}
        for column, text in cells.items():
            item = QTableWidgetItem(text)
            if (column == CHOICES) == numeric:  # not this kind's: greyed, not editable
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable &
                              ~Qt.ItemFlag.ItemIsEnabled)
            self.table.setItem(row, column, item)
        log = QCheckBox()  # a widget: an item's check box is hard to see in the dark theme
        log.setChecked(d.log)
        log.setEnabled(numeric)
        log.setToolTip("Sample on a log scale (for rates spanning decades)")
        log.toggled.connect(lambda _on: self._edited())
        cell = QWidget()  # on the window's colour, where the dark theme's box shows
        cell.setAutoFillBackground(True)
        cell.setBackgroundRole(QPalette.ColorRole.Window if numeric else
                               QPalette.ColorRole.Base)
        box = QHBoxLayout(cell)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(log, 0, Qt.AlignmentFlag.AlignCenter)
        self.table.setCellWidget(row, LOG, cell)

    def _row_doc(self, row: int) -> dict[str, Any]:
        """A row as the space's JSON; ConfigError (naming the setting) for text that is not a
        number where one is needed."""
        target = self.table.item(row, SETTING).data(Qt.ItemDataRole.UserRole)
        kind = self.table.cellWidget(row, KIND).currentText()
        if kind == "choice":
            text = self.table.item(row, CHOICES).text()
            return {"target": target, "kind": kind,
                    "choices": [parse_choice(t) for t in text.split(",") if t.strip()]}
        number = int if kind == "int" else float
        log = self.table.cellWidget(row, LOG).findChild(QCheckBox)
        doc: dict[str, Any] = {"target": target, "kind": kind, "log": log.isChecked()}
        for column, key in ((LOW, "low"), (HIGH, "high"), (STEP, "step")):
            text = self.table.item(row, column).text().strip()
            if not text and key == "step":
                continue
            try:
                doc[key] = number(text)
            except ValueError:
                raise ConfigError(f"{target}: “{COLUMNS[column]}” must be "
                                  f"{'a whole number' if kind == 'int' else 'a number'}, "
                                  f"found {text!r}") from None
        return doc

    def edited_space(self) -> SweepSpace:
        """The space as the panel shows it; ConfigError (one line) when it is refused."""
        doc = {"dimensions": [self._row_doc(r) for r in range(self.table.rowCount())],
               "sampler": self.sampler.currentData(), "pruner": self.pruner.currentData(),
               "objectives": [k for k, box in self.objectives.items() if box.isChecked()],
               "trials": self.trials.value()}
        if not doc["objectives"]:
            raise ConfigError("choose at least one objective")
        space = SweepSpace.from_dict(doc)
        check_space(space, self.document.project)
        return space

    def _edited(self) -> None:
        if self._filling:
            return
        try:
            space = self.edited_space()
        except ConfigError as exc:
            self._say(str(exc))
            self._update_buttons()
            return
        self._say(None)
        why = self.document.set_sweep_space(space.to_dict())
        if why is not None:
            self._say(why)
            self.refresh()

    def _fit_problem(self, space: SweepSpace) -> str | None:
        try:
            check_space(space, self.document.project)
        except ConfigError as exc:
            return f"The search space does not fit the project: {exc}"
        return None

    def _kind_changed(self, row: int) -> None:
        """Another kind for a row: its values carried over where they can be."""
        try:
            old = Dimension.from_dict(self._row_doc(row), "row")
        except ConfigError:
            old = suggest(self.table.item(row, SETTING).data(Qt.ItemDataRole.UserRole))
        kind = self.table.cellWidget(row, KIND).currentText()
        numbers = sorted(v for v in old.samples() if isinstance(v, (int, float))
                         and not isinstance(v, bool))
        if kind == "choice":
            new = Dimension(old.target, "choice", choices=list(dict.fromkeys(old.samples())))
        elif numbers:
            cast = int if kind == "int" else float
            new = Dimension(old.target, kind, cast(numbers[0]), cast(numbers[-1]))
        else:
            self._say(f"{old.target}: its choices are not numbers, so it "
                         "has no range")
            self.table.cellWidget(row, KIND).setCurrentText(old.kind)
            return
        space = self.space()
        if row < len(space.dimensions) and space.dimensions[row].target == new.target:
            space.dimensions[row] = new
            self._store(space, f"Sweep {new.target} as {kind}")
        self.refresh()

    # -- adding and removing ---------------------------------------------------------------
    def _fill_add_menu(self) -> None:
        self.add_menu.clear()
        taken = {self.table.item(r, SETTING).data(Qt.ItemDataRole.UserRole)
                 for r in range(self.table.rowCount())}
        menus: dict[str, QMenu] = {}
        for group, target, label in sweepable(self.document.project):
            menu = menus.get(group) or menus.setdefault(group, self.add_menu.addMenu(group))
            action = menu.addAction(label, lambda t=target: self.add(t))
            action.setEnabled(target not in taken)
            action.setToolTip(target)

    def add(self, target: str) -> None:
        """A row for ``target`` with a first domain around the project's value."""
        space = self.space()
        if any(d.target == target for d in space.dimensions):
            return
        space.dimensions.append(suggest(target, own_value(self.document.project, target)))
        self._store(space, f"Sweep {target}")

    def remove_selected(self) -> None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if not rows:
            return
        space = self.space()
        space.dimensions = [d for i, d in enumerate(space.dimensions) if i not in rows]
        self._store(space, "Remove from the search space")

    def use_default(self) -> None:
        self._store(default_space(self.document.project), "Default search space")

    def _store(self, space: SweepSpace, text: str) -> None:
        try:
            check_space(space, self.document.project)
        except ConfigError as exc:
            self._say(str(exc))
            return
        self._say(self.document.set_sweep_space(space.to_dict(), text))

    def _say(self, problem: str | None) -> None:
        show_problem(self.problem, problem)
        self.problem.setToolTip(problem or "")

    def _status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    # -- running ---------------------------------------------------------------------------
    def start(self) -> str | None:
        """Start the sweep as the panel sets it; returns why not (also shown)."""
        try:
            space = self.edited_space()
        except ConfigError as exc:
            why: str | None = str(exc)
        else:
            why = self.document.set_sweep_space(space.to_dict())
            if why is None:
                epochs = self.epochs.value() or None
                why = self.runner.start(space.trials, self.jobs.value(), epochs)
        self._say(why)
        if why is None:
            self._status(f"Sweep running: {space.trials} trials, "
                                f"{self.jobs.value()} process(es)…")
        return why

    def _trial_done(self, trial: Any) -> None:
        value = "" if not trial.values else \
            " " + ", ".join(f"{v:.4g}" for v in trial.values)
        self._status(f"Trial {trial.number} {trial.state}{value}")

    def _update_buttons(self) -> None:
        running = self.runner.running
        editable = not running and not self.document.locked
        self.start_button.setEnabled(editable)
        self.stop_button.setEnabled(running)
        for w in (self.table, self.add_button, self.default_button, self.sampler,
                  self.pruner, self.trials, self.jobs, self.epochs, *self.objectives.values()):
            w.setEnabled(editable)
        self.remove_button.setEnabled(editable and bool(self.table.selectedIndexes()))
