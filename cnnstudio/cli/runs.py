"""``cnnstudio runs``: a project's runs grouped by configuration (the seed left out) with the
mean ± std and 95 % interval of their results, every run as a CSV row, and the comparison of
two configurations with the settings that differ. Imports neither torch nor Qt."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..project.stats import (
    METRICS,
    compare,
    describe,
    fold_table,
    group_of,
    groups,
    percent,
    varying,
)
from .common import CliError, output_path, read_project


def add_parser(sub: Any) -> None:
    r = sub.add_parser(
        "runs", help="list a project's runs grouped by configuration, with statistics",
        description="List the finished runs of a project grouped by configuration (runs that "
        "differ only by seed form one group; cross-validation runs that differ by fold too, "
        "with their pooled accuracy and each fold's) with n, mean ± std and the 95 % "
        "confidence interval of the best validation accuracy; --csv writes every run as a CSV row; "
        "--compare A B compares the configurations of runs A and B.")
    r.add_argument("project", metavar="PROJECT", help="a .cnnproj project file")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.add_argument("--csv", metavar="FILE", help="write every run of the project as a CSV row")
    r.add_argument("--compare", nargs=2, type=int, metavar=("A", "B"),
                   help="compare the configurations of runs A and B (each run stands for the "
                   "finished runs of its configuration)")
    r.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def cmd_runs(args: argparse.Namespace) -> int:
    csv = output_path(args.csv, "--csv") if args.csv else None
    project = read_project(args.project)
    if csv is not None:
        from ..project.runs_csv import write_runs_csv

        try:
            count = write_runs_csv(project.runs, csv)
        except OSError as exc:
            raise CliError(f"--csv {args.csv}: cannot write ({exc.strerror or exc})") from None
        if not args.json:
            print(f"wrote {count} run(s) to {args.csv}")
    if args.compare:
        return _compare(project, *args.compare, as_json=args.json)
    found = groups(project.runs)
    others = [r for r in project.runs if group_of(r, found) is None]
    if args.json:
        print(json.dumps({"groups": [g.to_dict() for g in found],
                          "other_runs": [{"run": r.id, "status": r.status} for r in others]},
                         indent=2))
        return 0
    if not args.csv or found:
        _print_groups(found, others)
    return 0


def _print_groups(found: list[Any], others: list[Any]) -> None:
    if not found:
        print("no finished runs yet")
    keys = varying(found)
    for number, group in enumerate(found, start=1):
        n = len(group.runs)
        seeds = sorted(set(group.seeds))
        samples = f"seeds {_ids(group.seeds)}" if not group.folds else \
            f"seed{'s' * (len(seeds) != 1)} {_ids(seeds)}; {group.folds}-fold cross-validation"
        print(f"configuration {number}: {n} run{'s' * (n != 1)} "
              f"(runs {_ids(group.ids)}; {samples})")
        for key in keys:
            print(f"  {key} = {_value(group.config.get(key))}")
        for metric in ("best_val_acc", "final_val_acc", "final_val_loss"):
            print(f"  {METRICS[metric][0]}: {describe(group.summary(metric), metric)}")
        if group.folds:
            print(f"  pooled final val acc: {percent(group.pooled())}")
            for line in fold_table(group):
                print(f"    {line}")
    if others:
        print("not counted (did not finish): " +
              ", ".join(f"run {r.id} ({r.status})" for r in others))


def _compare(project: Any, a_id: int, b_id: int, as_json: bool) -> int:
    found = groups(project.runs)
    chosen = []
    for run_id in (a_id, b_id):
        try:
            run = project.run(run_id)
        except KeyError:
            raise CliError(f"--compare: no run {run_id} in {project.name}") from None
        group = group_of(run, found)
        if group is None:
            raise CliError(f"--compare: run {run_id} did not finish ({run.status}); only "
                           "finished runs are compared")
        chosen.append(group)
    a, b = chosen
    results = [compare(a, b, m) for m in ("best_val_acc", "final_val_loss")]
    if as_json:
        print(json.dumps({"a": a.ids, "b": b.ids, "same_configuration": a is b,
                          "comparisons": [c.to_dict() for c in results]}, indent=2))
        return 0
    print(f"A: run {a_id}'s configuration, {len(a.runs)} run(s) ({_ids(a.ids)})")
    print(f"B: run {b_id}'s configuration, {len(b.runs)} run(s) ({_ids(b.ids)})")
    if a is b:
        print("A and B are the same configuration (they differ only by seed)")
        return 0
    for c in results:
        print(f"{METRICS[c.metric][0]}: A {describe(c.a, c.metric)}; "
              f"B {describe(c.b, c.metric)}")
        print(f"  {c.verdict()}")
    print("settings that differ (A → B):")
    for key, x, y in results[0].differing:
        print(f"  {key}: {_value(x)} → {_value(y)}")
    return 0


def _ids(values: list[int]) -> str:
    return ", ".join(map(str, values))


def _value(value: Any) -> str:
    return "—" if value is None else json.dumps(value) if isinstance(value, (list, dict)) \
        else str(value)
