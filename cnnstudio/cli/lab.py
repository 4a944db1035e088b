"""``cnnstudio lab``: the numeric sandbox on the command line (DESIGN.md §3.3). One op on a
matrix, every output cell printed with its formula with the numbers filled in; ``--exercise``
reproduces a worked example of the textbooks beside the answer they state. No torch."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..engine.lab import (
    DESCRIPTIONS,
    Checked,
    LabError,
    LabResult,
    Options,
    check,
    compute,
    exercise,
    exercises,
    num,
    parse_matrix,
)
from .common import CliError, positive_int


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer of 0 or more, not {text!r}") \
            from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer of 0 or more, not {text!r}")
    return value


def add_parser(sub: Any) -> None:
    ops = ", ".join(DESCRIPTIONS)
    p = sub.add_parser(
        "lab", help="the numeric sandbox: one op computed cell by cell, with formulas",
        description="Compute one op of a CNN by hand, as a textbook does: every output cell with "
        f"its formula, the numbers filled in. OP is one of {ops}. MATRIX is JSON "
        "([[1,2],[3,4]], a vector [2.0, 1.0, 0.1], a number) or rows of numbers separated by ';'. "
        "--exercise NAME reproduces a worked example of the textbooks beside the answer they "
        "state; --list names them.")
    p.add_argument("op", nargs="?", metavar="OP", help="the op to compute")
    p.add_argument("--input", metavar="MATRIX", help="the input (weights for sgd_step, the "
                   "size W for outsize, layer sizes for params)")
    p.add_argument("--kernel", metavar="MATRIX", help="conv: the kernel")
    p.add_argument("--kernel-size", type=positive_int, metavar="K",
                   help="pooling window (2) or outsize's kernel")
    p.add_argument("--stride", type=positive_int, metavar="S",
                   help="conv and outsize: 1; pooling: the window's size")
    p.add_argument("--padding", type=_count, default=0, metavar="P", help="zeros around (0)")
    p.add_argument("--dilation", type=positive_int, default=1, metavar="D", help="(1)")
    p.add_argument("--layers", metavar="JSON", help="outsize: layers in a row, "
                   "[[kernel, stride, padding], …]")
    p.add_argument("--target", type=_count, default=0, metavar="C",
                   help="cross_entropy: the true class index (0)")
    p.add_argument("--probs", action="store_true",
                   help="cross_entropy: --input holds probabilities, not logits")
    p.add_argument("--grad", metavar="MATRIX", help="sgd_step: the gradient")
    p.add_argument("--lr", type=float, default=0.01, help="sgd_step: learning rate (0.01)")
    p.add_argument("--momentum", type=float, default=0.0, help="sgd_step: momentum (0)")
    p.add_argument("--velocity", metavar="MATRIX",
                   help="sgd_step: momentum's buffer from the step before (none: first step)")
    p.add_argument("--eps", type=float, default=1e-5, help="batchnorm: ε (1e-05)")
    p.add_argument("--gamma", type=float, default=1.0, help="batchnorm: γ (1)")
    p.add_argument("--beta", type=float, default=0.0, help="batchnorm: β (0)")
    p.add_argument("--slope", type=float, default=0.01, help="leaky_relu: negative slope (0.01)")
    p.add_argument("--no-bias", action="store_true", help="params: layers without a bias")
    p.add_argument("--exercise", metavar="NAME", help="a worked example of the textbooks")
    p.add_argument("--list", action="store_true", help="list the exercises")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def cmd_lab(args: argparse.Namespace) -> int:
    try:
        if args.list:
            return _list(args.json)
        if args.exercise:
            if args.op or args.input:
                raise CliError("--exercise brings its own op and input: give neither")
            return _show_exercise(check(exercise(args.exercise)), args.json)
        if not args.op:
            raise CliError(f"name an OP ({', '.join(DESCRIPTIONS)}), --exercise NAME or --list")
        if args.input is None:
            raise CliError(f"{args.op} needs --input MATRIX, e.g. --input '[[1,2],[3,4]]'")
        result = compute(args.op, parse_matrix(args.input, "--input"), _options(args))
    except LabError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _print_result(result)
    return 0


def _options(args: argparse.Namespace) -> Options:
    def matrix(text: str | None, name: str) -> Any:
        return None if text is None else parse_matrix(text, name)

    layers = None
    if args.layers is not None:
        try:
            layers = json.loads(args.layers)
        except ValueError:
            raise LabError(f"--layers is not valid JSON: {args.layers[:40]!r}") from None
    return Options(kernel=matrix(args.kernel, "--kernel"), kernel_size=args.kernel_size,
                   stride=args.stride, padding=args.padding, dilation=args.dilation,
                   target=args.target, from_probs=args.probs, lr=args.lr,
                   momentum=args.momentum, velocity=matrix(args.velocity, "--velocity"),
                   grad=matrix(args.grad, "--grad"), eps=args.eps, gamma=args.gamma,
                   beta=args.beta, slope=args.slope, bias=not args.no_bias, layers=layers)


def _print_result(result: LabResult) -> None:
    print(f"{result.op}:")
    for line in _grid(result.output):
        print(f"  {line}")
    print("cell by cell:")
    for cell in result.cells:
        label = f"{cell.label}: " if cell.label else ""
        print(f"  [{', '.join(map(str, cell.index))}] {label}{cell.formula}")
    for note in result.notes:
        print(f"note: {note}")


def _grid(output: Any) -> list[str]:
    rows = output if isinstance(output, list) and output and isinstance(output[0], list) \
        else [output if isinstance(output, list) else [output]]
    texts = [[num(v) for v in row] for row in rows]
    width = max(len(t) for row in texts for t in row)
    return [" ".join(t.rjust(width) for t in row) for row in texts]


def _show_exercise(checked: Checked, as_json: bool) -> int:
    ex = checked.exercise
    if as_json:
        print(json.dumps({**checked.result.to_dict(), "exercise": ex.name, "title": ex.title,
                          "seed": ex.seed, "locator": ex.locator, "seed_answer": ex.answer,
                          "agrees": checked.agrees, "note": ex.note if not checked.agrees
                          else ""}, indent=2))
        return 0
    print(f"{ex.name}: {ex.title}")
    print(f"from {ex.seed}: {ex.locator}")
    _print_result(checked.result)
    print(f"seed's answer:     {json.dumps(ex.answer)}")
    print(f"sandbox's answer:  {json.dumps(checked.result.output)}")
    print(checked.summary())
    return 0


def _list(as_json: bool) -> int:
    found = exercises()
    if as_json:
        print(json.dumps([{"name": e.name, "title": e.title, "op": e.op, "seed": e.seed}
                          for e in found], indent=2))
        return 0
    width = max(len(e.name) for e in found)
    for e in found:
        print(f"{e.name.ljust(width)}  {e.op:<13} {e.title}")
    return 0
