"""Command line (DESIGN.md §3.3): the dispatcher. Each command group lives in a module of its
own with its parsers and ``cmd_*`` functions; errors are one line on stderr unless ``--debug``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from . import export, lab, new, profile, prune, quantize, runs, summary, sweep, train
from .common import CliError, Parser

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "presets": summary.cmd_presets, "summary": summary.cmd_summary,
    "train": train.cmd_train, "preview": train.cmd_preview,
    "runs": runs.cmd_runs, "sweep": sweep.cmd_sweep, "profile": profile.cmd_profile,
    "quantize": quantize.cmd_quantize, "prune": prune.cmd_prune,
    "export": export.cmd_export, "import": export.cmd_import, "new": new.cmd_new,
    "lab": lab.cmd_lab,
}


def top_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="cnnstudio",
        description="Design, analyse, train and export convolutional neural networks.",
        epilog="Without a command, cnnstudio opens the editor window (with PATH: that project "
        "or graph file).",
    )
    parser.add_argument("--version", action="version", version=f"cnnstudio {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    summary.add_parsers(sub)
    train.add_parser(sub)
    train.add_preview_parser(sub)
    runs.add_parser(sub)
    sweep.add_parser(sub)
    profile.add_parser(sub)
    quantize.add_parser(sub)
    prune.add_parser(sub)
    export.add_parsers(sub)
    new.add_parser(sub)
    lab.add_parser(sub)
    return parser


def open_window(path: str | None) -> int:
    if path is not None and not os.path.exists(path):
        raise CliError(f"{path!r} is neither a file nor a command ({', '.join(COMMANDS)})")
    from ..app import main as app_main  # Qt and the window load only when a window opens

    problem = app_main.display_problem()
    if problem:
        raise CliError(problem, 1)
    return app_main.run(path)


# -- entry point -----------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = top_parser()
    debug = "--debug" in argv
    try:
        if argv and argv[0] in COMMANDS or any(a in ("-h", "--help", "--version") for a in argv):
            args = parser.parse_args(argv)
            if args.command is None:
                parser.print_help()
                return 0
            args.argv = argv
            return COMMANDS[args.command](args)
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
