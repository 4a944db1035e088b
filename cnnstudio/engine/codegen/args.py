"""A class's constructor arguments: every number that differs between the instances of a block
(channels, stride, a dropout rate) becomes an argument, one per distinct series of values, so
``conv1.in_channels`` and ``downsample.0.in_channels`` share ``in_channels``; an optional unit
becomes a flag. Numbers every instance shares are written as literals."""

from __future__ import annotations

import keyword
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .blocks import MISSING, Group, dense_signature
from .tree import Box, Tree

CHANNELS = frozenset({"in_channels", "out_channels", "num_features", "in_features",
                      "out_features", "num_channels", "num_parameters"})
"""Sizes that follow the data's width: they share arguments with each other."""

FLAG = "<flag>"
"""The argument slot of an optional unit: (unit name, FLAG)."""


@dataclass(eq=False)
class Arg:
    name: str
    kind: str
    """"channels", "value" or "flag"."""
    key: str
    """What it sets: the keyword (``stride``), "channels", or the flag (``downsample``)."""
    values: list[Any]
    """Per instance (MISSING where its unit is absent)."""
    first: tuple
    """The first slot that uses it: (unit path, keyword)."""
    default: Any = MISSING

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def hint(self) -> str:
        types = []
        for v in self.values:
            t = _type_name(v)
            if t not in types:
                types.append(t)
        if "float" in types and "int" in types:
            types.remove("int")
        if "None" in types or self.default is None:
            types = [t for t in types if t != "None"] + ["None"]
        return " | ".join(types)


def _type_name(v: Any) -> str:
    if v is MISSING or v is None:
        return "None"
    if isinstance(v, tuple):
        return "tuple"
    return type(v).__name__


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type (1, 1.0 and True are three different arguments)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def slot_values(tree: Tree, groups: dict[Box, Group], box: Box,
                prefix: str = "") -> dict[tuple, tuple[Any, str, str]]:
    """(unit path, keyword) → (value, kind, key) for every number the box's constructor
    sets, inline children included, in registration order."""
    out: dict[tuple, tuple[Any, str, str]] = {}
    for unit in box.units:
        path = prefix + unit.name
        if unit.box is None:
            if unit.type == "Concat":
                out[(path, "dim")] = (tree.kwargs(unit.node)["dim"], "value", "dim")  # type: ignore[arg-type]
            elif not unit.is_op:
                for k, v in tree.kwargs(unit.node).items():  # type: ignore[arg-type]
                    kind = "channels" if k in CHANNELS else "value"
                    out[(path, k)] = (v, kind, "channels" if kind == "channels" else k)
            continue
        child = groups[unit.box]
        if child.mode == "inline":
            out.update(slot_values(tree, groups, unit.box, path + "."))
            continue
        values = child.binding[unit.box]
        for arg in child.args:
            key = "channels" if arg.kind == "channels" else arg.name
            out[(path, arg.name)] = (values[arg.name], arg.kind, key)
    return out


def assign_args(tree: Tree, groups: dict[Box, Group]) -> None:
    """Fill every class group's ``args``, ``slots`` and ``binding``, children first. Dense
    blocks of any length become one loop class where their layers' arguments allow."""
    done: set[int] = set()

    def visit(group: Group) -> None:
        if id(group) in done:
            return
        done.add(id(group))
        for box in group.instances:
            for unit in box.units:
                if unit.box is not None:
                    visit(groups[unit.box])
        if group.mode == "class":
            merged = _loop(tree, groups, group)
            if merged:
                done.update(id(g) for g in merged)
                return
        if group.mode in ("class", "sequential"):
            _assign(tree, groups, group)

    for group in list(groups.values()):
        visit(group)


def _loop(tree: Tree, groups: dict[Box, Group], group: Group) -> list[Group]:
    """Merge the dense blocks like ``group`` into one "loop" group, when in every block each
    argument of the layers is constant or grows by a constant step; the groups merged."""
    sig = dense_signature(tree, group.template, groups)
    if sig is None:
        return []
    members = [g for g in dict.fromkeys(groups.values()) if g.mode == "class"
               and all(dense_signature(tree, b, groups) == sig for b in g.instances)]
    boxes = [b for g in members for b in g.instances]
    child = groups[boxes[0].units[0].box]  # type: ignore[index]
    series: dict[tuple, list[Any]] = {("", "num_layers"): [len(b.units) - 1 for b in boxes]}
    for arg in child.args:
        starts, steps = [], []
        for box in boxes:
            vs = [child.binding[u.box][arg.name] for u in box.units[:-1]]  # type: ignore[index]
            step = _step(vs)
            if step is MISSING:
                return []
            starts.append(vs[0])
            steps.append(step)
        known = [d for d in steps if d is not None]
        series[("*", arg.name)] = starts
        series[("*step", arg.name)] = [known[0] if d is None else d for d in steps] \
            if known else [0] * len(boxes)
    merged = Group(("loop", sig), boxes, max(boxes, key=lambda b: len(b.units)), mode="loop",
                   loop=sig)
    args: list[Arg] = []
    for slot, vals in series.items():
        if all(same(v, vals[0]) for v in vals):
            merged.slots[slot] = vals[0]
            continue
        kind = next((a.kind for a in child.args if a.name == slot[1]), "value")
        name = slot[1] if slot[0] != "*step" else f"{slot[1]}_step"
        args.append(Arg(name, kind, name, vals, slot))
        merged.slots[slot] = args[-1]
    for arg in args:
        arg.default = _default(arg)
    merged.args = _ordered(args)
    for i, box in enumerate(boxes):
        merged.binding[box] = {a.name: a.values[i] for a in args}
        groups[box] = merged
    return members


def _step(values: list[Any]) -> Any:
    """The constant step of an integer series (None for one value, 0 for equal values);
    MISSING when the values are not an arithmetic series."""
    if all(same(v, values[0]) for v in values):
        return 0 if len(values) > 1 else None
    if not all(type(v) is int for v in values):
        return MISSING
    step = values[1] - values[0]
    ok = all(v == values[0] + i * step for i, v in enumerate(values))
    return step if ok else MISSING


def _assign(tree: Tree, groups: dict[Box, Group], group: Group) -> None:
    per_box = [slot_values(tree, groups, b) for b in group.instances]
    slots = dict.fromkeys(slot_values(tree, groups, group.template))
    for name in group.optional:
        slots[(name, FLAG)] = None
    args: list[Arg] = []
    for slot in slots:
        if slot[1] == FLAG:
            vals = [any(u.name == slot[0] for u in b.units) for b in group.instances]
            unit = next(u for u in group.template.units if u.name == slot[0])
            kind, key = "flag", flag_name(slot[0], unit.is_op)
        else:
            vals = [p[slot][0] if slot in p else MISSING for p in per_box]
            kind, key = next(p[slot][1:] for p in per_box if slot in p)
        defined = [v for v in vals if v is not MISSING]
        if kind != "flag" and all(same(v, defined[0]) for v in defined):
            group.slots[slot] = defined[0]
            continue
        found = next((a for a in args if _fits(a, kind, key, vals)), None)
        if found is None:
            found = Arg("", kind, key, vals, slot)
            args.append(found)
        group.slots[slot] = found
    _name_args(tree, group, args)
    for arg in args:
        arg.default = _default(arg)
    group.args = _ordered(args)
    for i, box in enumerate(group.instances):
        group.binding[box] = {a.name: a.values[i] for a in args}


def _ordered(args: list[Arg]) -> list[Arg]:
    """Channels first (in, out, the others), then other required ones, then defaulted."""
    rank = {"in_channels": 0, "out_channels": 1}
    channels = sorted((a for a in args if a.required and a.kind == "channels"),
                      key=lambda a: rank.get(a.name, 2))
    return (channels + [a for a in args if a.required and a.kind != "channels"]
            + [a for a in args if not a.required])


def _fits(arg: Arg, kind: str, key: str, vals: list[Any]) -> bool:
    """The slot can use ``arg``: the same kind of number, equal wherever the slot is set."""
    if kind == "flag" or arg.kind == "flag":
        return kind == arg.kind and vals == arg.values
    if not (arg.key == key or (arg.kind == "channels" and key in ("channels", "groups"))):
        return False
    return all(v is MISSING or (w is not MISSING and same(v, w))
               for v, w in zip(vals, arg.values))


def _default(arg: Arg) -> Any:
    defined = [v for v in arg.values if v is not MISSING]
    if arg.kind == "flag":
        return defined.count(True) > defined.count(False)
    if len(defined) < len(arg.values):
        return None  # only some instances have the unit that uses it
    if arg.kind == "channels":
        return MISSING
    counts: list[tuple[Any, int]] = []
    for v in defined:
        for i, (w, n) in enumerate(counts):
            if same(v, w):
                counts[i] = (w, n + 1)
                break
        else:
            counts.append((v, 1))
    best, n = max(counts, key=lambda c: c[1])
    return best if n >= 2 else MISSING


def _channels_of(tree: Tree, values: list[str], total: bool) -> int | None:
    shapes = [tree.shape(v) for v in values]
    if not shapes or any(not s for s in shapes) or (len(shapes) > 1 and not total):
        return None
    return sum(s[0] for s in shapes)


def _name_args(tree: Tree, group: Group, args: list[Arg]) -> None:
    ins = [_channels_of(tree, b.inputs, b.variadic) for b in group.instances]
    outs = [_channels_of(tree, b.output_values, False) for b in group.instances]
    taken: set[str] = set()
    channel_others = []
    for arg in args:
        if arg.kind != "channels":
            continue
        if "in_channels" not in taken and arg.values == ins:
            arg.name = "in_channels"
        elif "out_channels" not in taken and arg.values == outs:
            arg.name = "out_channels"
        else:
            channel_others.append(arg)
            continue
        taken.add(arg.name)
    for arg in channel_others:
        path, base = arg.first
        base = re.sub(r"^(in|out)_", "", base) if base not in CHANNELS else "channels"
        arg.name = "mid_channels" if len(channel_others) == 1 else f"{identifier(path)}_{base}"
    rest = [a for a in args if a.kind != "channels"]
    bases = Counter(a.key for a in rest)
    for arg in rest:
        base = arg.key
        arg.name = base if bases[base] == 1 else f"{identifier(arg.first[0])}_{base}"
    used: set[str] = set()
    for arg in args:
        name = arg.name
        n = 1
        while name in used or keyword.iskeyword(name) or name == "self":
            n += 1
            name = f"{arg.name}{n}"
        arg.name = name
        used.add(name)


def flag_name(unit: str, is_op: bool) -> str:
    return f"use_{identifier(unit)}" if is_op else identifier(unit)


def identifier(path: str) -> str:
    """A Python name made from a module path (``branch2.0`` → ``branch2_0``)."""
    name = re.sub(r"\W", "_", path)
    return f"layer{name}" if name[:1].isdigit() else name
