"""What the model importers share: the result type, a draft of the graph that checks each layer
as it is added (with the catalogue's own shape rules), and the step that turns a draft into a
laid-out, grouped Graph whose node ids are valid module paths."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Any

import torch

from ...graph import Graph, analyze, layers
from ...graph.layout import layout_graph
from ...graph.model import RESERVED_NAMES, plain

Shape = tuple[int, ...]


class ModelImportError(ValueError):
    """A model that cannot come in as a graph; the one-line message says why (and, for
    unsupported operators, names them all)."""


@dataclass
class Imported:
    """An imported model: the graph (laid out, grouped by module path), the weights that load
    into ``to_module(graph)`` with ``strict=True``, where it came from, and what the user
    should know about the translation."""

    graph: Graph
    state: dict[str, torch.Tensor]
    source: str
    notes: list[str] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)
    """Node id → what it was in the source (``torch.nn.Conv2d``, ``Tensor.chunk``, ``Conv``)."""
    preprocessing: Any = None
    """What pretrained weights expect of an image (mean, std, resize, crop, interpolation:
    a ``pretrained.Preprocessing``), for the project's data settings; None without."""


def translation(imported: Imported) -> list[tuple[str, str, int]]:
    """What became what: (source operation, layer type, how many), most frequent first, so
    that the import dialog can say before importing what the model will be made of."""
    counts = Counter((imported.origins.get(nid, ""), node.type)
                     for nid, node in imported.graph.nodes.items()
                     if node.type not in ("Input", "Output"))
    return sorted(((o, t, n) for (o, t), n in counts.items()), key=lambda r: (-r[2], r[1]))


def describe_import(imported: Imported, name: str) -> list[str]:
    """What ``name`` becomes, in lines: the size of the graph, each kind of source operation
    and the layer it became, and the notes of the translation."""
    graph = imported.graph
    report = analyze(graph)
    layer_count = sum(1 for n in graph if n.type not in ("Input", "Output"))
    lines = [f"{name} becomes {layer_count} layers in {len(graph.groups)} blocks, "
             f"{report.total_params:,} parameters, {report.macs / 1e6:,.1f} M MACs."]
    for origin, type_name, count in translation(imported):
        lines.append(f"{count} × {type_name}" + (f"  ← {origin}" if origin else ""))
    lines += [f"Note: {note}" for note in imported.notes]
    return lines


class Unsupported(Exception):
    """Raised by a converter for one operation; collected, then reported all at once."""

    def __init__(self, what: str, detail: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.detail = detail


class Problems:
    """Unsupported operations by name, with a count and the first place each occurs."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.first: dict[str, str] = {}

    def add(self, what: str, where: str = "", detail: str = "") -> None:
        self.counts[what] += 1
        if what not in self.first:
            self.first[what] = ", ".join(x for x in (where, detail) if x)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def message(self, source: str, noun: str = "operation") -> str:
        parts = []
        for what, n in self.counts.items():
            times = f" ×{n}" if n > 1 else ""
            where = f" ({self.first[what]})" if self.first[what] else ""
            parts.append(f"{what}{times}{where}")
        many = len(parts) > 1
        what = f"{len(parts)} kinds of {noun} have" if many else f"1 kind of {noun} has"
        return f"{source}: {what} no CNN Studio layer: {'; '.join(parts)}"


@dataclass
class Draft:
    key: str
    type: str
    params: dict[str, Any]
    inputs: list[str]
    path: str
    leaf: str
    shape: Shape
    state: dict[str, torch.Tensor]
    frozen: bool = False
    origin: str = ""


INPUT_KEY = "\0input"


class DraftGraph:
    """Nodes in the order they are found, each checked and given its per-sample output shape
    by the catalogue's rule, so importers can decide from shapes and never emit a bad layer."""

    def __init__(self, input_shape: Sequence[int]) -> None:
        self.input_shape: Shape = tuple(int(d) for d in input_shape)
        self.drafts: dict[str, Draft] = {}
        self.shapes: dict[str, Shape] = {INPUT_KEY: self.input_shape}
        self.outputs: list[tuple[str, bool]] = []
        self.notes: list[str] = []
        self.origin = ""
        """What the importer is translating now; each layer it adds records it."""
        self.origins: dict[str, str] = {}
        """Node id → origin, once assembled."""
        self._count = 0

    def shape(self, key: str) -> Shape:
        return self.shapes[key]

    def add(self, type_name: str, params: dict[str, Any], inputs: Sequence[str], *, path: str,
            leaf: str, state: dict[str, torch.Tensor] | None = None,
            frozen: bool = False) -> str:
        """Add a layer; raises Unsupported (with the catalogue's reason) when it cannot work."""
        spec = layers.get(type_name)
        given = {k: _compact(spec, k, plain(v)) for k, v in params.items()}
        resolved, problems = spec.resolve(given)
        if problems:
            raise Unsupported("", f"as {type_name}: {problems[0]}")
        try:
            out = spec.infer(resolved, [self.shapes[k] for k in inputs])
        except layers.LayerError as exc:
            raise Unsupported("", f"as {type_name}: {exc}") from None
        defaults = spec.defaults
        kept = {k: v for k, v in given.items() if defaults.get(k, object()) != v}
        self._count += 1
        key = f"\0{self._count}"
        self.drafts[key] = Draft(key, type_name, kept, list(inputs), path, leaf,
                                 tuple(out.shape), dict(state or {}), frozen, self.origin)
        self.shapes[key] = tuple(out.shape)
        return key

    # -- assembling ---------------------------------------------------------------------------
    def assemble(self, *, source: str, group_names: dict[str, str] | None = None,
                 metadata: dict[str, Any] | None = None
                 ) -> tuple[Graph, dict[str, torch.Tensor]]:
        """The Graph (ids made valid and unique, blocks per module path, laid out) and its
        state dict. Layers that no output needs are left out."""
        needed = self._needed()
        drafts = [d for d in self.drafts.values() if d.key in needed]
        ids = assign_ids([d.path for d in drafts], [d.leaf for d in drafts])
        renamed = [f"{d.path} → {nid}" for d, nid in zip(drafts, ids)
                   if d.state and d.path and nid != d.path]
        if renamed:
            self.notes.append(f"layers renamed to valid node ids (their weights follow): "
                              f"{', '.join(renamed[:5])}{' …' if len(renamed) > 5 else ''}")
        id_of = {d.key: nid for d, nid in zip(drafts, ids)}
        self.origins = {nid: d.origin for d, nid in zip(drafts, ids) if d.origin}
        taken = set(ids)
        input_id = _free("input", taken)
        id_of[INPUT_KEY] = input_id
        taken.add(input_id)
        graph = Graph()
        state: dict[str, torch.Tensor] = {}
        with graph.batch():
            graph.add_node("Input", input_id, {"shape": list(self.input_shape)})
            for d in drafts:
                nid = id_of[d.key]
                graph.add_node(d.type, nid, d.params, frozen=d.frozen)
                for src in d.inputs:
                    graph.connect(id_of[src], nid)
                for name, tensor in d.state.items():
                    # A LayerScale's parameter is keyed by the node id itself (layer_scale.py).
                    state[nid if d.type == "LayerScale" else f"{nid}.{name}"] = tensor
            if len(self.outputs) > 1:
                for key, training_only in self.outputs:
                    src = id_of[key]
                    scope = src.rpartition(".")[0]
                    oid = _free(f"{scope}.output" if scope else "output", taken)
                    taken.add(oid)
                    params = {"training_only": True} if training_only else {}
                    graph.add_node("Output", oid, params)
                    graph.connect(src, oid)
            add_groups(graph, group_names or {})
            for nid, pos in layout_graph(graph).items():
                graph.nodes[nid].position = (round(pos[0], 1), round(pos[1], 1))
            graph.metadata["origin"] = {"imported": source, **(metadata or {})}
        report = analyze(graph)
        if not report.ok:
            first = report.errors[0]
            raise ModelImportError(f"{source}: the imported graph is not valid "
                                   f"({first.node or 'graph'}: {first.message})")
        return graph, state

    def _needed(self) -> set[str]:
        found: set[str] = set()
        stack = [key for key, _ in self.outputs]
        while stack:
            key = stack.pop()
            if key in found or key == INPUT_KEY:
                continue
            found.add(key)
            stack.extend(self.drafts[key].inputs)
        return found


def _compact(spec: layers.LayerSpec, name: str, value: Any) -> Any:
    """``[3, 3]`` as ``3`` where the parameter takes either (files stay short, as presets)."""
    param = spec.param_map.get(name)
    if param is not None and param.kind in ("pair", "pad4", "scale") \
            and isinstance(value, list) and value and all(v == value[0] for v in value):
        return value[0]
    return value


_BAD_CHARS = re.compile(r"[^A-Za-z0-9_\-]+")


def clean_part(part: str) -> str:
    """One dot-separated part of a node id, made valid (letters, digits, '_' and '-', not a
    torch.nn.Module attribute, not starting with '_')."""
    part = _BAD_CHARS.sub("_", part).lstrip("_")
    if not part:
        return "x"
    if part in RESERVED_NAMES:
        return f"{part}_"
    return part


def clean_path(path: str) -> str:
    return ".".join(clean_part(p) for p in path.split(".") if p != "") or "x"


def _prefixes(nid: str) -> list[str]:
    parts = nid.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _free(wanted: str, taken: set[str], prefixes: set[str] | None = None) -> str:
    """``wanted``, or ``wanted_1``, ``wanted_2``... : the first that neither is taken nor sits
    inside or above a taken id."""
    prefixes = prefixes if prefixes is not None else {p for t in taken for p in _prefixes(t)}
    n = 0
    candidate = wanted
    while (candidate in taken or candidate in prefixes
           or any(p in taken for p in _prefixes(candidate))):
        n += 1
        candidate = f"{wanted}_{n}"
    return candidate


def assign_ids(paths: Sequence[str], leaves: Sequence[str]) -> list[str]:
    """Valid, unique node ids for the wanted module paths. A path that is also the block of
    other nodes (an operation written in ``layer1.0``'s forward) becomes ``path.leaf``
    (``layer1.0.add``); repeats get ``_1``, ``_2``."""
    wanted = [clean_path(p) if p else clean_part(leaf) for p, leaf in zip(paths, leaves)]
    for _ in range(3):
        blocks = {p for w in wanted for p in _prefixes(w)}
        changed = False
        for i, w in enumerate(wanted):
            if w in blocks:
                wanted[i] = f"{w}.{clean_part(leaves[i])}"
                changed = True
        if not changed:
            break
    taken: set[str] = set()
    prefixes: set[str] = set()
    # Every wanted id's blocks are reserved up front, so no id takes a block's name.
    reserved = {p for w in wanted for p in _prefixes(w)}
    ids = []
    for w in wanted:
        nid = _free(w, taken, prefixes | reserved)
        taken.add(nid)
        prefixes.update(_prefixes(nid))
        ids.append(nid)
    return ids


_CONTAINERS = {"Sequential", "ModuleList", "ModuleDict"}


def group_label(path: str, class_name: str | None) -> str:
    """A block's display name: its class (``BasicBlock``), or for a plain container its name
    (``layer1``; ``features.3`` where the name is only an index)."""
    last = path.rpartition(".")[2]
    if class_name and class_name not in _CONTAINERS:
        return class_name
    return path if last.isdigit() else last


def add_groups(graph: Graph, names: dict[str, str]) -> None:
    """A block per module path prefix (``layer1`` ⊃ ``layer1.0``), as the presets have;
    a block that would hold a single layer is left out."""
    members: Counter[str] = Counter()
    for nid in graph.nodes:
        for p in _prefixes(nid):
            members[p] += 1
    paths = [p for p in members if members[p] > 1]
    paths.sort(key=lambda p: p.count("."))
    made: set[str] = set()
    for path in paths:
        parent = next((q for q in reversed(_prefixes(path)) if q in made), None)
        graph.add_group(path, names.get(path) or group_label(path, None), parent)
        made.add(path)
    for node in graph.nodes.values():
        group = next((q for q in reversed(_prefixes(node.id)) if q in made), None)
        node.group = group


def flatten_span(src: Sequence[int], dst: Sequence[int]) -> tuple[int, int] | None:
    """The (start_dim, end_dim) of a Flatten turning per-sample shape ``src`` into ``dst``
    (torch's dims, the batch being 0; end_dim -1 for the last axis), or None if there is
    none. Reshapes, squeezes and ONNX Flatten nodes that only merge neighbouring axes
    become this one layer."""
    src, dst = tuple(src), tuple(dst)
    n, m = len(src), len(dst)
    if m >= n:
        return None
    for i in range(m):
        tail = m - 1 - i  # axes after the merged one
        end = n - tail  # the merged axes are src[i:end]
        if src[:i] == dst[:i] and src[end:] == dst[i + 1:] and prod(src[i:end]) == dst[i]:
            return i + 1, (-1 if end == n else end)
    return None


def one_line(exc: BaseException) -> str:
    """An exception as one short line (first line of its message)."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
