"""A stage's number of repeated blocks (ResNet's 2-2-2-2 or 3-4-6-3), read and changed on the
graph, so a sweep can vary a network's depth without a preset to build it again.

A stage is a top-level block whose child blocks run one after another (only a block after the
first is copied: the first may change the width or stride): each child takes its input from
one node (the stage's input for the first, the previous child's exit for the others) and hands
its result on through one exit node, and no node of the stage sits outside the children.
Blocks are numbered by their ids (``layer1.0``, ``layer1.1``), so a copy is ``layer1.2``.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from typing import NamedTuple

from .model import Graph, GraphError, Group, Node, RemovedNode

_NUMBERED = re.compile(r"(.*?)(\d+)\Z")


class Block:
    """One child block of a stage: its nodes (in the graph's order), its groups (itself first,
    then the ones nested in it), the node feeding it and its exit node."""

    __slots__ = ("id", "nodes", "groups", "feeder", "exit")

    def __init__(self, block_id: str, nodes: list[str], groups: list[str]) -> None:
        self.id = block_id
        self.nodes = nodes
        self.groups = groups
        self.feeder = ""
        self.exit = ""


class _Index(NamedTuple):
    children: dict[str | None, list[str]]
    direct: dict[str | None, list[str]]


def stages(graph: Graph) -> dict[str, int]:
    """Each stage of the graph (in the graph's block order) → its number of blocks."""
    index = _index(graph)
    found = {}
    for gid in graph.groups:
        blocks = _chain(graph, gid, index)
        if blocks:
            found[gid] = len(blocks)
    return found


def set_block_count(graph: Graph, stage: str, n: int) -> None:
    """Give ``stage`` ``n`` blocks, in place: drop its trailing blocks (the new last block
    feeds what the old last one fed), or append copies of its last block."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise GraphError(f"a stage's number of blocks must be a whole number of at least 1, "
                         f"not {n!r}")
    blocks = _chain(graph, stage, _index(graph))
    if not blocks:
        raise GraphError(f"{stage!r} is not a stage of blocks that run one after another")
    with graph.batch():
        while len(blocks) > n:
            _drop_last(graph, blocks)
            blocks.pop()
        if len(blocks) < n and len(blocks) < 2:  # before anything changes
            raise GraphError(f"{stage!r} has one block, and a stage's first block may change "
                             "the width or stride: only a block after the first is copied")
        while len(blocks) < n:
            blocks.append(_append_copy(graph, stage, blocks[-1]))


def _index(graph: Graph) -> _Index:
    children: dict[str | None, list[str]] = defaultdict(list)
    for g in graph.groups.values():
        children[g.parent].append(g.id)
    direct: dict[str | None, list[str]] = defaultdict(list)
    for node in graph:
        direct[node.group].append(node.id)
    return _Index(children, direct)


def _chain(graph: Graph, stage: str, index: _Index) -> list[Block] | None:
    """The stage's blocks in the order they run, or None when ``stage`` is not a stage."""
    kids = index.children.get(stage)
    if stage not in graph.groups or not kids or index.direct.get(stage):
        return None
    if graph.groups[stage].parent is not None:
        return None  # a stage is a top-level block (not a branch inside a module)
    blocks = {}
    owner: dict[str, str] = {}
    for kid in kids:
        groups = _subtree(kid, index)
        nodes = set().union(*(index.direct.get(g, ()) for g in groups))
        if not nodes or not _NUMBERED.match(kid):
            return None
        blocks[kid] = Block(kid, [nid for nid in graph.nodes if nid in nodes], groups)
        owner.update(dict.fromkeys(nodes, kid))
    after: dict[str, str] = {}  # block → the block its exit feeds
    for block in blocks.values():
        inside = set(block.nodes)
        feeders = {src for nid in block.nodes for src in graph.inputs(nid) if src not in inside}
        exits = [nid for nid in block.nodes if any(d not in inside for d in graph.outputs(nid))]
        if len(feeders) != 1 or len(exits) != 1:
            return None
        block.feeder, block.exit = feeders.pop(), exits[0]
        fed = {owner.get(d) for d in graph.outputs(block.exit) if d not in inside}
        if len(fed) > 1:
            return None  # it feeds two blocks, or a block and the rest of the graph
        if fed != {None}:
            after[block.id] = fed.pop()
    firsts = [b for b in blocks if b not in after.values()]
    if len(firsts) != 1:
        return None
    order = [blocks[firsts[0]]]
    while order[-1].id in after and len(order) <= len(blocks):
        order.append(blocks[after[order[-1].id]])
    if len(order) != len(blocks) or order[0].feeder in owner or any(
            b.feeder != a.exit for a, b in zip(order, order[1:])):
        return None
    return order


def _subtree(group_id: str, index: _Index) -> list[str]:
    found = [group_id]
    for gid in found:
        found.extend(index.children.get(gid, ()))
    return found


def _fed(graph: Graph, block: Block) -> list[tuple[str, int]]:
    """What the block's exit feeds outside it, with the port of each link."""
    inside = set(block.nodes)
    return [(dst, graph.inputs(dst).index(block.exit)) for dst in graph.outputs(block.exit)
            if dst not in inside]


def _drop_last(graph: Graph, blocks: list[Block]) -> None:
    last, keep = blocks[-1], blocks[-2]
    fed = _fed(graph, last)
    for nid in reversed(last.nodes):
        graph.remove_node(nid)
    for gid in reversed(last.groups):  # nested blocks first
        graph.remove_group(gid)
    for dst, port in fed:
        graph.connect(keep.exit, dst, port)


def _append_copy(graph: Graph, stage: str, last: Block) -> Block:
    """A copy of ``last`` after it: same types, parameters, names and nested blocks."""
    head, number = _NUMBERED.match(last.id).groups()  # type: ignore[union-attr]
    new = f"{head}{int(number) + 1}"

    def renamed(old: str) -> str:
        return new + old[len(last.id):] if old.startswith(last.id + ".") \
            else f"{new}.{old.rpartition('.')[2]}"

    ids = {gid: new if gid == last.id else renamed(gid) for gid in last.groups}
    ids.update((nid, renamed(nid)) for nid in last.nodes)
    for nid in last.nodes:  # check every id first, so a refused copy changes nothing
        graph.check_new_id(ids[nid])
    if len(set(ids.values())) < len(ids) or any(ids[g] in graph.groups for g in last.groups):
        raise GraphError(f"cannot add a block to {stage}: the copy of {last.id} would reuse "
                         "an id; rename the nodes of its blocks after their block")
    order = list(graph.groups)
    at = max(order.index(gid) for gid in last.groups) + 1
    for i, gid in enumerate(last.groups):
        g = graph.groups[gid]
        clone = Group(ids[gid], g.name, ids.get(g.parent, g.parent), copy.deepcopy(g.extra))
        graph.restore_group(clone, [], [], at + i)
    inside = set(last.nodes)
    fed = _fed(graph, last)
    at = list(graph.nodes).index(last.nodes[-1]) + 1
    for i, nid in enumerate(last.nodes):
        node = graph.node(nid)
        # No position: the canvas places the copy instead of stacking it on the original.
        clone = Node(ids[nid], node.type, copy.deepcopy(node.params), node.name, None,
                     ids[node.group], node.frozen, copy.deepcopy(node.extra))
        graph.restore_node(RemovedNode(clone, [], [], at + i))
    for nid in last.nodes:
        for port, src in enumerate(graph.inputs(nid)):
            graph.connect(ids[src] if src in inside else last.exit, ids[nid], port)
    for dst, port in fed:
        graph.disconnect(last.exit, dst)
        graph.connect(ids[last.exit], dst, port)
    block = Block(new, [ids[nid] for nid in last.nodes], [ids[g] for g in last.groups])
    block.feeder, block.exit = last.exit, ids[last.exit]
    return block
