"""The Qt-free trainer (DESIGN.md §6). ``Trainer.run()`` is a generator of events (started,
batch end, gradient samples, epoch end, checkpoint, finished, failed); the command line prints
them, the window turns them into signals. Pause and stop are honoured between batches. Metrics
accumulate on the device and are read back a few times a second, never with ``.item()`` on every
step.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ...graph import Graph, analyze
from ...project.config import TrainConfig, classes_problem, task_problem
from ...project.model import Checkpoint, EpochRecord
from .. import checkpoint as ckpt
from ..build import to_module
from ..data.errors import DatasetError
from .evaluate import batch_score, epoch_score, evaluate, predict, score_width
from .gradflow import SAMPLES_PER_EPOCH, GradientFlow, GradientSample, sample_steps
from .losses import AUX_WEIGHT, distilled, l1_penalty, make_loss, training_loss
from .optim import LrSchedule, make_optimizer, optimizer_step
from .transfer import (
    LoadReport,
    load_matching,
    param_groups,
    read_weights_file,
    set_trainable,
    train_mode,
)


# -- events ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Started:
    run_id: int
    epochs: int
    steps_per_epoch: int
    start_epoch: int
    start_step: int
    device: str
    device_name: str
    train_samples: int
    val_samples: int
    params: int
    weights_report: dict[str, Any] | None = None
    event: str = "started"


@dataclass(frozen=True)
class BatchEnd:
    epoch: int
    step: int
    steps: int
    loss: float
    acc: float
    lr: float
    samples_per_s: float
    event: str = "batch_end"


@dataclass(frozen=True)
class EpochEnd:
    record: EpochRecord
    best: bool
    event: str = "epoch_end"


@dataclass(frozen=True)
class CheckpointSaved:
    epoch: int
    step: int
    checkpoint: Checkpoint
    weights: bytes
    best_weights: bytes | None
    best_epoch: int | None
    event: str = "checkpoint"


@dataclass(frozen=True)
class Finished:
    status: str  # finished | stopped | early_stopped
    best_epoch: int | None
    evaluation: dict[str, Any] | None
    message: str
    event: str = "finished"


@dataclass(frozen=True)
class Failed:
    message: str
    kind: str = "error"  # error | nan | oom | data
    suggested_batch_size: int | None = None
    event: str = "failed"


Event = Started | BatchEnd | GradientSample | EpochEnd | CheckpointSaved | Finished | Failed


class TrainingError(RuntimeError):
    """A failure with a message for the user and a kind the caller can act on."""

    def __init__(self, message: str, kind: str = "error",
                 suggested_batch_size: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.suggested_batch_size = suggested_batch_size


@dataclass
class Distributed:
    """This process's place in a DistributedDataParallel run."""

    rank: int
    world: int

    @property
    def main(self) -> bool:
        return self.rank == 0


def pick_device(name: str) -> torch.device:
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise TrainingError("training.device is 'cuda' but no CUDA GPU is available here: "
                            "choose auto or cpu")
    if name == "mps" and not mps:
        raise TrainingError("training.device is 'mps' but Apple's Metal is not available "
                            "here: choose auto or cpu")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB)"
    if device.type == "mps":
        return "Apple GPU (Metal)"
    return f"CPU ({torch.get_num_threads()} threads)"


@dataclass
class _EpochSums:
    """Running sums of one epoch, kept on the device: [loss·n, the task's score sums
    (evaluate.batch_score; classify: correct)]. A NaN or infinite loss makes the first sum
    non-finite, which is how it is noticed at read-back."""

    values: torch.Tensor
    count: int = 0

    @classmethod
    def zeros(cls, device: torch.device, width: int = 1) -> _EpochSums:
        return cls(torch.zeros(1 + width, dtype=torch.float64, device=device))

    @property
    def views(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.values[0], self.values[1:]


@dataclass
class _Best:
    """The best epoch so far (highest validation accuracy, or the task's score, then lowest
    loss)."""

    epoch: int | None = None
    acc: float = -math.inf  # R² has no lower bound
    loss: float = math.inf
    state: dict[str, torch.Tensor] | None = field(default=None, repr=False)
    changed: bool = False
    """Its weights changed since the last checkpoint."""


class Trainer:
    """Trains ``graph`` on ``data`` as ``config`` says. Create it, then iterate ``run()``."""

    def __init__(
        self,
        graph: Graph,
        config: TrainConfig,
        data: Any,
        *,
        run_id: int = 1,
        initial_weights: dict[str, torch.Tensor] | None = None,
        resume: Checkpoint | None = None,
        distributed: Distributed | None = None,
        report_interval: float = 0.25,
        teacher: Any = None,
        prepare: Callable[[nn.Module], None] | None = None,
        grad_samples: int = SAMPLES_PER_EPOCH,
    ) -> None:
        self.graph = graph
        self.teacher_source = teacher
        """A distill.Teacher (None: no distillation), built on the device at setup."""
        self.teacher: nn.Module | None = None
        self.prepare = prepare
        """Called on the model once its weights are in, before it moves to the device and its
        optimiser is made (quantisation-aware fine-tuning's int8 simulation)."""
        self.config = config
        self.data = data
        self.run_id = run_id
        self.initial_weights = initial_weights
        self.resume_from = resume
        self.dist = distributed or Distributed(0, 1)
        self.report_interval = report_interval
        self.grad_samples = grad_samples
        """Steps per epoch whose gradient flow is sampled (GradientSample events; 0: none)."""
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.model: nn.Module | None = None

    # -- control (thread-safe) -------------------------------------------------------------
    def stop(self) -> None:
        """Stop after the current batch, saving a checkpoint to resume from."""
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> Iterator[Event]:
        try:
            yield from self._run()
        except TrainingError as exc:
            yield Failed(str(exc), exc.kind, exc.suggested_batch_size)
        except DatasetError as exc:  # images read batch by batch that can no longer be read
            yield Failed(_data_message(exc), "data")
        except (torch.OutOfMemoryError, MemoryError):
            yield self._oom()
        except Exception as exc:  # noqa: BLE001 - every failure reaches the caller as an event
            if _out_of_memory(exc):
                yield self._oom()
            else:
                yield Failed(f"{type(exc).__name__}: {exc}")  # the caller says it failed

    @property
    def lr(self) -> float:
        """The learning rate now: the base rate × the schedule's factor (what the charts and
        the records show; a block with a multiplier trains at a multiple of it)."""
        return self.config.optimizer.lr * self._factor

    def _oom(self) -> Failed:
        batch = self.config.batch_size
        suggestion = max(1, batch // 2)
        if self.model is not None and next(self.model.parameters()).is_cuda:
            torch.cuda.empty_cache()
        return Failed(f"out of memory with batch size {batch}: try {suggestion} (or a smaller "
                      "input, or mixed precision on a GPU)", "oom", suggestion)

    def _setup(self) -> None:
        cfg = self.config
        self.device = pick_device(cfg.device)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        elif self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        torch.manual_seed(cfg.seed + self.dist.rank)
        model = to_module(self.graph, seed=cfg.seed)
        self.weights_report: LoadReport | None = None
        if self.initial_weights is not None:  # the graph may have changed since (a new head)
            self.weights_report = load_matching(model, self.initial_weights)
            if not self.weights_report.loaded:
                raise TrainingError(
                    "none of the project's weights fit the graph by name and shape (it "
                    "changed since they were trained); train from scratch instead")
        elif cfg.transfer.weights:
            self.weights_report = load_matching(model, read_weights_file(cfg.transfer.weights))
            if not self.weights_report.loaded:
                raise TrainingError(f"{cfg.transfer.weights}: no tensor matches the graph's "
                                    "layers by name and shape")
        if self.prepare is not None:
            self.prepare(model)
        self.amp_dtype: torch.dtype | None = None
        if self.device.type == "cuda":
            if cfg.channels_last:
                model = model.to(memory_format=torch.channels_last)
            if cfg.amp:
                self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() \
                    else torch.float16
        model.to(self.device)
        self.model = model
        if self.teacher_source is not None:
            self.teacher = self.teacher_source.module(self.device)
        self.net: nn.Module = model
        if self.dist.world > 1:
            self.net = nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if cfg.compile:
            self.net = torch.compile(self.net)
        self.optimizer = make_optimizer(
            cfg.optimizer,
            param_groups(model, self.graph, cfg.optimizer.lr, cfg.transfer.lr_multipliers))
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.gradflow = GradientFlow(model, self.graph) \
            if self.grad_samples > 0 and self.dist.main else None
        data = self.data
        self.task = getattr(data, "task", "classify")
        self.score_width = score_width(self.task, data.num_classes)
        problem = task_problem(self.task, cfg) or classes_problem(
            self.task, data.num_classes, analyze(self.graph).output_shapes, cfg)
        if problem:
            raise TrainingError(problem, "data")
        self.loss_fn = make_loss(cfg.loss, data.num_classes, data.class_counts, self.device,
                                 self.task)
        batches = data.train.num_batches(cfg.batch_size, drop_last=False)
        self.steps = batches // self.dist.world if self.dist.world > 1 else batches
        if self.steps < 1:
            raise TrainingError(f"the training split has {len(data.train)} samples, fewer than "
                                f"one batch per process: lower the batch size", "data")
        self.schedule = LrSchedule(cfg.schedule, cfg.optimizer.lr, cfg.epochs, self.steps)
        self._factor = self.schedule.factor(0.0)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.best = _Best()
        self.lowest_loss = math.inf  # for early stopping
        self.bad_epochs = 0
        self.sync_stop = False
        self.history: list[EpochRecord] = []
        self.start_epoch, self.start_step = 0, 0
        self.sums = _EpochSums.zeros(self.device, self.score_width)
        self.epoch_seconds = 0.0
        if self.resume_from is not None:
            self._restore(self.resume_from)

    def _run(self) -> Iterator[Event]:
        self._setup()
        cfg, data, dist = self.config, self.data, self.dist
        model = self.model
        assert model is not None
        if dist.main:
            yield Started(
                self.run_id, cfg.epochs, self.steps, self.start_epoch + 1, self.start_step,
                str(self.device), device_name(self.device), len(data.train),
                len(data.val) if data.val is not None else 0,
                sum(p.numel() for p in model.parameters()),
                self.weights_report.to_dict() if self.weights_report else None)
        for epoch in range(self.start_epoch, cfg.epochs):
            for step_cfg in cfg.transfer.unfreeze:  # gradual unfreezing (idempotent on resume)
                if step_cfg.epoch <= epoch + 1:
                    set_trainable(model, self.graph, step_cfg.nodes, True)
            stopped = yield from self._train_epoch(epoch)
            if stopped:
                yield from self._checkpoint(epoch, self._stopped_at)
                yield Finished("stopped", self.best.epoch, None,
                               f"stopped at epoch {epoch + 1}, step {self._stopped_at}; "
                               "resume to continue")
                return
            record, improved = self._end_epoch(epoch)
            if dist.main:
                yield EpochEnd(record, improved)
            if (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == cfg.epochs:
                yield from self._checkpoint(epoch + 1, 0)
            if cfg.early_stopping and self.bad_epochs >= cfg.early_stopping:
                yield from self._finish("early_stopped", f"no better validation loss for "
                                        f"{self.bad_epochs} epochs; stopped at epoch "
                                        f"{epoch + 1}")
                return
        yield from self._finish("finished", f"trained {cfg.epochs} epochs")

    def _train_epoch(self, epoch: int) -> Iterator[Event]:
        cfg, data, dist = self.config, self.data, self.dist
        net, optimizer, loss_fn = self.net, self.optimizer, self.loss_fn
        train_mode(net)  # frozen BatchNorm layers keep their statistics
        first = self.start_step if epoch == self.start_epoch else 0
        if epoch != self.start_epoch or self.resume_from is None or first == 0:
            self.sums = _EpochSums.zeros(self.device, self.score_width)
            self.epoch_seconds = 0.0
        sums = self.sums
        world = dist.world
        last_report = started = time.perf_counter()
        seconds_before = self.epoch_seconds
        step = first
        batches = data.train.batches(cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=epoch,
                                     start_batch=first * world, augment=True)
        channels_last = self.device.type == "cuda" and cfg.channels_last
        # Several processes must read back (all-reduce) at the same steps: every few steps.
        sync_every = max(1, self.steps // 20) if world > 1 else 0
        sampled = sample_steps(self.steps, self.grad_samples) if self.gradflow is not None \
            else frozenset()
        for i, (x, y) in enumerate(batches, start=first * world):
            if step >= self.steps:
                break
            if world > 1 and i % world != dist.rank:
                continue
            wants_stop = self.sync_stop if world > 1 else self._stop.is_set()
            if wants_stop or not self._running.is_set():
                self._running.wait()
                if self.sync_stop if world > 1 else self._stop.is_set():
                    self._stopped_at = step
                    self.epoch_seconds = seconds_before + time.perf_counter() - started
                    return True
            factor = self._factor = self.schedule.factor(epoch + step / self.steps)
            for group, base in zip(optimizer.param_groups, self.base_lrs):
                group["lr"] = base * factor
            if channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with self._autocast():
                labels, out = training_loss(net(x), y, loss_fn, AUX_WEIGHT)
                penalty = l1_penalty(self.model, cfg.loss.l1)
                # What the charts call the training loss: the labels' own, comparable with the
                # validation loss and with runs without a teacher (the teacher's term, T²·KL,
                # is on another scale: a taught run would seem to learn ten times worse).
                shown = labels + penalty
                loss = shown if self.teacher is None else \
                    self._distilled(labels, out, x) + penalty
            watch = self.gradflow.watch(optimizer) if step in sampled else None
            optimizer_step(optimizer, loss, net.parameters(), cfg.grad_clip, self.scaler)
            n = x.shape[0]
            with torch.no_grad():
                loss_sum, scored = sums.views
                loss_sum.add_(shown.detach(), alpha=n)
                scored.add_(batch_score(self.task, out, y))
            sums.count += n
            step += 1
            if watch is not None and (sample := watch.sample(epoch + 1, step, self.steps)):
                yield sample
            now = time.perf_counter()
            due = step % sync_every == 0 if world > 1 else now - last_report >= self.report_interval
            if due:
                last_report = now
                loss_avg, acc, bad = self._read(sums)
                if bad:
                    self._nan(epoch, step)
                if dist.main:
                    elapsed = seconds_before + now - started
                    yield BatchEnd(epoch + 1, step, self.steps, loss_avg, acc,
                                   self.lr,
                                   sums.count * world / max(elapsed, 1e-9))
        self.epoch_seconds = seconds_before + time.perf_counter() - started
        return False

    def _distilled(self, loss: torch.Tensor, out: torch.Tensor,
                   x: torch.Tensor) -> torch.Tensor:
        """The batch's loss with the teacher's softened outputs in it."""
        with torch.no_grad():
            taught = self.teacher(x)
        if isinstance(taught, tuple):
            taught = taught[0]
        cfg = self.config.distill
        return distilled(loss, out, taught, cfg.temperature, cfg.alpha)

    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _read(self, sums: _EpochSums) -> tuple[float, float, bool]:
        """Epoch-so-far loss and accuracy: the one place that waits for the device."""
        values = sums.values
        count = sums.count
        if self.dist.world > 1:
            stop = torch.ones(1, dtype=values.dtype, device=values.device) \
                if self._stop.is_set() else torch.zeros(1, dtype=values.dtype,
                                                        device=values.device)
            values = torch.cat((values, stop))
            torch.distributed.all_reduce(values)
            count *= self.dist.world
            self.sync_stop = bool(values[-1] > 0)
            values = values[:-1]
        loss_sum, *scored = values.tolist()
        return (loss_sum / max(count, 1), epoch_score(self.task, scored, count),
                not math.isfinite(loss_sum))

    def _nan(self, epoch: int, step: int) -> None:
        lr = self.lr
        kept = f"the weights saved after epoch {epoch} are kept" if epoch else \
            "no weights were saved yet"
        raise TrainingError(
            f"the loss became NaN or infinite in epoch {epoch + 1} (by step {step}): lower the "
            f"learning rate (now {lr:.3g}), add gradient clipping or BatchNorm; {kept}", "nan")

    def _end_epoch(self, epoch: int) -> tuple[EpochRecord, bool]:
        train_loss, train_acc, bad = self._read(self.sums)
        if bad or not math.isfinite(train_loss):
            self._nan(epoch, self.steps)
        val_loss = val_acc = None
        if self.data.val is not None and len(self.data.val):
            val_loss, val_acc = self._validate()
            if not math.isfinite(val_loss):
                self._nan(epoch, self.steps)
        samples = self.sums.count * self.dist.world
        record = EpochRecord(
            epoch=epoch + 1, train_loss=train_loss, train_acc=train_acc, val_loss=val_loss,
            val_acc=val_acc, lr=self.lr,
            seconds=round(self.epoch_seconds, 3),
            samples_per_s=samples / max(self.epoch_seconds, 1e-9))
        self.history.append(record)
        monitored_loss = val_loss if val_loss is not None else train_loss
        monitored_acc = val_acc if val_acc is not None else train_acc
        self.schedule.end_of_epoch(monitored_loss)
        improved = (monitored_acc > self.best.acc
                    or (monitored_acc == self.best.acc and monitored_loss < self.best.loss))
        if improved:
            self.best = _Best(epoch + 1, monitored_acc, monitored_loss,
                              {k: v.detach().to("cpu", copy=True)
                               for k, v in self.model.state_dict().items()}, changed=True)
        if monitored_loss < self.lowest_loss:
            self.lowest_loss = monitored_loss
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        return record, improved

    @torch.no_grad()
    def _validate(self) -> tuple[float, float]:
        model, cfg = self.model, self.config
        model.eval()
        total = torch.zeros(1 + self.score_width, dtype=torch.float64, device=self.device)
        count = 0
        try:
            for x, y in self.data.val.batches(cfg.batch_size, shuffle=False, seed=cfg.seed,
                                              epoch=0):
                with self._autocast():
                    out = model(x)
                    if isinstance(out, tuple):
                        out = out[0]
                    loss = self.loss_fn(out, y)
                total[0] += loss.detach().double() * x.shape[0]
                total[1:] += batch_score(self.task, out, y)
                count += x.shape[0]
        finally:
            train_mode(model)
        loss_sum, *scored = total.tolist()
        return loss_sum / max(count, 1), epoch_score(self.task, scored, count)

    def _finish(self, status: str, message: str) -> Iterator[Event]:
        evaluation = None
        split = self.data.test if self.data.test is not None else self.data.val
        if split is not None and len(split) and self.dist.main:
            logits, labels = predict(self.model, split.batches(
                self.config.batch_size, shuffle=False, seed=self.config.seed, epoch=0),
                task=self.task)
            evaluation = evaluate(logits, labels, self.data.classes, self.task, self.data)
            evaluation["split"] = "test" if self.data.test is not None else "validation"
        if self.dist.main:
            yield Finished(status, self.best.epoch, evaluation, message)

    # -- checkpoints -------------------------------------------------------------------------
    def _checkpoint(self, epoch: int, step: int) -> Iterator[Event]:
        """A resumable state at (epochs done, steps done in the next epoch)."""
        if not self.dist.main:
            return
        model = self.model
        finite = torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all()
        if not bool(finite):  # never save weights that are already broken
            self._nan(epoch - 1 if step == 0 else epoch, step or self.steps)
        weights = {f"model.{k}": v for k, v in model.state_dict().items()}
        opt_meta, opt_tensors = ckpt.optimizer_state(self.optimizer)
        tensors = {**weights, **opt_tensors, **ckpt.rng_state(),
                   "sums": self.sums.values}
        state = {
            "run_id": self.run_id, "epoch": epoch, "step": step,
            "sums_count": self.sums.count, "epoch_seconds": self.epoch_seconds,
            "optimizer": opt_meta, "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "best_epoch": self.best.epoch, "best_acc": _finite(self.best.acc),
            "best_loss": _finite(self.best.loss), "lowest_loss": _finite(self.lowest_loss),
            "bad_epochs": self.bad_epochs,
            "history": [r.to_dict() for r in self.history],
            "config": self.config.to_dict(),
        }
        model_bytes = ckpt.to_bytes(model.state_dict())
        best = None
        if self.best.changed and self.best.state is not None:
            best = ckpt.to_bytes(self.best.state)
            self.best.changed = False
        yield CheckpointSaved(epoch, step, Checkpoint(self.run_id, state, ckpt.to_bytes(tensors)),
                              model_bytes, best, self.best.epoch)

    def _restore(self, checkpoint: Checkpoint) -> None:
        state = checkpoint.state
        tensors = ckpt.from_bytes(checkpoint.tensors)
        model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
        self.model.load_state_dict(model_state)
        ckpt.load_optimizer_state(self.optimizer, state["optimizer"], tensors)
        self.schedule.load_state_dict(state["schedule"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        ckpt.load_rng_state(tensors)
        self.start_epoch, self.start_step = checkpoint.epoch, checkpoint.step
        self.sums = _EpochSums(tensors["sums"].to(self.device), int(state["sums_count"]))
        self.epoch_seconds = float(state["epoch_seconds"])
        self.bad_epochs = int(state["bad_epochs"])
        self.history = [EpochRecord.from_dict(r, "history") for r in checkpoint.history]
        best_loss, lowest = state["best_loss"], state["lowest_loss"]
        best_acc = state["best_acc"]
        self.best = _Best(state["best_epoch"], -math.inf if best_acc is None else float(best_acc),
                          math.inf if best_loss is None else float(best_loss))
        self.lowest_loss = math.inf if lowest is None else float(lowest)


def _out_of_memory(exc: Exception) -> bool:
    """The devices' words for it: CUDA and MPS say "out of memory", torch's CPU allocator
    "DefaultCPUAllocator: not enough memory: you tried to allocate ..."."""
    text = str(exc).lower()
    return "out of memory" in text or "not enough memory" in text


def _data_message(exc: DatasetError) -> str:
    """The dataset's own message: a DataLoader worker's error arrives wrapped in the worker's
    traceback ("Caught DatasetError in DataLoader worker process 0. Original Traceback ..."),
    whose last line is ``module.DatasetError: message``."""
    text = str(exc).strip()
    if "Original Traceback" not in text:
        return text
    last = text.splitlines()[-1]
    name, sep, message = last.partition(": ")
    return message if sep and name.endswith("Error") else last


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
