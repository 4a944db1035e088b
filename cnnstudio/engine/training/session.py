"""One training run of a project: load the data, record the run, feed the trainer's events into
the project (metrics, weights, checkpoints) and save it at every checkpoint, so a crash loses
at most the work since the last one. The command line and the window both drive this."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...graph import analyze
from ...project import ProjectError, lock
from ...project.config import classes_problem, task_problem
from ...project.model import Project, Run, graph_hash, now
from ...project.resume import resume_problem
from .. import checkpoint as ckpt
from .distill import load_teacher
from .gradflow import GradientSample
from .optim import optimizer_problem
from .trainer import (
    BatchEnd,
    CheckpointSaved,
    Distributed,
    EpochEnd,
    Event,
    Failed,
    Finished,
    Started,
    Trainer,
    TrainingError,
    pick_device,
)


@dataclass(frozen=True)
class DataProgress:
    """Preparing the dataset (downloading, decoding): ``done`` of ``total`` (None: unknown)."""

    stage: str
    done: int
    total: int | None
    event: str = "data_progress"


@dataclass(frozen=True)
class Saved:
    path: str
    event: str = "saved"


@dataclass(frozen=True)
class DataReady:
    """The dataset is loaded: the files left out of it, (name, reason) each, and notes."""

    skipped: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]
    event: str = "data_ready"


SessionEvent = Event | DataProgress | DataReady | Saved


class Session:
    """Runs (or resumes) one training run of ``project`` and saves it to ``path``."""

    def __init__(
        self,
        project: Project,
        path: str | Path | None,
        *,
        resume: bool = False,
        resume_epochs: int | None = None,
        from_current: bool = False,
        retry_oom: bool = False,
        distributed: Distributed | None = None,
        data: Any = None,
        cache_dir: str | Path | None = None,
        base_dir: str | Path | None = None,
        save: Callable[[Project, Path], None] | None = None,
        training: Any = None,
    ) -> None:
        self.project = project
        self.training = training
        """The settings of a new run (a TrainConfig; None: the project's own). Fine-tuning
        passes its recipe here, so the project's settings never change under the user."""
        self.path = Path(path) if path is not None else None
        self.resume = resume
        self.resume_epochs = resume_epochs
        """A new total number of epochs for a resumed run (its other settings stay)."""
        self.from_current = from_current
        self.retry_oom = retry_oom
        self.dist = distributed or Distributed(0, 1)
        self.data = data
        self.cache_dir = cache_dir
        self.base_dir = Path(base_dir) if base_dir is not None else None
        """A relative dataset path is read from here (the project file's folder)."""
        self._save_fn = save
        self.trainer: Trainer | None = None
        self.run: Run | None = None
        self._stop_requested = False
        self.teacher: Any = None  # distill.Teacher, read before the run starts
        self.listing: Any = None  # a folder's or CSV's files, listed before the run starts

    def stop(self) -> None:
        self._stop_requested = True
        if self.trainer is not None:
            self.trainer.stop()

    def pause(self) -> None:
        if self.trainer is not None:
            self.trainer.pause()

    def proceed(self) -> None:
        if self.trainer is not None:
            self.trainer.resume()

    # -- the run -------------------------------------------------------------------------------
    def events(self) -> Iterator[SessionEvent]:
        """The run's events; it holds the project file's lock throughout (refused at once,
        with the project untouched, while another process writes that file)."""
        with ExitStack() as held:
            if self.path is not None and self.dist.main:
                try:
                    held.enter_context(lock.hold(self.path))
                except lock.LockedError as exc:
                    yield Failed(str(exc), "locked")
                    return
            yield from self._events()

    def _events(self) -> Iterator[SessionEvent]:
        try:
            config, run, checkpoint = self._prepare()
        except TrainingError as exc:
            yield Failed(str(exc), exc.kind)
            return
        self.run = run
        try:
            data = yield from self._load_data(config)
        except TrainingError as exc:
            self._fail(run, str(exc))
            yield Failed(str(exc), exc.kind)
            yield from self._save()
            return
        initial = None
        if self.from_current and checkpoint is None and self.project.current_weights:
            initial = ckpt.from_bytes(self.project.weights[self.project.current_weights])
        while True:
            self.trainer = Trainer(self.project.graph, config, data, run_id=run.id,
                                   initial_weights=initial, resume=checkpoint,
                                   distributed=self.dist, teacher=self.teacher)
            if self._stop_requested:
                self.trainer.stop()
            retry: Failed | None = None
            steps = self.trainer.run()
            for event in steps:
                saved_first = isinstance(event, (CheckpointSaved, Finished))  # told once on disk
                if not saved_first:
                    yield event
                if isinstance(event, Failed) and event.kind == "oom" and self.retry_oom \
                        and event.suggested_batch_size and config.batch_size > 1:
                    retry = event
                    continue
                try:
                    yield from self._record(event, run)
                except ProjectError as exc:  # a full disk ...: the file keeps its last save
                    steps.close()
                    self._fail(run, str(exc))
                    yield Failed(str(exc), "save")
                    return
                if saved_first:
                    yield event
            if retry is None:
                return
            config = copy.deepcopy(config)
            config.batch_size = retry.suggested_batch_size
            run.training = config.to_dict()
            checkpoint = self.project.checkpoint if self.project.checkpoint and \
                self.project.checkpoint.run_id == run.id else None
            if checkpoint is not None:
                checkpoint.config = config.to_dict()

    def _prepare(self) -> tuple[Any, Run, Any]:
        project = self.project
        report = analyze(project.graph)
        if not report.ok:
            first = report.errors[0]
            raise TrainingError(f"the graph has {len(report.errors)} error(s), e.g. "
                                f"{first.node + ': ' if first.node else ''}{first.message}; "
                                "fix them before training (`cnnstudio summary` lists them)")
        self.input_shape = report.input_shape
        if self.resume:
            problem = resume_problem(project, self.resume_epochs)
            if problem is not None:
                raise TrainingError(problem)
            checkpoint = project.checkpoint
            assert checkpoint is not None  # resume_problem says there is one
            run = project.run(checkpoint.run_id)
            config = type(project.training).from_dict(checkpoint.config, "checkpoint")
            self.teacher = load_teacher(config.distill, self.base_dir, report)
            if self.resume_epochs is not None:
                config.epochs = self.resume_epochs
            self._check(config, report)  # before the run changes
            if self.resume_epochs is not None:
                checkpoint.config = config.to_dict()
                run.training = config.to_dict()
            run.status, run.finished, run.message = "running", None, None
            run.epochs = run.epochs[: len(checkpoint.history)]
            return config, run, checkpoint
        training = self.training or project.training
        problem = task_problem(project.dataset.task, training)
        if problem:
            raise TrainingError(problem)
        self.teacher = load_teacher(training.distill, self.base_dir, report)
        self._check(training, report)  # before the run is recorded
        project.note_graph_change()
        config = copy.deepcopy(training)
        run = Run(
            id=project.next_run_id(), started=now(), graph_revision=project.graph_revision,
            graph_hash=graph_hash(project.graph), seed=config.seed,
            training=config.to_dict(), dataset={"config": project.dataset.to_dict()})
        project.runs.append(run)
        project.checkpoint = None
        return config, run, None

    def _check(self, config: Any, report: Any) -> None:
        """What is known before any work is refused before the run is recorded (nothing is
        written then): a device this machine lacks, and the dataset's listing (an empty folder,
        more classes than the network's outputs, class weights of another count)."""
        pick_device(config.device)
        if problem := optimizer_problem(config.optimizer):
            raise TrainingError(problem)
        if self.data is not None:
            task, count = getattr(self.data, "task", "classify"), self.data.num_classes
        else:
            from ..data.errors import DatasetError
            from ..data.load import known_classes, list_files

            dataset = self._dataset()
            try:
                self.listing = list_files(dataset)
            except DatasetError as exc:
                raise TrainingError(str(exc), "data") from None
            task, count = dataset.task, known_classes(dataset, self.listing)
        problem = classes_problem(task, count, report.output_shapes, config)
        if problem:
            raise TrainingError(problem, "data")

    def _dataset(self) -> Any:
        """The project's dataset, a relative path read from ``base_dir``."""
        dataset = self.project.dataset
        if dataset.path and self.base_dir is not None and \
                not Path(dataset.path).expanduser().is_absolute():
            dataset = copy.deepcopy(dataset)
            dataset.path = str(self.base_dir / dataset.path)
        return dataset

    def _load_data(self, config: Any) -> Iterator[SessionEvent]:
        if self.data is not None:
            data = self.data
        else:
            from ..data.errors import DatasetError
            from ..data.load import load_data

            progress: list[DataProgress] = []
            try:
                device = pick_device(config.device)
                data = load_data(self._dataset(), self.input_shape, device,
                                 cache_dir=self.cache_dir, listing=self.listing,
                                 progress=lambda s, d, t: progress.append(DataProgress(s, d, t)))
            except DatasetError as exc:
                raise TrainingError(str(exc), "data") from None
            yield from progress
        self.run.dataset = {"config": self.project.dataset.to_dict(), "summary": data.summary()}
        yield DataReady(tuple(getattr(data, "skipped", ())), tuple(getattr(data, "notes", ())))
        return data

    def _record(self, event: Event, run: Run) -> Iterator[SessionEvent]:
        project = self.project
        if isinstance(event, Started):
            world = self.dist.world
            run.device = event.device_name + (f" × {world} processes" if world > 1 else "")
        elif isinstance(event, EpochEnd):
            run.epochs.append(event.record)
            if event.best:
                run.best_epoch = event.record.epoch
        elif isinstance(event, CheckpointSaved):
            last = f"weights/run-{run.id}-last.safetensors"
            project.weights[last] = event.weights
            run.weights = last
            if event.best_weights is not None:
                best = f"weights/run-{run.id}-best.safetensors"
                project.weights[best] = event.best_weights
                run.best_weights = best
            run.best_epoch = event.best_epoch
            project.current_weights = last
            project.checkpoint = event.checkpoint
            yield from self._save()
        elif isinstance(event, Finished):
            run.status, run.finished, run.message = event.status, now(), event.message
            run.best_epoch = event.best_epoch
            if event.evaluation is not None:
                run.evaluation = event.evaluation
            if event.status != "stopped":
                project.checkpoint = None
            yield from self._save()
        elif isinstance(event, Failed):
            self._fail(run, event.message)
            yield from self._save()
        elif isinstance(event, (BatchEnd, GradientSample)):
            pass  # live only: gradient samples are a diagnosis of this run, which --log-json
            # keeps where wanted; the project's history holds the per-epoch metrics

    def _fail(self, run: Run, message: str) -> None:
        run.status, run.finished, run.message = "failed", now(), message

    def _save(self) -> Iterator[SessionEvent]:
        if self.path is None or not self.dist.main:
            return
        if self._save_fn is not None:
            self._save_fn(self.project, self.path)
        else:
            from ...project.archive import save_project

            save_project(self.project, self.path)
        yield Saved(str(self.path))
