"""Live training charts: loss, accuracy, learning rate and throughput against the epoch, per
batch (thin, smoothed) and per epoch (points), the best epoch marked, earlier runs overlaid
dashed for comparison. Events only append to numpy buffers; a timer calls ``setData`` when
something changed, at most 4 times a second and less often where a redraw is slow, so that
drawing takes at most ~1 % of the time (see benchmarks/NOTES.md#charts)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...project import stats
from ..widgets import DoubleSpinBox, muted_label
from .chartplots import OVERLAY_COLORS, SERIES, ChartPlots, RunPicker
from .rundata import (
    Buffer,
    batch_rows,
    ema,
    epoch_arrays,
    epoch_rows,
    run_label,
    run_summary,
    values_near,
    write_csv,
)

REFRESH_MS = 250  # at most 4 redraws a second ...
MAX_REFRESH_MS = 5000
BUDGET = 0.005  # ... and fewer where one takes more than 0.5 % of the time between two
# (the GUI thread's CPU time): the run loses more than that (see benchmarks/NOTES.md#charts).
SMOOTHED = ("loss", "acc", "speed")  # the learning rate is drawn as it was set
HOVER_FORMATS = {"loss": "{:.4g}", "acc": "{:.2f} %", "lr": "{:.3g}", "speed": "{:,.0f}"}
NO_RUN = "No run yet: train the project to see its charts here."


class TrainingCharts(QWidget):
    """The charts of the run being trained (or of a finished run, ``load_run``), with the
    project's other runs (and another project's) to overlay."""

    def __init__(self, document: Any, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document, self.controller = document, controller
        self.run: Any = None
        """The run drawn solid: the one training (``live``) or one loaded."""
        self.live = False
        self.best_epoch: int | None = None
        self.epochs: dict[int, Any] = {}  # epoch → EpochRecord
        self.batches = Buffer(7)  # x, step, loss, acc, lr, samples/s, epoch
        self.smoothed = Buffer(3)  # SMOOTHED, for the rows of ``batches`` seen so far
        self.smoothing = 0.6
        self.overlays: dict[str, str] = {}  # list key ('p:2', 'x:path:1') → colour
        self._dirty = False
        self._planned = 0
        self._epochs_drawn: tuple[Any, ...] | None = None
        self.update_cost = 0.0
        """Seconds one redraw takes (setData and the paint after it), smoothed."""
        self._last_setdata = 0.0
        self.busy_seconds = 0.0
        """All the time the charts took on the GUI thread (drawing), for the benchmark."""
        self._first_drawn = False  # the live run's first epoch drawn (at once, unthrottled)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._redraw)
        self._build()
        document.reset.connect(self._on_reset)
        document.reset.connect(self.draw_bands)
        controller.finished.connect(lambda _event: self.draw_bands())
        controller.started.connect(self._on_started)
        controller.batch.connect(self._on_batch)
        controller.epoch.connect(self._on_epoch)
        controller.finished.connect(self._on_finished)
        controller.failed.connect(self._on_finished)
        self._on_reset()

    def _build(self) -> None:
        self.title = QLabel(NO_RUN)
        self.smooth_box = DoubleSpinBox()
        self.smooth_box.setRange(0.0, 0.99)
        self.smooth_box.setSingleStep(0.05)
        self.smooth_box.setValue(self.smoothing)
        self.smooth_box.setToolTip("Exponential smoothing of the per-batch curves "
                                   "(0: raw values; 0.9: heavy smoothing)")
        self.smooth_box.valueChanged.connect(self.set_smoothing)
        self.png_button = QPushButton("Save PNG…")
        self.png_button.setToolTip("The four charts as they are drawn now, as an image")
        self.png_button.clicked.connect(self._ask_png)
        self.csv_button = QPushButton("Save CSV…")
        self.csv_button.setToolTip("Every series shown: per epoch for each run, per batch "
                                   "for this one")
        self.csv_button.clicked.connect(self._ask_csv)
        self.band_box = QCheckBox("Seed bands")
        self.band_box.setToolTip("For each configuration trained with several seeds (Runs ▸ "
                                 "Repeat with seeds…): its mean validation accuracy with the "
                                 "95 % confidence interval as a band")
        self.band_box.toggled.connect(lambda _on: self.draw_bands())
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.band_box)
        top.addWidget(QLabel("Smoothing"))
        for w in (self.smooth_box, self.png_button, self.csv_button):
            top.addWidget(w)

        self.view = ChartPlots()
        self.view.hovered.connect(self.show_hover)
        self.view.left.connect(self.view.hide_cross)
        self.picker = RunPicker()
        self.picker.toggled.connect(self._overlay_toggled)
        self.picker.changed.connect(self._refresh_runs)
        self.picker.message.connect(lambda text: self.message.setText(text))
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.view)
        splitter.addWidget(self.picker)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([1000, 230])
        self.message = muted_label()
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.message)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.PaletteChange:
            self.view.apply_theme(self.palette())
        super().changeEvent(event)

    # -- the run shown ---------------------------------------------------------------------
    def clear(self) -> None:
        """Forget the run shown (its batches, epochs, best mark); overlays stay."""
        self.run, self.live, self.best_epoch = None, False, None
        self.epochs = {}
        self._planned = 0  # the epochs the run shown will have
        self.batches.clear()
        self.smoothed.clear()
        self.view.hide_cross()
        self.title.setText(NO_RUN)
        self.view.set_task(self.document.project.dataset.task)
        self._dirty = True
        self._redraw()

    def load_run(self, run: Any) -> None:
        """Show a finished run (per-epoch points only: runs keep no per-batch data). While
        another run trains, ``run`` is overlaid instead."""
        if self.controller.running:
            if run is not self.controller.run:
                self.message.setText(f"Training is running: run {run.id} is overlaid instead.")
                self._refresh_runs(check=f"p:{run.id}")
            return
        self.clear()
        self.run = run
        self.epochs = {r.epoch: r for r in run.epochs}
        self.best_epoch = run.best_epoch
        self._refresh_runs()
        self._set_title()
        self._fit_x()
        self._dirty = True
        self._redraw()

    def set_smoothing(self, value: float) -> None:
        value = min(max(float(value), 0.0), 0.99)
        if value != self.smoothing:
            self.smoothing = value
            self.smoothed.clear()
            self._schedule()
        if abs(self.smooth_box.value() - value) > 1e-9:
            self.smooth_box.setValue(value)

    def _set_title(self, status: str | None = None) -> None:
        if self.run is not None:
            status = status or ("training" if self.live else self.run.status)
            self.title.setText(f"<b>{run_label(self.run)}</b> — {status}")

    def _fit_x(self) -> None:
        last = [self._planned, *self.epochs]
        for key in self.overlays:
            last += [r.epoch for r in self.picker.run(key).epochs]
        self.view.fit_x(max(last))

    def draw_bands(self) -> None:
        """The seed bands of the configurations with two or more finished runs (none when
        "Seed bands" is off)."""
        for key in list(self.view.bands):
            self.view.remove_band(key)
        if not self.band_box.isChecked():
            return
        repeated = [g for g in stats.groups(self.document.project.runs) if len(g.runs) >= 2]
        for i, group in enumerate(repeated):
            color = OVERLAY_COLORS[-1 - i % len(OVERLAY_COLORS)]
            self.view.add_band(f"g:{group.ids[0]}", group.curve("val_acc"), color,
                               f"{run_summary(group.runs[0])} · {len(group.runs)} seeds")
        if self.band_box.isChecked() and not repeated:
            self.message.setText("No configuration has two finished runs yet: Runs ▸ Repeat "
                                 "with seeds… trains more.")

    # -- events (they only store; the timer draws) -----------------------------------------
    def _on_reset(self) -> None:
        for key in [k for k in self.overlays if k.startswith("p:")]:
            self._remove_overlay(key)
        self.clear()
        self._refresh_runs()
        done = [r for r in self.document.project.runs if r.epochs]
        if done and not self.controller.running:
            self.load_run(done[-1])

    def _on_started(self, event: Any) -> None:
        """A run starts: its charts replace the run shown, which stays overlaid to compare."""
        shown = self.run if not self.live and any(
            r is self.run for r in self.document.project.runs) else None
        self._last_setdata = 0.0  # the paint before this clearing (a first show) is no redraw's
        self.clear()
        self.run, self.live = self.controller.run, True
        if self.run is not None:  # a resumed run: the epochs it did before
            history = [r for r in list(self.run.epochs) if r.epoch < event.start_epoch]
            self.epochs = {r.epoch: r for r in history}
            if self.run.best_epoch in self.epochs:
                self.best_epoch = self.run.best_epoch
            self._set_title()
        self.message.setText("")
        self._refresh_runs(check=f"p:{shown.id}" if shown is not None and
                           shown is not self.run else None)
        self._planned = event.epochs
        self._fit_x()
        self._first_drawn = False
        if self.epochs:  # a resumed run's history; else the first batch schedules a redraw
            self._schedule()

    def _on_batch(self, event: Any) -> None:
        if self.live:
            x = event.epoch - 1 + event.step / max(event.steps, 1)
            self.batches.append((x, event.step, event.loss, event.acc, event.lr,
                                 event.samples_per_s, event.epoch))
            self._schedule()

    def _on_epoch(self, event: Any) -> None:
        if self.live:
            self.epochs[event.record.epoch] = event.record
            if event.best:
                self.best_epoch = event.record.epoch
            if not self._first_drawn and self.isVisible():
                self._first_drawn, self._dirty = True, True
                self.flush()  # the first epoch's points show at once, not after a slow wait
            else:
                self._schedule()

    def _on_finished(self, event: Any) -> None:
        if self.live:
            if getattr(event, "best_epoch", None):
                self.best_epoch = event.best_epoch
            self.live = False
            # The event's status: the session records it in the run only after sending it.
            self._set_title(getattr(event, "status", "failed"))
            self._refresh_runs()
            self._dirty = True
            self.flush()  # the run's end shows at once, not after the next slow-mode wait

    def _schedule(self) -> None:
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start(self.refresh_ms())

    def refresh_ms(self) -> int:
        """The time between two redraws: 250 ms, longer where a redraw costs more than
        BUDGET of it (a slow machine, a big window: a 20 ms redraw comes every 4 s), so the
        charts never slow training."""
        return int(min(MAX_REFRESH_MS, max(REFRESH_MS, 1000 * self.update_cost / BUDGET)))

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._redraw()  # what arrived while hidden

    def flush(self) -> None:
        """Draw what arrived now, without waiting for the timer."""
        self._timer.stop()
        self._redraw()

    def _redraw(self) -> None:
        """Hand the buffers to the curves: the only place that calls ``setData``. Nothing
        is drawn while the charts are hidden (another tab); showing them draws."""
        if not self._dirty or not self.isVisible():
            return
        start = time.thread_time()
        self.busy_seconds += self.view.paint_seconds
        if self._last_setdata:  # the last update: its setData, and its paint since
            last = self._last_setdata + self.view.paint_seconds
            self.update_cost = last if not self.update_cost else \
                0.5 * self.update_cost + 0.5 * last
        self.view.paint_seconds = 0.0
        self._dirty = False
        n = len(self.batches)
        if len(self.smoothed) < n:
            self._extend_smoothing(n)
        x = self.batches.column(0).copy()  # a view would change under the curve on clear()
        for name, (column, _, _, scale) in SERIES.items():
            raw = self.batches.column(column) * scale
            if name in SMOOTHED:
                line = self.smoothed.column(SMOOTHED.index(name)) * scale
                self.view.set_batches(name, x, line, raw if self.smoothing > 0 else None)
            else:
                self.view.set_batches(name, x, raw, None)
        drawn = (*self.epochs.values(), self.best_epoch)  # epochs change once an epoch
        if drawn != self._epochs_drawn:
            self._epochs_drawn = drawn
            self.view.set_epochs(epoch_arrays(self.epochs.values()))
            self.view.set_best(self.best_epoch)
        self._last_setdata = time.thread_time() - start
        self.busy_seconds += self._last_setdata

    def _extend_smoothing(self, n: int) -> None:
        """Smooth the rows that arrived. The trainer reports each epoch's running averages,
        which start afresh with every epoch, so the smoothing starts afresh there too (it
        would lag across the jump otherwise)."""
        start = len(self.smoothed)
        epochs = self.batches.column(6)[:n]
        before = epochs[start - 1] if start else np.nan  # NaN: the first row starts
        restart = epochs[start:] != np.concatenate(([before], epochs[start:-1]))
        columns = []
        for i, name in enumerate(SMOOTHED):
            previous = self.smoothed.column(i)[-1] if start else None
            values = self.batches.column(SERIES[name][0])[start:n]
            columns.append(ema(values, self.smoothing, previous, restart))
        for row in zip(*columns):
            self.smoothed.append(row)

    # -- overlays --------------------------------------------------------------------------
    def _refresh_runs(self, check: str | None = None) -> None:
        """List the runs to compare with (the project's, but the one shown, and those of
        other projects); overlays of runs no longer listed are removed."""
        checked = set(self.overlays) | ({check} if check else set())
        keys = self.picker.fill(self.document.project.runs, self.run, checked)
        for key in set(self.overlays) - set(keys):
            self._remove_overlay(key)
        for key in keys:
            if key in checked:
                self._add_overlay(key)

    def overlay_keys(self) -> list[str]:
        """Keys of the runs that can be overlaid, in the list's order ('p:2', 'x:…')."""
        return self.picker.keys()

    def set_overlay(self, key: str, on: bool) -> None:
        """Tick or untick a run of the list (as a click on its box does)."""
        self.picker.set_checked(key, on)

    def add_project_runs(self, path: str | Path) -> None:
        """List the runs of another project file to overlay (read in the background)."""
        self.picker.add_project_runs(path)

    def _overlay_toggled(self, key: str, on: bool) -> None:
        if on and key not in self.overlays:
            self._add_overlay(key)
        elif not on and key in self.overlays:
            self._remove_overlay(key)

    def _add_overlay(self, key: str) -> None:
        if key not in self.overlays:
            used = set(self.overlays.values())
            self.overlays[key] = next((c for c in OVERLAY_COLORS if c not in used),
                                      OVERLAY_COLORS[len(used) % len(OVERLAY_COLORS)])
        self.view.add_overlay(key, epoch_arrays(self.picker.run(key).epochs),
                              self.overlays[key], self.picker.label(key))
        self.picker.set_color(key, self.overlays[key])
        self._fit_x()

    def _remove_overlay(self, key: str) -> None:
        self.view.remove_overlay(key)
        self.overlays.pop(key, None)
        self.picker.set_color(key, None)

    # -- hover -----------------------------------------------------------------------------
    def show_hover(self, name: str, x: float) -> None:
        rows = self.values_at(name, x)
        text = f"epoch {x:.2f}\n" + "\n".join(f"{k}: {v}" for k, v in rows) if rows else ""
        self.view.show_cross(name, x, text)

    def values_at(self, name: str, x: float) -> list[tuple[str, str]]:
        """What each curve of plot ``name`` shows nearest to epoch ``x``, formatted."""
        column, train_key, val_key, scale = SERIES[name]
        smoothed = name in SMOOTHED and len(self.smoothed) == len(self.batches)
        batch = self.smoothed.column(SMOOTHED.index(name)) if smoothed \
            else self.batches.column(column)
        sources = [("", list(self.epochs.values()))]
        sources += [(self.picker.name(k) + " ", self.picker.run(k).epochs) for k in self.overlays]
        return values_near(x, self.batches.column(0), batch, sources, (train_key, val_key),
                           scale, HOVER_FORMATS[name])

    # -- files -----------------------------------------------------------------------------
    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the charts", self._file_stem() +
                                              ".png", "PNG images (*.png)")
        if path:
            self.save_png(path)

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the charts' data", self._file_stem() +
                                              ".csv", "CSV files (*.csv)")
        if path:
            self.save_csv(path)

    def _file_stem(self) -> str:
        return f"run-{self.run.id}-charts" if self.run is not None else "charts"

    def save_png(self, path: str | Path) -> bool:
        """The four charts as drawn now, as a PNG image."""
        self._redraw()
        ok = self.view.grab().save(str(path), "PNG")
        self.message.setText(f"Saved {path}" if ok else f"Cannot write {path}")
        return ok

    def save_csv(self, path: str | Path) -> bool:
        """Every series shown: per epoch for this run and the overlaid ones, per batch for
        this run (columns: ``rundata.CSV_COLUMNS``)."""
        name = self.run.id if self.run is not None else ""
        rows = epoch_rows(name, self.epochs.values())
        columns = {k: self.batches.column(i + 2)
                   for i, k in enumerate(("loss", "acc", "lr", "samples_per_s"))}
        rows += batch_rows(name, self.batches.column(0), self.batches.column(1), columns)
        for key in self.overlays:
            run = self.picker.run(key)
            owner = run.id if key.startswith("p:") else self.picker.name(key)
            rows += epoch_rows(owner, run.epochs)
        try:
            write_csv(path, rows)
        except OSError as exc:
            self.message.setText(f"Cannot write {path}: {exc.strerror or exc}")
            return False
        self.message.setText(f"Saved {len(rows)} rows to {path}")
        return True
