"""A sweep started from the window: the same ``run_sweep`` as ``cnnstudio sweep``, its trials in
worker processes (the window stays responsive, and Stop ends them at once), the study in the
SQLite file beside the project. The window owns its project, so each trial's run comes back to
the GUI thread and joins the open project (unsaved, like any edit) instead of being written to
the file behind the user's back; a trial that finished while the window was closed reaches the
project the next time the sweep runs, from the storage."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from ...engine.sweep.runner import SweepResult, TrialDone, run_sweep
from ...engine.sweep.study import default_storage
from ...project import save_project
from ...project.config import ConfigError
from ...project.sweep import run_ids, trial_copy
from ...project.sweep_suggest import space_of
from .. import preferences, workers


def summary(result: SweepResult) -> str:
    """One line on a finished sweep: its trials by outcome, and the best one's value."""
    states = [t.state for t in result.trials]
    counts = ", ".join(f"{states.count(s)} {s}" for s in ("complete", "pruned", "failed")
                       if s in states)
    text = f"Study {result.study!r}: {len(states)} trials ({counts or 'none'})"
    if len(result.directions) == 1 and result.best:
        best = result.best[0]
        run = f", run {best.run_id}" if best.run_id is not None else ""
        text += f"; best: trial {best.number}, {best.values[0]:.4g}{run}"
    elif result.best:
        text += f"; Pareto front: trials {', '.join(str(t.number) for t in result.best)}"
    return text


class SweepRunner(QObject):
    """Starts and stops the window's sweep; one at a time."""

    trial_done = Signal(object)  # TrialDone
    run_added = Signal(int)  # the id the trial's run got in the open project
    state_changed = Signal(bool)  # running
    ended = Signal(str)  # one line: the outcome, or why it failed
    _recorded = Signal(object)  # from the sweep's thread: a trial's Run
    _trial = Signal(object)

    def __init__(self, document: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._job: workers.Job | None = None
        self._stop = threading.Event()
        self._project: Any = None  # the project the sweep adds runs to
        self._folder: str | None = None
        self._recorded.connect(self._keep)
        self._trial.connect(self.trial_done)
        document.reset.connect(self._project_replaced)

    @property
    def running(self) -> bool:
        return self._job is not None

    def problem(self) -> str | None:
        """Why a sweep cannot start now (None: it can)."""
        doc = self.document
        if self.running:
            return "A sweep is running already."
        if doc.path is None:
            return ("Save the project first: the sweep's study is kept in a file beside it "
                    "(NAME.sweep.db).")
        try:
            space_of(doc.project)
        except ConfigError as exc:
            return f"The search space does not fit the project: {exc}"
        return None

    def start(self, trials: int, jobs: int = 1, epochs: int | None = None) -> str | None:
        """Run the project's search space until its study has ``trials`` trials with an
        outcome; returns why not (and starts nothing)."""
        why = self.problem()
        if why is not None:
            return why
        doc = self.document
        space = space_of(doc.project)
        name = doc.path.stem
        self._folder = tempfile.mkdtemp(prefix="cnnstudio-sweep-")
        source = Path(self._folder) / f"{name}.cnnproj"
        try:
            save_project(self._snapshot(name), source)
        except (OSError, ValueError) as exc:
            self._clean()
            return f"Cannot prepare the sweep: {exc}"
        self._project, self._stop = doc.project, threading.Event()
        stop, folder = self._stop, preferences.tensorboard_folder()
        storage = default_storage(doc.path)
        base = doc.path.parent

        def sweep() -> SweepResult:
            return run_sweep(source, trials, jobs, storage, name, epochs, self._trial.emit,
                             out=source, search_space=space, record=self._recorded.emit,
                             stop=stop, processes=True, base_dir=base, tensorboard=folder)

        self._job = workers.run_in_background(sweep, on_done=self._done, on_error=self._failed,
                                              parent=self, kind=workers.IMPORT,
                                              name="cnnstudio-sweep")
        self.state_changed.emit(True)
        return None

    def stop(self) -> None:
        """End the workers now; their trials are failed in the study and run again when the
        sweep is started again."""
        self._stop.set()

    def wait(self, ms: int = 60000) -> bool:
        """Block until the sweep's thread ended (closing the window)."""
        return self._job is None or self._job.wait(ms)

    def _snapshot(self, name: str) -> Any:
        """What the workers train from: the project as it is in the window (saved or not),
        with the runs of this study's earlier trials so none is added twice, and no weights."""
        project = self.document.project
        snapshot = trial_copy(project)
        marked = set(run_ids(project.runs, name).values())
        snapshot.runs = [r for r in project.runs if r.id in marked]
        return snapshot

    # -- on the GUI thread -------------------------------------------------------------------
    def _keep(self, run: Any) -> None:
        if self.document.project is not self._project:  # another project was opened
            return
        self.document.add_run(run)
        self.run_added.emit(run.id)

    def _done(self, result: SweepResult) -> None:
        self._end(summary(result) + (" (stopped)" if self._stop.is_set() else ""))

    def _failed(self, exc: BaseException) -> None:
        self._end(f"The sweep failed: {workers.describe(exc)}")

    def _end(self, text: str) -> None:
        self._job = None
        self._clean()
        self.state_changed.emit(False)
        self.ended.emit(text)

    def _clean(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def _project_replaced(self) -> None:
        if self.running and self.document.project is not self._project:
            self.stop()


__all__ = ["SweepRunner", "TrialDone", "summary"]
