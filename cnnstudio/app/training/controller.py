"""Training from the window: the engine's Session runs on a QThread and its events come back
to the GUI thread as queued signals. The trainer already reports batches a few times a second
(never per step), so the signals are cheap; views redraw from their own timers.

While the worker holds a BatchEnd event the trainer is suspended between two steps, so that
is where a copy of the weights is taken for the feature-map views, a few times a minute."""

from __future__ import annotations

import threading
import time
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from ... import engine
from .. import engine_loader, gc_guard
from . import threads

SNAPSHOT_SECONDS = 15.0
IDLE, PREPARING, RUNNING, PAUSED, STOPPING = "idle", "preparing", "running", "paused", "stopping"


class _Worker(QThread):
    def __init__(self, controller: TrainingController, session: Any) -> None:
        super().__init__()
        self.controller = controller
        self.session = session
        self.snapshot_now = threading.Event()

    def run(self) -> None:
        c = self.controller
        last = time.monotonic()
        try:
            threads.for_training()
            for event in self.session.events():
                kind = event.event
                if kind == "batch_end":
                    c.batch.emit(event)
                    if self.snapshot_now.is_set() or \
                            time.monotonic() - last >= c.snapshot_seconds:
                        self.snapshot_now.clear()
                        last = time.monotonic()
                        self._snapshot()
                elif kind == "started":
                    c.started.emit(event)
                elif kind == "epoch_end":
                    c.epoch.emit(event)
                elif kind == "checkpoint":
                    c.checkpoint.emit(event)
                elif kind == "finished":
                    self._snapshot()
                    c.finished.emit(event)
                elif kind == "failed":
                    c.failed.emit(event)
                elif kind == "data_progress":
                    c.progress.emit(event)
                elif kind == "saved":
                    c.saved.emit(event.path)
        except Exception as exc:  # noqa: BLE001 - a crash in the session must reach the user
            c.failed.emit(engine.Failed(f"training stopped: {type(exc).__name__}: {exc}"))
        finally:
            threads.end_training()

    def _snapshot(self) -> None:
        trainer = self.session.trainer
        model = getattr(trainer, "model", None)
        if model is None:
            return
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        self.controller.weights.emit(state)


class TrainingController(QObject):
    """Starts, pauses, resumes and stops training runs of the window's project."""

    started = Signal(object)  # engine.Started
    batch = Signal(object)  # engine.BatchEnd, a few per second
    epoch = Signal(object)  # engine.EpochEnd
    checkpoint = Signal(object)  # engine.CheckpointSaved
    finished = Signal(object)  # engine.Finished
    failed = Signal(object)  # engine.Failed (message, kind: error | nan | oom | data)
    progress = Signal(object)  # engine.DataProgress (downloading, decoding)
    saved = Signal(str)  # the project file was written at a checkpoint
    weights = Signal(object)  # dict[str, Tensor] on the CPU: the model now (for the views)
    state_changed = Signal(str)  # idle | preparing | running | paused | stopping

    def __init__(self, document: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.snapshot_seconds = SNAPSHOT_SECONDS
        self.state = IDLE
        self.session: Any = None
        self.data: Any = None
        """Data to train on instead of loading the project's dataset (tests, benchmarks)."""
        self.last_weights: dict[str, Any] | None = None
        self.last_failure: Any = None
        self.save_lock = threading.Lock()
        """Held while the project is written: the worker saves at checkpoints, the window
        when the user saves or autosaves, never both at once."""
        self._worker: _Worker | None = None
        self.weights.connect(self._keep_weights)
        self.started.connect(lambda _e: self._set_state(RUNNING))
        self.failed.connect(self._keep_failure)

    @property
    def running(self) -> bool:
        return self.state != IDLE

    @property
    def run(self) -> Any:
        """The project's Run being trained (None when idle or before it is recorded)."""
        return self.session.run if self.session is not None else None

    def train(self, *, resume: bool = False, from_current: bool = False) -> bool:
        """Start a run in the background; False when one is running already."""
        if self.running:
            return False
        gc_guard.install(work=True)  # before the run's first object: none is ever frozen
        engine_loader.import_views()
        doc = self.document
        base = doc.path.parent if doc.path is not None else None
        self.last_failure = None
        self.session = engine.Session(doc.project, doc.path, resume=resume,
                                      from_current=from_current, data=self.data, base_dir=base,
                                      save=self._save)
        worker = _Worker(self, self.session)
        worker.finished.connect(self._worker_done)
        self._worker = worker
        threads.begin_training()
        self._set_state(PREPARING)
        worker.start()
        return True

    def pause(self) -> None:
        if self.state == RUNNING and self.session is not None:
            self.session.pause()
            self._set_state(PAUSED)

    def resume(self) -> None:
        if self.state == PAUSED and self.session is not None:
            self.session.proceed()
            self._set_state(RUNNING)

    def stop(self) -> None:
        """Stop after the current batch; the run is saved with a checkpoint to resume."""
        if self.running and self.session is not None:
            self.session.stop()
            self._set_state(STOPPING)

    def snapshot_soon(self) -> None:
        """Ask for a copy of the weights at the next reported batch."""
        if self._worker is not None:
            self._worker.snapshot_now.set()

    def wait(self, ms: int = 60000) -> bool:
        """Block until the worker ends (closing the window); True when it did."""
        worker = self._worker
        return worker is None or worker.wait(ms)

    # -- internals ---------------------------------------------------------------------------
    def _save(self, project: Any, path: Any) -> None:
        from ...project import save_project

        with self.save_lock:
            save_project(project, path)

    def _keep_weights(self, state: dict[str, Any]) -> None:
        self.last_weights = state

    def _keep_failure(self, event: Any) -> None:
        self.last_failure = event

    def _worker_done(self) -> None:
        self._worker = None
        self._set_state(IDLE)

    def _set_state(self, state: str) -> None:
        if state == RUNNING and self.state in (PAUSED, STOPPING) and \
                self.session is not None and self.session.trainer is not None and \
                (self.session.trainer.paused or self.state == STOPPING):
            return  # a late Started after Pause or Stop keeps what the user asked for
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)
