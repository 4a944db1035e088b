"""``cnnstudio train``: headless training of a project with a progress bar, JSON-lines logging,
resume, and several processes through torchrun (DESIGN.md §3.3)."""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .. import engine
from ..project import lock
from ..project.config import MAX_FOLDS, TASK_SCORES
from ..project.examples import is_example
from .common import (
    CHECKPOINT_COPIES,
    CliError,
    add_recipe_option,
    apply_recipe,
    check_room,
    hold_output,
    output_folder,
    output_path,
    positive_int,
    read_project,
    room_needed,
    runs_out,
)
from .progress import Bar, duration

MIN_FOLDS = 2


def add_parser(sub: Any) -> None:
    t = sub.add_parser(
        "train", help="train a project headless",
        description="Train a project's network on its dataset and save the run, its metrics "
        "and the weights into the project (or --out). Ctrl-C stops after the current batch "
        "and saves a checkpoint that --resume continues exactly.")
    t.add_argument("project", metavar="PROJECT", help="a .cnnproj project file")
    t.add_argument("--epochs", type=positive_int, metavar="N", help="number of epochs")
    t.add_argument("--batch-size", type=positive_int, metavar="B", help="samples per step")
    t.add_argument("--lr", type=float, metavar="X", help="learning rate")
    t.add_argument("--seed", type=int, metavar="S", help="seed of weights, data order, "
                   "augmentation")
    t.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="where to train")
    t.add_argument("--out", metavar="PROJECT", help="save to this project file instead")
    t.add_argument("--teacher", metavar="PROJECT", help="distil from this trained project's "
                   "current weights, or from pretrained:PRESET[:WEIGHTS] (torchvision's "
                   "weights, for a network of the same classes); same input and classes")
    t.add_argument("--kd-temperature", type=float, metavar="T",
                   help="distillation temperature (default 4)")
    t.add_argument("--kd-alpha", type=float, metavar="A",
                   help="the teacher's share of the loss, 0 to 1 (default 0.5)")
    t.add_argument("--log-json", metavar="FILE", help="write one JSON object per line")
    t.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard event files to "
                   "DIR/run-<id> (needs the tensorboard package)")
    t.add_argument("--resume", action="store_true",
                   help="continue the project's interrupted run exactly where it stopped "
                   "(with --epochs: to a new total)")
    t.add_argument("--continue", dest="from_current", action="store_true",
                   help="start from the project's current weights instead of from scratch")
    add_recipe_option(t)
    t.add_argument("--retry-oom", action="store_true",
                   help="on out-of-memory, retry with the batch size that fits")
    t.add_argument("--nproc", type=positive_int, default=1, metavar="N",
                   help="train on N processes (DistributedDataParallel through torchrun)")
    t.add_argument("--repeat", type=positive_int, metavar="N",
                   help="train the same settings N times with seeds S, S+1, ... (S: --seed or "
                   "the project's), each a run, and print their mean ± std and 95%% interval")
    t.add_argument("--folds", type=int, metavar="K",
                   help=f"stratified K-fold cross-validation ({MIN_FOLDS} to {MAX_FOLDS}): K "
                   "runs of the same settings and seed, validating on fold 0, 1, ..., K-1 of "
                   "the non-test data, then each fold's results and the pooled accuracy")
    t.add_argument("--data-cache", metavar="DIR", help="folder for downloaded datasets")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def add_preview_parser(sub: Any) -> None:
    p = sub.add_parser(
        "preview", help="save a grid of augmented training images as a PNG",
        description="Load a project's dataset and save the same training images, augmented "
        "as training will augment them, tiled into one PNG image.")
    p.add_argument("project", metavar="PROJECT", help="a .cnnproj project file")
    p.add_argument("--out", metavar="PNG", required=True, help="the image file to write")
    p.add_argument("--n", type=positive_int, default=16, help="how many images (default 16)")
    p.add_argument("--seed", type=int, default=0, help="augmentation seed (default 0)")
    p.add_argument("--data-cache", metavar="DIR", help="folder for downloaded datasets")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def cmd_preview(args: argparse.Namespace) -> int:
    from PIL import Image

    from ..fileio import atomic_writer
    from ..graph import analyze
    from ..project import ProjectError, load_project

    out = output_path(args.out)
    image_format = Image.registered_extensions().get(out.suffix.lower())
    if image_format is None:
        raise CliError(f"--out {args.out}: name an image file (.png, .jpg ...)")
    try:
        project = load_project(args.project)
    except ProjectError as exc:
        raise CliError(str(exc)) from None
    report = analyze(project.graph)
    if report.input_shape is None:
        raise CliError(f"{args.project}: the graph has no Input, so the image size is unknown")
    dataset = project.dataset
    if dataset.path and not Path(dataset.path).expanduser().is_absolute():
        dataset.path = str(Path(args.project).resolve().parent / dataset.path)
    bar = Bar()
    try:
        grid = engine.preview_from_config(dataset, report.input_shape, n=args.n, seed=args.seed,
                                          cache_dir=args.data_cache,
                                          progress=lambda s, d, t: bar.update(s, d, t))
    except engine.DatasetError as exc:
        bar.close()
        raise CliError(str(exc), 1) from None
    bar.close()
    try:  # never a half-written image
        with atomic_writer(out) as fh:
            Image.fromarray(grid).save(fh, format=image_format)
    except (OSError, ValueError) as exc:
        raise CliError(f"--out {args.out}: cannot write the image ({exc})") from None
    print(f"saved {args.out} ({grid.shape[1]}×{grid.shape[0]} pixels, {args.n} images)")
    return 0


OPTIONS = {"epochs": "epochs", "batch_size": "batch_size", "lr": "optimizer.lr",
           "seed": "seed", "device": "device", "teacher": "distill.teacher",
           "kd_temperature": "distill.temperature", "kd_alpha": "distill.alpha"}
"""Command-line option (argparse dest) → the training setting it sets."""


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {path: getattr(args, name, None) for name, path in OPTIONS.items()
            if getattr(args, name, None) is not None}


def load_for_training(args: argparse.Namespace, path: Path | None = None):
    """The project to train (``path``, by default PROJECT) with the options applied."""
    from ..project import ConfigError, TrainConfig
    from ..project.options import with_options

    path = Path(args.project) if path is None else path
    project = read_project(path, args.project)
    try:  # the same rule as the window's settings panel
        doc = with_options("training", project.training.to_dict(), _overrides(args))
        project.training = TrainConfig.from_dict(doc, "training")
    except ConfigError as exc:
        raise CliError(f"bad option: {exc}") from None
    if getattr(args, "recipe", None):  # after --epochs: the phases split the run's epochs
        apply_recipe(project, args.recipe)
    return project


def cmd_train(args: argparse.Namespace) -> int:
    from ..engine.training import tblog

    if is_example(Path(args.out or args.project)):  # a template every user starts from
        raise CliError(f"{args.out or args.project} is an example project that comes with CNN "
                       "Studio and is never written; pass --out NEW.cnnproj to save the "
                       "trained copy there")
    out = runs_out(args.out, args.project)  # before any training, as the checks below
    if args.tensorboard and (problem := tblog.missing()):
        raise CliError(problem)
    if args.tensorboard:
        output_folder(args.tensorboard, "--tensorboard")
    with hold_output(out, args):
        return _train(args, out)


def _train(args: argparse.Namespace, out: Path) -> int:
    if args.folds is not None:
        return _cross_validate(args, out)
    if args.repeat is not None:
        return _repeat(args, out)
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch(args)
    if args.resume:
        changed = [f"--{n.replace('_', '-')}" for n in ("batch_size", "lr", "seed", "device")
                   if getattr(args, n) is not None]
        changed += ["--continue"] * args.from_current + ["--recipe"] * bool(args.recipe)
        if changed:
            raise CliError(f"--resume continues the run with its own settings; only --epochs "
                           f"may change (not {', '.join(changed)})")
    return _train_once(args, load_for_training(args), out)


def _train_once(args: argparse.Namespace, project: Any, out: Path, log_mode: str = "w") -> int:
    """One run of ``project`` saved to ``out``; the exit status."""
    from ..engine.training import tblog

    check_room(out, room_needed(project, out, Path(args.project), CHECKPOINT_COPIES),
               "the project with a checkpoint")  # before the run, not at its first save
    dist = engine.setup_from_env(project.training.device)
    session = engine.Session(project, out, resume=args.resume,
                             resume_epochs=args.epochs if args.resume else None,
                             from_current=args.from_current,
                             retry_oom=args.retry_oom, distributed=dist, cache_dir=args.data_cache,
                             base_dir=Path(args.project).resolve().parent)
    main = dist is None or dist.main
    bar = Bar() if main and not args.quiet else None
    log = _open_log(args.log_json, log_mode) if main else None
    interrupted = {"count": 0}

    def on_interrupt(signum: int, frame: Any) -> None:
        interrupted["count"] += 1
        if interrupted["count"] > 1:
            raise KeyboardInterrupt
        session.stop()
        if bar is not None:
            bar.line("stopping after this batch and saving a checkpoint "
                     "(Ctrl-C again to quit at once)")

    previous = signal.signal(signal.SIGINT, on_interrupt)
    report = _Report(bar, log, out, project.training.epochs, project.training.batch_size)
    status = 1 if main else 0  # other ranks see no Finished event, only a Failed one
    try:
        tb = tblog.TensorBoardLog(args.tensorboard, project, session=session) \
            if main and args.tensorboard else None
        for event in tblog.logged(session.events(), tb):
            if main:
                status = report.show(event, status)
            elif isinstance(event, engine.Failed):
                status = 1
        if bar is not None:
            bar.close()
            if status in (0, 130):
                bar.line(f"saved {out}")
        return status
    finally:
        signal.signal(signal.SIGINT, previous)
        if log is not None:
            log.close()
        engine.teardown(dist)


class _Report:
    """The main process's view of a run: a progress bar on the terminal (``bar``, None with
    --quiet) and one JSON line per event in ``log`` (--log-json)."""

    def __init__(self, bar: Bar | None, log: TextIO | None, out: Path, epochs: int,
                 batch_size: int) -> None:
        self.bar, self.log, self.out = bar, log, out
        self.epochs, self.batch_size = epochs, batch_size
        self.started = False
        self.warned_epoch = 0  # a gradient warning is printed once an epoch

    def show(self, event: Any, status: int) -> int:
        """Report ``event``; the exit status so far."""
        bar = self.bar
        if isinstance(event, engine.DataProgress) and bar is not None:
            bar.update(event.stage, event.done, event.total)
        elif isinstance(event, engine.DataReady):
            self._skipped(event.skipped)
        elif isinstance(event, engine.Started):
            self._started(event)
        elif isinstance(event, engine.BatchEnd) and bar is not None and self.started:
            left = (self.epochs - event.epoch) * event.steps + event.steps - event.step
            eta = left * (event.samples_per_s and self.batch_size / event.samples_per_s)
            bar.update(f"epoch {event.epoch}/{self.epochs}", event.step, event.steps,
                       f"loss {event.loss:.4f} acc {100 * event.acc:.1f}% "
                       f"{event.samples_per_s:,.0f} samples/s ETA {duration(eta)}")
        elif isinstance(event, engine.GradientSample):
            self._gradients(event)
        elif isinstance(event, engine.EpochEnd):
            self._epoch(event)
        elif isinstance(event, engine.CheckpointSaved):
            _emit(self.log, {"event": "checkpoint", "epoch": event.epoch, "step": event.step})
        elif isinstance(event, engine.Finished):
            return self._finished(event)
        elif isinstance(event, engine.Failed):
            _emit(self.log, {"event": "failed", "message": event.message, "kind": event.kind})
            if bar is not None:
                bar.close()
            print(f"cnnstudio: training failed: {event.message}", file=sys.stderr)
            return 1
        return status

    def _skipped(self, skipped: Any) -> None:
        """The files left out of the dataset, once, grouped by reason: a warning, so it is
        said under --quiet too."""
        if not skipped:
            return
        _emit(self.log, {"event": "skipped", "count": len(skipped),
                         "files": [{"file": n, "reason": r} for n, r in skipped[:100]]})
        line = engine.describe_skipped(skipped)
        if self.bar is not None:
            self.bar.line(line)
        else:
            print(f"cnnstudio: {line}", file=sys.stderr)

    def _started(self, event: Any) -> None:
        self.started, self.epochs = True, event.epochs
        _emit(self.log, {"event": "started", "run": event.run_id, "device": event.device,
                         "device_name": event.device_name, "epochs": event.epochs,
                         "start_epoch": event.start_epoch,
                         "train_samples": event.train_samples,
                         "val_samples": event.val_samples, "params": event.params,
                         "weights": event.weights_report})
        if self.bar is not None:
            self.bar.line(f"run {event.run_id}: {event.train_samples:,} training and "
                          f"{event.val_samples:,} validation samples on "
                          f"{event.device_name}, {event.params:,} parameters")
            if event.weights_report:
                self.bar.line(f"weights: {event.weights_report['summary']}")

    def _gradients(self, event: Any) -> None:
        def finite(values: dict[str, float]) -> dict[str, float | None]:
            return {k: v if math.isfinite(v) else None for k, v in values.items()}

        _emit(self.log, {"event": "gradients", "epoch": event.epoch, "step": event.step,
                         "steps": event.steps,
                         "grad_norm": finite({k: g for k, (g, _) in event.layers.items()}),
                         "update_ratio": finite({k: r for k, (_, r) in event.layers.items()}),
                         "warning": event.warning})
        if event.warning and self.bar is not None and event.epoch != self.warned_epoch:
            self.warned_epoch = event.epoch
            self.bar.line(f"epoch {event.epoch}, step {event.step}: {event.warning}")

    def _epoch(self, event: Any) -> None:
        r = event.record
        _emit(self.log, {"event": "epoch_end", **r.to_dict()})
        if self.bar is not None:
            val = (f"val loss {r.val_loss:.4f} acc {100 * r.val_acc:.2f}%"
                   if r.val_loss is not None else "no validation split")
            self.bar.line(f"epoch {r.epoch}/{self.epochs}: train loss {r.train_loss:.4f} "
                          f"acc {100 * r.train_acc:.2f}%, {val}, {r.seconds:.1f} s, "
                          f"{r.samples_per_s:,.0f} samples/s"
                          + ("  *best*" if event.best else ""))

    def _finished(self, event: Any) -> int:
        summary = _evaluation_summary(event.evaluation)
        _emit(self.log, {"event": "finished", "status": event.status,
                         "best_epoch": event.best_epoch, "message": event.message,
                         "project": str(self.out), **summary})
        if self.bar is not None:
            extra = ""
            if summary:
                score = TASK_SCORES[summary.get("task", "classify")]
                extra = f"; {summary['split']} {score} {100 * summary['accuracy']:.2f}%"
            self.bar.line(f"{event.status}: {event.message}{extra}")
        return 130 if event.status == "stopped" else 0


def _evaluation_summary(evaluation: dict[str, Any] | None) -> dict[str, Any]:
    if not evaluation:
        return {}
    # multi-label: accuracy is the micro-F1; regression: the mean R², and no macro F1
    return {"split": evaluation.get("split"), "accuracy": evaluation["accuracy"],
            "top_k": evaluation.get("top_k"),
            "macro_f1": evaluation.get("macro", {}).get("f1"),
            "macro_auc": evaluation.get("macro_auc"),
            **({"task": evaluation["task"]} if "task" in evaluation else {})}


def _fresh_runs(option: str, args: argparse.Namespace, *also: str) -> None:
    """--repeat and --folds train new runs from scratch, one after another in this process."""
    refused = [*also, *["--resume"] * args.resume, *["--continue"] * args.from_current,
               *["--nproc"] * (args.nproc > 1)]
    if refused:
        raise CliError(f"{option} trains new runs from scratch; it cannot be combined with "
                       f"{', '.join(refused)}")


def _series(args: argparse.Namespace, out: Path, project: Any, n: int,
            change: Callable[[Any, int], str]) -> tuple[int, list[int], Any]:
    """``n`` runs of the same settings, the i-th changed by ``change(project, i)`` (which says
    how, for the terminal), each saved to ``out`` before the next starts from it: the exit
    status, the runs' ids and the project with them."""
    ids: list[int] = []
    for i in range(n):
        if i:  # the runs so far are in ``out``; the settings are the same options again
            project = load_for_training(args, out)
        print(change(project, i), flush=True)
        status = _train_once(args, project, out, "a" if i else "w")
        ids.append(project.runs[-1].id)
        if status != 0:
            return status, ids, project
    return 0, ids, project


def _one_group(project: Any, ids: list[int]) -> Any:
    """The group of the runs ``ids`` (None, said on the terminal, when not all finished)."""
    from ..project.stats import groups

    found = groups([r for r in project.runs if r.id in ids])
    if len(found) != 1 or len(found[0].runs) != len(ids):
        print(f"runs {', '.join(map(str, ids))}: not all finished, so no statistics")
        return None
    return found[0]


def _repeat(args: argparse.Namespace, out: Path) -> int:
    """--repeat N: N runs of the same settings with successive seeds, each saved to ``out``
    before the next starts from it; then the statistics of the N runs."""
    from ..project.config import SEED_MAX
    from ..project.stats import METRICS, describe

    _fresh_runs("--repeat", args)
    project = load_for_training(args)
    first = project.training.seed
    if first + args.repeat - 1 > SEED_MAX:
        raise CliError(f"--repeat {args.repeat} from seed {first} passes the largest seed "
                       f"{SEED_MAX}")

    def seed(p: Any, i: int) -> str:
        p.training.seed = first + i
        return f"repeat {i + 1}/{args.repeat}: seed {first + i}"

    status, ids, project = _series(args, out, project, args.repeat, seed)
    if status != 0:
        return status
    _start_seeds_at(out, first)
    group = _one_group(project, ids)
    if group is None:
        return 0
    print(f"runs {', '.join(map(str, ids))} (seeds {first}–{first + args.repeat - 1}):")
    for metric in ("best_val_acc", "final_val_acc"):
        print(f"  {METRICS[metric][0]}: {describe(group.summary(metric), metric)}")
    return 0


def _cross_validate(args: argparse.Namespace, out: Path) -> int:
    """--folds K: K runs of the same settings and seed, validating on fold 0..K-1, each saved
    to ``out`` before the next; then each fold's results and the pooled accuracy."""
    from ..project.stats import describe, fold_table, percent

    k = args.folds
    _fresh_runs("--folds", args, *["--repeat"] * (args.repeat is not None))
    if not MIN_FOLDS <= k <= MAX_FOLDS:
        raise CliError(f"--folds must be from {MIN_FOLDS} to {MAX_FOLDS}, not {k}")
    project = load_for_training(args)
    seed = project.training.seed

    def fold(p: Any, i: int) -> str:
        p.dataset.folds, p.dataset.fold = k, i
        return f"fold {i + 1}/{k} (dataset.fold {i}): seed {seed}"

    status, ids, project = _series(args, out, project, k, fold)
    if status != 0:
        return status
    _restore(out, lambda p: setattr(p.dataset, "fold", 0), "fold 0 as the validation fold")
    group = _one_group(project, ids)
    if group is None:
        return 0
    print(f"runs {', '.join(map(str, ids))} ({k}-fold cross-validation, seed {seed}):")
    for line in fold_table(group):
        print(f"  {line}")
    print(f"  pooled final val acc: {percent(group.pooled())}")
    print(f"  final val acc over the folds: "
          f"{describe(group.summary('final_val_acc'), 'final_val_acc')}")
    return 0


def _start_seeds_at(path: Path, seed: int) -> None:
    """After --repeat the project keeps the seed its repeats started from, not the last run's:
    a second --repeat at other settings then runs the same seeds, and comparing the two pairs
    them by seed (a tighter interval than Welch's). (--folds keeps fold 0 for the same
    reason.)"""
    _restore(path, lambda p: setattr(p.training, "seed", seed), "the starting seed")


def _restore(path: Path, change: Callable[[Any], None], what: str) -> None:
    """Apply ``change`` to the saved project at ``path`` and save it again."""
    from ..project import ProjectError, load_project, save_project

    try:
        project = load_project(path)
        change(project)
        save_project(project, path)
    except ProjectError as exc:
        raise CliError(f"the runs were saved, but not {what}: {exc}") from None


def _open_log(path: str | None, mode: str = "w") -> TextIO | None:
    if path is None:
        return None
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    try:  # without waiting: a FIFO nobody reads would block here for ever
        fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0), 0o644)
    except OSError as exc:
        reason = "no process is reading that FIFO" if exc.errno == errno.ENXIO \
            else exc.strerror or str(exc)
        raise CliError(f"--log-json {path}: cannot write ({reason})") from None
    os.set_blocking(fd, True)  # a reader is there (or it is a file): lines wait for it
    return open(fd, mode, buffering=1, encoding="utf-8")


def _emit(log: TextIO | None, obj: dict[str, Any]) -> None:
    if log is not None:
        log.write(json.dumps(obj) + "\n")


def _launch(args: argparse.Namespace) -> int:
    """Re-run this command under torchrun with ``--nproc`` processes on this machine."""
    argv = list(args.argv)
    cleaned: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--nproc":
            skip = True
            continue
        if a.startswith("--nproc="):
            continue
        cleaned.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={args.nproc}", "-m", "cnnstudio", *cleaned]
    try:  # the ranks do this command's work under the lock this process holds
        return subprocess.call(cmd, env={**os.environ, **lock.child_env()})
    except KeyboardInterrupt:
        return 130
