"""The project's runs as a table (settings, graph revision, seed, results), with "Use these
weights" to make a run's weights the project's current ones and "Compare" to set two runs side
by side: the settings that differ and their curves overlaid. Above it, the configurations: runs
that differ only by seed, with the mean ± std and 95 % interval of their best validation
accuracy; "Repeat with seeds…" queues runs of a run's configuration with the next seeds,
"Cross-validate…" one run per fold of k stratified folds (its row then shows the pooled
accuracy), and comparing runs of two configurations says whether the difference is more than
noise."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...project import stats
from ...project.config import MAX_FOLDS, TASK_SCORES
from ...project.options import section_class
from ...project.runs_csv import write_runs_csv
from ..style import ERROR_COLOR, OK_COLOR, WARNING_COLOR
from ..widgets import color_icon, muted_label
from .chartplots import OVERLAY_COLORS, style_legend, style_plot
from .controller import IDLE, STOPPING
from .rundata import (
    best_val_acc,
    chosen_weights,
    epoch_arrays,
    final_val_loss,
    format_value,
    run_summary,
    run_task,
    score_text,
    settings_diff,
)

COLUMNS = ("Run", "Status", "Started", "Epochs", "Best val acc", "Final val loss", "Device",
           "Seed", "Graph", "Settings")
GROUP_COLUMNS = ("Configuration", "Runs", "Seeds", "Differs by")
REPEATS = 3
"""The seeds "Repeat with seeds…" offers: three runs give a first interval."""
FOLDS = 5
"""The folds "Cross-validate…" offers (each validates on a fifth, as the default split does)."""
SOON_MS = 100
DURING_RUN_MS = 1000
"""A run's epochs refresh the table at most once a second: on the GUI thread, which shares the
cores with the training (2 ms a refresh, 1 % of a core when an epoch takes 0.2 s)."""


def _started(text: str) -> str:
    try:
        return datetime.fromisoformat(text).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return str(text)


def _loss(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _cell(text: str, tip: str = "", color: str | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if tip:
        item.setToolTip(tip)
    if color:
        item.setForeground(QBrush(QColor(color)))
    return item


class RunsPanel(QWidget):
    """Every run of the open project, newest first. ``weights_chosen(key)`` after "Use these
    weights" made ``project.weights[key]`` the current weights."""

    weights_chosen = Signal(str)
    run_activated = Signal(object)  # a Run double-clicked: show its charts

    def __init__(self, document: Any, controller: Any, parent: QWidget | None = None, *,
                 start: Callable[[], bool] | None = None) -> None:
        super().__init__(parent)
        self.document, self.controller = document, controller
        self.compare_dialog: CompareDialog | None = None
        self.queue = RepeatQueue(document, controller, start or controller.train, self)
        self.queue.changed.connect(self._update_buttons)
        self._runs: list[Any] = []  # the table's rows
        self.groups: list[stats.Group] = []  # the groups table's rows
        self.group_table = QTableWidget(0, len(GROUP_COLUMNS))
        self.group_table.setHorizontalHeaderLabels(GROUP_COLUMNS)
        self.group_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.group_table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.group_table.verticalHeader().setVisible(False)
        self.group_table.setToolTip("Finished runs that differ only by seed; select one to "
                                    "select its runs, two to compare them")
        group_header = self.group_table.horizontalHeader()
        group_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        group_header.setStretchLastSection(True)
        self.group_table.itemSelectionChanged.connect(self._select_groups)
        self._graph_hash = ""
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.cellDoubleClicked.connect(
            lambda row, _col: self.run_activated.emit(self._runs[row]))
        self.use_button = QPushButton("Use these weights")
        self.use_button.clicked.connect(self.use_weights)
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(self.compare)
        self.repeat_button = QPushButton("Repeat with seeds…")
        self.repeat_button.clicked.connect(lambda: self.repeat())
        self.cv_button = QPushButton("Cross-validate…")
        self.cv_button.clicked.connect(lambda: self.cross_validate())
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.setToolTip("Every run of the project as a CSV row: its settings, seed "
                                   "and results (the same file as `cnnstudio runs --csv`)")
        self.csv_button.clicked.connect(lambda: self.export_csv())
        self.message = muted_label()
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.use_button, self.compare_button, self.repeat_button,
                       self.cv_button, self.csv_button):
            buttons.addWidget(button)
        buttons.addWidget(self.message, 1)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.group_table)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)
        self._timer = QTimer(self)  # many signals, one refresh
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._refresh_when_shown)
        self._stale = False
        document.reset.connect(self.refresh)
        for signal in (document.graph_changed, document.runs_changed, controller.finished,
                       controller.failed, controller.state_changed):
            signal.connect(lambda *_: self._refresh_within(SOON_MS))
        for signal in (controller.epoch, controller.checkpoint):
            signal.connect(lambda *_: self._refresh_within(DURING_RUN_MS))
        self.refresh()

    # -- the table -------------------------------------------------------------------------
    def _refresh_within(self, ms: int) -> None:
        """At most `ms` from now; a later signal never pushes a pending refresh back, so
        epochs faster than the delay still show, once per delay."""
        if not self._timer.isActive() or self._timer.remainingTime() > ms:
            self._timer.start(ms)

    def _refresh_when_shown(self) -> None:
        """A hidden table (another tab) catches up when shown: during a run it would be
        rebuilt every epoch for nobody, on the GUI thread the training shares cores with."""
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def refresh(self) -> None:
        """Rebuild the rows from the project (the selection is kept by run id)."""
        from ...project.model import graph_hash

        self._stale = False
        project = self.document.project
        keep = {r.id for r in self.selected_runs()}
        self._graph_hash = graph_hash(project.graph)
        self._runs = sorted(project.runs, key=lambda r: r.id, reverse=True)
        self.table.blockSignals(True)
        if not self._update_cells(project):
            self.table.clearSelection()
            self.table.setRowCount(len(self._runs))
            for row, run in enumerate(self._runs):
                for col, item in enumerate(self._row(run, project)):
                    self.table.setItem(row, col, item)
            for row, run in enumerate(self._runs):
                if run.id in keep:
                    self._add_row(row)
        self.table.blockSignals(False)
        self._fill_groups(project)
        self._update_buttons()
        if not self._runs:
            self.message.setText("No runs yet: train the project and its runs appear here.")
        elif self.message.text().startswith("No runs yet"):
            self.message.setText("Select a run to use its weights, or two to compare them.")

    def _fill_groups(self, project: Any) -> None:
        """One row per configuration; rebuilt only when the groups' rows change (an epoch of
        a running run changes none: it is counted once finished)."""
        found = stats.groups(project.runs)
        keys = stats.varying(found)
        rows = [(stats.group_line(g), ", ".join(map(str, g.ids)), _group_seeds(g),
                 ", ".join(f"{k.split('.', 1)[-1]} {format_value(g.config.get(k))}"
                           for k in keys) or "—") for g in found]
        table = self.group_table
        old = [tuple(table.item(r, c).text() for c in range(len(GROUP_COLUMNS)))
               for r in range(table.rowCount())]
        self.groups = found
        if old == rows:
            return
        table.blockSignals(True)
        table.clearSelection()
        table.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                table.setItem(r, c, _cell(value, value if c else self._group_tip(found[r])))
        table.blockSignals(False)

    @staticmethod
    def _group_tip(group: stats.Group) -> str:
        lines = [f"{stats.METRICS[m][0]}: {stats.describe(group.summary(m), m)}"
                 for m in stats.METRICS]
        if group.folds:
            lines += [f"pooled final val acc: {stats.percent(group.pooled())} (each fold's "
                      "final accuracy weighted by its validation samples)",
                      *map(stats.fold_line, group.fold_results())]
        return "\n".join(lines)

    def _select_groups(self) -> None:
        """Selecting configurations selects their runs (Compare and Repeat act on those)."""
        rows = {i.row() for i in self.group_table.selectionModel().selectedRows()}
        ids = [i for r in sorted(rows) if r < len(self.groups) for i in self.groups[r].ids]
        if ids:
            self.select_runs(ids)

    def _update_cells(self, project: Any) -> bool:
        """Same runs in the same rows (an epoch of a run ended): replace only the cells whose
        text or tip changed, and keep the selection; False when the rows must be rebuilt.
        A cell's colour and icon follow its text or tip."""
        table = self.table
        if table.rowCount() != len(self._runs) or \
                [table.item(r, 0).text() if table.item(r, 0) else None
                 for r in range(table.rowCount())] != [str(run.id) for run in self._runs]:
            return False
        for row, run in enumerate(self._runs):
            for col, item in enumerate(self._row(run, project)):
                old = table.item(row, col)
                if old is None or old.text() != item.text() or old.toolTip() != item.toolTip():
                    table.setItem(row, col, item)
        return True

    def _add_row(self, row: int) -> None:
        model = self.table.selectionModel()
        index = self.table.model().index(row, 0)
        model.select(index, model.SelectionFlag.Select | model.SelectionFlag.Rows)

    def _row(self, run: Any, project: Any) -> list[QTableWidgetItem]:
        current = project.current_weights in (run.weights, run.best_weights) and \
            project.current_weights is not None
        other = run.graph_hash != self._graph_hash
        ident = _cell(str(run.id), "its weights are the project's current weights"
                      if current else "")
        if current:
            ident.setIcon(color_icon(OK_COLOR))
        status_color = ERROR_COLOR if run.status == "failed" else None
        graph = f"rev {run.graph_revision}" + (" (other graph)" if other else "")
        graph_tip = ("trained on another version of the network: its weights do not fit the "
                     "graph as it is now" if other else "the network as it is now")
        best = best_val_acc(run)
        return [
            ident,
            _cell(run.status, run.message or "", status_color),
            _cell(_started(run.started), run.started),
            _cell(str(len(run.epochs)) + (f" (best {run.best_epoch})" if run.best_epoch else "")),
            _cell(score_text(run, best), f"the best validation {TASK_SCORES[run_task(run)]}"),
            _cell(_loss(final_val_loss(run))),
            _cell(run.device or "—"),
            _cell(str(run.seed)),
            _cell(graph, graph_tip, WARNING_COLOR if other else None),
            _cell(run_summary(run)),
        ]

    def selected_runs(self) -> list[Any]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self._runs[r] for r in rows if r < len(self._runs)]

    def select_runs(self, ids: list[int]) -> None:
        self.table.clearSelection()
        for row, run in enumerate(self._runs):
            if run.id in ids:
                self._add_row(row)

    # -- buttons ---------------------------------------------------------------------------
    def _use_problem(self, runs: list[Any]) -> str | None:
        """Why "Use these weights" cannot apply to the selection (None: it can)."""
        if len(runs) != 1:
            return "Select one run to use its weights."
        run = runs[0]
        if self.controller.running:
            return "Training is running: its weights become the current ones at each checkpoint."
        if run.graph_hash != self._graph_hash:
            return (f"Run {run.id} trained another version of the network (revision "
                    f"{run.graph_revision}): its weights do not fit the graph as it is now.")
        key, _ = chosen_weights(run)
        if key is None or key not in self.document.project.weights:
            return f"Run {run.id} kept no weights (it ended before its first checkpoint)."
        return None

    def _update_buttons(self) -> None:
        runs = self.selected_runs()
        problem = self._use_problem(runs)
        self.use_button.setEnabled(problem is None)
        if problem is None:
            key, which = chosen_weights(runs[0])
            epoch = f" (epoch {runs[0].best_epoch})" if which == "best" else ""
            self.use_button.setToolTip(
                f"Make run {runs[0].id}'s {which}-epoch weights{epoch} the project's current "
                "weights (the best epoch's when the run kept them, else its last)")
        else:
            self.use_button.setToolTip(problem)
        pair = self._compare_pair(runs)
        self.compare_button.setEnabled(pair is not None)
        self.compare_button.setToolTip(
            "Side by side: the settings that differ, the results and their curves; runs of "
            "two configurations: the difference with its 95 % interval" if pair is not None
            else "Select two runs or two configurations (Ctrl+click) to compare them.")
        problem = self._repeat_problem(runs)
        self.repeat_button.setEnabled(problem is None)
        self.repeat_button.setToolTip(
            problem or f"Train run {runs[0].id}'s configuration again with the next seeds, one "
            "run after another (Stop ends the queue): the spread of the results shows how "
            "much of a difference is noise")
        self.cv_button.setEnabled(problem is None)
        self.cv_button.setToolTip(
            problem or f"Train run {runs[0].id}'s configuration once per fold of k stratified "
            "folds of the non-test data, one run after another with one seed, each fold the "
            "validation split once (Stop ends the queue): its row then shows the pooled "
            "accuracy")
        self.csv_button.setEnabled(bool(self.document.project.runs))

    def _compare_pair(self, runs: list[Any]) -> tuple[Any, Any] | None:
        """The two runs Compare sets side by side: the two selected, or the newest of each of
        two selected configurations (a run stands for its configuration's runs)."""
        if len(runs) == 2:
            older, newer = sorted(runs, key=lambda r: r.id)
            return older, newer
        chosen: list[stats.Group] = []
        for run in runs:
            group = stats.group_of(run, self.groups)
            if group is None:
                return None
            if not any(g is group for g in chosen):
                chosen.append(group)
        if len(chosen) != 2:
            return None
        older, newer = sorted((max(g.runs, key=lambda r: r.id) for g in chosen),
                              key=lambda r: r.id)
        return older, newer

    def _repeat_problem(self, runs: list[Any]) -> str | None:
        """Why "Repeat with seeds…" cannot apply to the selection (None: it can)."""
        if self.controller.running or self.queue.pending:
            return "Training is running: repeat when it has ended."
        if not runs or len({stats.config_key(r) for r in runs}) != 1:
            return "Select a run (or runs of one configuration) to repeat its configuration."
        run = runs[0]
        if run.graph_hash != self._graph_hash:
            return (f"Run {run.id} trained another version of the network (revision "
                    f"{run.graph_revision}): it cannot be repeated on the graph as it is now.")
        return None

    def use_weights(self) -> bool:
        runs = self.selected_runs()
        problem = self._use_problem(runs)
        if problem is not None:
            self.message.setText(problem)
            return False
        key, which = chosen_weights(runs[0])
        self.document.project.current_weights = key
        self.document.mark_dirty()
        self.message.setText(f"The model now has run {runs[0].id}'s {which}-epoch weights.")
        self.refresh()
        self.weights_chosen.emit(key)
        return True

    def compare(self) -> CompareDialog | None:
        pair = self._compare_pair(self.selected_runs())
        if pair is None:
            self.message.setText("Select two runs or two configurations (Ctrl+click) to "
                                 "compare them.")
            return None
        older, newer = pair
        if self.compare_dialog is not None:
            self.compare_dialog.close()
        groups = (stats.group_of(older, self.groups), stats.group_of(newer, self.groups))
        self.compare_dialog = CompareDialog(older, newer, self, groups=groups)
        self.compare_dialog.show()
        return self.compare_dialog


    def _queue_source(self) -> Any:
        """The selected run a repeat or cross-validation starts from (None: why not is
        shown)."""
        runs = self.selected_runs()
        problem = self._repeat_problem(runs)
        if problem is not None:
            self.message.setText(problem)
            return None
        return runs[0]

    def repeat(self, n: int | None = None) -> bool:
        """Queue ``n`` runs (asked when None) of the selected run's configuration with the
        seeds after the highest that configuration has used."""
        run = self._queue_source()
        if run is None:
            return False
        if n is None:
            n, ok = QInputDialog.getInt(
                self, "Repeat with seeds", f"Runs of run {run.id}'s configuration, each with "
                "the next seed:", REPEATS, 1, 100)
            if not ok:
                return False
        key = stats.config_key(run)
        first = max(r.seed for r in self.document.project.runs
                    if stats.config_key(r) == key) + 1
        seeds = list(range(first, first + n))
        problem = self.queue.start(run, "training.seed", seeds)
        if problem is not None:
            self.message.setText(problem)
            return False
        self.message.setText(f"Training run {run.id}'s configuration with seed"
                             f"{'s' * (n > 1)} {_seeds(seeds)}, one run after another; Stop "
                             "ends the queue.")
        return True

    def cross_validate(self, k: int | None = None) -> bool:
        """Queue ``k`` runs (asked when None) of the selected run's configuration with ``k``
        folds, validating on fold 0, 1, ... in turn, all with one seed: the run's, or the next
        after the highest that cross-validation has used."""
        run = self._queue_source()
        if run is None:
            return False
        if k is None:
            k, ok = QInputDialog.getInt(
                self, "Cross-validate", f"Folds of run {run.id}'s configuration, one run "
                "each:", FOLDS, 2, MAX_FOLDS)
            if not ok:
                return False
        target = {**stats.configuration(run), "dataset.folds": k}
        used = [r.seed for r in self.document.project.runs if stats.configuration(r) == target]
        seed = max(used) + 1 if used else run.seed
        problem = self.queue.start(run, "dataset.fold", list(range(k)),
                                   {"training": {"seed": seed},
                                    "dataset": {"folds": k, "fold": 0}})
        if problem is not None:
            self.message.setText(problem)
            return False
        self.message.setText(f"Cross-validating run {run.id}'s configuration: {k} runs with "
                             f"seed {seed}, validating on fold 0–{k - 1} in turn; Stop ends "
                             "the queue.")
        return True

    def export_csv(self, path: str | None = None) -> bool:
        """Every run of the project as a CSV row (asks where when ``path`` is None)."""
        project = self.document.project
        if not project.runs:
            self.message.setText("No runs to export yet.")
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export the runs as CSV",
                                                  f"{project.name}-runs.csv",
                                                  "CSV files (*.csv)")
            if not path:
                return False
        try:
            count = write_runs_csv(project.runs, path)
        except OSError as exc:
            self.message.setText(f"Cannot write {path}: {exc.strerror or exc}")
            return False
        self.message.setText(f"Wrote {count} run{'s' * (count != 1)} to {path}.")
        return True


def _group_seeds(group: stats.Group) -> str:
    """A group's seeds, each once (a cross-validation runs each seed once per fold)."""
    return ", ".join(map(str, sorted(set(group.seeds)) if group.folds else group.seeds))


def _seeds(seeds: list[int]) -> str:
    return str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}"


class RepeatQueue(QObject):
    """Runs of one configuration that differ by one setting (the seed for repeats, the
    validation fold for cross-validation), one after another: the next starts when the last
    has ended; Stop, a failure or a refused start ends the queue. The configuration and each
    value are set as settings changes (undoable steps), so each run is an ordinary run of the
    project."""

    changed = Signal()

    def __init__(self, document: Any, controller: Any, start: Callable[[], bool],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document, self.controller, self.start_run = document, controller, start
        self.pending: list[int] = []
        self.vary = "training.seed"
        self.first: int | None = None
        """The value the queue began with, set again when it ends (as ``train --repeat`` keeps
        the seed its repeats started from): a second repeat pairs with this one by seed."""
        controller.state_changed.connect(self._state_changed)
        controller.failed.connect(lambda _event: self.cancel())

    def start(self, run: Any, vary: str, values: list[int],
              fixed: dict[str, dict[str, Any]] | None = None) -> str | None:
        """Set ``run``'s configuration, with ``fixed``'s settings (by section) over it, and
        train it once with each of ``values`` for the setting ``vary`` ("training.seed",
        "dataset.fold"); why not (None: started)."""
        if self.controller.running or not values:
            return "Training is running: repeat when it has ended."
        dataset = stats.dataset_config(run)
        for section, given in (("training", run.training), ("dataset", dataset)):
            known = set(section_class(section)().to_dict())
            changes = {k: v for k, v in given.items()
                       if k in known and f"{section}.{k}" != vary}
            for path, value in stats.ADDED.items():  # what a run from before them trained with
                if path.startswith(f"{section}.") and path != vary:
                    changes.setdefault(path.split(".", 1)[1], value)
            changes.update((fixed or {}).get(section, {}))
            problem = self.document.change_settings(section, changes,
                                                    f"Settings of run {run.id}")
            if problem is not None:
                return problem
        self.vary, self.pending, self.first = vary, list(values), values[0]
        self._next()
        return None

    def cancel(self) -> None:
        if self.pending:
            self.pending = []
            self.changed.emit()

    def _state_changed(self, state: str) -> None:
        if state == STOPPING:
            self.cancel()
        elif state == IDLE and self.pending:  # after every slot has heard that it ended
            QTimer.singleShot(0, self._next)
        elif state == IDLE and self.first is not None:
            QTimer.singleShot(0, self._finish)

    def _finish(self) -> None:
        """The queue ended: the varied setting back at its first value."""
        first, self.first = self.first, None
        if first is None or self.pending or self.controller.running:
            return
        section, key = self.vary.split(".", 1)
        self.document.change_settings(section, {key: first},
                                      f"{key.capitalize()} {first} (where the runs began)")

    def _next(self) -> None:
        if not self.pending or self.controller.running:
            return
        value = self.pending.pop(0)
        section, key = self.vary.split(".", 1)
        problem = self.document.change_settings(section, {key: value},
                                                f"{key.capitalize()} {value}")
        if problem is not None or not self.start_run():
            self.pending, self.first = [], None
        self.changed.emit()


class CompareDialog(QDialog):
    """Two runs side by side: the settings that differ, the results, the curves; for runs of
    two configurations (``groups``) also the difference of their results with its 95 %
    interval and whether it is more than noise."""

    def __init__(self, a: Any, b: Any, parent: QWidget | None = None, *,
                 groups: tuple[Any, Any] = (None, None)) -> None:
        super().__init__(parent)
        self.a, self.b = a, b
        self.setWindowTitle(f"Run {a.id} versus run {b.id}")
        ga, gb = groups
        self.comparison = stats.compare(ga, gb) \
            if ga is not None and gb is not None and ga is not gb else None
        self.diff = self.comparison.differing if self.comparison else settings_diff(a, b)
        self.statistics = QLabel(self._statistics(ga, gb))
        self.statistics.setWordWrap(True)
        self.statistics.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        names = [f"A: run {a.id}", f"B: run {b.id}"] if self.comparison else \
            [f"Run {a.id}", f"Run {b.id}"]
        self.settings = self._table(["Setting", *names],
                                    [(k, format_value(x), format_value(y))
                                     for k, x, y in self.diff]
                                    or [("(the same settings)", "", "")])
        self.results = self._table(["Result", f"Run {a.id}", f"Run {b.id}"], self._results())
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.statistics)
        left_layout.addWidget(QLabel("<b>Settings that differ</b>"))
        left_layout.addWidget(self.settings, 1)
        left_layout.addWidget(QLabel("<b>Results</b>"))
        left_layout.addWidget(self.results)
        self.results.resizeRowsToContents()
        self.results.setFixedHeight(self.results.horizontalHeader().height() + 4 +
                                    sum(self.results.rowHeight(r)
                                        for r in range(self.results.rowCount())))
        self.plots = pg.GraphicsLayoutWidget()
        pal = self.palette()
        self.plots.setBackground(pal.color(QPalette.ColorRole.Base))
        text = pal.color(QPalette.ColorRole.WindowText)
        self.curves: dict[str, Any] = {}
        self.titled: list[tuple[Any, str]] = []  # each plot and its title, restyled by a theme
        legend = self.legend = pg.LegendItem(colCount=2, labelTextSize="8pt")
        self.plots.addItem(legend, row=0, col=0)
        for row, (key, title, scale) in enumerate((("loss", "Loss", 1.0),
                                                   ("acc", "Accuracy (%)", 100.0)), start=1):
            plot = self.plots.addPlot(row=row, col=0)
            style_plot(plot, title, text)
            self.titled.append((plot, title))
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setLabel("bottom", "epoch")
            for run, color in ((a, OVERLAY_COLORS[0]), (b, OVERLAY_COLORS[1])):
                arrays = epoch_arrays(run.epochs)
                for split, style in (("train", Qt.PenStyle.DotLine),
                                     ("val", Qt.PenStyle.SolidLine)):
                    curve = plot.plot(arrays["epoch"], arrays[f"{split}_{key}"] * scale,
                                      pen=pg.mkPen(color, width=2, style=style), symbol="o",
                                      symbolSize=5, symbolPen=None, symbolBrush=color,
                                      connect="finite")
                    self.curves[f"{run.id}.{split}_{key}"] = curve
                    if key == "loss":
                        legend.addItem(curve, f"run {run.id} {split}")
        style_legend(legend, text)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.plots)
        splitter.setSizes([480, 620])
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(muted_label(f"Run {a.id}: {run_summary(a)} · run {b.id}: "
                                     f"{run_summary(b)}"), 1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)
        self.resize(1100, 620)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.PaletteChange:  # a new theme: the charts follow
            pal = self.palette()
            text = pal.color(QPalette.ColorRole.WindowText)
            self.plots.setBackground(pal.color(QPalette.ColorRole.Base))
            for plot, title in self.titled:
                style_plot(plot, title, text)
            style_legend(self.legend, text)
        super().changeEvent(event)

    def _statistics(self, ga: Any, gb: Any) -> str:
        """In words: each side's configuration with its spread, and the verdict."""
        a, b = self.a, self.b
        if ga is None or gb is None:
            which = a if ga is None else b
            return (f"Run {which.id} did not finish ({which.status}): only finished runs count "
                    "in a configuration's statistics.")
        if ga is gb:
            return (f"Runs {a.id} and {b.id} have the same configuration: they differ only by "
                    f"seed. Its {len(ga.runs)} runs: best val acc "
                    f"{stats.describe(ga.summary())}.")
        c = self.comparison
        assert c is not None

        def side(name: str, run: Any, group: Any) -> str:
            n = len(group.runs)
            return (f"<b>{name}</b>: run {run.id}'s configuration, {n} run{'s' * (n != 1)} "
                    f"(seeds {_group_seeds(group)}), best val acc "
                    f"{stats.describe(c.a if name == 'A' else c.b)}")

        return (f"{side('A', a, ga)}<br>{side('B', b, gb)}<br><b>{c.verdict()}</b>")

    def _results(self) -> list[tuple[str, str, str]]:
        def row(name: str, fn: Any) -> tuple[str, str, str]:
            return (name, fn(self.a), fn(self.b))

        def seconds(run: Any) -> str:
            total = sum(r.seconds or 0.0 for r in run.epochs)
            return f"{total:.1f} s" if run.epochs else "—"

        def test_acc(run: Any) -> str:
            value = (run.evaluation or {}).get("accuracy")
            return score_text(run, value) if isinstance(value, (int, float)) else "—"

        return [row("Status", lambda r: r.status),
                row("Epochs", lambda r: str(len(r.epochs))),
                row("Best epoch", lambda r: format_value(r.best_epoch)),
                row("Best val acc", lambda r: score_text(r, best_val_acc(r))),
                row("Final val loss", lambda r: _loss(final_val_loss(r))),
                row("Evaluation accuracy", test_acc),
                row("Training time", seconds),
                row("Device", lambda r: r.device or "—")]

    @staticmethod
    def _table(headers: list[str], rows: list[tuple[str, str, str]]) -> QTableWidget:
        table = QTableWidget(len(rows), len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                table.setItem(r, c, _cell(value, value))
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        return table
