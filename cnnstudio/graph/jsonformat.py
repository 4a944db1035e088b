"""The graph JSON document (DESIGN.md §3.2): hand-writable, diffable, and never runs code.

Reading parses, checks the format and version, resolves types against the catalogue, then
builds through the Graph methods, so a file can only describe what the editor could make.
Every error names the field it is about. Unknown keys are kept and written back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..fileio import atomic_write
from . import init as inits
from .model import Graph, GraphError
from .userfile import FileRefused, read_regular

FORMAT = "cnnstudio.graph"
VERSION = 1
MAX_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 100  # as for project files: deeper is never a graph, and copies would recurse
MAX_MESSAGE = 2000  # characters of an error message; longer ones are cut in the middle
_NODE_KEYS = ("id", "type", "params", "name", "position", "group", "frozen")
_GROUP_KEYS = ("id", "name", "parent")
_TOP_KEYS = ("format", "version", "nodes", "edges", "groups", "metadata")


# -- writing ---------------------------------------------------------------------------------
def graph_to_dict(graph: Graph) -> dict[str, Any]:
    nodes = []
    for node in graph:
        item: dict[str, Any] = {"id": node.id, "type": node.type}
        if node.params:
            item["params"] = node.params
        if node.name is not None:
            item["name"] = node.name
        if node.position is not None:
            item["position"] = list(node.position)
        if node.group is not None:
            item["group"] = node.group
        if node.frozen:
            item["frozen"] = True
        item.update(node.extra)
        nodes.append(item)
    edges: list[list[Any]] = []
    for node in graph:
        ordered = node.spec.ordered_inputs
        for port, src in enumerate(graph.input_map()[node.id]):
            edges.append([src, node.id, port] if ordered else [src, node.id])
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "nodes": nodes, "edges": edges}
    if graph.groups:
        groups = []
        for g in graph.groups.values():
            item = {"id": g.id}
            if g.name is not None:
                item["name"] = g.name
            if g.parent is not None:
                item["parent"] = g.parent
            item.update(g.extra)
            groups.append(item)
        doc["groups"] = groups
    if graph.metadata:
        doc["metadata"] = graph.metadata
    doc.update(graph.extra)
    return doc


def dumps_graph(graph: Graph) -> str:
    """The graph as JSON text: one node or edge per line, so diffs stay readable."""
    doc = graph_to_dict(graph)
    lines = ["{"]
    keys = list(doc)
    for i, key in enumerate(keys):
        value = doc[key]
        comma = "," if i < len(keys) - 1 else ""
        if key in ("nodes", "edges", "groups") and value:
            lines.append(f" {json.dumps(key)}: [")
            for j, item in enumerate(value):
                sep = "," if j < len(value) - 1 else ""
                lines.append(f"  {json.dumps(item, ensure_ascii=False)}{sep}")
            lines.append(f" ]{comma}")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def save_graph(graph: Graph, path: str | os.PathLike[str]) -> None:
    try:
        data = dumps_graph(graph).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a "\udc00" escape: keep it escaped
        data = json.dumps(graph_to_dict(graph), ensure_ascii=True).encode("ascii")
    atomic_write(path, data)


# -- reading ---------------------------------------------------------------------------------
def load_graph(source: str | os.PathLike[str] | dict[str, Any]) -> Graph:
    """A graph from a file path, JSON text, or an already parsed document."""
    if isinstance(source, dict):
        return graph_from_dict(source)
    if isinstance(source, str) and (source.lstrip()[:1] in ("{", "[") or "\n" in source):
        return loads_graph(source)
    path = Path(source)
    try:
        text = read_regular(path, MAX_BYTES, "graph file").decode("utf-8")
    except FileRefused as exc:
        raise GraphError(f"{path}: {exc}") from None
    except UnicodeDecodeError:
        raise GraphError(f"{path}: not a text file (a graph file is JSON)") from None
    except OSError as exc:
        raise GraphError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        return loads_graph(text)
    except GraphError as exc:
        raise GraphError(f"{path}: {exc}") from None


def loads_graph(text: str) -> Graph:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: "
                         f"{exc.msg})") from None
    except RecursionError:
        raise GraphError(f"the JSON is nested too deeply to be a graph (the limit is "
                         f"{MAX_JSON_DEPTH} levels)") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise GraphError(f"not valid JSON ({exc})") from None
    return graph_from_dict(data)


def _fail(where: str, message: str) -> GraphError:
    return GraphError(f"{where}: {message}")


def _too_deep(doc: dict[str, Any]) -> bool:
    """Whether lists and objects nest more than MAX_JSON_DEPTH levels (without recursion)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def shorten(message: str) -> str:
    """``message`` cut in the middle when a value in it is huge (a file can hold a megabyte
    string): the start says where the problem is, the end what to do."""
    if len(message) <= MAX_MESSAGE:
        return message
    return f"{message[:1000]} ... ({len(message):,} characters, shortened) ... {message[-200:]}"


def graph_from_dict(data: Any) -> Graph:
    try:
        return _graph_from_dict(data)
    except GraphError as exc:
        message = str(exc)
        if len(message) <= MAX_MESSAGE:
            raise
        raise GraphError(shorten(message)) from None


def _graph_from_dict(data: Any) -> Graph:
    if not isinstance(data, dict):
        raise GraphError("a graph document is a JSON object with \"format\": \"cnnstudio.graph\"")
    if _too_deep(data):
        raise GraphError(f"the JSON is nested too deeply to be a graph (more than "
                         f"{MAX_JSON_DEPTH} levels)")
    fmt = data.get("format")
    if fmt != FORMAT:
        raise _fail("format", f"expected {FORMAT!r}, found {fmt!r}: this is not a CNN Studio "
                    "graph")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _fail("version", f"expected a positive integer, found {version!r}")
    if version > VERSION:
        raise _fail("version", f"the graph was written by a newer CNN Studio (format version "
                    f"{version}; this one reads up to {VERSION}): update CNN Studio to open it")
    graph = Graph()
    with graph.batch():
        _read_groups(graph, data.get("groups", []))
        chained = _read_nodes(graph, data.get("nodes"))
        if "edges" in data:
            _read_edges(graph, data["edges"])
        else:
            for i in range(1, len(chained)):
                try:
                    graph.connect(chained[i - 1], chained[i])
                except GraphError as exc:
                    raise _fail(f"nodes[{i}]", f"cannot chain it after {chained[i - 1]} (no "
                                f"\"edges\" given): {exc}") from None
        metadata = data.get("metadata", {})
        if not isinstance(metadata, dict):
            raise _fail("metadata", "expected an object")
        if inits.KEY in metadata:
            metadata = {**metadata, inits.KEY: _read_init(metadata[inits.KEY], "metadata.init")}
        graph.metadata = metadata
        graph.extra = {k: v for k, v in data.items() if k not in _TOP_KEYS}
    return graph


def _read_groups(graph: Graph, groups: Any) -> None:
    if not isinstance(groups, list):
        raise _fail("groups", "expected a list of blocks")
    pending: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(groups):
        if not isinstance(item, dict):
            raise _fail(f"groups[{i}]", "expected an object with an \"id\"")
        gid = item.get("id")
        if not isinstance(gid, str) or not gid:
            raise _fail(f"groups[{i}].id", "expected a non-empty string")
        for key in ("name", "parent"):
            if item.get(key) is not None and not isinstance(item[key], str):
                raise _fail(f"groups[{i}].{key}", "expected a string")
        pending.append((i, item))
    # Parents may be listed after their children: add in passes.
    while pending:
        later = []
        for i, item in pending:
            parent = item.get("parent")
            if parent is not None and parent not in graph.groups:
                later.append((i, item))
                continue
            try:
                graph.add_group(item["id"], item.get("name"), parent,
                                {k: v for k, v in item.items() if k not in _GROUP_KEYS})
            except GraphError as exc:
                raise _fail(f"groups[{i}]", str(exc)) from None
        if len(later) == len(pending):
            i, item = later[0]
            raise _fail(f"groups[{i}].parent", f"no block {item['parent']!r} (or the blocks "
                        "are nested in a circle)")
        pending = later


def _read_nodes(graph: Graph, nodes: Any) -> list[str]:
    if not isinstance(nodes, list):
        raise _fail("nodes", "expected a list of nodes")
    ids = []
    for i, item in enumerate(nodes):
        where = f"nodes[{i}]"
        if not isinstance(item, dict):
            raise _fail(where, "expected an object with \"id\" and \"type\"")
        node_type = item.get("type")
        if not isinstance(node_type, str):
            raise _fail(f"{where}.type", "expected a layer type name such as \"Conv2d\"")
        params = item.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise _fail(f"{where}.params", "expected an object of parameter values")
        name = item.get("name")
        if name is not None and not isinstance(name, str):
            raise _fail(f"{where}.name", "expected a string")
        position = item.get("position")
        if position is not None:
            if not (isinstance(position, list) and len(position) == 2 and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in position)):
                raise _fail(f"{where}.position", "expected [x, y] numbers")
            position = (float(position[0]), float(position[1]))
        group = item.get("group")
        if group is not None and not isinstance(group, str):
            raise _fail(f"{where}.group", "expected a block id string")
        frozen = item.get("frozen", False)
        if not isinstance(frozen, bool):
            raise _fail(f"{where}.frozen", "expected true or false")
        extra = {k: v for k, v in item.items() if k not in _NODE_KEYS}
        if inits.KEY in extra:
            extra[inits.KEY] = _read_init(extra[inits.KEY], f"{where}.init")
            if not inits.applies_to(node_type):
                raise _fail(f"{where}.init", f"a {node_type} has no weights to initialise")
        try:
            node = graph.add_node(node_type, item.get("id"), params, name=name,
                                  position=position, group=group, frozen=frozen, extra=extra)
        except GraphError as exc:
            label = item.get("id") if isinstance(item.get("id"), str) else where
            raise _fail(f"{where} ({label})" if label != where else where, str(exc)) from None
        ids.append(node.id)
    return ids


def _read_init(value: Any, where: str) -> dict[str, Any]:
    """A weight-initialisation scheme (graph/init.py), checked; a missing one means torch's
    default, so files written before schemes existed read as they always did."""
    try:
        return inits.check(value, where)
    except inits.InitError as exc:
        raise GraphError(str(exc)) from None


def _read_edges(graph: Graph, edges: Any) -> None:
    if not isinstance(edges, list):
        raise _fail("edges", "expected a list of [source, destination] pairs")
    plain: list[tuple[int, str, str]] = []
    ported: dict[str, list[tuple[int, int, str]]] = {}
    for i, item in enumerate(edges):
        where = f"edges[{i}]"
        if not isinstance(item, list) or len(item) not in (2, 3):
            raise _fail(where, "expected [source, destination] or [source, destination, port]")
        src, dst = item[0], item[1]
        for key, value in (("source", src), ("destination", dst)):
            if not isinstance(value, str):
                raise _fail(where, f"the {key} must be a node id string, not {value!r}")
            if value not in graph:
                raise _fail(where, f"no node {value!r}")
        if len(item) == 3:
            port = item[2]
            if not isinstance(port, int) or isinstance(port, bool) or port < 0:
                raise _fail(where, f"the port must be a non-negative integer, not {port!r}")
            ported.setdefault(dst, []).append((port, i, src))
        else:
            plain.append((i, src, dst))
    plain_into = {d: i for i, _, d in reversed(plain)}
    for dst, items in ported.items():
        ports = [p for p, _, _ in items]
        if len(set(ports)) != len(ports):
            i = max(i for p, i, _ in items if ports.count(p) > 1)
            raise _fail(f"edges[{i}]", f"two links into {dst} use the same port")
        if dst in plain_into:
            raise _fail(f"edges[{plain_into[dst]}]",
                        f"give a port to every link into {dst}, or to none")
    # File order, except that the links into a node with ports come together in port order.
    queues = {dst: [(i, src, dst) for _, i, src in sorted(items)]
              for dst, items in ported.items()}
    ordered: list[tuple[int, str, str]] = []
    for i, item in enumerate(edges):
        dst = item[1]
        if dst in queues:
            ordered.extend(queues.pop(dst))
        elif len(item) == 2:
            ordered.append((i, item[0], dst))
    for i, src, dst in ordered:
        try:
            graph.connect(src, dst)
        except GraphError as exc:
            raise _fail(f"edges[{i}]", str(exc)) from None
