"""The ops that work number by number or along a vector: activations, softmax, cross-entropy,
batch normalisation, one SGD step and a layer's parameter count, each output cell with its
formula. Formulas show the textbook form; the values are computed the stable way (softmax
less its maximum), so that large logits do not overflow."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .values import (
    Cell,
    LabError,
    LabResult,
    Number,
    Options,
    build,
    clean,
    flat,
    indices,
    num,
    par,
    register,
    shape_of,
    terms,
)


def _listed(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


def _rows(value: Any) -> list[list[Number]]:
    """A vector as one row, a matrix as its rows."""
    return value if isinstance(value[0], list) else [value]


def _elementwise(op: str, value: Any, fn: Callable[[Number], tuple[Number, str]]
                 ) -> LabResult:
    value = _listed(value)
    shape = shape_of(value)
    cells = []
    for index, x in zip(indices(shape), flat(value)):
        y, formula = fn(x)
        y = clean(y) if isinstance(y, float) else y
        cells.append(Cell(index, y, f"{formula} = {num(y)}"))
    return LabResult(op, build(shape, [c.value for c in cells]), cells)


def _exp(x: Number) -> str:
    return f"e^{par(x)}"


def _sigmoid(x: Number) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


@register("relu", "max(0, x), number by number")
def relu(value: Any, o: Options) -> LabResult:
    return _elementwise("relu", value, lambda x: (max(0, x), f"max(0, {num(x)})"))


@register("leaky_relu", "max(slope·x, x), slope --slope (0.01)")
def leaky_relu(value: Any, o: Options) -> LabResult:
    return _elementwise("leaky_relu", value, lambda x: (
        x if x >= 0 else o.slope * x, f"max({num(o.slope)}·{par(x)}, {num(x)})"))


@register("sigmoid", "1 / (1 + e^-x)")
def sigmoid(value: Any, o: Options) -> LabResult:
    return _elementwise("sigmoid", value, lambda x: (_sigmoid(x), f"1 / (1 + {_exp(-x)})"))


@register("tanh", "(e^x − e^-x) / (e^x + e^-x)")
def tanh(value: Any, o: Options) -> LabResult:
    return _elementwise("tanh", value, lambda x: (
        math.tanh(x), f"({_exp(x)} − {_exp(-x)}) / ({_exp(x)} + {_exp(-x)})"))


@register("gelu", "x·Φ(x) = 0.5·x·(1 + erf(x/√2)), as torch's exact GELU")
def gelu(value: Any, o: Options) -> LabResult:
    return _elementwise("gelu", value, lambda x: (
        0.5 * x * (1 + math.erf(x / math.sqrt(2))), f"0.5·{par(x)}·(1 + erf({par(x)}/√2))"))


@register("silu", "x·sigmoid(x) (Swish)")
def silu(value: Any, o: Options) -> LabResult:
    return _elementwise("silu", value, lambda x: (x * _sigmoid(x), f"{par(x)} / (1 + {_exp(-x)})"))


def _softmax(row: list[Number]) -> list[float]:
    top = max(row)
    exps = [math.exp(x - top) for x in row]
    return [e / sum(exps) for e in exps]


@register("softmax", "e^xi / Σ e^xj over a vector (over each row of a matrix)")
def softmax(value: Any, o: Options) -> LabResult:
    value = _listed(value)
    cells, output = [], []
    for r, row in enumerate(_rows(value)):
        denominator = terms([_exp(x) for x in row])
        probs = [clean(p) for p in _softmax(row)]
        for c, (x, p) in enumerate(zip(row, probs)):
            index = (r, c) if isinstance(value[0], list) else (c,)
            cells.append(Cell(index, p, f"{_exp(x)} / ({denominator}) = {num(p)}"))
        output.append(probs)
    return LabResult("softmax", output if isinstance(value[0], list) else output[0], cells)


@register("cross_entropy", "−log of the --target class's probability: softmax of logits, "
          "or --probs")
def cross_entropy(value: Any, o: Options) -> LabResult:
    row = _listed(value)
    if isinstance(row[0], list):
        raise LabError("cross_entropy takes one vector (the logits, or with --probs the "
                       "probabilities)")
    t = o.target
    if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < len(row):
        raise LabError(f"--target must be a class index from 0 to {len(row) - 1}, not {t!r}")
    notes = []
    if o.from_probs:
        if any(p <= 0 or p > 1 for p in row):
            raise LabError("--probs: each probability must be above 0 and at most 1")
        if abs(sum(row) - 1) > 1e-6:
            notes.append(f"the probabilities sum to {num(clean(sum(row)))}, not 1")
        loss = clean(-math.log(row[t]))
        one_hot = terms([f"{int(i == t)}·log({num(p)})" for i, p in enumerate(row)])
        formula = f"-({one_hot}) = -log({num(row[t])}) = {num(loss)}"
    else:
        top = max(row)
        loss = clean(-(row[t] - top) + math.log(sum(math.exp(x - top) for x in row)))
        denominator = terms([_exp(x) for x in row])
        formula = f"-log({_exp(row[t])} / ({denominator})) = {num(loss)}"
    return LabResult("cross_entropy", [loss], [Cell((0,), loss, formula)], notes)


@register("batchnorm", "(x − μ)/√(σ² + ε)·γ + β over a batch: a vector, or each column")
def batchnorm(value: Any, o: Options) -> LabResult:
    value = _listed(value)
    matrix = isinstance(value[0], list)
    rows = value if matrix else [[x] for x in value]
    n, width = len(rows), len(rows[0])
    if n < 2:
        raise LabError("batchnorm needs at least two values per feature (a batch)")
    out = [[0.0] * width for _ in range(n)]
    cells, notes = [], []
    for c in range(width):
        xs = [row[c] for row in rows]
        mean = sum(xs) / n
        var = sum((x - mean) ** 2 for x in xs) / n  # biased, as torch normalises
        where = f"column {c}: " if matrix else ""
        notes.append(f"{where}μ = ({terms([num(x) for x in xs])}) / {n} = {num(clean(mean))}; "
                     f"σ² = ({terms([f'({num(x)} − {num(clean(mean))})²' for x in xs])}) / "
                     f"{n} = {num(clean(var))}")
        for r, x in enumerate(xs):
            y = clean(o.gamma * (x - mean) / math.sqrt(var + o.eps) + o.beta)
            out[r][c] = y
            formula = (f"{num(o.gamma)}·({num(x)} − {num(clean(mean))}) / √({num(clean(var))} "
                       f"+ {num(o.eps)}) + {num(o.beta)} = {num(y)}")
            cells.append(Cell((r, c) if matrix else (r,), y, formula))
    if matrix:
        cells.sort(key=lambda cell: cell.index)
    return LabResult("batchnorm", out if matrix else [row[0] for row in out], cells, notes)


@register("sgd_step", "one SGD step w − lr·g of the weights in --input, with --grad "
          "(and --momentum, --velocity)")
def sgd_step(value: Any, o: Options) -> LabResult:
    w = _listed(value)
    if o.grad is None:
        raise LabError("sgd_step needs --grad (the gradient, shaped as --input)")
    g = _listed(o.grad)
    if shape_of(g) != shape_of(w):
        raise LabError(f"--grad has shape {list(shape_of(g))}, --input {list(shape_of(w))}")
    v = None if o.velocity is None else _listed(o.velocity)
    if v is not None and shape_of(v) != shape_of(w):
        raise LabError(f"--velocity has shape {list(shape_of(v))}, --input "
                       f"{list(shape_of(w))}")
    if v is not None and not o.momentum:
        raise LabError("--velocity needs --momentum (the velocity is momentum's buffer)")
    shape = shape_of(w)
    cells, velocities = [], []
    for i, (x, grad) in enumerate(zip(flat(w), flat(g))):
        step, prefix = grad, ""
        if o.momentum:
            if v is None:  # torch's first step: the buffer is the gradient itself
                prefix = f"v = g = {num(grad)} (first step); "
            else:
                old = flat(v)[i]
                step = clean(o.momentum * old + grad)
                prefix = f"v = {num(o.momentum)}·{par(old)} + {par(grad)} = {num(step)}; "
            velocities.append(step)
        new = clean(x - o.lr * step)
        cells.append(Cell(indices(shape)[i], new,
                          f"{prefix}{num(x)} − {num(o.lr)}·{par(step)} = {num(new)}"))
    notes = [f"the velocity for the next step (--velocity): "
             f"{build(shape, velocities)}"] if velocities else []
    return LabResult("sgd_step", build(shape, [c.value for c in cells]), cells, notes)


@register("params", "parameter count of layers: [kh, kw, c_in, c_out] (conv), [in, out] "
          "(linear) or [C] (batch norm), one row each; --no-bias")
def params(value: Any, o: Options) -> LabResult:
    rows = _rows(_listed(value))
    cells = []
    for n, row in enumerate(rows):
        if any(isinstance(x, float) and x != int(x) or x < 1 for x in row):
            raise LabError(f"row {n + 1}: sizes are positive integers")
        row = [int(x) for x in row]
        product = math.prod(row)
        if len(row) == 4:
            label, count = "conv", product + (row[3] if o.bias else 0)
            formula = (f"({'·'.join(map(str, row[:3]))} + 1)·{row[3]}" if o.bias
                       else "·".join(map(str, row)))
        elif len(row) == 2:
            label, count = "linear", product + (row[1] if o.bias else 0)
            formula = f"({row[0]} + 1)·{row[1]}" if o.bias else f"{row[0]}·{row[1]}"
        elif len(row) == 1:
            label, count, formula = "batch norm", 2 * row[0], f"2·{row[0]} (γ and β)"
        else:
            raise LabError(f"row {n + 1}: [kh, kw, c_in, c_out], [in, out] or [C], not "
                           f"{len(row)} numbers")
        cells.append(Cell((n,), count, f"{formula} = {count}", label=label))
    if len(cells) > 1:
        total = sum(c.value for c in cells)
        cells.append(Cell((len(cells),), total,
                          f"{' + '.join(str(c.value) for c in cells)} = {total}",
                          label="total"))
    return LabResult("params", [c.value for c in cells], cells)
