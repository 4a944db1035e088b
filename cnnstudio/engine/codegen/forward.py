"""A box's ``forward`` as source: one statement per unit in a valid order, a chain reusing its
variable (``out = self.bn1(out)``), merges as expressions (``out + x``,
``torch.cat([...], dim=1)``), optional units behind ``if self.unit is not None``, and at the
model's top the training-only outputs behind ``if self.training``."""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from typing import Any

from .args import identifier
from .text import Call, Infix, lines, signature
from .tree import Box, Tree, Unit

TENSOR = "torch.Tensor"
RESERVED = frozenset({"self", "torch", "nn", "features", "OrderedDict"})


def member(path: str, owner: str = "self") -> str:
    """``self.layer1.conv``; parts that are not Python names through ``getattr``."""
    text = owner
    for part in path.split("."):
        if part.isidentifier() and not keyword.iskeyword(part):
            text += f".{part}"
        else:
            text = f'getattr({text}, "{part}")'
    return text


class _Names:
    """Variable names in use; a name is free again once its value is dead."""

    def __init__(self, reserved: set[str]) -> None:
        self.holding: dict[str, tuple] = {}
        self.reserved = reserved

    def fresh(self, base: str, value: tuple) -> str:
        base = identifier(base)
        name, n = base, 1
        while name in self.holding or name in self.reserved or keyword.iskeyword(name):
            n += 1
            name = f"{base}{n}"
        self.holding[name] = value
        return name


class _Writer:
    def __init__(self, tree: Tree, box: Box, optional: dict[str, str],
                 reserved: set[str]) -> None:
        self.tree = tree
        self.box = box
        self.optional = optional
        self.order = list(box.order)
        self.end = len(self.order)
        self.uses: dict[tuple, list[int]] = {}
        self.consumers: dict[tuple, set[str | None]] = {}
        for pos, j in enumerate(self.order):
            for ref in box.units[j].refs:
                self.uses.setdefault(ref, []).append(pos)
                self.consumers.setdefault(ref, set()).add(box.units[j].type)
        for ref in box.outputs:
            self.uses.setdefault(ref, []).append(self.end)
        self.last = {ref: max(p) for ref, p in self.uses.items()}
        self.names = _Names(set(RESERVED) | reserved)
        self.var: dict[tuple, str] = {}

    def params(self) -> list[str]:
        if self.box.variadic:
            return ["*features: torch.Tensor"]
        out = []
        for i in range(len(self.box.inputs)):
            name = self.names.fresh("x" if i == 0 else f"x{i + 1}", ("in", i))
            self.var[("in", i)] = name
            out.append(f"{name}: {TENSOR}")
        return out

    def _release(self, pos: int) -> None:
        for name, value in list(self.names.holding.items()):
            if self.last.get(value, -1) <= pos:
                del self.names.holding[name]

    def _expr(self, unit: Unit, pos: int) -> Any:
        if self.box.variadic and pos == 0:
            dim = self.tree.kwargs(unit.node)["dim"]  # type: ignore[arg-type]
            return Call("torch.cat", ["features"], [("dim", str(dim))])
        args = [self.var[r] for r in unit.refs]
        if unit.type in ("Add", "Mul"):
            return Infix("+" if unit.type == "Add" else "*", args)
        if unit.type == "Concat":
            dim = self.tree.kwargs(unit.node)["dim"]  # type: ignore[arg-type]
            return Call("torch.cat", [Call("", args, open="[", close="]")], [("dim", str(dim))])
        if unit.is_parameter:  # the node is the box's parameter (LayerScale)
            return Infix("*", [member(unit.name), *args])
        return Call(member(unit.name), args)

    def _reused(self, unit: Unit, pos: int, ref: tuple, cond: str | None) -> tuple | None:
        """The input whose variable can take the result: one that dies here."""
        if self.box.variadic and pos == 0:
            return None
        dying = [r for r in unit.refs if self.last.get(r) == pos]
        if cond is not None or not unit.is_op:
            # Without the unit its first input passes on, so only that one can be reused;
            # a branch feeding a concatenation keeps its own name.
            first = unit.refs[0] if unit.refs else None
            if first not in dying:
                return None
            if unit.box is not None and "Concat" in self.consumers.get(ref, set()):
                return None
            return first
        return dying[0] if dying else None

    def statement(self, pos: int) -> Step:
        j = self.order[pos]
        unit = self.box.units[j]
        expr = self._expr(unit, pos)
        if unit.n_out > 1:
            outs = [("u", j, k) for k in range(unit.n_out)]
            self._release(pos)
            for k, ref in enumerate(outs):
                value = unit.box.output_values[k]  # type: ignore[union-attr]
                self.var[ref] = self.names.fresh(value.rpartition(".")[2], ref)
            return Step(", ".join(self.var[r] for r in outs), expr)
        ref = ("u", j, 0)
        cond = self.optional.get(unit.name)
        reuse = self._reused(unit, pos, ref, cond)
        self._release(pos)
        if reuse is not None:
            name = self.var[reuse]
            self.names.holding[name] = ref
        elif self.box.variadic and pos == 0:
            name = self.names.fresh("x", ref)
        else:
            name = self.names.fresh(unit.name if unit.box is not None else "out", ref)
        self.var[ref] = name
        if cond is None:
            return Step(name, expr)
        if reuse is not None:
            return Step(name, expr, cond)
        return Step(name, expr, cond, self.var[unit.refs[0]])


@dataclass
class Step:
    """``target = expr``; with ``cond``, done only if it holds (else ``target = fallback``,
    or nothing when there is no fallback: the target already holds it)."""

    target: str
    expr: Any
    cond: str | None = None
    fallback: str | None = None
    aux: bool = False

    def lines(self, indent: int) -> list[str]:
        if self.cond is None:
            return lines(self.expr, indent, f"{self.target} = ")
        if self.fallback is not None:
            return lines(self.expr, indent, f"{self.target} = ",
                         f" if {self.cond} else {self.fallback}")
        return [f"{' ' * indent}if {self.cond}:",
                *lines(self.expr, indent + 4, f"{self.target} = ")]


def write_forward(tree: Tree, box: Box, *, root: bool, optional: dict[str, str],
                  reserved: set[str], indent: int = 4) -> list[str]:
    """``def forward`` of ``box``; ``optional`` maps an optional unit to the condition under
    which it exists (``self.downsample is not None``, ``self.use_add``)."""
    w = _Writer(tree, box, optional, reserved)
    params = w.params()
    body: list[Step] = []
    for pos, j in enumerate(w.order):
        step = w.statement(pos)
        step.aux = root and box.units[j].aux
        body.append(step)
    aux_flags = list(tree.aux_outputs) if root else [False] * len(box.outputs)
    main = [r for r, aux in zip(box.outputs, aux_flags) if not aux]
    result = ", ".join(w.var[r] for r in main)
    pad = " " * indent
    ret: list[str] = []
    last = body[-1] if body else None
    if last is not None and not last.aux and last.cond is None and last.target == result \
            and len(main) == len(box.outputs) == 1 and w.uses.get(main[0]) == [w.end]:
        body.pop()  # the last step computes the output: return it directly
        ret = lines(last.expr, indent + 4, "return ")
    elif result:
        ret = [f"{pad}    return {result}"]
    hint = TENSOR if len(main) == 1 else f"tuple[{TENSOR}, ...]"
    if len(main) != len(box.outputs):
        hint = f"{TENSOR} | tuple[{TENSOR}, ...]"
    out = signature("def forward", ["self", *params], f" -> {hint}:", indent)
    guarded = False
    for i, step in enumerate(body):
        if step.aux and not guarded:
            out.append(f"{pad}    if self.training:")
        guarded = step.aux
        text = step.lines(indent + (8 if step.aux else 4))
        if i and step.fallback is None and step.cond is not None and step.cond == \
                body[i - 1].cond and body[i - 1].fallback is None:
            text = text[1:]  # under the same ``if`` as the step before
        out.extend(text)
    if len(main) != len(box.outputs):
        out.append(f"{pad}    if self.training:")
        out.append(f"{pad}        return {', '.join(w.var[r] for r in box.outputs)}")
    return out + ret
