"""The numbers behind the charts and the runs table, without Qt: growing buffers for the live
series, exponential smoothing, run labels and summaries, the settings diff of two runs and the
rows of a chart's CSV file. Kept apart from the widgets so they are tested plainly."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...fileio import atomic_text_writer
from ...project import stats
from ...project.config import TASK_SCORES

EPOCH_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "samples_per_s")
CSV_COLUMNS = ("run", "series", "epoch", "step", *EPOCH_KEYS)
BATCH_KEYS = ("loss", "acc", "lr", "samples_per_s")


class Buffer:
    """Rows of float64 columns that grow by doubling, so appending costs O(1) on average and
    a column is a view (no copy) for ``setData``."""

    def __init__(self, columns: int, capacity: int = 256) -> None:
        self._data = np.full((capacity, columns), np.nan)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, row: Sequence[float | None]) -> None:
        if self._n == len(self._data):
            grown = np.full((2 * len(self._data), self._data.shape[1]), np.nan)
            grown[: self._n] = self._data
            self._data = grown
        self._data[self._n] = [np.nan if v is None else v for v in row]
        self._n += 1

    def column(self, index: int) -> np.ndarray:
        return self._data[: self._n, index]

    def clear(self) -> None:
        self._n = 0


def ema(values: np.ndarray, alpha: float, previous: float | None = None,
        restart: np.ndarray | None = None) -> np.ndarray:
    """Exponential moving average ``s[i] = alpha * s[i-1] + (1 - alpha) * v[i]`` that starts
    at the first value (or continues from ``previous``) and starts again where ``restart``
    is true; NaN values are passed over."""
    out = np.empty(len(values))
    last = previous if previous is not None and not math.isnan(previous) else None
    keep = 1.0 - alpha
    starts = restart.tolist() if restart is not None else [False] * len(values)
    for i, v in enumerate(values.tolist()):
        if starts[i]:
            last = None
        if math.isnan(v):
            out[i] = math.nan if last is None else last
            continue
        last = v if last is None else alpha * last + keep * v
        out[i] = last
    return out


def epoch_arrays(records: Iterable[Any]) -> dict[str, np.ndarray]:
    """Per-epoch metrics of ``EpochRecord``s as arrays (NaN where not measured), sorted by
    epoch and keyed ``epoch`` and EPOCH_KEYS."""
    rows = sorted(records, key=lambda r: r.epoch)
    out = {"epoch": np.array([float(r.epoch) for r in rows])}
    for key in EPOCH_KEYS:
        out[key] = np.array([_num(getattr(r, key, None)) for r in rows])
    return out


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def values_near(x: float, batch_x: np.ndarray, batch: np.ndarray,
                sources: Sequence[tuple[str, Sequence[Any]]], keys: tuple[str, str | None],
                scale: float, fmt: str) -> list[tuple[str, str]]:
    """The hover's rows at epoch ``x``: the per-batch value nearest to ``x``, then for each
    (prefix, EpochRecords) source the train and val values (``keys``) of the nearest epoch."""
    rows: list[tuple[str, str]] = []
    if len(batch_x):
        i = int(np.argmin(np.abs(batch_x - x)))
        rows.append(("train (batch)", fmt.format(batch[i] * scale)))
    for prefix, records in sources:
        by_epoch = {r.epoch: r for r in records}
        if not by_epoch:
            continue
        epoch = min(by_epoch, key=lambda e: abs(e - x))
        for key, word in zip(keys, ("train", "val")):
            value = getattr(by_epoch[epoch], key) if key else None
            if value is not None:
                rows.append((f"{prefix}{word} (epoch {epoch})", fmt.format(value * scale)))
    return rows


# -- runs ------------------------------------------------------------------------------------
def run_summary(run: Any) -> str:
    """Optimizer, learning rate and batch size in a few words: 'adam lr 0.003, batch 16'."""
    training = run.training or {}
    opt = training.get("optimizer") or {}
    parts = [str(opt.get("name", "?"))]
    if isinstance(opt.get("lr"), (int, float)):
        parts[0] += f" lr {opt['lr']:g}"
    if training.get("batch_size") is not None:
        parts.append(f"batch {training['batch_size']}")
    schedule = (training.get("schedule") or {}).get("name")
    if schedule and schedule != "none":
        parts.append(str(schedule))
    return ", ".join(parts)


def run_label(run: Any, prefix: str = "") -> str:
    """The legend's name of a run: 'run 2 (sgd lr 0.01, batch 128)'."""
    return f"{prefix}run {run.id} ({run_summary(run)})"


def best_val_acc(run: Any) -> float | None:
    values = [r.val_acc for r in run.epochs if r.val_acc is not None and not math.isnan(r.val_acc)]
    return max(values) if values else None


def run_task(run: Any) -> str:
    """The task the run trained for (classify when its record does not say)."""
    task = stats.dataset_config(run).get("task")
    return task if task in TASK_SCORES else "classify"


def score_text(run: Any, value: float | None) -> str:
    """A run's "accuracy" figure as its task scores it: accuracy and micro-F1 in percent,
    R² as a number (it has no upper 100 % and goes below 0)."""
    if value is None:
        return "—"
    task = run_task(run)
    if task == "regress":
        return f"R² {value:.3f}"
    return f"{100 * value:.2f} %" + (" F1" if task == "multilabel" else "")


def final_val_loss(run: Any) -> float | None:
    for record in reversed(run.epochs):
        if record.val_loss is not None:
            return record.val_loss
    return None


def chosen_weights(run: Any) -> tuple[str | None, str]:
    """The weights 'Use these weights' loads: the best epoch's when the run kept them (that is
    what the run is judged by), else its last; with a word saying which."""
    if run.best_weights:
        return run.best_weights, "best"
    if run.weights:
        return run.weights, "last"
    return None, ""


def settings_diff(a: Any, b: Any) -> list[tuple[str, Any, Any]]:
    """The settings that differ between two runs: (key, value in a, value in b), sorted;
    a key only one run has shows None on the other side (project/stats.settings flattens)."""
    left, right = stats.settings(a), stats.settings(b)
    keys = sorted(set(left) | set(right))
    return [(k, left.get(k), right.get(k)) for k in keys if left.get(k) != right.get(k)]


def format_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


# -- CSV -------------------------------------------------------------------------------------
def epoch_rows(run_name: Any, records: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"run": run_name, "series": "epoch", "epoch": r.epoch, "step": "",
             **{k: _cell(getattr(r, k, None)) for k in EPOCH_KEYS}}
            for r in sorted(records, key=lambda r: r.epoch)]


def batch_rows(run_name: Any, x: np.ndarray, step: np.ndarray,
               columns: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """Per-batch rows: ``epoch`` is the fractional epoch, ``train_*`` the running values."""
    names = {"loss": "train_loss", "acc": "train_acc", "lr": "lr",
             "samples_per_s": "samples_per_s"}
    rows = []
    for i in range(len(x)):
        row = {"run": run_name, "series": "batch", "epoch": _cell(x[i]),
               "step": int(step[i]), "val_loss": "", "val_acc": ""}
        row.update({names[k]: _cell(v[i]) for k, v in columns.items()})
        rows.append(row)
    return rows


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    value = float(value)
    return "" if math.isnan(value) else repr(value)


def write_csv(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    with atomic_text_writer(path) as f:  # a failed write leaves the old file as it was
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
