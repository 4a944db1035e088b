"""Python text for the code generator: literals, and expressions laid out within the line
length the way a person would wrap them (one item a line, nested calls hugged)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WIDTH = 100


def literal(value: Any) -> str:
    """A constructor argument as source (strings double-quoted, tuples as tuples)."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        items = ", ".join(literal(v) for v in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    raise TypeError(f"cannot write {value!r} as a literal")


@dataclass
class Call:
    """``func(args..., key=value...)``; ``open``/``close`` make lists and tuples, and with
    ``assign=": "`` dicts."""

    func: str
    args: list[Any] = field(default_factory=list)
    kwargs: list[tuple[str, Any]] = field(default_factory=list)
    open: str = "("
    close: str = ")"
    assign: str = "="

    def items(self) -> list[tuple[str, Any]]:
        return [("", a) for a in self.args] + [(f"{k}{self.assign}", v) for k, v in self.kwargs]


@dataclass
class Infix:
    """``a + b + c``: operands joined by an operator, wrapped in parentheses when long."""

    op: str
    items: list[str]


@dataclass
class Repeat:
    """``*(expr for _ in range(n))``: n equal modules in a sequence."""

    expr: Any
    n: int


def flat(expr: Any) -> str:
    if isinstance(expr, str):
        return expr
    if isinstance(expr, Repeat):
        return f"*({flat(expr.expr)} for _ in range({expr.n}))"
    if isinstance(expr, Infix):
        return f" {expr.op} ".join(expr.items)
    inner = ", ".join(k + flat(v) for k, v in expr.items())
    if expr.open == "(" and not expr.func and len(expr.args) == 1 and not expr.kwargs:
        inner += ","  # a one-item tuple
    return f"{expr.func}{expr.open}{inner}{expr.close}"


def lines(expr: Any, indent: int, head: str = "", tail: str = "") -> list[str]:
    """``head + expr + tail`` at ``indent``, wrapped where it does not fit."""
    pad = " " * indent
    one = f"{pad}{head}{flat(expr)}{tail}"
    if len(one) <= WIDTH or isinstance(expr, str):
        return [one]
    if isinstance(expr, Infix):
        rest = [f"{pad}    {expr.op} {item}" for item in expr.items[1:]]
        return [f"{pad}{head}(", f"{pad}    {expr.items[0]}", *rest, f"{pad}){tail}"]
    if isinstance(expr, Repeat):
        return [f"{pad}{head}*(", *lines(expr.expr, indent + 4),
                f"{pad}    for _ in range({expr.n})", f"{pad}){tail}"]
    items = expr.items()
    inner = items[0][1] if len(items) == 1 and not items[0][0] else None
    if isinstance(inner, Call) and any(not isinstance(v, str) for _, v in inner.items()):
        # nn.Sequential(OrderedDict(...)): one level of indentation for both
        return lines(inner, indent, f"{head}{expr.func}{expr.open}", f"{expr.close}{tail}")
    if all(isinstance(v, str) for _, v in items):
        packed = f"{pad}    " + ", ".join(k + v for k, v in items)
        if len(packed) <= WIDTH:
            return [f"{pad}{head}{expr.func}{expr.open}", packed, f"{pad}{expr.close}{tail}"]
    out = [f"{pad}{head}{expr.func}{expr.open}"]
    for key, value in items:
        out.extend(lines(value, indent + 4, key, ","))
    out.append(f"{pad}{expr.close}{tail}")
    return out


def compress(items: list[Any]) -> list[Any]:
    """Runs of three or more equal items as one ``Repeat``."""
    out: list[Any] = []
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[i]:
            j += 1
        n = j - i + 1
        out.append(Repeat(items[i], n) if n >= 3 else items[i])
        if n < 3:
            out.extend(items[i + 1:j + 1])
        i = j + 1
    return out


def signature(head: str, params: list[str], tail: str, indent: int) -> list[str]:
    """``def name(params) -> T:`` packed onto as few lines as the width allows."""
    pad = " " * indent
    one = f"{pad}{head}({', '.join(params)}){tail}"
    if len(one) <= WIDTH:
        return [one]
    out, line = [], f"{pad}{head}("
    cont = " " * (indent + 8)
    for i, p in enumerate(params):
        piece = p + (", " if i < len(params) - 1 else f"){tail}")
        if len(line) + len(piece.rstrip()) > WIDTH and line.strip():
            out.append(line.rstrip())
            line = cont
        line += piece
    out.append(line)
    return out
