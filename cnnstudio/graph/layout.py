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
SPACE = 40.0  # between neighbours in a row, when their widths are known
FRAME = (12.0, 18.0)  # a drawn block frame: padding around its members, height of its title
LABEL = 18.0  # room a link's label takes between two rows


def layered(edges: Iterable[tuple[Hashable, Hashable]], units: list[Hashable], *,
            row: float = ROW, column: float = COLUMN,
            height: Callable[[Hashable], float] | None = None,
            width: Callable[[Hashable], float] | None = None,
            blocks: Callable[[Hashable], tuple[str, ...]] | None = None,
            frame: tuple[float, float] = FRAME, space: float = SPACE,
            ) -> dict[Hashable, tuple[float, float]]:
    """Centre positions of ``units`` (in the given order for ties) for a DAG of ``edges``.

    ``height`` gives a unit's height (rows are then ``row / 2`` apart, else ``row`` from
    centre to centre); ``width`` its width (neighbours are then ``space`` apart, else
    ``column`` from centre to centre). ``blocks`` gives the blocks a unit sits in, outermost
    first: where neighbours sit in different blocks, rows and columns leave room for the
    blocks' frames (``frame``: the padding and the title height of one frame)."""
    if not units:
        return {}
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
    chain = blocks or (lambda u: ())
    pad, title = frame

    def apart(a: Hashable, b: Hashable) -> float:
        """Centre distance of two neighbours in a row."""
        base = column if width is None else (width(a) + width(b)) / 2 + space
        if blocks is None:
            return base
        ca, cb = chain(a), chain(b)
        common = 0
        while common < min(len(ca), len(cb)) and ca[common] == cb[common]:
            common += 1
        return base + (len(ca) + len(cb) - 2 * common) * pad

    x: dict[Hashable, float] = {}
    for r in range(depth + 1):
        members = rows[r]
        wanted = []
        for u in members:
            above = [x[p] for p in dag.predecessors(u) if p in x]
            wanted.append(sum(above) / len(above) if above else None)
        gaps = [apart(a, b) for a, b in zip(members, members[1:])]
        placed = _spread(wanted, gaps)
        for u, px in zip(members, placed):
            x[u] = px
    if blocks is not None:
        half = (lambda u: width(u) / 2) if width is not None else (lambda u: column / 2)
        _separate_frames(x, level, chain, half, pad, space)
    y: dict[int, float] = {}
    top = 0.0
    for r in range(depth + 1):
        tallest = max((height(u) for u in rows[r]), default=0.0) if height else 0.0
        if r and blocks is not None:
            need = _frame_room(rows[r - 1], rows[r], chain, pad, title) + LABEL
            top += max(0.0, need - (row / 2 if height else row / 3))
        y[r] = top + tallest / 2
        top += max(row, tallest + row / 2)
    return {u: (x[u], y[level[u]]) for u in units}


def _separate_frames(x: dict[Hashable, float], level: dict[Hashable, int],
                     chain: Callable[[Hashable], tuple[str, ...]],
                     half: Callable[[Hashable], float], pad: float, space: float,
                     rounds: int = 12) -> None:
    """Move blocks apart whose frames overlap (rows keep their order, so a frame can still
    reach over a sibling placed in another row: GoogLeNet's auxiliary classifiers). Each
    round pushes everything from the right frame's left edge onwards to the right."""
    for _ in range(rounds):
        items: dict[tuple[str | None, object], list[float]] = {}
        for u in x:
            c = chain(u)
            keys = [(c[i - 1] if i else None, g) for i, g in enumerate(c)]
            keys.append((c[-1] if c else None, ("unit", u)))
            for depth, key in enumerate(keys):
                m = pad * (len(c) - depth)
                left, right, r = x[u] - half(u) - m, x[u] + half(u) + m, level[u]
                e = items.get(key)
                if e is None:
                    items[key] = [left, right, r, r]
                else:
                    e[0], e[1] = min(e[0], left), max(e[1], right)
                    e[2], e[3] = min(e[2], r), max(e[3], r)
        clash = _first_clash(items, space)
        if clash is None:
            return
        line, shift = clash
        for u in x:
            if x[u] - half(u) >= line - 1e-6:
                x[u] += shift


def _first_clash(items: dict[tuple[str | None, object], list[float]],
                 space: float) -> tuple[float, float] | None:
    """The first pair of siblings (one of them a block) whose boxes overlap in rows and
    come closer than ``space / 2`` sideways: (the right one's left edge, how far to push)."""
    by_parent: dict[str | None, list[tuple[bool, list[float]]]] = {}
    for (parent, key), box in items.items():
        by_parent.setdefault(parent, []).append((isinstance(key, str), box))
    for siblings in by_parent.values():
        if not any(is_block for is_block, _ in siblings):
            continue
        siblings.sort(key=lambda s: s[1][0])
        for i, (block_a, a) in enumerate(siblings):
            for block_b, b in siblings[i + 1:]:
                if not (block_a or block_b) or b[2] > a[3] or a[2] > b[3]:
                    continue
                need = a[1] + space / 2 - b[0]
                if need > 1e-6:
                    return b[0], need
    return None


def _frame_room(upper: list[Hashable], lower: list[Hashable],
                chain: Callable[[Hashable], tuple[str, ...]], pad: float,
                title: float) -> float:
    """The room between two rows that frames take: frames that end below the upper row and
    frames that begin above the lower one."""
    above = {g for u in upper for g in chain(u)}
    below = {g for u in lower for g in chain(u)}
    closing = max((sum(1 for g in chain(u) if g not in below) for u in upper), default=0)
    opening = max((sum(1 for g in chain(u) if g not in above) for u in lower), default=0)
    return closing * pad + opening * (pad + title)


def _spread(wanted: list[float | None], gap: float | list[float]) -> list[float]:
    """x positions as close to ``wanted`` as possible, in order, neighbours at least ``gap``
    apart (one gap for all, or one per neighbouring pair)."""
    n = len(wanted)
    gaps = gap if isinstance(gap, list) else [gap] * max(n - 1, 0)
    known = [w for w in wanted if w is not None]
    centre = sum(known) / len(known) if known else 0.0
    offsets = [0.0]
    for g in gaps:
        offsets.append(offsets[-1] + g)
    middle = offsets[-1] / 2
    start = [w if w is not None else centre + offsets[i] - middle
             for i, w in enumerate(wanted)]
    # Keep the order; push right where two would overlap, then centre the row on its wish.
    out: list[float] = []
    for i, s in enumerate(start):
        out.append(s if i == 0 else max(s, out[-1] + gaps[i - 1]))
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
