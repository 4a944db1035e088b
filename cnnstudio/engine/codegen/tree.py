"""The module tree the code generator writes. Node ids are module paths, so every path prefix
(``layer1``, ``layer1.0``) is a box of units (its layers and sub-boxes) computed by one
``forward``. A box is a unit of its parent only when one call can compute it: where a value
leaves a box and comes back into it, where it mixes training-only and evaluated work, or where
nothing of it is computed, the box is lifted (its units become the parent's, reached as
``self.box.unit``), so the generated code stays correct for any hand-made graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ...graph import Graph, Report, layers
from .layers import parameter_layer

INPUT = "<input>"
"""The value the model's ``forward`` receives."""

OPS = frozenset({"Add", "Mul", "Concat"})
"""Merges written as expressions (``out + x``, ``torch.cat``), not modules."""

Ref = tuple
"""A value inside a box: ("in", i) its i-th input, or ("u", j, k) output k of unit j."""


@dataclass(eq=False)
class Unit:
    """One step of a box: a layer (``node`` set), a merge, or a sub-box."""

    name: str
    """Path relative to the box (dotted where a box was lifted)."""
    rank: int
    """Topological index of its first node: GraphModule registers modules in that order."""
    node: str | None = None
    type: str | None = None
    box: Box | None = None
    refs: list[Ref] = field(default_factory=list)
    live: bool = True
    """Computed for some model output (dead layers are registered, never called)."""
    aux: bool = False
    """Only feeds training-only outputs (an auxiliary classifier)."""

    @property
    def is_op(self) -> bool:
        return self.type in OPS

    @property
    def is_parameter(self) -> bool:
        """The node is a parameter of its box (LayerScale): an attribute, not a module."""
        return parameter_layer(self.type)

    @property
    def n_out(self) -> int:
        return len(self.box.outputs) if self.box is not None else 1


@dataclass(eq=False)
class Box:
    path: str
    inputs: list[str]
    """Values (node ids, or INPUT) the box receives, in order of first use."""
    units: list[Unit] = field(default_factory=list)
    """In registration order."""
    order: list[int] = field(default_factory=list)
    """Unit indices in the order ``forward`` computes them (live units only)."""
    outputs: list[Ref] = field(default_factory=list)
    output_values: list[str] = field(default_factory=list)
    holders: list[str] = field(default_factory=list)
    """Lifted boxes (relative paths), registered as plain ``nn.Module()`` holders."""
    variadic: bool = False
    """``forward(self, *features)``: the first step concatenates all inputs (a dense layer)."""

    @property
    def local_name(self) -> str:
        return self.path.rpartition(".")[2]


class Tree:
    """Everything the generator needs to know about a valid graph, read once."""

    def __init__(self, graph: Graph, report: Report) -> None:
        self.graph = graph
        self.report = report
        nodes = graph.nodes
        self.topo = {nid: i for i, nid in enumerate(report.nodes)}
        self.output_values = [self.value_of(o) for o in report.output_ids]
        self.aux_outputs = [nodes[o].type == "Output"
                            and bool(nodes[o].params.get("training_only", False))
                            for o in report.output_ids]
        self.live = graph.upstream([v for v in self.output_values if v != INPUT])
        modules = [nid for nid in report.nodes if layers.get(nodes[nid].type).torch_class]
        self._returned = set(self.output_values)
        self.root = self._make_box("", modules, [INPUT])
        produced = _produced(self.root.units)
        self.root.outputs = [_ref(self.root, v, produced) for v in self.output_values]
        self.root.output_values = list(self.output_values)

    # -- values --------------------------------------------------------------------------------
    def value_of(self, nid: str) -> str:
        """The value a node passes on: an Output passes its input, the Input is INPUT."""
        nodes = self.graph.nodes
        while nodes[nid].type == "Output":
            nid = self.graph.inputs(nid)[0]
        return INPUT if nodes[nid].type == "Input" else nid

    def sources(self, nid: str) -> list[str]:
        return [self.value_of(s) for s in self.graph.inputs(nid)]

    def shape(self, value: str) -> tuple[int, ...]:
        if value == INPUT:
            return tuple(self.report.input_shape or ())
        return tuple(self.report.nodes[value].shape or ())

    def kwargs(self, nid: str) -> dict[str, Any]:
        """The constructor arguments GraphModule builds the node's module with."""
        rep = self.report.nodes[nid]
        spec = layers.get(self.graph.nodes[nid].type)
        return spec.torch_kwargs(rep._resolved or {}, rep.in_shapes)

    def is_aux(self, nid: str) -> bool:
        return self.report.nodes[nid].training_only

    # -- boxes ---------------------------------------------------------------------------------
    def _make_box(self, path: str, members: list[str], inputs: list[str] | None = None) -> Box:
        prefix = f"{path}." if path else ""
        if inputs is None:
            inside = set(members)
            inputs = []
            for nid in members:
                if nid not in self.live:
                    continue  # dead layers are never called: they take nothing
                for src in self.sources(nid):
                    if src not in inside and src not in inputs:
                        inputs.append(src)
        box = Box(path, inputs)
        entries: dict[str, list[str]] = {}
        for nid in members:
            entries.setdefault(nid[len(prefix):].split(".")[0], []).append(nid)
        while True:
            self._fill(box, entries)
            lift = self._to_lift(box)
            if not lift:
                break
            lifted: dict[str, list[str]] = {}
            for name, ids in entries.items():
                if name not in lift:
                    lifted[name] = ids
                    continue
                box.holders.append(name)
                for nid in ids:
                    rest = nid[len(prefix) + len(name) + 1:]
                    lifted.setdefault(f"{name}.{rest.split('.')[0]}", []).append(nid)
            entries = lifted
        box.variadic = _variadic(box)
        return box

    def _fill(self, box: Box, entries: dict[str, list[str]]) -> None:
        prefix = f"{box.path}." if box.path else ""
        units: list[Unit] = []
        for name, ids in entries.items():
            rank = min(self.topo[n] for n in ids)
            live = [n for n in ids if n in self.live]
            aux = bool(live) and all(self.is_aux(n) for n in live)
            if len(ids) == 1 and ids[0] == prefix + name:
                nid = ids[0]
                units.append(Unit(name, rank, node=nid, type=self.graph.nodes[nid].type,
                                  live=bool(live), aux=aux))
            else:
                child = self._make_box(prefix + name, ids)
                units.append(Unit(name, rank, box=child, live=bool(live), aux=aux))
        units.sort(key=lambda u: u.rank)
        produced = _produced(units)
        for unit in units:
            if not unit.live:
                continue
            values = self.sources(unit.node) if unit.box is None else unit.box.inputs
            unit.refs = [_ref(box, v, produced) for v in values]
        box.units = units
        if box.path:
            box.output_values = self._exports(units)
            box.outputs = [_ref(box, v, produced) for v in box.output_values]
        box.order = _forward_order(units)

    def _exports(self, units: list[Unit]) -> list[str]:
        """Live values of the box used outside it, or returned by the model."""
        inside = {n for unit in units for n in _members(unit)}
        nodes = self.graph.nodes
        found = [nid for nid in inside if nid in self.live and (
            nid in self._returned or any(
                dst not in inside and dst in self.live and nodes[dst].type != "Output"
                for dst in self.graph.outputs(nid)))]
        return sorted(found, key=self.topo.__getitem__)

    def _to_lift(self, box: Box) -> set[str]:
        """Sub-boxes one call cannot compute: in a dependency cycle with their siblings, mixing
        training-only and evaluated layers, or not computed at all."""
        found = set()
        for unit in box.units:
            if unit.box is None:
                continue
            members = _members(unit)
            live = [n for n in members if n in self.live]
            if not live or len({self.is_aux(n) for n in live}) > 1:
                found.add(unit.name)
        deps = nx.DiGraph()
        deps.add_nodes_from(range(len(box.units)))
        for j, unit in enumerate(box.units):
            for ref in unit.refs:
                if ref[0] == "u":
                    deps.add_edge(ref[1], j)
        for component in nx.strongly_connected_components(deps):
            if len(component) > 1:
                found.update(box.units[j].name for j in component
                             if box.units[j].box is not None)
        return found


def _produced(units: list[Unit]) -> dict[str, tuple[int, int]]:
    produced: dict[str, tuple[int, int]] = {}
    for j, unit in enumerate(units):
        if unit.box is None:
            produced[unit.node] = (j, 0)  # type: ignore[index]
        else:
            for k, value in enumerate(unit.box.output_values):
                produced[value] = (j, k)
    return produced


def _ref(box: Box, value: str, produced: dict[str, tuple[int, int]]) -> Ref:
    if value in produced:
        return ("u", *produced[value])
    return ("in", box.inputs.index(value))


def _members(unit: Unit) -> list[str]:
    if unit.box is None:
        return [unit.node]  # type: ignore[list-item]
    return [n for u in unit.box.units for n in _members(u)]


def _forward_order(units: list[Unit]) -> list[int]:
    """Kahn's order over the live units: a ready training-only unit first (an auxiliary head
    right after the layer it taps), else the earliest registered; with a cycle (the caller
    lifts it) the registration order."""
    live = [j for j, u in enumerate(units) if u.live]
    waiting = {j: len({r[1] for r in units[j].refs if r[0] == "u"}) for j in live}
    users: dict[int, list[int]] = {j: [] for j in range(len(units))}
    for j in live:
        for src in {r[1] for r in units[j].refs if r[0] == "u"}:
            users[src].append(j)
    def first(j: int) -> tuple[bool, int]:
        return (not units[j].aux, j)

    ready = sorted((j for j, n in waiting.items() if n == 0), key=first)
    order: list[int] = []
    while ready:
        j = ready.pop(0)
        order.append(j)
        for dst in users[j]:
            waiting[dst] -= 1
            if waiting[dst] == 0:
                ready.append(dst)
                ready.sort(key=first)
    return order if len(order) == len(live) else live


def _variadic(box: Box) -> bool:
    """The box's first step concatenates all its inputs, in order, and nothing else reads
    them: its forward can take ``*features`` (DenseNet's layers)."""
    arity = len(box.inputs)
    if arity < 2 or not box.order:
        return False
    first = box.units[box.order[0]]
    if first.type != "Concat" or first.refs != [("in", i) for i in range(arity)]:
        return False
    rest = [r for u in box.units if u is not first and u.live for r in u.refs]
    return all(r[0] != "in" for r in rest + list(box.outputs))
