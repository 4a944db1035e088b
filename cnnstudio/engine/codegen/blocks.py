"""Finding the repeated blocks: boxes with the same structure (unit names, layer types, wiring)
share one class, whatever their channels or strides; a box that equals another with some named
units removed (a ResNet block without ``downsample``, an inverted residual without its skip)
joins that class with those units made optional, as torchvision writes them."""

from __future__ import annotations

import keyword
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .tree import Box, Tree, Unit

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
"""An argument an instance does not have (its optional unit is absent)."""


@dataclass(eq=False)
class Group:
    """The boxes written by one class, or inline (``nn.Sequential(...)`` in the parent)."""

    key: tuple
    instances: list[Box]
    template: Box
    """The instance with every unit (the others may lack the optional ones)."""
    optional: list[str] = field(default_factory=list)
    mode: str = "class"
    """"class" (an nn.Module), "sequential" (an nn.Sequential subclass), "loop" (a dense
    block whose layers a loop makes) or "inline"."""
    loop: tuple = ()
    """A loop's (layer group, name prefix, first number, concatenation dim)."""
    name: str = ""
    args: list[Any] = field(default_factory=list)
    """The constructor's arguments (codegen_args.Arg), required ones first."""
    slots: dict[tuple, Any] = field(default_factory=dict)
    """(unit path, argument) → the Arg, or the value every instance shares."""
    binding: dict[Box, dict[str, Any]] = field(default_factory=dict)
    """Each instance's argument values."""


# -- structure keys ----------------------------------------------------------------------------
def _rk(box: Box, ref: tuple) -> tuple:
    if ref[0] == "in":
        return ("in", "*") if box.variadic else ref
    return ("u", box.units[ref[1]].name, ref[2])


def _kind(tree: Tree, unit: Unit, label: dict[Box, int]) -> tuple:
    if unit.box is not None:
        return ("box", label[unit.box])
    if unit.type == "Concat":
        return ("op", "Concat", tree.kwargs(unit.node)["dim"])  # type: ignore[arg-type]
    if unit.is_op:
        return ("op", unit.type)
    return ("leaf", unit.type)


def box_key(tree: Tree, box: Box, label: dict[Box, int]) -> tuple:
    arity = "*" if box.variadic else len(box.inputs)
    dense = _dense_concat(box)
    units = tuple((u.name, _kind(tree, u, label), u.live,
                   (("in", "*"),) if u.name == dense else tuple(_rk(box, r) for r in u.refs),
                   u.n_out) for u in box.units)
    return (arity, units, tuple(_rk(box, r) for r in box.outputs), tuple(box.holders))


def droppable(name: str) -> bool:
    """Units an instance may lack: named ones (``downsample``), never a numbered layer of a
    sequence, so the class can test ``self.<name> is not None``."""
    return name.isidentifier() and not keyword.iskeyword(name)


def reduce_key(key: tuple, drop: set[str]) -> tuple | None:
    """``key`` with the units ``drop`` removed, each passing its first input on; None where a
    unit cannot be removed that way."""
    arity, units, outs, holders = key
    if holders:
        return None
    repl: dict[str, tuple] = {}
    for name, kind, live, refs, n_out in units:
        if name not in drop:
            continue
        if not droppable(name) or not live:
            return None
        if kind[:2] == ("op", "Concat") and refs == (("in", "*"),):
            repl[name] = ("in", 0)  # a dense layer's concatenation of a single input
            arity = 1
        elif not refs or n_out != 1:
            return None
        else:
            repl[name] = refs[0]

    def sub(ref: tuple) -> tuple | None:
        seen = 0
        while ref[0] == "u" and ref[1] in repl:
            if ref[2] != 0 or seen > len(repl):
                return None
            ref, seen = repl[ref[1]], seen + 1
        return ref

    kept = []
    for name, kind, live, refs, n_out in units:
        if name in drop:
            continue
        new = tuple(sub(r) for r in refs)
        if None in new:
            return None
        kept.append((name, kind, live, new, n_out))
    new_outs = tuple(sub(r) for r in outs)
    if None in new_outs:
        return None
    return (arity, tuple(kept), new_outs, holders)


def _names(key: tuple) -> list[str]:
    return [u[0] for u in key[1]]


def _reducible(big: tuple, small: tuple) -> bool:
    big_names, small_names = _names(big), _names(small)
    if len(big_names) <= len(small_names) or not set(small_names) <= set(big_names):
        return False
    return reduce_key(big, set(big_names) - set(small_names)) == small


def _merge_targets(keys: list[tuple]) -> dict[tuple, tuple]:
    """For each key that is a reduced form of one larger structure, that structure."""
    target: dict[tuple, tuple] = {}
    for small in keys:
        cands = [big for big in keys if big is not small and _reducible(big, small)]
        if not cands:
            continue
        top = max(cands, key=lambda k: len(k[1]))
        if all(c is top or _reducible(top, c) for c in cands):
            target[small] = top
    return {small: big for small, big in target.items() if big not in target}


def find_groups(tree: Tree) -> dict[Box, Group]:
    """Group the boxes (all but the root) by structure, up to optional units."""
    boxes = post_order(tree.root)
    label: dict[Box, int] = {}
    partition: tuple = ()
    keys: dict[Box, tuple] = {}
    targets: dict[tuple, tuple] = {}
    for _ in range(16):  # child labels change when children merge: repeat until stable
        keys, interned = {}, {}
        fresh: dict[Box, int] = {}
        for box in boxes:  # children come before their parents
            keys[box] = box_key(tree, box, label or fresh)
            fresh[box] = interned.setdefault(keys[box], len(interned))
        targets = _merge_targets(list(interned))
        label = {b: interned[targets.get(keys[b], keys[b])] for b in boxes}
        first: dict[int, int] = {}
        new_partition = tuple(first.setdefault(label[b], i) for i, b in enumerate(boxes))
        if new_partition == partition:
            break
        partition = new_partition
    groups: dict[tuple, Group] = {}
    of: dict[Box, Group] = {}
    for box in boxes:
        full = targets.get(keys[box], keys[box])
        group = groups.get(full)
        if group is None:
            group = groups[full] = Group(full, [], box)
        group.instances.append(box)
        if keys[box] == full and keys[group.template] != full:
            group.template = box
        of[box] = group
    places: dict[int, set[tuple]] = {}
    for box in [tree.root, *boxes]:
        for unit in box.units:
            if unit.box is not None:
                where = (id(of[box]) if box is not tree.root else 0, unit.name)
                places.setdefault(id(of[unit.box]), set()).add(where)
    for group in groups.values():
        names = [u.name for u in group.template.units]
        present = [{u.name for u in b.units} for b in group.instances]
        skip = _dense_concat(group.template)
        group.optional = [n for n in names if n != skip and not all(n in p for p in present)]
        group.mode = _mode(group, len(places[id(group)]))
    return of


def _dense_concat(box: Box) -> str | None:
    """A dense layer's first step, the concatenation of its inputs: a layer without it (one
    input) computes the same with it, so it is never optional."""
    return box.units[box.order[0]].name if box.variadic else None


def post_order(root: Box) -> list[Box]:
    """Every box below ``root``, children before parents, in registration order."""
    found: list[Box] = []

    def walk(box: Box) -> None:
        for unit in box.units:
            if unit.box is not None:
                walk(unit.box)
        if box is not root:
            found.append(box)

    walk(root)
    return found


def is_chain(box: Box) -> bool:
    """One input, each unit feeding only the next, the last one returned: nn.Sequential."""
    if box.variadic or len(box.inputs) != 1 or box.holders or not box.units:
        return False
    prev: tuple = ("in", 0)
    for j, unit in enumerate(box.units):
        if unit.is_op or unit.is_parameter or not unit.live or unit.n_out != 1 \
                or unit.refs != [prev]:
            return False
        prev = ("u", j, 0)
    users = [r for u in box.units for r in u.refs] + list(box.outputs)
    return box.outputs == [prev] and len(users) == len(set(users))


def numbered(box: Box) -> bool:
    """The units are named 0, 1, 2 ... in order, as nn.Sequential names them."""
    return [u.name for u in box.units] == [str(i) for i in range(len(box.units))]


def _mode(group: Group, places: int) -> str:
    """A chain used in one place only (a block's ``downsample``) is written inline, as
    ``nn.Sequential(...)``; a chain used in several places gets a class."""
    box = group.template
    if group.optional or not is_chain(box):
        return "class"
    repeated = places >= 2 and len(box.units) >= 2
    if numbered(box):
        leaves = all(u.box is None for u in box.units)
        return "sequential" if repeated and leaves else "inline"
    return "class" if repeated else "inline"


# -- class names -------------------------------------------------------------------------------
_SHORT = {"Conv2d": "Conv", "BatchNorm2d": "BN", "BatchNorm1d": "BN", "ConvTranspose2d": "Deconv",
          "MaxPool2d": "MaxPool", "AvgPool2d": "AvgPool", "AdaptiveAvgPool2d": "Pool",
          "AdaptiveMaxPool2d": "Pool", "InstanceNorm2d": "IN", "GroupNorm": "GN",
          "LayerNorm": "LN", "LocalResponseNorm": "LRN", "Dropout2d": "Dropout"}


def camel(text: str) -> str:
    """``mobilenet_v2`` → ``MobilenetV2``; digits of separate words stay apart (``50_2``)."""
    out = ""
    for word in re.findall(r"[A-Za-z0-9]+", text):
        if out and out[-1].isdigit() and word[0].isdigit():
            out += "_"
        out += word[:1].upper() + word[1:]
    return out


def _from_label(label: str) -> str:
    text = re.split(r"[,:(×]", label)[0]
    words = [w for w in re.split(r"[\s\-_/+]+", text) if re.fullmatch(r"[A-Za-z]+", w)]
    return "".join(w if any(c.isupper() for c in w) else w.capitalize() for w in words)


def class_name(tree: Tree, group: Group) -> str:
    """From the blocks' display names (``Basic block`` → BasicBlock), else from the layer
    types of a short chain (ConvBNReLU), else from the box's own name."""
    labels: Counter[str] = Counter()
    for box in group.instances:
        g = tree.graph.groups.get(box.path)
        if g is not None and g.name:
            labels[_from_label(g.name)] += 1
    from_label = labels.most_common(1)[0][0] if labels and labels.most_common(1)[0][0] else ""
    units = group.template.units
    by_type = ""
    if all(u.box is None and not u.is_op for u in units) and len(units) <= 4:
        by_type = "".join(_SHORT.get(u.type or "", u.type or "") for u in units)
    if by_type and (not from_label or from_label.lower() in by_type.lower()):
        return by_type
    if from_label:
        return from_label
    local = Counter(b.local_name for b in group.instances).most_common(1)[0][0]
    name = camel(local)
    return name if name and not name[0].isdigit() else "Block"


# -- dense blocks ------------------------------------------------------------------------------
def dense_signature(tree: Tree, box: Box, of: dict[Box, Group]) -> tuple | None:
    """When the box is a dense block (layers ``name1 … nameN`` of one class, each taking the
    block's input and every earlier layer's output, then all of them concatenated), what
    blocks of any length must share to be one class with a loop: (layer class, name prefix,
    first number, concatenation dim)."""
    if len(box.inputs) != 1 or box.variadic or box.holders or len(box.units) < 2:
        return None
    *layer_units, cat = box.units
    if cat.type != "Concat" or not all(u.live and u.box is not None for u in box.units[:-1]):
        return None
    child = of[layer_units[0].box]  # type: ignore[index]
    if child.mode != "class" or any(of[u.box] is not child for u in layer_units):  # type: ignore[index]
        return None
    found = [re.fullmatch(r"(.*?)(\d+)", u.name) for u in layer_units]
    if not all(found) or len({m.group(1) for m in found}) != 1:  # type: ignore[union-attr]
        return None
    start = int(found[0].group(2))  # type: ignore[union-attr]
    if [u.name for u in layer_units] != [f"{found[0].group(1)}{start + i}"  # type: ignore[union-attr]
                                         for i in range(len(layer_units))]:
        return None
    previous: list[tuple] = [("in", 0)]
    for j, unit in enumerate(layer_units):
        if unit.refs != previous:
            return None
        previous = previous + [("u", j, 0)]
    if cat.refs != previous or box.outputs != [("u", len(box.units) - 1, 0)]:
        return None
    return (id(child), found[0].group(1), start, tree.kwargs(cat.node)["dim"])  # type: ignore[union-attr,arg-type]
