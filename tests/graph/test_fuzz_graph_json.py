"""Fuzzing the graph JSON reader (DESIGN.md §3.2): whatever a graph file holds, opening it gives
a Graph that ``analyze`` reports on, or one GraphError with a one-line message; never another
exception. Structured mutations of preset documents reach the checks behind the JSON parser;
byte mutations of the writer's own text reach the parser and the file reading."""

from __future__ import annotations

import copy
import json
import math
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnstudio.graph import (
    Graph,
    GraphError,
    Report,
    analyze,
    dumps_graph,
    graph_from_dict,
    graph_to_dict,
    layers,
    load_graph,
    presets,
)
from cnnstudio.graph.jsonformat import MAX_JSON_DEPTH, MAX_MESSAGE, loads_graph
from cnnstudio.project import ProjectError, read_project_bytes

PRESETS = ("lenet5", "simple_cnn", "gap_cnn", "resnet18", "squeezenet1_1")
DOCS = {name: graph_to_dict(presets.build(name)) for name in PRESETS}
TEXTS = {name: dumps_graph(presets.build(name)).encode("utf-8") for name in PRESETS}

# Reproducible in CI: the same examples every run, no example database.
FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def opened(source: Any, read: Callable[[Any], Graph] = load_graph,
           prefix: str = "") -> Graph | None:
    """Open ``source`` and hold the reader to its promise: the graph (analysed, and written
    back to a document that reads again), or None after one clear error (which starts with
    ``prefix``, the file's name, where it came from a file)."""
    try:
        graph = read(source)
    except GraphError as exc:
        message = str(exc)
        assert message.startswith(prefix) and message[len(prefix):].strip(), message[:300]
        assert "\n" not in message, message[:300]
        assert len(message) <= MAX_MESSAGE + 300, f"{len(message):,} characters"  # + a path
        return None
    assert isinstance(graph, Graph)
    report = analyze(graph)
    assert isinstance(report, Report)
    assert all(issue.message for issue in report.issues)
    json.dumps(report.to_json())  # what `cnnstudio summary --json` prints
    text = dumps_graph(graph)
    assert dumps_graph(loads_graph(text)) == text
    return graph


# -- structured mutations ----------------------------------------------------------------------
DEEP = "\x00deep:"  # a placeholder, replaced in the JSON text by that many nested lists
PARAM_NAMES = sorted({p.name for t in layers.names() for p in layers.get(t).params})
TYPE_NAMES = layers.names()

hostile_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70),
    st.sampled_from([0, -1, 1, 2, 2**31, 2**53 + 1, 2**63, -2**63, 2**64, 10**30, 10**400,
                     -10**400, 10**4000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 0.5]),
    st.text(max_size=10),
    st.sampled_from(["", "same", "valid", "3", "1e400", "NaN", "Infinity", "\udc00", "input",
                     "__class__", "x" * 10_000, "Conv2d", "../../etc/passwd"]),
)
hostile_values = st.one_of(
    st.recursive(
        hostile_scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
            st.sampled_from(PARAM_NAMES) | st.text(max_size=6), inner, max_size=3),
        max_leaves=10),
    st.integers(1, 3).map(lambda n: [1] * 10 ** (n + 1)),  # long lists, bounded
    st.sampled_from([10, MAX_JSON_DEPTH - 10, MAX_JSON_DEPTH + 1, 5000]).map(
        lambda n: f"{DEEP}{n}"),
)

KINDS = ("set", "delete", "type", "param", "dup", "edge", "cycle", "chain", "move", "group",
         "top", "node_field")
mutation = st.tuples(st.sampled_from(KINDS), st.integers(0, 10**6), st.integers(0, 10**6),
                     hostile_values)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += _paths(value, prefix + (i,))
    return found


PATHS = {name: _paths(doc) for name, doc in DOCS.items()}


def _node_ids(doc: dict[str, Any]) -> list[Any]:
    nodes = doc.get("nodes")
    return [n.get("id") for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []


def mutate(name: str, changes: list[tuple[str, int, int, Any]]) -> dict[str, Any]:
    """A copy of preset ``name``'s document with ``changes`` applied (ones that no longer fit
    after an earlier change are skipped)."""
    doc = copy.deepcopy(DOCS[name])
    paths = PATHS[name]
    for kind, a, b, value in changes:
        nodes = doc.get("nodes") if isinstance(doc.get("nodes"), list) else []
        ids = _node_ids(doc) + ["missing", "", "input.x"]
        try:
            if kind in ("set", "delete"):
                path = paths[a % len(paths)]
                if not path:
                    doc = value if kind == "set" else {}
                    if not isinstance(doc, dict):
                        return doc  # type: ignore[return-value]
                    continue
                parent: Any = doc
                for key in path[:-1]:
                    parent = parent[key]
                if kind == "delete":
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = value
            elif kind == "type" and nodes:
                nodes[a % len(nodes)]["type"] = (TYPE_NAMES + [value])[b % (len(TYPE_NAMES) + 1)]
            elif kind == "param" and nodes:
                node = nodes[a % len(nodes)]
                params = node.setdefault("params", {})
                params[(PARAM_NAMES + ["bogus", "__init__"])[b % (len(PARAM_NAMES) + 2)]] = value
            elif kind == "dup" and nodes:
                nodes.insert(b % (len(nodes) + 1), copy.deepcopy(nodes[a % len(nodes)]))
            elif kind == "edge":
                edge = [ids[a % len(ids)], ids[b % len(ids)]]
                doc.setdefault("edges", []).append(edge + ([value] if b % 3 == 0 else []))
            elif kind == "cycle" and doc.get("edges"):
                src, dst = doc["edges"][a % len(doc["edges"])][:2]
                doc["edges"].append([dst, src])
            elif kind == "chain":
                doc.pop("edges", None)
            elif kind == "move" and nodes:
                nodes.append(nodes.pop(a % len(nodes)))
            elif kind == "group":
                groups = doc.setdefault("groups", [])
                gids = [g.get("id") for g in groups if isinstance(g, dict)] + ["g0", "g1"]
                groups.append({"id": gids[a % len(gids)], "parent": gids[b % len(gids)]}
                              if b % 2 else {"id": value, "name": value})
            elif kind == "top":
                key = ("format", "version", "nodes", "edges", "groups", "metadata",
                       "extra_key")[a % 7]
                doc[key] = value
            elif kind == "node_field" and nodes:
                key = ("id", "type", "params", "name", "position", "group", "frozen",
                       "extra")[b % 8]
                nodes[a % len(nodes)][key] = value
        except (KeyError, IndexError, TypeError, AttributeError, ValueError):
            continue  # an earlier change removed or retyped this place
    return doc


def as_text(doc: Any) -> str:
    """The document as JSON text, with the deep placeholders written as nested lists."""
    text = json.dumps(doc)
    marker = '"\\u0000deep:'
    while marker in text:
        start = text.index(marker)
        end = text.index('"', start + 1)
        depth = int(text[start + len(marker):end])
        text = text[:start] + "[" * depth + "]" * depth + text[end + 1:]
    return text


@settings(FUZZ, max_examples=1100)
@given(st.sampled_from(PRESETS), st.lists(mutation, min_size=1, max_size=4))
def test_mutated_documents_give_a_graph_or_a_graph_error(
        name: str, changes: list[tuple[str, int, int, Any]]) -> None:
    text = as_text(mutate(name, changes))
    from_text = opened(text)
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return  # the parser's own refusal was checked above
    from_dict = opened(parsed, graph_from_dict)  # the route the project reader takes
    assert (from_text is None) == (from_dict is None)


# -- byte mutations ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def graph_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, BinaryIO]]:
    """One file, rewritten in place for each example (creating or truncating a file by name
    costs milliseconds on some disks; rewriting an open one does not)."""
    path = tmp_path_factory.mktemp("graphs") / "fuzzed.json"
    path.write_bytes(b"")
    with open(path, "r+b") as fh:
        yield path, fh


edit = st.tuples(st.sampled_from(["flip", "set", "insert", "delete", "splice"]),
                 st.integers(0, 10**7), st.integers(0, 255))


@settings(FUZZ, max_examples=1600)
@given(st.sampled_from(PRESETS), st.lists(edit, min_size=1, max_size=8),
       st.one_of(st.none(), st.floats(0, 1)))
def test_mutated_bytes_give_a_graph_or_a_graph_error(
        graph_file: tuple[Path, BinaryIO], name: str, edits: list[tuple[str, int, int]],
        cut: float | None) -> None:
    base = TEXTS[name]
    data = bytearray(base)
    for kind, pos, value in edits:
        pos %= max(len(data), 1)
        if kind == "flip" and data:
            data[pos] ^= 1 << (value % 8)
        elif kind == "set" and data:
            data[pos] = value
        elif kind == "insert":
            data[pos:pos] = bytes([value]) * (1 + value % 4)
        elif kind == "delete":
            del data[pos:pos + 1 + value % 16]
        else:  # a piece of the file copied elsewhere: JSON tokens in odd places
            start = (pos * 7 + value) % len(base)
            data[pos:pos] = base[start:start + 1 + value % 64]
    if cut is not None:
        data = data[:int(len(data) * cut)]
    path, fh = graph_file
    fh.seek(0)
    fh.truncate()
    fh.write(data)
    fh.flush()
    opened(path, prefix=f"{path}: ")


# -- the cases the fuzzers found or that need a size beyond an example ----------------------
def _lenet_doc(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(DOCS["lenet5"])
    doc.update(changes)
    return doc


def refused(source: Any, *fragments: str) -> str:
    with pytest.raises(GraphError) as info:
        load_graph(source)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message
    return message


def test_a_number_with_more_digits_than_python_converts() -> None:
    # json.loads raises a plain ValueError (not a JSONDecodeError) for a 5000-digit integer.
    text = json.dumps(DOCS["lenet5"]).replace('"shape": [1, 32, 32]',
                                              '"shape": [1, ' + "9" * 5000 + ', 32]')
    assert "9" * 5000 in text
    refused(text, "not valid JSON", "digits")


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH - 4, MAX_JSON_DEPTH - 3, 900, 990])
def test_deeply_nested_values_are_refused_before_they_reach_the_graph(depth: int) -> None:
    # Nesting the parser accepts used to overflow the stack copying the parameters
    # (RecursionError). The document, nodes, a node and its params take 4 of the levels.
    nodes = copy.deepcopy(DOCS["lenet5"]["nodes"])
    nodes[1]["params"]["kernel_size"] = f"{DEEP}{depth}"
    text = as_text(_lenet_doc(nodes=nodes))
    if depth + 4 <= MAX_JSON_DEPTH:
        graph = opened(text)  # kernel_size is wrong, but the file opens
        assert graph is not None
        assert any("kernel_size" in issue.message for issue in analyze(graph).errors)
    else:
        refused(text, "nested too deeply", str(MAX_JSON_DEPTH))
        value: list = []
        for _ in range(depth - 1):
            value = [value]
        nodes[1]["params"]["kernel_size"] = value
        refused(_lenet_doc(nodes=nodes), "nested too deeply", str(MAX_JSON_DEPTH))


def test_deep_nesting_beyond_the_parser_is_refused() -> None:
    refused("[" * 100_000 + "]" * 100_000, "nested too deeply")


@pytest.mark.parametrize("value", [10**400, 2**1100, 1e308])
def test_numbers_too_large_for_a_float_do_not_break_the_analysis(value: Any) -> None:
    # Sizes beyond a float's range used to raise OverflowError inside analyze().
    for node, param in (("f6", "out_features"), ("c1", "out_channels"),
                        ("c1", "kernel_size"), ("c1", "stride")):
        doc = copy.deepcopy(DOCS["lenet5"])
        for item in doc["nodes"]:
            if item["id"].endswith(node) and param in layers.get(item["type"]).param_map:
                item.setdefault("params", {})[param] = value
        assert opened(doc) is not None
    doc = copy.deepcopy(DOCS["lenet5"])
    doc["nodes"][0]["params"]["shape"] = [1, value, 28] if isinstance(value, int) else [1, 28]
    assert opened(doc) is not None


def test_a_bound_checked_parameter_past_a_float_gets_its_message() -> None:
    # Formatting "must be at most 1 (got ...)" converted the value to a float: OverflowError.
    doc = copy.deepcopy(DOCS["gap_cnn"])
    node = next(n for n in doc["nodes"] if n["type"] == "Dropout")
    node["params"] = {"p": 10**400}
    graph = opened(json.dumps(doc))
    assert graph is not None
    errors = [i.message for i in analyze(graph).errors if i.node == node["id"]]
    assert errors and errors[0].startswith("p must be at most 1 (got 1000"), errors


def test_an_upsample_that_overflows_a_float_reports_an_error_on_its_node() -> None:
    doc = {"format": "cnnstudio.graph", "version": 1, "nodes": [
        {"id": "in", "type": "Input", "params": {"shape": [1, 8, 8]}},
        {"id": "up", "type": "Upsample", "params": {"scale_factor": 1e308}},
        {"id": "up2", "type": "Upsample", "params": {"scale_factor": 1e308}},
    ]}
    graph = opened(doc)
    assert graph is not None
    report = analyze(graph)
    assert not report.ok
    assert any(issue.node in ("up", "up2") for issue in report.errors)


def test_strides_past_a_float_leave_the_receptive_field_unknown() -> None:
    # The jump j·S overflowed to inf, and Report.to_json() raised OverflowError on ceil(inf).
    # Strides are at most 2**31 - 1 (layers/spec.py MAX_INT): 40 of them pass a float's range.
    conv = {"type": "Conv2d", "params": {"out_channels": 2, "kernel_size": 3, "padding": 1,
                                         "stride": 2**31 - 1}}
    doc = {"format": "cnnstudio.graph", "version": 1, "nodes": [
        {"id": "in", "type": "Input", "params": {"shape": [1, 8, 8]}},
        *({"id": f"c{i}", **conv} for i in range(1, 41)),
        {"id": "c41", "type": "Conv2d", "params": {"out_channels": 2, "kernel_size": 3,
                                                   "padding": 1}}]}
    graph = opened(doc)
    assert graph is not None
    nodes = {n["id"]: n for n in analyze(graph).to_json()["nodes"]}
    assert nodes["c1"]["receptive_field"] == [3, 3]
    assert nodes["c41"]["receptive_field"] is None and nodes["c41"]["output_shape"] == [2, 1, 1]


def test_many_nodes_and_edges_within_the_size_limit() -> None:
    """A long chain (10,000 layers) opens and analyses: nothing is quadratic or recursive."""
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [4]}}]
    nodes += [{"id": f"r{i}", "type": "ReLU"} for i in range(10_000)]
    doc = {"format": "cnnstudio.graph", "version": 1, "nodes": nodes}
    graph = opened(json.dumps(doc))
    assert graph is not None and len(graph) == 10_001
    assert analyze(graph).nodes["r9999"].shape == (4,)


@pytest.mark.parametrize("edges, fragment", [
    ([["c1", "c1"]], "cannot feed itself"),
    ([["in", "add"], ["add", "b"], ["b", "add"]], "would make a cycle"),
    ([["in", "nowhere"]], "no node 'nowhere'"),
    ([["in", 3]], "must be a node id string"),
    ([["in", "a", -1]], "non-negative integer"),
])
def test_edges_that_cannot_be(edges: list[list[Any]], fragment: str) -> None:
    doc = {"format": "cnnstudio.graph", "version": 1, "nodes": [
        {"id": "in", "type": "Input", "params": {"shape": [4]}},
        {"id": "a", "type": "ReLU"}, {"id": "b", "type": "ReLU"},
        {"id": "c1", "type": "ReLU"}, {"id": "add", "type": "Add"}], "edges": edges}
    refused(doc, fragment)


@pytest.mark.parametrize("where", ["type", "edge", "param", "version"])
def test_a_megabyte_value_gives_a_short_message(where: str) -> None:
    # The messages quote the value they refuse: a 1 MB string made a 1 MB "clear" error.
    huge = "x" * 1_000_000
    doc = copy.deepcopy(DOCS["lenet5"])
    if where == "type":
        doc["nodes"][2]["type"] = huge
    elif where == "edge":
        doc["edges"].append(["input", huge])
    elif where == "param":
        doc["nodes"][1]["params"] = {huge: 1}
    else:
        doc["version"] = huge
    message = refused(json.dumps(doc))
    assert len(message) <= MAX_MESSAGE, len(message)
    assert "1,000," in message and "characters, shortened" in message
    assert message.startswith(("nodes[2]", "edges[12]", "nodes[1]", "version")), message[:80]


# -- found in project files by fuzz/fuzz_readers.py ---------------------------------------------
# (kept here, beside the graph reader's cases, as the project tests are another area's files)
def _project_refused(data: bytes, *fragments: str) -> str:
    with pytest.raises(ProjectError) as info:
        read_project_bytes(data, "sent.cnnproj")
    message = str(info.value)
    assert message.startswith("sent.cnnproj: ") and "\n" not in message, message[:300]
    for fragment in fragments:
        assert fragment in message, message[:300]
    return message


def test_project_numbers_past_a_float_are_refused_not_crashed() -> None:
    # OverflowError from math.isfinite / float() on a 400-digit integer.
    from tests.project.builders import edit_json, saved_bytes

    good = saved_bytes()
    _project_refused(
        edit_json(good, "project.json", lambda doc: doc["dataset"].update(val_fraction=10**400)),
        "project.json: dataset.val_fraction: expected a finite number")
    _project_refused(
        edit_json(good, "runs.json",
                  lambda doc: doc["runs"][0]["epochs"][0].update(train_loss=-10**400)),
        "train_loss: expected a number or null, found an integer too large")


@pytest.mark.parametrize("header, fragment", [
    (b'{"w": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}',
     "unknown dtype ['F32']"),  # TypeError: unhashable type: 'list'
    (b'{"w": {"dtype": "F32", "shape": [' + b"9" * 5000 + b'], "data_offsets": [0, 4]}}',
     "the header is not valid JSON"),  # ValueError: more digits than Python converts
])
def test_project_safetensors_headers_that_crashed_the_check(header: bytes, fragment: str) -> None:
    from tests.project.builders import rezip, saved_bytes

    weights = struct.pack("<Q", len(header)) + header + b"\0" * 4
    _project_refused(rezip(saved_bytes(), {"weights/run-1-best.safetensors": weights}),
                     "weights/run-1-best.safetensors is not a safetensors file", fragment)


def test_a_megabyte_value_in_a_project_gives_a_short_message() -> None:
    # The same for a project: its own fields (project.json) and its graph (graph.json).
    from tests.project.builders import edit_json, saved_bytes

    good = saved_bytes()
    for member, change in (
            ("project.json", lambda doc: doc["dataset"].update(source=["x" * 100] * 10_000)),
            ("graph.json", lambda doc: doc["nodes"][1].update(type="y" * 1_000_000))):
        with pytest.raises(ProjectError) as info:
            read_project_bytes(edit_json(good, member, change), "sent.cnnproj")
        message = str(info.value)
        assert message.startswith(f"sent.cnnproj: {member}: "), message[:80]
        assert len(message) <= MAX_MESSAGE + 100 and "characters, shortened" in message


def test_duplicate_node_ids() -> None:
    doc = copy.deepcopy(DOCS["lenet5"])
    doc["nodes"].append(copy.deepcopy(doc["nodes"][1]))
    refused(doc, "already exists")
