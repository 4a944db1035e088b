"""Command line (DESIGN.md §3.3). ``summary`` and ``presets`` import neither torch nor Qt, so
they answer at once; errors are one line on stderr unless ``--debug``."""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__

COMMANDS = ("presets", "summary", "train", "preview", "export", "import")


class CliError(Exception):
    """A user error: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# -- parsers ---------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with errors on one line (usage stays behind --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _top_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cnnstudio",
        description="Design, analyse, train and export convolutional neural networks.",
        epilog="Without a command, cnnstudio opens the editor window (with PATH: that project "
        "or graph file).",
    )
    parser.add_argument("--version", action="version", version=f"cnnstudio {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
                   choices=("sgd", "sgd_momentum", "rmsprop", "adagrad", "adam", "adamw",
                            "radam"),
                   help="optimizer for the training-memory estimate (default adam)")
    s.add_argument("--explain", metavar="NODE",
                   help="show how each number of NODE is computed, formulas filled in")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    from .cli_train import add_parser, add_preview_parser

    add_parser(sub)
    add_preview_parser(sub)
    from .cli_export import add_parsers

    add_parsers(sub)
    return parser


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return value


def parse_shape(text: str) -> list[int]:
    try:
        shape = [int(part) for part in text.replace("x", ",").split(",")]
    except ValueError:
        shape = []
    if not 1 <= len(shape) <= 3 or any(d < 1 for d in shape):
        raise CliError(f"--input expects C,H,W with positive integers, e.g. 3,224,224, not "
                       f"{text!r}")
    return shape


# -- commands --------------------------------------------------------------------------------
def cmd_presets(args: argparse.Namespace) -> int:
    from .graph import presets
    from .graph.model import plain

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


def load_target(target: str, input_shape: list[int] | None, classes: int | None):
    """A graph from a preset name or a graph file, with the shape and classes asked for."""
    from .graph import GraphError, load_graph, presets
    from .graph.edits import set_input_shape, set_num_classes

    path = Path(target)
    if path.exists():
        if path.is_dir():
            raise CliError(f"{target} is a folder, not a graph file")
        try:
            if zipfile.is_zipfile(path) or path.suffix == ".cnnproj":
                graph, source = _project_graph(path), f"project {target}"
            else:
                graph, source = load_graph(path), f"graph file {target}"
            if input_shape is not None:
                set_input_shape(graph, input_shape)
            if classes is not None:
                set_num_classes(graph, classes)
        except (GraphError, ValueError) as exc:
            raise CliError(str(exc)) from None
        return graph, source
    if any(sep in target for sep in "/\\") or target.endswith((".json", ".cnnproj")):
        raise CliError(f"{target}: no such file")
    options: dict[str, Any] = {}
    if input_shape is not None:
        options["input_shape"] = tuple(input_shape)
    if classes is not None:
        options["num_classes"] = classes
    try:
        return presets.build(target, **options), f"preset {target}"
    except presets.PresetError as exc:
        raise CliError(str(exc)) from None
    except (ValueError, GraphError) as exc:
        raise CliError(f"preset {target}: {exc}") from None


def _project_graph(path: Path):
    from .project import load_project

    return load_project(path).graph


def cmd_summary(args: argparse.Namespace) -> int:
    from .graph import analyze

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
        from .graph.table import format_report

        print(format_report(report, source, memory, explain=args.explain))
    return 0 if report.ok else 1


def open_window(path: str | None) -> int:
    if path is not None and not Path(path).exists():
        raise CliError(f"{path!r} is neither a file nor a command ({', '.join(COMMANDS)})")
    from .app import main as app_main

    problem = app_main.display_problem()
    if problem:
        raise CliError(problem, 1)
    return app_main.run(path)


# -- entry point -----------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _top_parser()
    debug = "--debug" in argv
    try:
        if argv and argv[0] in COMMANDS or any(a in ("-h", "--help", "--version") for a in argv):
            args = parser.parse_args(argv)
            if args.command is None:
                parser.print_help()
                return 0
            args.argv = argv
            if args.command in ("train", "preview"):
                from . import cli_train

                return getattr(cli_train, f"cmd_{args.command}")(args)
            if args.command in ("export", "import"):
                from . import cli_export

                return getattr(cli_export, f"cmd_{args.command}")(args)
            return {"presets": cmd_presets, "summary": cmd_summary}[args.command](args)
        rest = [a for a in argv if a != "--debug"]
        if len(rest) > 1 or (rest and rest[0].startswith("-")):
            parser.error(f"unknown command or option {rest[0]!r}")
        return open_window(rest[0] if rest else None)
    except CliError as exc:
        if debug:
            raise
        print(f"cnnstudio: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("cnnstudio: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: still one line unless --debug
        if debug:
            raise
        print(f"cnnstudio: internal error: {type(exc).__name__}: {exc} (run with --debug for "
              "the traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
