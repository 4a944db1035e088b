"""Automatic layered layout (Sugiyama style) of a network, top to bottom.

Units are nodes, or whole blocks when the caller draws a block as one box: each unit gets a
row by its longest path from the inputs, rows are ordered to reduce crossings (barycentre
sweeps), and units are placed under the units that feed them, so a network's main path runs
straight down and branches (skip connections, Inception branches) sit beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable

import networkx as nx

from .model import Graph

ROW = 110.0
COLUMN = 230.0


def layered(edges: Iterable[tuple[Hashable, Hashable]], units: list[Hashable], *,
            row: float = ROW, column: float = COLUMN,
            height: Callable[[Hashable], float] | None = None) -> dict[Hashable, tuple[float,
                                                                                      float]]:
    """Centre positions of ``units`` (in the given order for ties) for a DAG of ``edges``."""
    dag = nx.DiGraph()
    dag.add_nodes_from(units)
    dag.add_edges_from((a, b) for a, b in edges if a != b)
    rank = {u: i for i, u in enumerate(units)}
    order = list(nx.lexicographical_topological_sort(dag, key=lambda u: rank[u]))
    level: dict[Hashable, int] = {}
    for u in order:
        level[u] = max((level[p] + 1 for p in dag.predecessors(u)), default=0)
    rows: dict[int, list[Hashable]] = {}
    for u in order:
        rows.setdefault(level[u], []).append(u)
    # Barycentre sweeps: down (by predecessors), then up (by successors), twice.
    index = {u: i for r in rows.values() for i, u in enumerate(r)}
    depth = max(rows) if rows else 0
    for _ in range(2):
        for sweep, neighbours in ((range(1, depth + 1), dag.predecessors),
                                  (range(depth - 1, -1, -1), dag.successors)):
            for r in sweep:
                members = rows[r]
                key = {}
                for u in members:
                    near = [index[v] for v in neighbours(u)]
                    key[u] = sum(near) / len(near) if near else index[u]
                members.sort(key=lambda u: (key[u], rank[u]))
                for i, u in enumerate(members):
                    index[u] = i
    x: dict[Hashable, float] = {}
    for r in range(depth + 1):
        members = rows[r]
        wanted = []
        for u in members:
            above = [x[p] for p in dag.predecessors(u) if p in x]
            wanted.append(sum(above) / len(above) if above else None)
        placed = _spread(wanted, column)
        for u, px in zip(members, placed):
            x[u] = px
    y: dict[int, float] = {}
    top = 0.0
    for r in range(depth + 1):
        tallest = max((height(u) for u in rows[r]), default=0.0) if height else 0.0
        y[r] = top + tallest / 2
        top += max(row, tallest + row / 2)
    return {u: (x[u], y[level[u]]) for u in units}


def _spread(wanted: list[float | None], gap: float) -> list[float]:
    """x positions as close to ``wanted`` as possible, at least ``gap`` apart, in order."""
    n = len(wanted)
    known = [w for w in wanted if w is not None]
    centre = sum(known) / len(known) if known else 0.0
    start = [w if w is not None else centre + (i - (n - 1) / 2) * gap
             for i, w in enumerate(wanted)]
    # Keep the order; push right where two would overlap, then centre the row on its wish.
    out = []
    for i, s in enumerate(start):
        out.append(s if i == 0 else max(s, out[-1] + gap))
    shift = (sum(start) - sum(out)) / n if n else 0.0
    return [v + shift for v in out]


def layout_graph(graph: Graph) -> dict[str, tuple[float, float]]:
    """Positions of every node of ``graph`` (node centres, in scene units)."""
    edges = [(e.src, e.dst) for e in graph.edges()]
    return layered(edges, list(graph.nodes))  # type: ignore[return-value]


def contracted_edges(graph: Graph, unit_of: dict[str, str]) -> list[tuple[str, str]]:
    """The links between units when several nodes are drawn as one (a collapsed block)."""
    seen = set()
    out = []
    for e in graph.edges():
        a, b = unit_of.get(e.src, e.src), unit_of.get(e.dst, e.dst)
        if a != b and (a, b) not in seen:
            seen.add((a, b))
            out.append((a, b))
    return out
