"""``cnnstudio sweep``: an Optuna study over a project's search space, trials as runs of the
project (DESIGN.md §3.3, §8). Several processes or machines started with the same --storage and
--study share the work; running the command again resumes the study."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..project.examples import is_example
from ..project.sweep import PRUNERS, SAMPLERS, SweepSpace
from .common import (
    CliError,
    check_room,
    hold_output,
    output_folder,
    positive_int,
    project_file,
    read_project,
    room_needed,
    runs_out,
)


def add_parser(sub: Any) -> None:
    s = sub.add_parser(
        "sweep", help="search training options and graph parameters with Optuna",
        description="Run an Optuna study over the project's search space (its stored sweep, or "
        "learning rate, batch size, optimizer and weight decay when it has none). Every trial "
        "is a run of the project. The study lives in --storage (default: a SQLite file beside "
        "the project saved to, e.g. lenet.sweep.db beside lenet.cnnproj; optuna-dashboard "
        "opens it too); the same command on other processes or "
        "machines with the same --storage and --study joins it, and running it again resumes "
        "it up to --trials.")
    s.add_argument("project", metavar="PROJECT", help="a .cnnproj project file")
    s.add_argument("--trials", type=positive_int, required=True, metavar="N",
                   help="trials the study should have (finished, pruned or failed)")
    s.add_argument("--jobs", type=positive_int, default=1, metavar="J",
                   help="worker processes on this machine, each with its share of the cores")
    s.add_argument("--storage", metavar="URL", help="an SQLAlchemy URL, e.g. "
                   "sqlite:///study.db or postgresql://user@host/db")
    s.add_argument("--study", metavar="NAME", help="the study's name (default: the saved "
                   "project file's name)")
    s.add_argument("--epochs", type=positive_int, metavar="E", help="epochs of each trial")
    s.add_argument("--space", metavar="FILE", help="a JSON search space (dimensions, sampler, "
                   "pruner, objectives) instead of the project's; kept in the saved project")
    s.add_argument("--sampler", choices=SAMPLERS, help="instead of the space's sampler")
    s.add_argument("--pruner", choices=PRUNERS, help="instead of the space's pruner")
    s.add_argument("--out", metavar="PROJECT", help="save the project with the trials' runs "
                   "here instead (needed for an example project)")
    s.add_argument("--data-cache", metavar="DIR", help="folder for downloaded datasets")
    s.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard event files of each "
                   "trial to DIR/trial-<n> (needs the tensorboard package)")
    s.add_argument("--json", action="store_true", help="print the result as one JSON object")
    s.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..engine.sweep.runner import SweepError, run_sweep
    from ..engine.training import tblog

    shown = Path(args.out or args.project)
    if is_example(shown):  # the runs would be written into a template every user starts from
        raise CliError(f"{shown} is an example project that comes with CNN Studio and is never "
                       "written; pass --out NEW.cnnproj to save the sweep's runs there")
    if shown.suffix != ".cnnproj":
        raise CliError(f"--out must be a .cnnproj file, not {shown.name!r}")
    project_file(args.project)
    out = runs_out(args.out, args.project)
    if args.tensorboard and (problem := tblog.missing()):  # before any trial, as train does
        raise CliError(problem)
    if args.tensorboard:
        output_folder(args.tensorboard, "--tensorboard")
    space = _read_space(args.space) if args.space else None
    check_room(out, room_needed(read_project(args.project), out, Path(args.project),
                                2 * args.trials), "the runs of every trial")  # last and best
    try:  # the workers only train; this process alone writes ``out``, holding its lock
        with hold_output(out, args):
            result = run_sweep(args.project, args.trials, args.jobs, args.storage, args.study,
                               args.epochs, _progress, out=out, sampler=args.sampler,
                               pruner=args.pruner, cache_dir=args.data_cache,
                               tensorboard=args.tensorboard, search_space=space)
    except SweepError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps({"study": result.study, "storage": result.storage,
                          "directions": result.directions, "project": str(out),
                          "trials": [t.to_dict() for t in result.trials],
                          "best": [t.to_dict() for t in result.best]}))
    title = "best trial" if len(result.directions) == 1 else "Pareto front"
    print(f"{title} of study {result.study!r} ({result.storage}):", file=sys.stderr)
    for t in result.best:
        print(f"  {_line(t)}", file=sys.stderr)
    if not result.best:
        print("  none: no trial finished", file=sys.stderr)
        return 1
    print(f"saved {out}", file=sys.stderr)
    return 0


def _progress(trial: Any) -> None:
    print(_line(trial), file=sys.stderr, flush=True)


def _line(trial: Any) -> str:
    """``trial 3 complete: value 0.9415 [run 4] optimizer.lr=0.0012 batch_size=64``."""
    values = "" if trial.values is None else \
        " value " + ", ".join(f"{v:.4g}" for v in trial.values)
    run = f" [run {trial.run_id}]" if trial.run_id is not None else ""
    params = " ".join(f"{k}={_show(v)}" for k, v in trial.params.items())
    why = f" ({trial.message})" if trial.message and trial.state != "complete" else ""
    return f"trial {trial.number} {trial.state}:{values}{run} {params}{why}".rstrip()


def _show(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _read_space(path: str) -> SweepSpace:
    """The search space of ``--space FILE`` (JSON, as a project stores it)."""
    from ..graph.jsonformat import MAX_BYTES
    from ..graph.userfile import FileRefused, read_regular

    try:
        doc = json.loads(read_regular(path, MAX_BYTES, "search space file").decode("utf-8"))
        return SweepSpace.from_dict(doc, "--space")
    except FileRefused as exc:
        raise CliError(f"--space: {path}: {exc}") from None
    except OSError as exc:
        raise CliError(f"--space: cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # bad JSON, or a ConfigError naming the dimension
        raise CliError(f"--space: {exc}" if isinstance(exc, json.JSONDecodeError) else str(exc)
                       ) from None
