"""The network as a graph: nodes (layers) with stable string ids, ordered input links, groups.

Every edit is one method with an inverse (the undo stack calls them); each emits plain-Python
events (events.py) so views can follow without the model knowing about Qt. The model checks
structure (ids, links, cycles); whether the layers' numbers work is the analysis' job, so a
user can type a bad value, see the error on the node, and fix it.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

from . import init as inits
from . import layers
from .events import GraphEvents


class GraphError(ValueError):
    """An edit or a document the graph refuses; the message says what to do instead."""


class Edge(NamedTuple):
    src: str
    dst: str
    port: int


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""A parameter that is not given (its default applies); used to undo setting one."""

_revisions = itertools.count(1)

# Names a node id part cannot take: they are attributes of torch.nn.Module, and the built
# module registers each node as a submodule at its id's path (a test keeps this list in step
# with torch).
RESERVED_NAMES = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda
double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
get_submodule half ipu load_state_dict modules mtia named_buffers named_children named_modules
named_parameters parameters register_backward_hook register_buffer register_forward_hook
register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
set_extra_state set_submodule share_memory state_dict to to_empty train training type xpu
zero_grad
""".split())
_ID_PART = re.compile(r"[A-Za-z0-9_\-]+\Z")


def id_problem(node_id: Any) -> str | None:
    """Why ``node_id`` cannot name a node, or None."""
    if not isinstance(node_id, str) or not node_id:
        return f"a node id must be a non-empty string, not {node_id!r}"
    for part in node_id.split("."):
        if not _ID_PART.match(part):
            return (f"node id {node_id!r}: each dot-separated part must be letters, digits, "
                    "'_' or '-' (the id is the module path, e.g. layer1.0.conv1)")
        if part in RESERVED_NAMES or part.startswith("_"):
            return f"node id {node_id!r}: {part!r} is reserved by torch.nn.Module; rename it"
    return None


class Node:
    """A layer in the graph. Change it through Graph methods so events and undo see it."""

    __slots__ = ("id", "type", "params", "name", "position", "group", "frozen", "extra", "rev")

    def __init__(
        self,
        node_id: str,
        type_name: str,
        params: dict[str, Any] | None = None,
        name: str | None = None,
        position: tuple[float, float] | None = None,
        group: str | None = None,
        frozen: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.id = node_id
        self.type = type_name
        self.params: dict[str, Any] = params or {}
        self.name = name
        self.position = position
        self.group = group
        self.frozen = frozen
        self.extra: dict[str, Any] = extra or {}
        self.rev = next(_revisions)

    @property
    def spec(self) -> layers.LayerSpec:
        return layers.get(self.type)

    @property
    def label(self) -> str:
        return self.name or self.id

    def _key(self) -> tuple:
        return (self.id, self.type, self.params, self.name, self.position, self.group,
                self.frozen, self.extra)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Node({self.id!r}, {self.type!r}, {self.params!r})"


class Group:
    """A named block of nodes (``layer1.0``), optionally inside a parent block."""

    __slots__ = ("id", "name", "parent", "extra")

    def __init__(self, group_id: str, name: str | None = None, parent: str | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        self.id = group_id
        self.name = name
        self.parent = parent
        self.extra: dict[str, Any] = extra or {}

    def _key(self) -> tuple:
        return (self.id, self.name, self.parent, self.extra)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Group) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Group({self.id!r}, name={self.name!r}, parent={self.parent!r})"


class RemovedGroup(NamedTuple):
    """Everything ``remove_group`` changed, so ``restore_group`` can put it back."""

    group: Group
    members: list[str]
    children: list[str]
    index: int


class RemovedNode(NamedTuple):
    """Everything ``remove_node`` took away, so ``restore_node`` can put it back."""

    node: Node
    in_edges: list[Edge]
    out_edges: list[Edge]
    index: int


class Graph:
    """Nodes by id (in insertion order), each node's ordered inputs, groups and metadata."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._inputs: dict[str, list[str]] = {}
        self._outputs: dict[str, list[str]] = {}
        self._prefixes: dict[str, int] = {}
        self._id_counters: dict[str, int] = {}
        self.groups: dict[str, Group] = {}
        self.metadata: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}
        self.events = GraphEvents()
        self.revision = 0
        self.structure_revision = 0
        self.cache: dict[str, Any] = {}
        """Derived data owned by other modules (the analysis); never saved, never compared."""
        self._batch_depth = 0
        self._batch_dirty = False

    # -- reading -------------------------------------------------------------------------------
    @property
    def nodes(self) -> Mapping[str, Node]:
        return self._nodes

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise GraphError(f"no node with id {node_id!r}") from None

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def inputs(self, node_id: str) -> list[str]:
        """The ids feeding ``node_id``, in port order."""
        return list(self._inputs[node_id])

    def outputs(self, node_id: str) -> list[str]:
        """The ids ``node_id`` feeds."""
        return list(self._outputs[node_id])

    def edges(self) -> list[Edge]:
        return [Edge(src, dst, port) for dst, srcs in self._inputs.items()
                for port, src in enumerate(srcs)]

    def input_map(self) -> Mapping[str, list[str]]:
        """Every node's inputs, read-only by convention (fast path for the analysis)."""
        return self._inputs

    def output_map(self) -> Mapping[str, list[str]]:
        """Every node's consumers, read-only by convention."""
        return self._outputs

    def topological_order(self) -> list[str]:
        """Node ids so that every node comes after its inputs; ties keep insertion order."""
        cached = self.cache.get("topo")
        if cached and cached[0] == self.structure_revision:
            return cached[1]
        # Kahn's algorithm, always taking the earliest-added ready node, so the order reads
        # like the order the network was written in.
        inputs = self._inputs
        rank = {nid: i for i, nid in enumerate(self._nodes)}
        waiting = {nid: len(inputs[nid]) for nid in self._nodes}
        ready = [rank[nid] for nid, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        ids = list(self._nodes)
        order: list[str] = []
        outputs = self._outputs
        while ready:
            nid = ids[heapq.heappop(ready)]
            order.append(nid)
            for dst in outputs[nid]:
                waiting[dst] -= 1
                if waiting[dst] == 0:
                    heapq.heappush(ready, rank[dst])
        if len(order) != len(self._nodes):
            stuck = sorted(set(self._nodes) - set(order))
            raise GraphError(f"the graph has a cycle through {', '.join(stuck[:5])}")
        self.cache["topo"] = (self.structure_revision, order)
        return order

    def upstream(self, node_ids: list[str]) -> set[str]:
        """``node_ids`` and every node that feeds them, directly or not."""
        inputs = self._inputs
        found: set[str] = set()
        stack = list(node_ids)
        while stack:
            nid = stack.pop()
            if nid not in found:
                found.add(nid)
                stack.extend(inputs[nid])
        return found

    def group_members(self, group_id: str) -> list[str]:
        """Nodes in ``group_id`` or any block nested in it."""
        inside = {group_id}
        changed = True
        while changed:
            changed = False
            for g in self.groups.values():
                if g.parent in inside and g.id not in inside:
                    inside.add(g.id)
                    changed = True
        return [n.id for n in self._nodes.values() if n.group in inside]

    # -- change bookkeeping --------------------------------------------------------------------
    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group edits so that ``changed`` fires once at the end (a macro, a loader)."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0 and self._batch_dirty:
                self._batch_dirty = False
                self.events.changed.emit()

    def _touch(self, structural: bool = False) -> None:
        self.revision += 1
        if structural:
            self.structure_revision += 1
        if self._batch_depth:
            self._batch_dirty = True
        else:
            self.events.changed.emit()

    # -- nodes ---------------------------------------------------------------------------------
    def new_id(self, type_name: str) -> str:
        """A fresh id like ``conv2d3`` for a node the user adds."""
        base = re.sub(r"[^a-z0-9_]", "", type_name.lower()) or "node"
        n = self._id_counters.get(base, 0)
        while True:
            n += 1
            candidate = f"{base}{n}"
            if candidate not in self._nodes and candidate not in self._prefixes:
                self._id_counters[base] = n
                return candidate

    def add_node(
        self,
        type_name: str,
        node_id: str | None = None,
        params: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        position: tuple[float, float] | None = None,
        group: str | None = None,
        frozen: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> Node:
        spec = layers.find(type_name)
        if spec is None:
            raise GraphError(layers.unknown_type_message(type_name))
        if node_id is None:
            node_id = self.new_id(type_name)
        self.check_new_id(node_id)
        params = {k: plain(v) for k, v in (params or {}).items()}
        for pname in params:
            if pname not in spec.param_map:
                raise GraphError(_unknown_param(spec, pname))
        if group is not None and group not in self.groups:
            self.add_group(group)
        node = Node(node_id, type_name, params, name, position, group, frozen, extra)
        self._insert(node)
        return node

    def check_new_id(self, node_id: str) -> None:
        """Raise GraphError when ``node_id`` cannot name a new node (taken, malformed, or
        clashing with a block path)."""
        problem = id_problem(node_id)
        if problem:
            raise GraphError(problem)
        if node_id in self._nodes:
            raise GraphError(f"a node with id {node_id!r} already exists")
        if node_id in self._prefixes:
            raise GraphError(f"node id {node_id!r} is already the block path of other nodes "
                             f"({node_id}.…); choose another id")
        parts = node_id.split(".")
        for i in range(1, len(parts)):
            above = ".".join(parts[:i])
            if above in self._nodes:
                raise GraphError(f"node id {node_id!r} would sit inside the layer {above!r}; "
                                 "choose another id")

    def _insert(self, node: Node, index: int | None = None) -> None:
        if index is None or index >= len(self._nodes):
            self._nodes[node.id] = node
        else:
            items = list(self._nodes.items())
            items.insert(index, (node.id, node))
            self._nodes = dict(items)
        self._inputs[node.id] = []
        self._outputs[node.id] = []
        parts = node.id.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            self._prefixes[prefix] = self._prefixes.get(prefix, 0) + 1
        self.events.node_added.emit(node)
        self._touch(structural=True)

    def _forget(self, node_id: str) -> Node:
        node = self._nodes.pop(node_id)
        del self._inputs[node_id]
        del self._outputs[node_id]
        parts = node_id.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            left = self._prefixes[prefix] - 1
            if left:
                self._prefixes[prefix] = left
            else:
                del self._prefixes[prefix]
        return node

    def remove_node(self, node_id: str) -> RemovedNode:
        node = self.node(node_id)
        index = list(self._nodes).index(node_id)
        with self.batch():
            in_edges = [Edge(src, node_id, port)
                        for port, src in enumerate(self._inputs[node_id])]
            out_edges = [Edge(node_id, dst, self._inputs[dst].index(node_id))
                         for dst in self._outputs[node_id]]
            for edge in reversed(in_edges):
                self.disconnect(edge.src, edge.dst)
            for edge in out_edges:
                self.disconnect(edge.src, edge.dst)
            self._forget(node_id)
            self.events.node_removed.emit(node)
            self._touch(structural=True)
        return RemovedNode(node, in_edges, out_edges, index)

    def restore_node(self, removed: RemovedNode) -> Node:
        """Undo ``remove_node``: the same node object, and its links at their old ports."""
        node = removed.node
        self.check_new_id(node.id)
        with self.batch():
            if node.group is not None and node.group not in self.groups:
                self.add_group(node.group)
            self._insert(node, removed.index)
            for edge in sorted(removed.in_edges + removed.out_edges, key=lambda e: e.port):
                self.connect(edge.src, edge.dst, edge.port)
        return node

    def set_params(self, node_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Set (or with UNSET, clear) parameters; returns the old values for undo."""
        node = self.node(node_id)
        spec = node.spec
        for pname in changes:
            if pname not in spec.param_map:
                raise GraphError(_unknown_param(spec, pname))
        old = {pname: node.params.get(pname, UNSET) for pname in changes}
        for pname, value in changes.items():
            if value is UNSET:
                node.params.pop(pname, None)
            else:
                node.params[pname] = plain(value)
        node.rev = next(_revisions)
        self.events.node_changed.emit(node, "params")
        self._touch()
        return old

    def set_param(self, node_id: str, pname: str, value: Any) -> Any:
        return self.set_params(node_id, {pname: value})[pname]

    _ATTRS = ("name", "position", "group", "frozen", "extra")

    def set_node_attrs(self, node_id: str, **attrs: Any) -> dict[str, Any]:
        """Change name, position, group, frozen or extra; returns the old values for undo."""
        node = self.node(node_id)
        for attr in attrs:
            if attr not in self._ATTRS:
                raise GraphError(f"a node has no attribute {attr!r} to set")
        group = attrs.get("group")
        if group is not None and group not in self.groups:
            raise GraphError(f"no block with id {group!r}")
        old = {attr: getattr(node, attr) for attr in attrs}
        for attr, value in attrs.items():
            setattr(node, attr, value)
        if "frozen" in attrs:
            node.rev = next(_revisions)
        for attr in attrs:
            self.events.node_changed.emit(node, attr)
        self._touch()
        return old

    def set_node_init(self, node_id: str, init: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Override the node's weight initialisation (graph/init.py), or with None follow the
        graph's default; returns the old override for undo."""
        node = self.node(node_id)
        value = _checked_init(init, f"{node_id}'s init")
        if value is not None and not inits.applies_to(node.type):
            raise GraphError(f"{node_id} is a {node.type}: it has no weights to initialise")
        old = node.extra.get(inits.KEY)
        extra = {k: v for k, v in node.extra.items() if k != inits.KEY}
        if value is not None:
            extra[inits.KEY] = value
        node.extra = extra
        node.rev = next(_revisions)
        self.events.node_changed.emit(node, "init")
        self._touch()
        return copy.deepcopy(old)

    def rename_node(self, old_id: str, new_id: str) -> None:
        """Give a node a new id (its module path); links follow it."""
        node = self.node(old_id)
        if new_id == old_id:
            return
        self.check_new_id(new_id)
        srcs, dsts = self._inputs[old_id], self._outputs[old_id]
        index = list(self._nodes).index(old_id)
        self._forget(old_id)
        node.id = new_id
        node.rev = next(_revisions)
        # Keep the node's place in the order, so files keep their layout.
        items = list(self._nodes.items())
        items.insert(index, (new_id, node))
        self._nodes = dict(items)
        self._inputs[new_id], self._outputs[new_id] = srcs, dsts
        for src in srcs:
            self._outputs[src] = [new_id if x == old_id else x for x in self._outputs[src]]
        for dst in dsts:
            self._inputs[dst] = [new_id if x == old_id else x for x in self._inputs[dst]]
        parts = new_id.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            self._prefixes[prefix] = self._prefixes.get(prefix, 0) + 1
        self.events.node_renamed.emit(node, old_id)
        self._touch(structural=True)

    # -- links ---------------------------------------------------------------------------------
    def connection_problem(self, src: str, dst: str, port: int | None = None) -> str | None:
        """Why ``src → dst`` cannot be linked (for live feedback while wiring), or None."""
        if src not in self._nodes:
            return f"no node with id {src!r}"
        if dst not in self._nodes:
            return f"no node with id {dst!r}"
        if src == dst:
            return f"{src} cannot feed itself"
        src_node, dst_node = self._nodes[src], self._nodes[dst]
        if src_node.type == "Output":
            return f"{src} is an Output, the end of the model; link from the layer before it"
        spec = dst_node.spec
        current = self._inputs[dst]
        if spec.max_inputs == 0:
            return f"{dst} is an {dst_node.type} and takes no inputs"
        if src in current:
            return f"{src} already feeds {dst}"
        if spec.max_inputs is not None and len(current) >= spec.max_inputs:
            return (f"{dst} ({dst_node.type}) already takes its input from {current[0]}; "
                    "remove that link first, or join both with an Add or a Concat")
        if port is not None and not 0 <= port <= len(current):
            return f"port {port} of {dst} does not exist (it has {len(current)} inputs)"
        if self._outputs[dst] and self._reaches(dst, src):
            return f"linking {src} → {dst} would make a cycle ({dst} already feeds {src})"
        return None

    def _reaches(self, start: str, goal: str) -> bool:
        seen = {start}
        stack = [start]
        outputs = self._outputs
        while stack:
            for nxt in outputs[stack.pop()]:
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    def connect(self, src: str, dst: str, port: int | None = None) -> Edge:
        problem = self.connection_problem(src, dst, port)
        if problem:
            raise GraphError(problem)
        current = self._inputs[dst]
        if port is None:
            port = len(current)
        current.insert(port, src)
        self._outputs[src].append(dst)
        edge = Edge(src, dst, port)
        self.events.edge_added.emit(edge)
        self._touch(structural=True)
        return edge

    def disconnect(self, src: str, dst: str) -> Edge:
        """Remove the link; later inputs of ``dst`` move up one port."""
        try:
            port = self._inputs[dst].index(src)
        except (KeyError, ValueError):
            raise GraphError(f"{src} does not feed {dst}") from None
        del self._inputs[dst][port]
        self._outputs[src].remove(dst)
        edge = Edge(src, dst, port)
        self.events.edge_removed.emit(edge)
        self._touch(structural=True)
        return edge

    # -- groups --------------------------------------------------------------------------------
    def add_group(self, group_id: str, name: str | None = None, parent: str | None = None,
                  extra: dict[str, Any] | None = None) -> Group:
        if not isinstance(group_id, str) or not group_id:
            raise GraphError(f"a block id must be a non-empty string, not {group_id!r}")
        if group_id in self.groups:
            raise GraphError(f"a block with id {group_id!r} already exists")
        if parent is not None:
            if parent not in self.groups:
                raise GraphError(f"block {group_id!r}: no parent block {parent!r}")
        group = Group(group_id, name, parent, extra)
        self.groups[group_id] = group
        self.events.group_changed.emit(group_id)
        self._touch()
        return group

    def remove_group(self, group_id: str) -> RemovedGroup:
        """Dissolve a block: members and nested blocks move to its parent. Returns what moved."""
        group = self.groups.get(group_id)
        if group is None:
            raise GraphError(f"no block with id {group_id!r}")
        members = [n.id for n in self._nodes.values() if n.group == group_id]
        children = [g.id for g in self.groups.values() if g.parent == group_id]
        index = list(self.groups).index(group_id)
        for nid in members:
            self._nodes[nid].group = group.parent
        for gid in children:
            self.groups[gid].parent = group.parent
        del self.groups[group_id]
        self.events.group_changed.emit(group_id)
        self._touch()
        return RemovedGroup(group, members, children, index)

    def restore_group(self, group: Group, members: list[str], children: list[str],
                      index: int | None = None) -> None:
        """Undo ``remove_group`` (at its old place in the order, so files keep their order)."""
        items = list(self.groups.items())
        items.insert(len(items) if index is None else index, (group.id, group))
        self.groups = dict(items)
        for nid in members:
            self._nodes[nid].group = group.id
        for gid in children:
            self.groups[gid].parent = group.id
        self.events.group_changed.emit(group.id)
        self._touch()

    def set_group_attrs(self, group_id: str, **attrs: Any) -> dict[str, Any]:
        group = self.groups.get(group_id)
        if group is None:
            raise GraphError(f"no block with id {group_id!r}")
        for attr in attrs:
            if attr not in ("name", "parent", "extra"):
                raise GraphError(f"a block has no attribute {attr!r} to set")
        parent = attrs.get("parent")
        if parent is not None:
            walk: str | None = parent
            while walk is not None:
                if walk == group_id:
                    raise GraphError(f"block {group_id!r} cannot be inside itself")
                if walk not in self.groups:
                    raise GraphError(f"no block with id {walk!r}")
                walk = self.groups[walk].parent
        old = {attr: getattr(group, attr) for attr in attrs}
        for attr, value in attrs.items():
            setattr(group, attr, value)
        self.events.group_changed.emit(group_id)
        self._touch()
        return old

    # -- whole graph ---------------------------------------------------------------------------
    def set_init(self, init: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Set the graph's default weight initialisation (``metadata["init"]``; None: torch's
        default); returns the old value for undo."""
        value = _checked_init(init, "the graph's init")
        old = self.metadata.get(inits.KEY)
        metadata = {k: v for k, v in self.metadata.items() if k != inits.KEY}
        if value is not None:
            metadata[inits.KEY] = value
        self.metadata = metadata
        self._touch()
        return copy.deepcopy(old)

    def copy(self) -> Graph:
        """An independent deep copy (no listeners, no cache)."""
        other = Graph()
        other.groups = {gid: Group(g.id, g.name, g.parent, copy.deepcopy(g.extra))
                        for gid, g in self.groups.items()}
        for node in self._nodes.values():
            clone = Node(node.id, node.type, copy.deepcopy(node.params), node.name,
                         node.position, node.group, node.frozen, copy.deepcopy(node.extra))
            other._insert(clone)
        for dst, srcs in self._inputs.items():
            other._inputs[dst] = list(srcs)
        for src, dsts in self._outputs.items():
            other._outputs[src] = list(dsts)
        other.metadata = copy.deepcopy(self.metadata)
        other.extra = copy.deepcopy(self.extra)
        other.structure_revision += 1
        return other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return (
            list(self._nodes.values()) == list(other._nodes.values())
            and self._inputs == other._inputs
            and self.groups == other.groups
            and self.metadata == other.metadata
            and self.extra == other.extra
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Graph {len(self._nodes)} nodes, {sum(map(len, self._inputs.values()))} links>"


def plain(value: Any) -> Any:
    """A parameter value as the JSON document holds it (tuples become lists), copied."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def _checked_init(init: Mapping[str, Any] | None, where: str) -> dict[str, Any] | None:
    if init is None:
        return None
    try:
        return inits.check(init, where)
    except inits.InitError as exc:
        raise GraphError(str(exc)) from None


def _unknown_param(spec: layers.LayerSpec, pname: str) -> str:
    import difflib

    known = list(spec.param_map)
    close = difflib.get_close_matches(pname, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    choices = f"; it takes {', '.join(known)}" if known else "; it takes no parameters"
    return f"{spec.type} has no parameter {pname!r}{hint}{choices}"
