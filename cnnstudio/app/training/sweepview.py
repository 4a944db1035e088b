"""The Sweep panel: a study's optimisation history, parallel coordinates, slices, parameter
importance and Pareto front, read from its storage on a background job every few seconds while
the panel is in view, so a running sweep fills it live. Clicking a trial selects its run;
"Use this trial" sets the trial's parameters on the project as one undo step. The data come
from engine/sweep/views.py (the only module that touches Optuna); this module only draws."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...engine.sweep import views
from ...engine.sweep.study import default_storage
from ...project.config import ConfigError
from ...project.sweep import BLOCK, NODE, PRESET, apply_values, run_ids, trial_copy
from ...project.sweep_suggest import space_of
from ..widgets import muted_label
from ..workers import Jobs
from .chartplots import BEST, TRAIN, style_plot

REFRESH_MS = 2000
"""How often a visible panel reads the storage again (a trial of a small model takes longer)."""
PRUNED, FRONT, PICKED = "#95a5a6", "#c0392b", "#f1c40f"
SLICE_COLUMNS = 3
LEFT_AXIS = 72  # room for a parameter count (62500) beside the axis's title
COLORS = pg.colormap.get("viridis")
TABS = ("Search space", "History", "Parallel coordinates", "Slices", "Importance", "Pareto front")


def short(name: str) -> str:
    """A parameter's label on an axis: a node's id and parameter without the prefix."""
    return name[len(NODE):] if name.startswith(NODE) else name


def fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def log_ticks(low: float, high: float) -> list[tuple[float, str]]:
    """Ticks at 1, 2 and 5 of each decade between log10 positions ``low`` and ``high``."""
    ticks = []
    for decade in range(int(np.floor(low)), int(np.ceil(high)) + 1):
        for m in (1, 2, 5):
            at = decade + float(np.log10(m))
            if low - 0.2 <= at <= high + 0.2:
                ticks.append((at, f"{m * 10.0 ** decade:.3g}"))
    return ticks


class SweepView(QWidget):
    """The panel. ``select_runs([run id])`` shows a trial's run (the Runs panel's method);
    ``runner`` starts the window's sweeps (the Search space tab, first)."""

    def __init__(self, document: Any, select_runs: Callable[[list[int]], None] | None = None,
                 parent: QWidget | None = None, runner: Any = None) -> None:
        super().__init__(parent)
        self.document = document
        self.select_runs = select_runs
        self.storage_url: str | None = None
        self.study_name = ""
        self.own_storage = False  # the user opened another storage than the project's
        self.snapshot: views.Snapshot | None = None
        self.selected: int | None = None
        self.jobs = Jobs(self)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)

        self.study_box = QComboBox()
        self.study_box.setToolTip("The study shown (a storage can hold several)")
        self.study_box.setMinimumContentsLength(12)
        self.study_box.activated.connect(lambda _i: self.set_study(self.study_box.currentText()))
        self.storage_label = QLabel()
        self.open_button = QPushButton("Open storage…")
        self.open_button.setToolTip("Show a study of another SQLite storage (.db) file")
        self.open_button.clicked.connect(lambda: self.open_storage())
        self.use_button = QPushButton("Use this trial")
        self.use_button.setToolTip("Set the selected trial's parameters on the project (one "
                                   "undo step)")
        self.use_button.clicked.connect(lambda: self.use_trial())
        self.trial_label = muted_label(wrap=False)
        self.message = muted_label()
        top = QHBoxLayout()
        top.addWidget(QLabel("Study:"))
        top.addWidget(self.study_box)
        top.addWidget(self.storage_label, 1)
        top.addWidget(self.open_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.trial_label, 1)
        bottom.addWidget(self.use_button)

        self.tabs = QTabWidget()
        self.setup = None
        if runner is not None:
            from .sweepsetup import SweepSetup

            self.setup = SweepSetup(document, runner)
            self.tabs.addTab(self.setup, "Search space")
            runner.state_changed.connect(self._sweep_state)
            runner.trial_done.connect(lambda _t: self.refresh())
        self._make_history()
        self._make_parallel()
        self._make_slices()
        self._make_importance()
        self._make_pareto()
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)
        document.path_changed.connect(lambda _p: self.follow_project())
        document.reset.connect(self.follow_project)
        self.apply_theme(self.palette())
        self.follow_project()

    # -- the plots ------------------------------------------------------------------------
    def _plot_tab(self, title: str, x: str, y: str) -> pg.PlotWidget:
        widget = pg.PlotWidget()
        plot = widget.getPlotItem()
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setLabel("bottom", x)
        plot.setLabel("left", y)
        plot.setMenuEnabled(False)
        for axis in ("left", "bottom"):  # "val_acc (x0.001)" reads badly
            plot.getAxis(axis).enableAutoSIPrefix(False)
        plot.getAxis("left").setWidth(LEFT_AXIS)
        self.tabs.addTab(widget, title)
        return widget

    def _scatter(self, plot: pg.PlotItem, color: str, size: int = 8) -> pg.ScatterPlotItem:
        item = pg.ScatterPlotItem(size=size, pen=None, brush=pg.mkBrush(color), hoverable=True)
        item.sigClicked.connect(lambda _item, points, _ev: self.select_trial(
            int(points[0].data())) if len(points) else None)
        plot.addItem(item)
        return item

    def _make_history(self) -> None:
        self.history = self._plot_tab("History", "trial", "value")
        plot = self.history.getPlotItem()
        self.best_line = plot.plot(pen=pg.mkPen(BEST, width=2), stepMode="right")
        self.pruned_points = self._scatter(plot, PRUNED, 6)
        self.history_points = self._scatter(plot, TRAIN)
        self.picked = pg.ScatterPlotItem(size=14, pen=pg.mkPen(PICKED, width=2), brush=None)
        plot.addItem(self.picked)

    def _make_parallel(self) -> None:
        self.parallel = self._plot_tab("Parallel coordinates", "", "")
        plot = self.parallel.getPlotItem()
        plot.hideAxis("left")
        plot.showGrid(x=True, y=False)
        self.parallel_lines: list[pg.PlotDataItem] = []
        self.parallel_labels: list[pg.TextItem] = []
        self.parallel_axes: tuple = ()

    def _make_slices(self) -> None:
        self.slices = pg.GraphicsLayoutWidget()
        self.tabs.addTab(self.slices, "Slices")
        self.slice_plots: dict[str, tuple[pg.PlotItem, pg.ScatterPlotItem]] = {}

    def _make_importance(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.importance_reason = muted_label()
        self.importance_objective = QComboBox()  # several objectives: which one's importance
        self.importance_objective.setToolTip("The objective whose importance is shown")
        self.importance_objective.activated.connect(lambda _i: self._draw_importance())
        self.importance_plot = pg.PlotWidget()
        plot = self.importance_plot.getPlotItem()
        plot.setLabel("bottom", "importance (PED-ANOVA)")
        for axis in ("left", "bottom"):  # shares 0..1, not "(x0.001)"
            plot.getAxis(axis).enableAutoSIPrefix(False)
        plot.setMenuEnabled(False)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[], brush=TRAIN)
        plot.addItem(self.bars)
        row = QHBoxLayout()
        row.addWidget(self.importance_objective)
        row.addWidget(self.importance_reason, 1)
        layout.addLayout(row)
        layout.addWidget(self.importance_plot, 1)
        self.importance_page = page
        self.tabs.addTab(page, "Importance")

    def _make_pareto(self) -> None:
        self.pareto = self._plot_tab("Pareto front", "objective 1", "objective 2")
        plot = self.pareto.getPlotItem()
        self.pareto_line = plot.plot(pen=pg.mkPen(FRONT, width=1.5,
                                                  style=Qt.PenStyle.DashLine))
        self.pareto_points = self._scatter(plot, TRAIN)
        self.front_points = self._scatter(plot, FRONT, 11)

    def _plot_items(self) -> list[tuple[pg.PlotItem, str]]:
        items = [(w.getPlotItem(), title) for w, title in (
            (self.history, "Optimisation history"), (self.parallel, ""),
            (self.importance_plot, ""), (self.pareto, ""))]
        return items + [(p, p.titleLabel.text) for p, _ in self.slice_plots.values()]

    def apply_theme(self, pal: QPalette) -> None:
        text = pal.color(QPalette.ColorRole.WindowText)
        base = pal.color(QPalette.ColorRole.Base)
        for widget in (self.history, self.parallel, self.importance_plot, self.pareto,
                       self.slices):
            widget.setBackground(base)
        for plot, title in self._plot_items():
            style_plot(plot, title, text)
        for label in self.parallel_labels:
            label.setColor(text)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.PaletteChange:
            self.apply_theme(self.palette())
        super().changeEvent(event)

    # -- the storage and the study --------------------------------------------------------
    def follow_project(self) -> None:
        """The project's own storage (beside its file) unless the user opened another."""
        if self.own_storage:
            return
        path = self.document.path
        self.set_storage(default_storage(path) if path is not None else None,
                         Path(path).stem if path is not None else "")

    def set_storage(self, url: str | None, study: str = "") -> None:
        self.storage_url, self.study_name = url, study
        self.snapshot, self.selected = None, None
        file = views.sqlite_path(url) if url else None
        self.storage_label.setText(file.name if file else (url or ""))
        self.storage_label.setToolTip(url or "")
        self.study_box.clear()
        self.show_snapshot(None)
        self.jobs.cancel()  # a read of the storage before answers nobody now
        self.refresh()

    def open_storage(self, path: str | None = None) -> bool:
        """Show another SQLite storage (asks for the file when ``path`` is None)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open a sweep storage", str(Path(self.document.path or ".").parent),
                "Sweep storage (*.db *.sqlite *.sqlite3);;All files (*)")
        if not path:
            return False
        self.own_storage = True
        self.set_storage(f"sqlite:///{Path(path).resolve()}", Path(path).stem.split(".")[0])
        return True

    def _sweep_state(self, running: bool) -> None:
        """A sweep started in the window: show its own study, and its history as it fills."""
        if running:
            if self.own_storage:
                self.own_storage = False
                self.follow_project()
            self.tabs.setCurrentIndex(self.tabs.indexOf(self.history))
        self.refresh()

    def set_study(self, name: str) -> None:
        if name and name != self.study_name:
            self.study_name, self.selected = name, None
            self.jobs.cancel()
            self.refresh()

    # -- reading ----------------------------------------------------------------------------
    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.timer.start()
        self.refresh()

    def hideEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        self.timer.stop()
        super().hideEvent(event)

    def refresh(self) -> None:
        """Read the study again on a background job (skipped while the last read runs)."""
        if self.storage_url is None:
            self.message.setText("Save the project to sweep it: its study is kept in a file "
                                 "beside it (Start sweep, cnnstudio sweep PROJECT, or Open "
                                 "storage…).")
            return
        if self.jobs.busy:
            return
        url, name = self.storage_url, self.study_name
        self.jobs.start(lambda: views.snapshot(url, name), self._read, self._failed)

    def _read(self, snap: views.Snapshot) -> None:
        if self.storage_url is None:
            return
        self.study_name = snap.data.name
        if [self.study_box.itemText(i) for i in range(self.study_box.count())] != snap.names:
            self.study_box.clear()
            self.study_box.addItems(snap.names)
        self.study_box.setCurrentText(snap.data.name)
        self.show_snapshot(snap)

    def _failed(self, message: str) -> None:
        self.snapshot = None
        self.show_snapshot(None)
        self.message.setText(message)

    # -- drawing ----------------------------------------------------------------------------
    def show_snapshot(self, snap: views.Snapshot | None) -> None:
        self.snapshot = snap
        data = snap.data if snap else views.StudyData("", ["maximize"])
        done = len(data.complete)
        self.message.setText(
            f"{len(data.trials)} trials: {done} complete, "
            f"{sum(t.state == 'pruned' for t in data.trials)} pruned, "
            f"{sum(t.state == 'running' for t in data.trials)} running · " + ", ".join(
                f"{'maximise' if d == 'maximize' else 'minimise'} {name}"
                for d, name in zip(data.directions, self.objective_names(data)))
            if snap else "")
        self._draw_history(data)
        self._draw_parallel(data)
        self._draw_slices(data)
        names = self.objective_names(data)
        box = self.importance_objective
        if [box.itemText(i) for i in range(box.count())] != names:
            box.clear()
            box.addItems(names)
        box.setVisible(len(names) > 1)
        self._draw_importance()
        self._draw_pareto(data)
        self._show_selected()

    def objective_names(self, data: views.StudyData) -> list[str]:
        """The project's objectives when the study is its own, else numbered ones."""
        try:
            names = space_of(self.document.project).objectives
        except ConfigError:
            names = []
        if len(names) != len(data.directions):
            names = [f"objective {i + 1}" for i in range(len(data.directions))]
        return names

    def _draw_history(self, data: views.StudyData) -> None:
        complete = data.complete
        x = np.array([t.number for t in complete], dtype=np.float64)
        y = np.array([t.values[0] for t in complete], dtype=np.float64)
        self.history_points.setData(x=x, y=y, data=[t.number for t in complete])
        self.best_line.setData(x, np.array(data.best_so_far(), dtype=np.float64))
        pruned = [t for t in data.trials if t.state == "pruned" and t.values]
        self.pruned_points.setData(x=[t.number for t in pruned], y=[t.values[0] for t in pruned],
                                   data=[t.number for t in pruned])
        plot = self.history.getPlotItem()
        plot.setLabel("left", self.objective_names(data)[0])
        last = max((t.number for t in data.trials), default=0)
        if last <= 15:  # whole trials, not 0.5 steps
            plot.getAxis("bottom").setTickSpacing(5, 1)
        else:
            plot.getAxis("bottom").setTickSpacing()

    def _draw_parallel(self, data: views.StudyData) -> None:
        plot = self.parallel.getPlotItem()
        complete = data.complete
        columns = [[p.position(t.params.get(p.name)) for t in complete] for p in data.params]
        columns.append([t.values[0] for t in complete])
        spans = [(np.nanmin(c), np.nanmax(c)) if len(c) else (0.0, 1.0) for c in columns]
        axes = tuple(short(p.name) for p in data.params) + (self.objective_names(data)[0],)
        ends = [self._axis_ends(p, lo, hi) for p, (lo, hi) in zip(data.params, spans)]
        ends.append((fmt(spans[-1][0]), fmt(spans[-1][1])))
        if (axes, ends) != self.parallel_axes:  # labels change rarely: made again only then
            self.parallel_axes = (axes, ends)
            plot.getAxis("bottom").setTicks([list(enumerate(axes))])
            for label in self.parallel_labels:
                plot.removeItem(label)
            self.parallel_labels = []
            text = self.palette().color(QPalette.ColorRole.WindowText)
            for i, (low, high) in enumerate(ends):
                for value, y, anchor in ((low, 0.0, (0.5, 0)), (high, 1.0, (0.5, 1))):
                    label = pg.TextItem(value, color=text, anchor=anchor)
                    label.setPos(i, y)
                    plot.addItem(label)
                    self.parallel_labels.append(label)
        values = np.array(columns[-1], dtype=np.float64)
        vlo, vhi = spans[-1]
        x = np.arange(len(columns), dtype=np.float64)
        while len(self.parallel_lines) < len(complete):
            self.parallel_lines.append(plot.plot())
        for i, line in enumerate(self.parallel_lines):
            if i >= len(complete):
                line.setData([], [])
                continue
            y = np.array([(c[i] - lo) / (hi - lo) if hi > lo else 0.5
                          for c, (lo, hi) in zip(columns, spans)], dtype=np.float64)
            share = (values[i] - vlo) / (vhi - vlo) if vhi > vlo else 1.0
            line.setData(x, y)
            line.setPen(pg.mkPen(COLORS.map(float(share), mode="qcolor"), width=2))
        plot.setXRange(-0.3, len(columns) - 0.7, padding=0)
        plot.setYRange(-0.1, 1.1, padding=0)

    @staticmethod
    def _axis_ends(param: views.ParamInfo, lo: float, hi: float) -> tuple[str, str]:
        if not param.numeric:
            return fmt(param.choices[0]), fmt(param.choices[-1])
        if param.log:
            return fmt(10 ** lo), fmt(10 ** hi)
        return fmt(lo), fmt(hi)

    def _draw_slices(self, data: views.StudyData) -> None:
        names = [p.name for p in data.params]
        if names != list(self.slice_plots):
            self.slices.clear()
            self.slice_plots = {}
            for i, param in enumerate(data.params):
                plot = self.slices.addPlot(row=i // SLICE_COLUMNS, col=i % SLICE_COLUMNS)
                plot.setTitle(short(param.name), size="9pt")
                plot.showGrid(x=True, y=True, alpha=0.15)
                plot.setMenuEnabled(False)
                plot.getAxis("left").enableAutoSIPrefix(False)
                if not param.numeric:
                    plot.getAxis("bottom").setTicks(
                        [[(j, fmt(c)) for j, c in enumerate(param.choices)]])
                self.slice_plots[param.name] = (plot, self._scatter(plot, TRAIN, 7))
            self.apply_theme(self.palette())
        complete = data.complete
        for param in data.params:
            _, scatter = self.slice_plots[param.name]
            points = [t for t in complete if param.name in t.params]
            x = [param.position(t.params[param.name]) for t in points]
            if param.log and x:  # log10 positions, labelled with the values
                plot = self.slice_plots[param.name][0]
                plot.getAxis("bottom").setTicks([log_ticks(min(x), max(x))])
            scatter.setData(x=x, y=[t.values[0] for t in points],
                            data=[t.number for t in points])

    def _draw_importance(self) -> None:
        snap, index = self.snapshot, max(0, self.importance_objective.currentIndex())
        found = snap.importance_for(index) if snap and index < len(snap.data.directions) else \
            views.Importance(None, "")
        plot = self.importance_plot.getPlotItem()
        values = found.values or {}
        names = list(values)[::-1]  # the largest at the top
        self.bars.setOpts(x0=[0.0] * len(names), y=list(range(len(names))), height=0.6,
                          width=[values[n] for n in names])
        plot.getAxis("left").setTicks([[(i, short(n)) for i, n in enumerate(names)]])
        self.importance_reason.setText(found.reason)
        self.importance_reason.setVisible(bool(found.reason))
        if names:
            plot.setYRange(-0.6, len(names) - 0.4, padding=0)
            plot.setXRange(0, max(values.values()) * 1.05 or 1.0, padding=0)

    def _draw_pareto(self, data: views.StudyData) -> None:
        index = self.tabs.indexOf(self.pareto)
        multi = len(data.directions) >= 2
        self.tabs.setTabEnabled(index, multi)
        self.tabs.setTabToolTip(index, "" if multi else "A study with two objectives has a "
                                "Pareto front; this one has one")
        complete = data.complete if multi else []
        front = set(data.pareto()) if multi else set()
        rest = [t for t in complete if t.number not in front]
        best = sorted((t for t in complete if t.number in front), key=lambda t: t.values[0])
        self.pareto_points.setData(x=[t.values[0] for t in rest], y=[t.values[1] for t in rest],
                                   data=[t.number for t in rest])
        self.front_points.setData(x=[t.values[0] for t in best], y=[t.values[1] for t in best],
                                  data=[t.number for t in best])
        self.pareto_line.setData([t.values[0] for t in best], [t.values[1] for t in best])
        if multi:
            names = self.objective_names(data)
            plot = self.pareto.getPlotItem()
            plot.setLabel("bottom", f"{names[0]} ({data.directions[0]})")
            plot.setLabel("left", f"{names[1]} ({data.directions[1]})")

    # -- a trial ------------------------------------------------------------------------------
    def trial(self, number: int | None) -> views.TrialPoint | None:
        if self.snapshot is None or number is None:
            return None
        return next((t for t in self.snapshot.data.trials if t.number == number), None)

    def select_trial(self, number: int) -> None:
        """Pick a trial (a click on its point) and select its run in the Runs panel."""
        self.selected = number
        self._show_selected()
        run_id = run_ids(self.document.project.runs, self.study_name).get(number)
        if run_id is None:
            self.trial_label.setText(self.trial_label.text() + " · its run is not in the open "
                                     "project (open the project the sweep wrote)")
        elif self.select_runs is not None:
            self.select_runs([run_id])

    def _show_selected(self) -> None:
        t = self.trial(self.selected)
        self.use_button.setEnabled(t is not None and bool(t.params))
        if t is None:
            self.trial_label.setText("Click a trial's point to select it and its run")
            self.picked.setData([], [])
            return
        value = ", ".join(fmt(v) for v in t.values) if t.values else "no value"
        params = ", ".join(f"{short(k)}={fmt(v)}" for k, v in t.params.items())
        self.trial_label.setText(f"Trial {t.number} ({t.state}, {value}): {params}")
        self.trial_label.setToolTip(self.trial_label.text())
        self.picked.setData([t.number] if t.values else [], [t.values[0]] if t.values else [])

    def use_trial(self, number: int | None = None) -> str | None:
        """Set trial ``number``'s (default: the selected one's) parameters on the project as
        one undo step; returns why not (also shown) and changes nothing then."""
        t = self.trial(self.selected if number is None else number)
        changed, problem = self._trial_project(t)
        if problem is None:
            self._apply(t.number, changed)
            return None
        QMessageBox.warning(self, "Use this trial", problem)
        return problem

    def _trial_project(self, t: views.TrialPoint | None) -> tuple[Any, str | None]:
        """A copy of the project with the trial's parameters set, or why it cannot be used."""
        if t is None or not t.params:
            return None, "Select a trial first: click its point in a plot."
        if self.document.locked:
            return None, f"The project is read-only while {self.document.lock_reason}."
        rebuilt = [k for k in t.params if k.startswith(PRESET)]
        if rebuilt:
            options = ", ".join(f"{k[len(PRESET):]}={fmt(t.params[k])}" for k in rebuilt)
            return None, (f"Trial {t.number} builds the preset again ({options}), which the "
                          "window cannot yet undo as one step; make a new project from the "
                          "preset with these options.")
        repeated = [k for k in t.params if k.startswith(BLOCK)]
        if repeated:
            counts = ", ".join(f"{k[len(BLOCK):]}={fmt(t.params[k])}" for k in repeated)
            return None, (f"Trial {t.number} changes how many blocks a stage has ({counts}), "
                          "which adds or removes layers the window cannot yet undo as one step; "
                          "add or delete the blocks by hand.")
        changed = trial_copy(self.document.project)
        try:
            apply_values(changed, t.params)
        except ConfigError as exc:
            return None, f"Trial {t.number} does not fit this project: {exc}"
        graph = self.document.graph
        swapped = [n.id for n in changed.graph.nodes.values() if n.type != graph.node(n.id).type]
        if swapped:
            return None, (f"Trial {t.number} changes the type of layer {swapped[0]}, which the "
                          "window cannot yet undo as one step; set its parameters by hand.")
        return changed, None

    def _apply(self, number: int, changed: Any) -> None:
        """``changed`` (the project as apply_values made it) as commands: the options and node
        parameters that differ, in one macro."""
        text = f"Use trial {number}"
        doc = self.document
        with doc.macro(text):
            for section in ("training", "dataset"):
                changes = differences(doc.settings(section), getattr(changed, section).to_dict())
                if changes:
                    doc.change_settings(section, changes, text)
            for node in changed.graph.nodes.values():
                own = doc.graph.node(node.id).params
                params = {k: v for k, v in node.params.items() if own.get(k) != v}
                if params:
                    doc.set_params(node.id, params, merge=False)


def differences(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> dict:
    """``{dotted path: new value}`` of each option that differs (the form change_settings
    takes); lists count as one value."""
    out: dict[str, Any] = {}
    for key, value in after.items():
        old = before.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            out.update(differences(old, value, f"{prefix}{key}."))
        elif value != old:
            out[f"{prefix}{key}"] = value
    return out
