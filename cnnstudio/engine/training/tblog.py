"""TensorBoard event files of a training run, so that TensorBoard (and the tools that read its
files: its HParams view, Weights & Biases' sync, notebooks) show runs made here.

``TensorBoardLog`` is one more consumer of a Session's events, beside the progress bar and the
window's charts: the command line (``--tensorboard DIR``), the window (its preference) and the
sweep (``trial_log``) feed it the events they already read. Each run writes one subfolder of
DIR: ``run-<id>`` (a sweep's trials ``trial-<n>``), the layout TensorBoard lists as runs.

What it costs the run: a few scalars at each reported batch (the trainer reports a few times
a second, not every step) and at each epoch's end, where it flushes; the graph (a trace of a
fresh CPU copy of the model) once at the start, and the hyperparameters and a few predictions
once at the end. ``benchmarks/tensorboard_overhead.py`` measures it.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from ...graph import analyze
from ..build import to_module
from ..inference.model import class_names, split_images, to_input
from ..inference.predictions import SPLIT_NAMES
from .evaluate import predict
from .tbfind import INSTALL, missing  # noqa: F401 - the command line asks tblog
from .trainer import BatchEnd, EpochEnd, Failed, Finished, Started

IMAGES = 8  # predictions shown at the end of a run
TILE = 96  # pixels a side of one prediction's image (small images are enlarged, nearest)

E = TypeVar("E")


def flat_settings(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A settings section as ``{dotted path: value}`` with the values TensorBoard's HParams
    take (numbers, text, booleans): lists become JSON text, empty values are left out."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_settings(value, f"{path}."))
        elif isinstance(value, (list, tuple)):
            if value:
                out[path] = json.dumps(value)
        elif value is not None:
            out[path] = value
    return out


def final_metrics(epochs: list[Any]) -> dict[str, float]:
    """The run's best and final validation accuracy and loss (training ones when it has no
    validation split), named as TensorBoard's HParams view lists them."""
    split = "val" if any(r.val_acc is not None for r in epochs) else "train"
    acc = [getattr(r, f"{split}_acc") for r in epochs]
    loss = [getattr(r, f"{split}_loss") for r in epochs]
    acc = [a for a in acc if a is not None]
    loss = [v for v in loss if v is not None and math.isfinite(v)]
    out: dict[str, float] = {}
    if acc:
        out[f"hparam/best_{split}_acc"] = max(acc)
        out[f"hparam/final_{split}_acc"] = acc[-1]
    if loss:
        out[f"hparam/best_{split}_loss"] = min(loss)
        out[f"hparam/final_{split}_loss"] = loss[-1]
    return out


class TensorBoardLog:
    """Writes the events of one run of ``project`` under ``folder`` (its subfolder is made at
    the run's start: ``name``, default ``run-<id>``). ``session``, when given, lends its
    trained model and data for a few predictions at the end. Feed it every event, then close."""

    def __init__(self, folder: str | Path, project: Any, *, name: str | None = None,
                 session: Any = None, images: int = IMAGES) -> None:
        self.folder = Path(folder)
        self.project = project
        self.name = name
        self.session = session
        self.images = images
        self.path: Path | None = None
        """The run's folder, once it started."""
        self.writer: Any = None
        self.epochs: list[Any] = []
        self.step = 0

    def feed(self, event: Any) -> None:
        if isinstance(event, Started):
            self._start(event)
        elif self.writer is None:
            return
        elif isinstance(event, BatchEnd):
            self.step = (event.epoch - 1) * event.steps + event.step
            w = self.writer
            w.add_scalar("batch/train_loss", event.loss, self.step)
            w.add_scalar("batch/train_acc", event.acc, self.step)
            w.add_scalar("batch/lr", event.lr, self.step)
        elif isinstance(event, EpochEnd):
            self._epoch(event.record)
        elif isinstance(event, Finished):
            self._end(f"{event.status}: {event.message}")
            self._predictions()
            self.writer.flush()
        elif isinstance(event, Failed):
            self._end(f"failed: {event.message}")
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    # -- parts -----------------------------------------------------------------------------
    def _start(self, event: Started) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.close()  # a retry after running out of memory starts again
        self.path = self.folder / (self.name or f"run-{event.run_id}")
        self.writer = SummaryWriter(log_dir=str(self.path))
        self.epochs = []
        self.writer.add_text("run", f"run {event.run_id} of {self.project.name}: "
                             f"{event.train_samples:,} training and {event.val_samples:,} "
                             f"validation samples on {event.device_name}, "
                             f"{event.params:,} parameters")
        self._graph()

    def _graph(self) -> None:
        """The network as TensorBoard's Graphs view draws it: a trace of a fresh CPU copy (the
        run's own model is left alone)."""
        shape = analyze(self.project.graph).input_shape
        try:
            model = to_module(self.project.graph).eval()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.writer.add_graph(model, torch.zeros(1, *shape))
        except Exception as exc:  # noqa: BLE001 - a graph the tracer cannot follow is no failure
            self.writer.add_text("graph", f"no graph: the tracer could not follow the model "
                                 f"({type(exc).__name__}: {exc})")

    def _epoch(self, r: Any) -> None:
        self.epochs.append(r)
        w, e = self.writer, r.epoch
        for tag, value in (("train_loss", r.train_loss), ("train_acc", r.train_acc),
                           ("val_loss", r.val_loss), ("val_acc", r.val_acc), ("lr", r.lr),
                           ("samples_per_s", r.samples_per_s)):
            if value is not None:
                w.add_scalar(f"epoch/{tag}", value, e)
        w.flush()

    def _end(self, outcome: str) -> None:
        """The hyperparameters with the final metrics, in the run's own folder (SummaryWriter's
        ``add_hparams`` would make a further subfolder, a second run in TensorBoard's list)."""
        from torch.utils.tensorboard.summary import hparams

        self.writer.add_text("outcome", outcome)
        metrics = final_metrics(self.epochs)
        if not metrics:
            return
        settings = flat_settings(self.project.training.to_dict())
        for summary in hparams(settings, metrics):
            self.writer.file_writer.add_summary(summary)
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, self.epochs[-1].epoch)

    def _predictions(self) -> None:
        """A few validation images (test when there is a test split) with their true and
        predicted classes, as one picture, with the same as a table of text."""
        trainer = getattr(self.session, "trainer", None)
        model, data = getattr(trainer, "model", None), getattr(trainer, "data", None)
        if model is None or data is None or self.images < 1:
            return
        split = "test" if data.test is not None and len(data.test) else "val"
        chosen = data.splits.get(split) or data.val or data.train
        split = chosen.name
        n = min(self.images, len(chosen))
        try:
            images, labels = split_images(data, split, range(n))
            logits, _ = predict(model, [(to_input(images, data), labels)])
        except Exception as exc:  # noqa: BLE001 - pictures are a bonus, never a failure
            self.writer.add_text("predictions", f"no predictions: {type(exc).__name__}: {exc}")
            return
        names = class_names(int(logits.shape[1]), data.classes, self.project.dataset.class_names)
        rows = [(names[int(t)] if int(t) < len(names) else str(int(t)), names[int(p)])
                for t, p in zip(labels, logits.argmax(dim=1))]
        where = SPLIT_NAMES.get(split, split)
        self.writer.add_image(f"predictions/{where}", prediction_grid(images, rows),
                              self.step, dataformats="HWC")
        table = "\n".join(f"| {i} | {t} | {p} | {'✓' if t == p else '✗'} |"
                          for i, (t, p) in enumerate(rows))
        self.writer.add_text(f"predictions/{where}",
                             f"| {where} image | true | predicted | |\n|---|---|---|---|\n"
                             + table, self.step)


def prediction_grid(images: torch.Tensor, rows: list[tuple[str, str]]) -> np.ndarray:
    """uint8 images ``[N, C, H, W]`` in a row-major grid, each captioned with its true and
    predicted class (green when they agree, red when not): uint8 ``[H, W, 3]``."""
    from PIL import Image, ImageDraw

    x = images.cpu()
    if x.shape[1] != 3:
        x = x[:, :1].expand(-1, 3, -1, -1)
    cols = min(4, len(rows))
    caption = 28
    size = TILE
    out = Image.new("RGB", (cols * (size + 4) + 4,
                            math.ceil(len(rows) / cols) * (size + caption + 4) + 4), (40, 40, 40))
    draw = ImageDraw.Draw(out)
    for i, (tile, (true, pred)) in enumerate(zip(x.permute(0, 2, 3, 1).numpy(), rows)):
        picture = Image.fromarray(np.ascontiguousarray(tile))
        picture.thumbnail((size, size))  # large images shrink; small ones grow below
        scale = max(1, size // max(picture.size))
        picture = picture.resize((picture.width * scale, picture.height * scale),
                                 Image.Resampling.NEAREST)
        r, c = divmod(i, cols)
        left, top = 4 + c * (size + 4), 4 + r * (size + caption + 4)
        out.paste(picture, (left + (size - picture.width) // 2, top + (size - picture.height) // 2))
        color = (120, 220, 120) if true == pred else (255, 110, 110)
        draw.text((left, top + size + 2), f"true {true}"[:16], fill=(230, 230, 230))
        draw.text((left, top + size + 14), f"pred {pred}"[:16], fill=color)
    return np.asarray(out)


def trial_log(folder: str | Path, project: Any, number: int, session: Any = None
              ) -> TensorBoardLog:
    """The log of a sweep's trial ``number``: ``folder/trial-<number>``."""
    return TensorBoardLog(folder, project, name=f"trial-{number}", session=session)


def logged(events: Iterable[E], log: TensorBoardLog | None) -> Iterator[E]:
    """``events`` passed on unchanged, each fed to ``log`` first (None: no log); the log is
    closed when they end, however they end."""
    if log is None:
        yield from events
        return
    try:
        for event in events:
            log.feed(event)
            yield event
    finally:
        log.close()
