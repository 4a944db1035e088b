"""Fuzzing the reader: whatever the bytes, opening a project gives a Project or a
ProjectError, never another exception (and never a hang: each example is small)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnstudio.graph import presets
from cnnstudio.project import Project, ProjectError, read_project_bytes
from cnnstudio.project.model import Checkpoint, EpochRecord, Run

from .builders import members, rezip, saved_bytes, tensors


def _small_project() -> Project:
    project = Project(name="fuzz", graph=presets.build("lenet5"))
    project.weights["weights/w.safetensors"] = tensors(1, size=2)
    project.current_weights = "weights/w.safetensors"
    project.runs.append(Run(id=1, started="2025-01-01T00:00:00+00:00", graph_revision=1,
                            graph_hash="0" * 16, seed=0, training={}, dataset={},
                            status="finished", epochs=[EpochRecord(1, 0.5, 0.9)],
                            weights="weights/w.safetensors"))
    project.checkpoint = Checkpoint(1, {"epoch": 1}, tensors(2, size=1))
    project.extra_members["notes/n.json"] = b'{"a": [1, 2]}'
    return project


BASE = saved_bytes(_small_project())
DOCS = {name: json.loads(data) for name, data in members(BASE).items()
        if name.endswith(".json")}


def _outcome(data: bytes) -> None:
    try:
        result = read_project_bytes(data, "fuzzed.cnnproj")
    except ProjectError as exc:
        assert str(exc).startswith("fuzzed.cnnproj: ")
    else:
        assert isinstance(result, Project)


edit = st.tuples(st.sampled_from(["flip", "set", "insert", "delete"]),
                 st.integers(0, len(BASE) - 1), st.integers(0, 255))


@settings(max_examples=300, deadline=2000, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(edit, min_size=1, max_size=6), st.one_of(st.none(), st.integers(0, len(BASE))),
       st.booleans())
def test_mutated_bytes_give_a_project_or_a_project_error(edits, cut, near_the_end) -> None:
    data = bytearray(BASE)
    for kind, pos, value in edits:
        if near_the_end:  # the central directory: names, sizes, offsets, flags
            pos = len(BASE) - 1 - pos % 700
        pos = min(pos, max(len(data) - 1, 0))
        if kind == "flip" and data:
            data[pos] ^= 1 << (value % 8)
        elif kind == "set" and data:
            data[pos] = value
        elif kind == "insert":
            data[pos:pos] = bytes([value]) * (1 + value % 4)
        elif data:
            del data[pos:pos + 1 + value % 4]
    if cut is not None:
        data = data[:cut]
    _outcome(bytes(data))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=3),
    max_leaves=8)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _paths(value, prefix + (i,))


PATHS = [(name, path) for name, doc in sorted(DOCS.items()) for path in _paths(doc)]


@settings(max_examples=200, deadline=2000, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.booleans(), json_values), min_size=1,
                max_size=3))
def test_mutated_documents_give_a_project_or_a_project_error(changes) -> None:
    docs = json.loads(json.dumps(DOCS))
    for (name, path), delete, value in changes:
        if not path:
            docs[name] = value
            continue
        parent = docs[name]
        try:
            for key in path[:-1]:
                parent = parent[key]
            if delete and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this path
    replaced = {name: json.dumps(doc).encode() for name, doc in docs.items()}
    _outcome(rezip(BASE, replaced))
