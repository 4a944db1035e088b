"""``cnnstudio prune``: a project's network with whole channels removed to a MACs target
(engine/compress/prune.py), its weights sliced, scored on the validation split before and
after, then optionally fine-tuned as a run of the new project; or, with --curve, the
accuracy-against-MACs table of several targets (shared with the window)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..engine.compress.prune import DEFAULT_TARGETS, IMPORTANCES, MEMBER
from .common import (
    CHECKPOINT_COPIES,
    CliError,
    check_room,
    project_out,
    read_project,
    room_needed,
    write_project,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "prune", help="remove whole channels to a MACs target, then fine-tune",
        description="Structured pruning: the channels of least weight (L1 or L2 norm) are "
        "removed from every prunable layer, the same share from each, dependency-aware "
        "through residual additions, concatenations and depthwise convolutions "
        "(torch-pruning), until about --macs of the MACs are left. The result is a new "
        "project with narrower layers and their weights, scored on the validation split, and "
        "fine-tuned for --finetune-epochs. With --curve, nothing is written: the network is "
        "pruned to each of --targets and the validation accuracy of each is printed (after "
        "--finetune-epochs of fine-tuning each, when given); --macs and --out are then not "
        "needed.")
    p.add_argument("project", metavar="PROJECT", help="a .cnnproj project with trained weights")
    p.add_argument("--macs", type=float, metavar="FRACTION",
                   help="the share of the MACs to keep, e.g. 0.5 (needed without --curve)")
    p.add_argument("--out", metavar="PROJECT",
                   help="the pruned project (needed without --curve)")
    p.add_argument("--curve", action="store_true",
                   help="print validation accuracy against the MACs kept for --targets "
                   "(writes nothing; no --out needed)")
    p.add_argument("--targets", metavar="F,F,...",
                   help="the MACs fractions of --curve (default "
                   f"{','.join(str(t) for t in DEFAULT_TARGETS)})")
    p.add_argument("--finetune-epochs", type=int, default=0, metavar="N",
                   help="epochs of training after pruning (default 0)")
    p.add_argument("--finetune-lr", type=float, metavar="X",
                   help="learning rate of the fine-tuning (default: a tenth of the project's, "
                   "on a cosine schedule)")
    p.add_argument("--importance", choices=IMPORTANCES, default="l1",
                   help="how a channel's worth is measured: the L1 or L2 norm of its weights, "
                   "or taylor, |weight × gradient| over a few training batches (default l1)")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.add_argument("--data-cache", metavar="DIR", help="folder of downloaded datasets")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def cmd_prune(args: argparse.Namespace) -> int:
    from ..engine import checkpoint
    from ..engine.compress.prune import (
        FinetuneFailed,
        PruneError,
        accuracy,
        parse_targets,
        prune_project,
    )

    targets = None
    if args.curve:
        try:
            targets = parse_targets(args.targets) if args.targets else DEFAULT_TARGETS
        except ValueError as exc:
            raise CliError(f"--targets: {exc}") from None
    elif args.targets:
        raise CliError("--targets goes with --curve")
    elif args.macs is None or args.out is None:
        raise CliError("give --macs and --out (or --curve for the accuracy-against-MACs table)")
    elif not 0 < args.macs < 1:
        raise CliError(f"--macs must be a fraction between 0 and 1, not {args.macs}")
    if args.finetune_lr is not None and not args.finetune_lr > 0:
        raise CliError(f"--finetune-lr must be above 0, not {args.finetune_lr}")
    if not 0 <= args.finetune_epochs <= 100_000:
        raise CliError(f"--finetune-epochs must be from 0 to 100000, not "
                       f"{args.finetune_epochs}")
    out = None if args.curve else project_out(args.out, args.force)
    source = Path(args.project)
    project = read_project(source)
    if not project.current_weights:
        raise CliError("the project has no trained weights: train it first (pruning ranks "
                       "channels by their trained weights)")
    if out is not None:  # before the work, not at the save after it
        copies = CHECKPOINT_COPIES if args.finetune_epochs else 1
        check_room(out, room_needed(project, out, source, copies), "the pruned project")
    state = checkpoint.from_bytes(project.weights[project.current_weights])
    say = (lambda _t: None) if args.json else (lambda t: print(t, file=sys.stderr, flush=True))
    data = _data(project, source, args.data_cache)
    try:
        if targets is not None:
            return _curve(project, state, data, targets, source, args, say)
        before = accuracy(project.graph, state, data)
        say(f"pruning to {args.macs:.0%} of the MACs ({args.importance} importance)…")
        pruned = prune_project(project, state, args.macs, data, importance=args.importance)
    except FinetuneFailed as exc:
        raise CliError(str(exc), code=1) from None
    except PruneError as exc:
        raise CliError(str(exc)) from None
    assert out is not None
    after = accuracy(pruned.graph, pruned.state, data)
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


def _curve(project: Any, state: Any, data: Any, targets: tuple[float, ...], source: Path,
           args: argparse.Namespace, say: Any) -> int:
    """The accuracy-against-MACs table: one row per target, the network as it is first."""
    from ..engine.compress.prune import curve

    epochs = args.finetune_epochs
    say(f"pruning to {len(targets)} targets ({args.importance} importance"
        f"{f', {epochs} epochs of fine-tuning each' if epochs else ''})…")
    points = curve(project, state, data, targets, importance=args.importance,
                   finetune_epochs=epochs, cache_dir=args.data_cache,
                   base_dir=source.resolve().parent, progress=lambda _f, t: say(f"  {t}"))
    if args.json:
        print(json.dumps({"importance": args.importance, "finetune_epochs": epochs,
                          "points": [vars(p) for p in points]}))
        return 0
    head = f"{'target':>7}  {'MACs kept':>9}  {'MACs':>14}  {'parameters':>12}  {'accuracy':>9}"
    print(head + (f"  {'fine-tuned':>10}" if epochs else ""))
    for p in points:
        row = (f"{p.target:>7.0%}  {p.macs_kept:>9.1%}  {p.macs:>14,}  {p.params:>12,}  "
               f"{_pct(p.accuracy):>9}")
        print(row + (f"  {_pct(p.finetuned):>10}" if epochs else ""))
    return 0


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f} %"


def _data(project: Any, source: Path, cache: str | None) -> Any:
    from ..engine.inference.model import InferenceError, project_data

    try:
        return project_data(project, base_dir=source.parent, cache_dir=cache)
    except InferenceError as exc:
        raise CliError(str(exc)) from None


def _finetune(project: Any, out: Path, source: Path, args: argparse.Namespace,
              say: Any) -> float | None:
    """A run of ``project`` from its pruned weights with the engine's fine-tuning recipe,
    saved to ``out``; its last validation accuracy."""
    from ..engine.compress.prune import FinetuneFailed, finetune

    try:
        last = finetune(project, out, args.finetune_epochs, lr=args.finetune_lr,
                        cache_dir=args.data_cache, base_dir=source.resolve().parent,
                        on_epoch=lambda epoch, acc: say(
                            f"  fine-tuning epoch {epoch}/{args.finetune_epochs}: val acc "
                            f"{_pct(acc)}"))
    except FinetuneFailed as exc:
        raise CliError(str(exc), code=1) from None
    write_project(project, out)  # with the project's own training settings back
    return last
