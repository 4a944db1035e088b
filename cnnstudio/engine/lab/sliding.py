"""The ops that slide a window over a matrix (convolution, max and average pooling, global
average pooling) and the output-size arithmetic they obey, (W − F + 2P)/S + 1, each output
cell with the input cells it came from. Convolution is cross-correlation, as in torch."""

from __future__ import annotations

from typing import Any

from .values import Cell, LabError, LabResult, Number, Options, clean, num, par, register, terms

Index = tuple[int, int]


def _matrix(value: Any, op: str, name: str = "the input") -> list[list[Number]]:
    if not (isinstance(value, list) and value and isinstance(value[0], list)):
        raise LabError(f"{op} needs {name} as a matrix (rows of numbers), e.g. [[1,2],[3,4]]")
    return value


def _positive(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LabError(f"{name} must be a positive integer, not {value!r}")
    return value


def out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """torch's floor rule; the caller has checked that the kernel fits."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _geometry(shape: tuple[int, int], kernel: tuple[int, int], o: Options, op: str,
              stride: int) -> tuple[int, int]:
    _positive(stride, "the stride")
    _positive(o.dilation, "the dilation")
    if isinstance(o.padding, bool) or not isinstance(o.padding, int) or o.padding < 0:
        raise LabError(f"the padding must be 0 or more, not {o.padding!r}")
    rows, cols = (out_size(n, k, stride, o.padding, o.dilation) for n, k in zip(shape, kernel))
    if rows < 1 or cols < 1:
        reach = "×".join(str(o.dilation * (k - 1) + 1) for k in kernel)
        dilated = f" (dilated to {reach})" if o.dilation > 1 else ""
        raise LabError(f"the {kernel[0]}×{kernel[1]} {op} window{dilated} does not fit the "
                       f"{shape[0]}×{shape[1]} input with padding {o.padding}")
    return rows, cols


def _window(i: int, j: int, kernel: tuple[int, int], stride: int, o: Options
            ) -> list[Index]:
    """The input positions under output cell (i, j), padding included (outside the input)."""
    return [(i * stride - o.padding + a * o.dilation, j * stride - o.padding + b * o.dilation)
            for a in range(kernel[0]) for b in range(kernel[1])]


def _slide(x: list[list[Number]], kernel: tuple[int, int], stride: int, o: Options, op: str,
           cell: Any) -> LabResult:
    """Runs ``cell(values, positions)`` at every window; ``values`` is None at padding."""
    shape = (len(x), len(x[0]))
    rows, cols = _geometry(shape, kernel, o, op, stride)
    cells = []
    for i in range(rows):
        for j in range(cols):
            where = _window(i, j, kernel, stride, o)
            inside = [0 <= r < shape[0] and 0 <= c < shape[1] for r, c in where]
            values = [x[r][c] if ok else None for (r, c), ok in zip(where, inside)]
            value, formula = cell(values)
            cells.append(Cell((i, j), value, formula,
                              tuple(p for p, ok in zip(where, inside) if ok)))
    output = [[cells[i * cols + j].value for j in range(cols)] for i in range(rows)]
    notes = _unseen(shape, kernel, stride, o)
    return LabResult(op, output, cells, notes)


def _unseen(shape: tuple[int, int], kernel: tuple[int, int], stride: int, o: Options
            ) -> list[str]:
    notes = []
    for axis, n, k in (("rows", shape[0], kernel[0]), ("columns", shape[1], kernel[1])):
        left = (n + 2 * o.padding - o.dilation * (k - 1) - 1) % stride
        if left:
            notes.append(f"({n} − {o.dilation * (k - 1) + 1} + 2·{o.padding}) is not a "
                         f"multiple of the stride {stride}: the last {left} {axis} of the "
                         "padded input are never seen")
    return notes


def _pool_size(o: Options) -> tuple[int, int]:
    k = _positive(2 if o.kernel_size is None else o.kernel_size, "--kernel-size")
    if o.padding > k // 2:
        raise LabError(f"the padding ({o.padding}) must be at most half the pooling window "
                       f"({k}), as in torch")
    return k, k


@register("conv", "2-D convolution (cross-correlation, as in torch) of --input by --kernel")
def conv(value: Any, o: Options) -> LabResult:
    x = _matrix(value, "conv")
    if o.kernel is None:
        raise LabError("conv needs --kernel, e.g. [[-1,0,1],[-1,0,1],[-1,0,1]]")
    w = _matrix(o.kernel, "conv", "the kernel")
    flat_w = [v for row in w for v in row]

    def cell(values: list[Number | None]) -> tuple[Number, str]:
        xs = [0 if v is None else v for v in values]
        total = sum(a * b for a, b in zip(xs, flat_w))
        total = clean(total) if isinstance(total, float) else total
        parts = [f"{par(a)}·{par(b)}" for a, b in zip(xs, flat_w)]
        return total, f"{terms(parts)} = {num(total)}"

    return _slide(x, (len(w), len(w[0])), 1 if o.stride is None else o.stride, o, "conv",
                  cell)


@register("maxpool", "max pooling, window --kernel-size (2), stride the window's size")
def maxpool(value: Any, o: Options) -> LabResult:
    x = _matrix(value, "maxpool")
    k = _pool_size(o)

    def cell(values: list[Number | None]) -> tuple[Number, str]:
        seen = [v for v in values if v is not None]
        best = max(seen)
        return best, f"max({terms([num(v) for v in seen], ', ')}) = {num(best)}"

    return _slide(x, k, k[0] if o.stride is None else o.stride, o, "maxpool", cell)


@register("avgpool", "average pooling, window --kernel-size (2), stride the window's size")
def avgpool(value: Any, o: Options) -> LabResult:
    x = _matrix(value, "avgpool")
    k = _pool_size(o)
    if o.dilation != 1:
        raise LabError("avgpool has no dilation (torch's avg_pool2d neither)")

    def cell(values: list[Number | None]) -> tuple[Number, str]:
        xs = [0 if v is None else v for v in values]  # padding counts, as torch's default
        mean = clean(sum(xs) / len(xs))
        return mean, f"({terms([num(v) for v in xs])}) / {len(xs)} = {num(mean)}"

    return _slide(x, k, k[0] if o.stride is None else o.stride, o, "avgpool", cell)


@register("gap", "global average pooling: the mean of the whole matrix")
def gap(value: Any, o: Options) -> LabResult:
    x = _matrix(value, "gap")
    xs = [v for row in x for v in row]
    mean = clean(sum(xs) / len(xs))
    where = tuple((r, c) for r in range(len(x)) for c in range(len(x[0])))
    formula = f"({terms([num(v) for v in xs])}) / {len(xs)} = {num(mean)}"
    return LabResult("gap", [[mean]], [Cell((0, 0), mean, formula, where)])


def _layers(o: Options) -> list[dict[str, Any]]:
    if o.layers is not None:
        if not isinstance(o.layers, list) or not o.layers:
            raise LabError("--layers takes a list of [kernel, stride, padding] or objects")
        return [_layer(item, n) for n, item in enumerate(o.layers, start=1)]
    if o.kernel_size is None:
        raise LabError("outsize needs --kernel-size (and --stride, --padding) or --layers")
    return [{"name": "", "kernel_size": o.kernel_size, "stride": o.stride or 1,
             "padding": o.padding, "dilation": o.dilation}]


def _layer(item: Any, n: int) -> dict[str, Any]:
    if isinstance(item, list) and 1 <= len(item) <= 4:
        item = dict(zip(("kernel_size", "stride", "padding", "dilation"), item))
    if not isinstance(item, dict) or "kernel_size" not in item:
        raise LabError(f"layer {n}: expected [kernel, stride, padding] or an object with "
                       "kernel_size")
    layer = {"name": item.get("name", ""), "kernel_size": item["kernel_size"],
             "stride": item.get("stride", 1), "padding": item.get("padding", 0),
             "dilation": item.get("dilation", 1)}
    for key in ("kernel_size", "stride", "dilation"):
        _positive(layer[key], f"layer {n}: {key}")
    if not isinstance(layer["padding"], int) or layer["padding"] < 0:
        raise LabError(f"layer {n}: the padding must be 0 or more")
    return layer


@register("outsize", "output size (W − F + 2P)/S + 1 of a layer, or of --layers in a row")
def outsize(value: Any, o: Options) -> LabResult:
    size = value[0] if isinstance(value, list) and len(value) == 1 else value
    if isinstance(size, float) and size == int(size):
        size = int(size)
    if not isinstance(size, int) or size < 1:
        raise LabError("outsize takes the input size W as one positive integer, e.g. 224")
    cells, notes, output = [], [], []
    layers = _layers(o)
    for n, layer in enumerate(layers):
        k, s, p, d = (layer[key] for key in ("kernel_size", "stride", "padding", "dilation"))
        f = d * (k - 1) + 1
        new = out_size(size, k, s, p, d)
        name = layer["name"] or (f"layer {n + 1}" if len(layers) > 1 else "the layer")
        if new < 1:
            raise LabError(f"{name}: the {f}-wide window does not fit {size} with padding {p}")
        top = size - f + 2 * p
        exact = top % s == 0
        kernel = f"{f}" if d == 1 else f"({d}·({k} − 1) + 1)"
        division = f"{top} / {s}" if exact else f"⌊{top} / {s}⌋"
        formula = (f"({size} − {kernel} + 2·{p}) / {s} + 1 = {division} + 1 = {new}")
        if not exact:
            notes.append(f"{name}: {top} / {s} = {num(top / s)} is rounded down: the last "
                         f"{top % s} row(s)/column(s) of the padded input are never seen")
        cells.append(Cell((n,), new, formula, label=layer["name"]))
        output.append(new)
        size = new
    return LabResult("outsize", output, cells, notes)
