"""``cnnstudio presets`` and ``cnnstudio summary``: they import neither torch nor Qt, so they
answer at once."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..graph import analyze, presets
from ..graph.analysis import OPTIMIZER_STATE
from ..graph.model import plain
from ..graph.table import format_report
from .common import CliError, load_target, parse_shape, positive_int


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("presets", help="list the preset architectures",
                       description="List the preset architectures with a one-line description.")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    s = sub.add_parser(
        "summary", help="print a network's layers, shapes, parameters, receptive fields, MACs",
        description="Analyse a network without running it: per layer output shape, parameters, "
        "receptive field and MACs; totals; training memory; errors and warnings. Exit status "
        "0 when the graph is valid, 1 when it has errors, 2 when TARGET cannot be read.")
    s.add_argument("target", metavar="TARGET",
                   help="a preset name (see `cnnstudio presets`), a graph JSON file or a "
                   ".cnnproj project")
    s.add_argument("--input", metavar="C,H,W", help="per-sample input shape, e.g. 3,224,224")
    s.add_argument("--classes", metavar="N", type=positive_int,
                   help="number of classes of the classifier")
    s.add_argument("--batch-size", metavar="B", type=positive_int, default=32,
                   help="batch size for the training-memory estimate (default 32)")
    s.add_argument("--optimizer", default="adam",
                   choices=tuple(OPTIMIZER_STATE),
                   help="optimizer for the training-memory estimate (default adam)")
    s.add_argument("--explain", metavar="NODE",
                   help="show how each number of NODE is computed, formulas filled in")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def cmd_presets(args: argparse.Namespace) -> int:
    items = sorted(presets.all_presets(), key=lambda p: (p.family, p.name))
    if args.json:
        print(json.dumps([{"name": p.name, "family": p.family, "description": p.description,
                           "torchvision": p.torchvision,
                           "options": plain(p.options())} for p in items], indent=1))
        return 0
    width = max(len(p.name) for p in items)
    for p in items:
        print(f"{p.name:<{width}}  {p.description}")
    print(f"\n{len(items)} presets; `cnnstudio summary NAME` analyses one.")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    shape = parse_shape(args.input) if args.input else None
    graph, source = load_target(args.target, shape, args.classes)
    report = analyze(graph)
    memory = report.training_memory(args.batch_size, args.optimizer) \
        if report.input_id else None
    if args.explain is not None and args.explain not in report.nodes:
        raise CliError(f"--explain: no node {args.explain!r} in {args.target}")
    if args.json:
        doc = report.to_json()
        doc["source"] = source
        doc["training_memory"] = memory.to_json() if memory else None
        if args.explain:
            doc["explain"] = {"node": args.explain, **report.explain(args.explain)}
        print(json.dumps(doc))
    else:
        print(format_report(report, source, memory, explain=args.explain))
    return 0 if report.ok else 1
