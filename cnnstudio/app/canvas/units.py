"""Which boxes the canvas shows: nodes, or whole blocks where a block is collapsed. Plain
Python over the graph (no items), so the rules are easy to test."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from ...graph import Graph
from ...graph.layout import layered
from .theme import BOX_H, BOX_W, FRAME_PAD, FRAME_TITLE, NODE_H, NODE_W

ROW_STEP = 129.0  # centre-to-centre distance of two rows of nodes (layout.layered's spacing)

# A graph opened with no layout and more nodes than this shows some blocks collapsed.
OPEN_BUDGET = 100


def ancestry(graph: Graph, group_id: str | None) -> list[str]:
    """The blocks around ``group_id``, outermost first, ending with ``group_id``."""
    out: list[str] = []
    seen: set[str] = set()
    while group_id is not None and group_id in graph.groups and group_id not in seen:
        seen.add(group_id)
        out.append(group_id)
        group_id = graph.groups[group_id].parent
    out.reverse()
    return out


def members_by_group(graph: Graph) -> dict[str, list[str]]:
    """Every block's nodes, including those of blocks nested in it (in graph order)."""
    chains: dict[str | None, list[str]] = {}
    members: dict[str, list[str]] = {gid: [] for gid in graph.groups}
    for node in graph:
        chain = chains.get(node.group)
        if chain is None:
            chain = chains[node.group] = ancestry(graph, node.group)
        for gid in chain:
            members[gid].append(node.id)
    return members


def outer_collapsed(graph: Graph, collapsed: Iterable[str]) -> dict[str, str]:
    """For each block inside (or being) a collapsed block: the outermost collapsed one."""
    closed = {g for g in collapsed if g in graph.groups}
    out: dict[str, str] = {}
    for gid in graph.groups:
        for anc in ancestry(graph, gid):
            if anc in closed:
                out[gid] = anc
                break
    return out


def default_collapsed(graph: Graph, budget: int = OPEN_BUDGET) -> set[str]:
    """Blocks to collapse when a big network opens with no layout of its own: all blocks of
    the deepest nesting level at which the canvas shows at most ``budget`` boxes (ResNet-152:
    its 50 residual blocks, so the four stages read as columns of block boxes)."""
    if len(graph) <= budget or not graph.groups:
        return set()
    chains = {gid: ancestry(graph, gid) for gid in graph.groups}
    deepest = max(len(c) for c in chains.values())
    for depth in range(deepest - 1, -1, -1):
        units = set()
        for node in graph:
            chain = chains.get(node.group, []) if node.group else []
            units.add(("g", chain[depth]) if len(chain) > depth else ("n", node.id))
        if len(units) <= budget or depth == 0:
            return {gid for gid, c in chains.items() if len(c) == depth + 1}
    return set()


def layered_units(graph: Graph, edges: list[tuple[str, str]], units: list[str]
                  ) -> dict[str, tuple[float, float]]:
    """Centres of the units drawn (node ids, '#block' for a collapsed block's box), laid out
    with room for the frames of the blocks they sit in."""

    @functools.cache
    def blocks(u: str) -> tuple[str, ...]:
        if u.startswith("#"):
            return tuple(ancestry(graph, graph.groups[u[1:]].parent))
        return tuple(ancestry(graph, graph.nodes[u].group))

    return layered(edges, units, height=lambda u: BOX_H if u.startswith("#") else NODE_H,
                   width=lambda u: BOX_W + 6 if u.startswith("#") else NODE_W,
                   blocks=blocks, frame=(FRAME_PAD, FRAME_TITLE))  # type: ignore[return-value]


def inner_layout(graph: Graph, group_id: str, members: list[str],
                 collapsed: Iterable[str] = ()) -> dict[str, tuple[float, float]]:
    """A layered layout of a block's nodes among themselves, for when the block opens: the
    bounding box centred on x = 0, the top edge of the boxes at y = 0. A block nested in it
    that stays collapsed is one box there, its own members laid out under that box's top."""
    closed = set(collapsed)
    unit: dict[str, str] = {}
    for m in members:
        chain = ancestry(graph, graph.nodes[m].group)
        inner = chain[chain.index(group_id) + 1:] if group_id in chain else []
        shut = next((g for g in inner if g in closed), None)
        unit[m] = m if shut is None else "#" + shut
    inputs = graph.input_map()
    units = list(dict.fromkeys(unit[m] for m in members))
    order = {u: i for i, u in enumerate(units)}
    edges = sorted({(unit[src], unit[dst]) for dst in members for src in inputs[dst]
                    if src in unit and unit[src] != unit[dst]},
                   key=lambda e: (order[e[0]], order[e[1]]))

    pos = layered_units(graph, edges, units)
    if not pos:
        return {}
    xs = [p[0] for p in pos.values()]
    cx = (min(xs) + max(xs)) / 2
    top = min(p[1] - (BOX_H if u.startswith("#") else NODE_H) / 2 for u, p in pos.items())
    out: dict[str, tuple[float, float]] = {}
    for u, (x, y) in pos.items():
        if not u.startswith("#"):
            out[u] = (x - cx, y - top)  # type: ignore[index]
            continue
        inside = [m for m in members if unit[m] == u]
        sub = inner_layout(graph, u[1:], inside, closed)
        box_top = y - BOX_H / 2 - top
        for m, (sx, sy) in sub.items():
            out[m] = (x - cx + sx, box_top + sy)
    return out


def top_centre(points: Iterable[tuple[float, float]]) -> tuple[float, float] | None:
    """Where a group of node centres starts: the middle of its top edge."""
    pts = list(points)
    if not pts:
        return None
    xs = [p[0] for p in pts]
    return (min(xs) + max(xs)) / 2, min(p[1] for p in pts) - NODE_H / 2
