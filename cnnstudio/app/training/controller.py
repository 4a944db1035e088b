"""Training from the window: the engine's Session runs as a background job (workers) and its
events come back to the GUI thread as queued signals. The trainer already reports batches a few
times a second (never per step), so the signals are cheap; views redraw from their own timers.

While the run's thread holds a BatchEnd event the trainer is suspended between two steps, so that
is where a copy of the weights is taken for the feature-map views, a few times a minute."""

from __future__ import annotations

import threading
import time
from typing import Any

from PySide6.QtCore import QObject, Signal

from ... import engine
from .. import engine_loader, gc_guard, preferences, workers

SNAPSHOT_SECONDS = 15.0
IDLE, PREPARING, RUNNING, PAUSED, STOPPING = "idle", "preparing", "running", "paused", "stopping"


class TrainingController(QObject):
    """Starts, pauses, resumes and stops training runs of the window's project."""

    started = Signal(object)  # engine.Started
    batch = Signal(object)  # engine.BatchEnd, a few per second
    gradients = Signal(object)  # engine.GradientSample, a few per epoch
    epoch = Signal(object)  # engine.EpochEnd
    checkpoint = Signal(object)  # engine.CheckpointSaved
    finished = Signal(object)  # engine.Finished
    failed = Signal(object)  # engine.Failed (message, kind: error | nan | oom | data)
    progress = Signal(object)  # engine.DataProgress (downloading, decoding)
    skipped = Signal(str)  # the files the dataset left out, one line ("skipped 3 files: …")
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
        self._job: workers.Job | None = None
        self._snapshot_now = threading.Event()
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

    def train(self, *, resume: bool = False, from_current: bool = False,
              training: Any = None) -> bool:
        """Start a run in the background (with ``training``'s settings instead of the
        project's when given: a fine-tuning recipe); False when one is running already."""
        if self.running:
            return False
        gc_guard.install(work=True)  # before the run's first object: none is ever frozen
        engine_loader.import_views()
        doc = self.document
        base = doc.path.parent if doc.path is not None else None
        self.last_failure = None
        self.session = engine.Session(doc.project, doc.path, resume=resume,
                                      from_current=from_current, data=self.data, base_dir=base,
                                      save=self._save, training=training)
        session, snapshot_now = self.session, threading.Event()
        self._snapshot_now = snapshot_now
        self._set_state(PREPARING)
        folder = preferences.tensorboard_folder()
        self._job = workers.run_in_background(
            lambda: self._stream(session, snapshot_now, folder), on_done=self._run_ended,
            on_error=self._run_crashed, parent=self, kind=workers.TRAINING,
            name="cnnstudio-training")
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
        if self._job is not None:
            self._snapshot_now.set()

    def wait(self, ms: int = 60000) -> bool:
        """Block until the run's thread ends (closing the window); True when it did."""
        job = self._job
        return job is None or job.wait(ms)

    def mark_idle(self) -> None:
        """Idle now, after ``wait``, without waiting for the run's end to reach the GUI
        thread (closing the window); that late end is then dropped."""
        if self._job is not None:
            self._job.cancel()
        self._run_ended(None)

    # -- internals ---------------------------------------------------------------------------
    def _save(self, project: Any, path: Any) -> None:
        from ...project import save_project

        with self.save_lock:
            save_project(project, path)

    def _keep_weights(self, state: dict[str, Any]) -> None:
        self.last_weights = state

    def _keep_failure(self, event: Any) -> None:
        self.last_failure = event

    def _stream(self, session: Any, snapshot_now: threading.Event,
                tensorboard: str | None = None) -> None:
        """On the run's thread: the session's events as signals, and copies of the weights
        (and TensorBoard logs under the folder ``tensorboard``, the user's preference)."""
        from ...engine.training import tbfind

        events = session.events()
        if tensorboard and tbfind.missing() is None:  # the settings say when it is missing
            from ...engine.training import tblog  # only then: it imports more of torch

            events = tblog.logged(events, tblog.TensorBoardLog(tensorboard, session.project,
                                                                session=session))
        last = time.monotonic()
        for event in events:
            kind = event.event
            if kind == "batch_end":
                self.batch.emit(event)
                if snapshot_now.is_set() or time.monotonic() - last >= self.snapshot_seconds:
                    snapshot_now.clear()
                    last = time.monotonic()
                    self._snapshot(session)
            elif kind == "started":
                self.started.emit(event)
            elif kind == "gradients":
                self.gradients.emit(event)
            elif kind == "epoch_end":
                self.epoch.emit(event)
            elif kind == "checkpoint":
                self.checkpoint.emit(event)
            elif kind == "finished":
                self._snapshot(session)
                self.finished.emit(event)
            elif kind == "failed":
                self.failed.emit(event)
            elif kind == "data_progress":
                self.progress.emit(event)
            elif kind == "data_ready" and event.skipped:
                self.skipped.emit(engine.describe_skipped(event.skipped))
            elif kind == "saved":
                self.saved.emit(event.path)

    def _snapshot(self, session: Any) -> None:
        """On the run's thread, while the trainer waits between two steps."""
        model = getattr(session.trainer, "model", None)
        if model is None:
            return
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        self.weights.emit(state)

    def _run_crashed(self, exc: BaseException) -> None:
        """A crash in the session (it reports its own failures as events) reaches the user."""
        self.failed.emit(engine.Failed(f"training stopped: {type(exc).__name__}: {exc}"))
        self._run_ended(None)

    def _run_ended(self, _result: Any) -> None:
        self._job = None
        self._set_state(IDLE)

    def _set_state(self, state: str) -> None:
        if state == RUNNING and self.state in (PAUSED, STOPPING) and \
                self.session is not None and self.session.trainer is not None and \
                (self.session.trainer.paused or self.state == STOPPING):
            return  # a late Started after Pause or Stop keeps what the user asked for
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)
