"""Every run of a project as one CSV row (its settings as dotted columns, its results), for a
spreadsheet or pandas: written the same way by ``cnnstudio runs --csv`` and the Runs panel's
"Export CSV…"."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..fileio import atomic_text_writer
from .stats import METRICS, result, settings

FIRST = ("run", "status", "seed")
RESULTS = ("epochs", "best_epoch", *METRICS, "final_train_loss", "seconds")


def _text(value: Any) -> Any:
    """A cell: lists and objects as JSON, None as empty."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return value


def run_row(run: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"run": run.id, "status": run.status, "seed": run.seed}
    row.update({k: _text(v) for k, v in settings(run).items() if k != "training.seed"})
    train = [r.train_loss for r in run.epochs if r.train_loss is not None]
    row.update({"epochs": len(run.epochs), "best_epoch": _text(run.best_epoch),
                **{m: _text(result(run, m)) for m in METRICS},
                "final_train_loss": _text(train[-1] if train else None),
                "seconds": _text(sum(r.seconds or 0.0 for r in run.epochs)
                                 if run.epochs else None)})
    return row


def runs_table(runs: Iterable[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns (identity, the settings any run has, sorted, then the results) and one row
    per run, oldest first."""
    rows = [run_row(r) for r in sorted(runs, key=lambda r: r.id)]
    fixed = set(FIRST) | set(RESULTS)
    middle = sorted({k for row in rows for k in row} - fixed)
    return [*FIRST, *middle, *RESULTS], rows


def write_runs_csv(runs: Iterable[Any], path: str | Path) -> int:
    """Write the runs to ``path``; the number of rows written. OSError when it cannot."""
    columns, rows = runs_table(runs)
    with atomic_text_writer(path) as f:  # a failed write leaves the old file as it was
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
