"""``cnnstudio prune``: a project's network with whole channels removed to a MACs target
(engine/prune.py), its weights sliced, scored on the validation split before and after, then
optionally fine-tuned as a run of the new project."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .common import CliError, project_out, read_project, write_project

MEMBER = "weights/pruned.safetensors"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "prune", help="remove whole channels to a MACs target, then fine-tune",
        description="Structured pruning: the channels of least weight (L1 or L2 norm) are "
        "removed from every prunable layer, the same share from each, dependency-aware "
        "through residual additions, concatenations and depthwise convolutions "
        "(torch-pruning), until about --macs of the MACs are left. The result is a new "
        "project with narrower layers and their weights, scored on the validation split, and "
        "fine-tuned for --finetune-epochs.")
    p.add_argument("project", metavar="PROJECT", help="a .cnnproj project with trained weights")
    p.add_argument("--macs", required=True, type=float, metavar="FRACTION",
                   help="the share of the MACs to keep, e.g. 0.5")
    p.add_argument("--out", required=True, metavar="PROJECT", help="the pruned project")
    p.add_argument("--finetune-epochs", type=int, default=0, metavar="N",
                   help="epochs of training after pruning (default 0)")
    p.add_argument("--finetune-lr", type=float, metavar="X",
                   help="learning rate of the fine-tuning (default: a tenth of the project's, "
                   "on a cosine schedule)")
    p.add_argument("--importance", choices=("l1", "l2"), default="l1",
                   help="how a channel's weight is measured (default l1)")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.add_argument("--data-cache", metavar="DIR", help="folder of downloaded datasets")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def cmd_prune(args: argparse.Namespace) -> int:
    from ..engine import checkpoint
    from ..engine.prune import PruneError, prune

    if not 0 < args.macs < 1:
        raise CliError(f"--macs must be a fraction between 0 and 1, not {args.macs}")
    if args.finetune_lr is not None and not args.finetune_lr > 0:
        raise CliError(f"--finetune-lr must be above 0, not {args.finetune_lr}")
    if not 0 <= args.finetune_epochs <= 100_000:
        raise CliError(f"--finetune-epochs must be from 0 to 100000, not "
                       f"{args.finetune_epochs}")
    out = project_out(args.out, args.force)
    source = Path(args.project)
    project = read_project(source)
    if not project.current_weights:
        raise CliError("the project has no trained weights: train it first (pruning ranks "
                       "channels by their trained weights)")
    state = checkpoint.from_bytes(project.weights[project.current_weights])
    say = (lambda _t: None) if args.json else (lambda t: print(t, file=sys.stderr, flush=True))
    data = _data(project, source, args.data_cache)
    before = _accuracy(project.graph, state, data)
    say(f"pruning to {args.macs:.0%} of the MACs ({args.importance} importance)…")
    try:
        pruned = prune(project.graph, state, args.macs, importance=args.importance)
    except PruneError as exc:
        raise CliError(str(exc)) from None
    after = _accuracy(pruned.graph, pruned.state, data)
    project.graph = pruned.graph
    for run in project.runs:  # kept as history; their weights fit the unpruned network only
        run.weights = run.best_weights = None
    project.weights = {MEMBER: checkpoint.to_bytes(pruned.state)}
    project.current_weights = MEMBER
    write_project(project, out)
    finetuned = _finetune(project, out, source, args, say) if args.finetune_epochs else None
    doc = {"project": str(out), "macs_before": pruned.macs_before,
           "macs_after": pruned.macs_after, "macs_kept": pruned.macs_kept,
           "params_before": pruned.params_before, "params_after": pruned.params_after,
           "channel_ratio": pruned.ratio, "accuracy_before": before,
           "accuracy_pruned": after, "accuracy_finetuned": finetuned,
           "layers": {k: list(v) for k, v in pruned.changed.items()}}
    if args.json:
        print(json.dumps(doc))
        return 0
    print(f"wrote {out}: {pruned.macs_before:,} → {pruned.macs_after:,} MACs "
          f"({pruned.macs_kept:.1%} kept), {pruned.params_before:,} → "
          f"{pruned.params_after:,} parameters, {len(pruned.changed)} layers narrower "
          f"({pruned.ratio:.1%} of their channels removed)")
    line = f"  validation accuracy: {_pct(before)} before, {_pct(after)} pruned"
    if finetuned is not None:
        line += f", {_pct(finetuned)} after {args.finetune_epochs} epochs of fine-tuning"
    print(line)
    return 0


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f} %"


def _data(project: Any, source: Path, cache: str | None) -> Any:
    from ..engine.inference.model import InferenceError, project_data

    try:
        return project_data(project, base_dir=source.parent, cache_dir=cache)
    except InferenceError as exc:
        raise CliError(str(exc)) from None


def _accuracy(graph: Any, state: Any, data: Any) -> float | None:
    """Validation accuracy of ``graph`` with ``state`` (None without a validation split)."""
    from ..engine.inference.model import model_from_state
    from ..engine.training.evaluate import predict

    if data.val is None:
        return None
    model = model_from_state(graph, state)
    logits, labels = predict(model, data.val.batches(256, shuffle=False, seed=0, epoch=0))
    return float((logits.argmax(1) == labels).float().mean())


def _finetune(project: Any, out: Path, source: Path, args: argparse.Namespace,
              say: Any) -> float | None:
    """A run of ``project`` from its pruned weights at a tenth of its learning rate (or
    --finetune-lr) on a cosine schedule, saved to ``out``; its last validation accuracy."""
    from .. import engine

    training = project.training
    before = (training.epochs, training.optimizer.lr, training.schedule.name)
    training.epochs = args.finetune_epochs  # a gentle run: the weights are nearly there
    training.optimizer.lr = args.finetune_lr or training.optimizer.lr / 10
    training.schedule.name = "cosine"
    session = engine.Session(project, out, from_current=True, cache_dir=args.data_cache,
                             base_dir=source.resolve().parent)
    last = None
    for event in session.events():
        if isinstance(event, engine.EpochEnd):
            last = event.record.val_acc
            say(f"  fine-tuning epoch {event.record.epoch}/{args.finetune_epochs}: val acc "
                f"{_pct(last)}")
        elif isinstance(event, engine.Failed):
            raise CliError(f"fine-tuning failed: {event.message}", code=1)
    # the project keeps its own training settings (the run records the fine-tuning's)
    training.epochs, training.optimizer.lr, training.schedule.name = before
    write_project(project, out)
    return last
