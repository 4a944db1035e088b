"""Fuzz the file readers far past what the test suite runs.

    python fuzz/fuzz_readers.py --cases 20000 --seed 1 [--target graph|project|all] [--out DIR]

Each case mutates a real file: a preset's graph JSON (as the module's own writer produces it)
or a project archive (the examples in projects/*.cnnproj and one generated project with runs,
weights and a checkpoint); by bytes (flips, inserts, deletions, splices, truncation) or by
structure (values in the JSON documents, members of the zip, safetensors headers). Then it
opens the result with the reader a user's "Open" goes through and sorts the outcome:

    valid         a Graph (analyze() reports on it, the report turns into JSON, the graph's
                  own text reads back) or a Project (whose graph the same holds for)
    clear error   GraphError / ProjectError with a one-line message naming the problem
    unexpected    any other exception, an empty or multi-line message, a case past
                  --case-timeout, or a file left behind by the reader

Inputs of unexpected cases go to --out (with the traceback) and can be rerun with --replay.
The summary gives counts, the slowest case and the peak memory; the exit status is 1 when
anything unexpected happened. Speed is reported, not judged. No case runs code from the
input: pickles in the inputs are only bytes the readers must refuse.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import random
import re
import resource
import signal
import struct
import sys
import tempfile
import time
import traceback
import tracemalloc
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cnnstudio.graph import (  # noqa: E402
    GraphError,
    Report,
    analyze,
    dumps_graph,
    layers,
    load_graph,
    presets,
)
from cnnstudio.graph.jsonformat import loads_graph  # noqa: E402
from cnnstudio.project import (  # noqa: E402
    Checkpoint,
    EpochRecord,
    Project,
    ProjectError,
    Run,
    load_project,
    read_project_bytes,
    save_project,
)

GRAPH_PRESETS = ("lenet5", "simple_cnn", "gap_cnn", "resnet18", "squeezenet1_1",
                 "mobilenet_v3_small", "se_resnet18")
MAX_SAVED = 50  # inputs written to --out; every unexpected case is still counted
MAX_MESSAGE = 10_000  # characters: an error message longer than this is not a clear one


class CaseTimeout(Exception):
    """A case ran past --case-timeout."""


# -- hostile values and JSON text ----------------------------------------------------------------
class Raw:
    """JSON text that json.dumps cannot write (deep nesting, 5000-digit numbers)."""

    def __init__(self, text: str) -> None:
        self.text = text


TOKENS = [b'"', b"{", b"}", b"[", b"]", b",", b":", b"NaN", b"-Infinity", b"1e999", b"-0",
          b"null", b"true", b"\\u0000", b"\\ud800", b"\xff", b"\xc3", b"\x00", b"\r\n",
          b"9" * 400, b"9" * 5000, b"[" * 3000, b'{"a":' * 500, b"\xef\xbb\xbf"]


def hostile_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if pick < 0.45:
        return rng.choice([
            None, True, False, 0, -1, 1, 2, 3, 7, 2**31, 2**53 + 1, 2**63, -2**63, 2**64,
            10**30, 10**400, -(10**400), float("nan"), float("inf"), float("-inf"), 1e308,
            -1e308, 5e-324, -0.0, 0.5, 1.5, "", "same", "valid", "3", "NaN", "\udc00",
            "input", "__class__", "Conv2d", "../../etc/passwd", "a.b", "x" * 1000,
        ])
    if pick < 0.55:
        return rng.randint(-2**70, 2**70)
    if pick < 0.62:
        return rng.uniform(-1e6, 1e6)
    if pick < 0.68:
        size = rng.choice([2, 3, 4, 1000, 100_000])
        return [rng.choice([1, 0, -1, None, 2**40])] * size
    if pick < 0.72:
        return "x" * rng.choice([10_000, 1_000_000])
    if pick < 0.77:
        depth_ = rng.choice([50, 99, 101, 500, 990, 5000])
        return Raw("[" * depth_ + "]" * depth_)
    if pick < 0.80:
        return Raw("9" * rng.choice([300, 4300, 4301, 20_000]))
    if pick < 0.83:
        return Raw(rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400"]))
    if depth < 3 and pick < 0.92:
        return [hostile_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if depth < 3:
        keys = [rng.choice(PARAM_NAMES + ["", "id", "type", "__proto__", "x" * 300])
                for _ in range(rng.randint(0, 3))]
        return {k: hostile_value(rng, depth + 1) for k in keys}
    return rng.choice([None, 0, "", []])


def to_json(doc: Any) -> str:
    """``doc`` as JSON text, Raw values written as they are."""
    raws: list[str] = []

    def swap(value: Any) -> Any:
        if isinstance(value, Raw):
            raws.append(value.text)
            return f"\x00raw{len(raws) - 1}\x00"
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(doc))
    for i, raw in enumerate(raws):
        text = text.replace(f'"\\u0000raw{i}\\u0000"', raw, 1)
    return text


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += _paths(value, prefix + (i,))
    return found


def mutate_json(doc: Any, rng: random.Random) -> tuple[Any, str]:
    """``doc`` (a copy) with a few changes; generic, plus graph-aware ones where the document
    has nodes. Returns the document and the names of the changes."""
    doc = copy.deepcopy(doc)
    done = []
    for _ in range(rng.randint(1, 4)):
        nodes = doc.get("nodes") if isinstance(doc, dict) else None
        nodes = nodes if isinstance(nodes, list) and nodes else None
        kind = rng.choice(["set", "set", "delete", "top"] + (
            ["type", "param", "dup", "edge", "cycle", "chain", "move", "node_field", "group",
             "many"] if nodes else []))
        done.append(kind)
        try:
            if kind in ("set", "delete"):
                path = rng.choice(_paths(doc))
                if not path:
                    doc = hostile_value(rng) if kind == "set" else {}
                    continue
                parent = doc
                for key in path[:-1]:
                    parent = parent[key]
                if kind == "delete":
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = hostile_value(rng)
            elif kind == "top" and isinstance(doc, dict):
                key = rng.choice(["format", "version", "nodes", "edges", "groups", "metadata",
                                  "runs", "name", "dataset", "training", "current_weights",
                                  "future"] + list(doc))
                doc[key] = hostile_value(rng)
            elif kind == "type":
                rng.choice(nodes)["type"] = rng.choice(TYPE_NAMES + [hostile_value(rng)])
            elif kind == "param":
                node = rng.choice(nodes)
                params = node.setdefault("params", {})
                params[rng.choice(PARAM_NAMES + ["bogus"])] = hostile_value(rng)
            elif kind == "dup":
                nodes.insert(rng.randrange(len(nodes) + 1), copy.deepcopy(rng.choice(nodes)))
            elif kind in ("edge", "cycle"):
                ids = [n.get("id") for n in nodes if isinstance(n, dict)] + ["missing", ""]
                edges = doc.setdefault("edges", [])
                if kind == "cycle" and edges and isinstance(edges, list):
                    edge = rng.choice(edges)
                    edges.append([edge[1], edge[0]])
                else:
                    edge = [rng.choice(ids), rng.choice(ids)]
                    if rng.random() < 0.3:
                        edge.append(hostile_value(rng))
                    edges.append(edge)
            elif kind == "chain":
                doc.pop("edges", None)
            elif kind == "move":
                nodes.append(nodes.pop(rng.randrange(len(nodes))))
            elif kind == "node_field":
                rng.choice(nodes)[rng.choice(["id", "type", "params", "name", "position",
                                              "group", "frozen", "extra"])] = hostile_value(rng)
            elif kind == "group":
                groups = doc.setdefault("groups", [])
                gids = [g.get("id") for g in groups if isinstance(g, dict)] + ["g0", "g1"]
                groups.append({"id": rng.choice(gids), "parent": rng.choice(gids)})
            elif kind == "many":  # a long chain of cheap layers, within bounds
                count = rng.choice([100, 100, 1000, 1000, 5000, 20_000]) if rng.random() < 0.5 \
                    else 10
                nodes.extend({"id": f"many{i}", "type": "ReLU"} for i in range(count))
        except (KeyError, IndexError, TypeError, AttributeError, ValueError):
            continue  # an earlier change removed or retyped that place
    return doc, "+".join(done)


def mutate_bytes(base: bytes, rng: random.Random, focus_end: int = 0,
                 text: bool = False) -> tuple[bytes, str]:
    """``base`` with 1 to 8 byte edits; ``focus_end`` bytes at the end (a zip's table of
    contents) get half the edits; for ``text`` most edits keep it ASCII, so that they reach
    the JSON parser and the checks behind it rather than the UTF-8 decoder."""
    raw = 0.05 if text else 0.3  # the share of edits with arbitrary bytes
    data = bytearray(base)
    done = []
    for _ in range(rng.randint(1, 8)):
        if not data:
            data += rng.choice(TOKENS)
        if focus_end and rng.random() < 0.5:
            pos = max(0, len(data) - 1 - rng.randrange(focus_end))
        else:
            pos = rng.randrange(len(data))
        kind = rng.choice(["flip", "set", "insert", "token", "delete", "splice", "swap"]
                          + ([] if text else ["int"]))
        done.append(kind)
        if kind == "flip":
            data[pos] ^= 1 << (7 if rng.random() < raw else rng.randrange(7))
        elif kind == "set":
            data[pos] = rng.randrange(256) if rng.random() < raw else rng.randrange(32, 127)
        elif kind == "insert":
            size = rng.randint(1, 8)
            data[pos:pos] = rng.randbytes(size) if rng.random() < raw else bytes(
                rng.randrange(32, 127) for _ in range(size))
        elif kind == "token":
            token = rng.choice(TOKENS)
            while text and rng.random() > raw and not token.isascii():
                token = rng.choice(TOKENS)
            data[pos:pos] = token
        elif kind == "delete":
            del data[pos:pos + rng.randint(1, 64)]
        elif kind == "splice" and base:  # a piece of the original copied elsewhere
            start = rng.randrange(len(base))
            data[pos:pos] = base[start:start + rng.randint(1, 256)]
        elif kind == "swap" and len(data) > 8:
            a, b = sorted(rng.sample(range(len(data)), 2))
            data[a], data[b] = data[b], data[a]
        elif kind == "int" and len(data) >= pos + 4:  # a size or offset field, made extreme
            value = rng.choice([0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, len(data), 2**31])
            struct.pack_into("<I", data, min(pos, len(data) - 4), value)
    if rng.random() < 0.15:
        data = data[:rng.randrange(len(data) + 1)]
        done.append("truncate")
    return bytes(data), "bytes:" + "+".join(done)


PARAM_NAMES = sorted({p.name for t in layers.names() for p in layers.get(t).params})
TYPE_NAMES = layers.names()


# -- outcomes ----------------------------------------------------------------------------------
@dataclass
class Tally:
    target: str
    counts: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    mutations: Counter = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    slowest: tuple[float, int, str] = (0.0, -1, "")
    py_peak: tuple[int, int, str] = (0, -1, "")
    seconds: float = 0.0


def _error_kind(message: str) -> str:
    """The start of the message with its values blanked: what kind of refusal it was."""
    head = re.sub(r"'[^']*'|\"[^\"]*\"|\[\d+\]|\d[\d,.]*|\([^()]{0,60}\)", "…",
                  message[:300])
    return " ".join(head.split()[:9])[:80]


def _clear(message: str) -> bool:
    return bool(message.strip()) and "\n" not in message and len(message) <= MAX_MESSAGE


def check_graph(path: Path) -> tuple[str, str]:
    """Open a graph file: ("valid", "") or ("error", the message less the file name); raises
    on anything else."""
    try:
        graph = load_graph(path)
    except GraphError as exc:
        message = str(exc)
        if not _clear(message) or not message.startswith(f"{path}: "):
            raise AssertionError(f"an unclear GraphError ({len(message):,} characters): "
                                 f"{message[:300]!r}") from None
        return "error", message.removeprefix(f"{path}: ")
    report = analyze(graph)
    if not isinstance(report, Report):
        raise AssertionError(f"analyze returned {type(report).__name__}")
    json.dumps(report.to_json())  # what `cnnstudio summary --json` prints
    text = dumps_graph(graph)
    if dumps_graph(loads_graph(text)) != text:
        raise AssertionError("the graph's own text does not read back the same")
    return "valid", ""


def check_project(data: bytes, folder: Path, via_file: bool) -> tuple[str, str]:
    """Open project bytes (or, with ``via_file``, the file holding them): ("valid", "") or
    ("error", the message less the file name); raises on anything else, or when the reader
    left a file behind."""
    path = folder / "fuzzed.cnnproj"
    shown = str(path) if via_file else path.name
    if via_file:
        path.write_bytes(data)
    try:
        project = load_project(path) if via_file else read_project_bytes(data, shown)
    except ProjectError as exc:
        message = str(exc)
        if not _clear(message) or not message.startswith(f"{shown}: "):
            raise AssertionError(f"an unclear ProjectError ({len(message):,} characters): "
                                 f"{message[:300]!r}") from None
        return "error", message.removeprefix(f"{shown}: ")
    finally:
        path.unlink(missing_ok=True)
    left = sorted(p.name for p in folder.iterdir())
    if left:
        raise AssertionError(f"the reader wrote {left} beside the file")
    if not isinstance(project, Project):
        raise AssertionError(f"read_project_bytes returned {type(project).__name__}")
    report = analyze(project.graph)
    if not isinstance(report, Report):
        raise AssertionError("analyze did not return a Report")
    json.dumps(report.to_json())
    return "valid", ""


# -- the inputs --------------------------------------------------------------------------------
def graph_bases() -> dict[str, bytes]:
    return {name: dumps_graph(presets.build(name)).encode("utf-8") for name in GRAPH_PRESETS}


def _safetensors(seed: int, shapes: dict[str, tuple[int, ...]]) -> bytes:
    import numpy as np
    from safetensors.numpy import save

    rng = np.random.default_rng(seed)
    return save({k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()},
                metadata={"format": "pt"})


def _rich_project(folder: Path) -> bytes:
    """A project using the whole format: runs, weights, a checkpoint, an extra member."""
    graph = presets.build("lenet5")
    weights = _safetensors(1, {"features.c1.weight": (6, 1, 5, 5), "features.c1.bias": (6,)})
    project = Project(name="fuzz", graph=graph)
    project.weights["weights/run-1-best.safetensors"] = weights
    project.current_weights = "weights/run-1-best.safetensors"
    project.runs.append(Run(id=1, started="2025-01-01T00:00:00+00:00", graph_revision=1,
                            graph_hash="0" * 16, seed=0, training={}, dataset={},
                            status="finished", epochs=[EpochRecord(1, 0.5, 0.9)],
                            weights="weights/run-1-best.safetensors"))
    project.checkpoint = Checkpoint(1, {"epoch": 1, "rng": [1, 2, 3]},
                                    _safetensors(2, {"opt.m": (3, 2)}))
    project.extra_members["notes/n.json"] = b'{"a": [1, 2]}'
    path = folder / "rich.cnnproj"
    save_project(project, path)
    data = path.read_bytes()
    path.unlink()
    return data


def project_bases(folder: Path) -> dict[str, bytes]:
    bases = {p.name: p.read_bytes() for p in sorted((ROOT / "projects").glob("*.cnnproj"))}
    bases["generated-rich.cnnproj"] = _rich_project(folder)
    return bases


def _members(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info, zf.read(info)) for info in zf.infolist()]


PICKLE = b"\x80\x02cposix\nsystem\nq\x00X\x06\x00\x00\x00true\nq\x01\x85q\x02Rq\x03."
BOMB = None  # a member of 8 MiB of zeros: deflated, over the reader's ratio limit


def mutate_member(name: str, data: bytes, rng: random.Random) -> tuple[bytes, str]:
    if name.endswith(".json") and rng.random() < 0.8:
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):  # an earlier change broke it
            doc = None
        if doc is not None:
            doc, what = mutate_json(doc, rng)
            return to_json(doc).encode("utf-8", "surrogatepass"), f"json({what})"
    header = None
    if name.endswith(".safetensors") and rng.random() < 0.6 and len(data) >= 8:
        (size,) = struct.unpack("<Q", data[:8])
        try:
            header = json.loads(data[8:8 + size])
        except (ValueError, RecursionError):
            header = None  # an earlier change broke it: mutate its bytes instead
    if isinstance(header, dict) and header:
        key = rng.choice(list(header))
        field_ = rng.choice(["dtype", "shape", "data_offsets", None])
        if field_ and isinstance(header[key], dict):
            header[key][field_] = rng.choice([
                "F32", "F64", "I8", "BOOL", "PICKLE", "", [2**40], [-1], [0, 2**62],
                [3, 2], [0, 0], [1] * 70, hostile_value(rng)])
        else:
            header[key] = hostile_value(rng)
        head = to_json(header).encode("utf-8", "surrogatepass")
        length = len(head) if rng.random() < 0.9 else rng.choice([0, 2**63, len(head) + 7])
        return struct.pack("<Q", length) + head + data[8 + size:], f"safetensors({field_})"
    if rng.random() < 0.2:
        return rng.choice([PICKLE, b"", rng.randbytes(64)]), "replaced"
    return mutate_bytes(data, rng)[0], "bytes"


def mutate_archive(base: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Rebuild the zip with changed members, names or entry flags."""
    global BOMB
    items = _members(base)
    done = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["member"] * 8 + ["remove", "add", "rename", "duplicate", "mode",
                                            "bomb"])
        done.append(kind)
        if kind == "member" and items:
            i = rng.randrange(len(items))
            info, data = items[i]
            data, what = mutate_member(info.filename, data, rng)
            items[i] = (info, data)
            done[-1] = f"member:{info.filename}:{what}"
        elif kind == "remove" and items:
            items.pop(rng.randrange(len(items)))
        elif kind in ("add", "rename") and items:
            name = rng.choice([
                "../evil.json", "/abs.json", "C:/x.json", "notes\\x.json", "notes//x.json",
                "evil.pkl", "model.pth", "hook.py", "weights/x.safetensors", "notes/",
                "x" * 2000 + ".json", "n\x01.json", "runs.json", "graph.json", "project.json",
                "checkpoint/state.safetensors", "checkpoint/state.json", "a/b/c/d.json"])
            if kind == "add":
                items.append((zipfile.ZipInfo(name), rng.choice(
                    [b"{}", PICKLE, b"[1]", rng.randbytes(32),
                     _safetensors(3, {"x": (2,)})])))
            else:
                i = rng.randrange(len(items))
                items[i] = (zipfile.ZipInfo(name), items[i][1])
        elif kind == "duplicate" and items:
            items.append(rng.choice(items))
        elif kind == "mode" and items:
            i = rng.randrange(len(items))
            info = zipfile.ZipInfo(items[i][0].filename)
            info.external_attr = rng.choice([0o120777, 0o040755, 0o100755, 0xFFFF]) << 16
            info.flag_bits = rng.choice([0, 0x1, 0x8, 0x800])
            items[i] = (info, items[i][1])
        elif kind == "bomb":
            if BOMB is None:
                BOMB = b"\x00" * (8 << 20)
            name = rng.choice(["notes/big.json", "weights/big.safetensors", "graph.json"])
            items.append((zipfile.ZipInfo(name), BOMB))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info, data in items:
            entry = zipfile.ZipInfo(info.filename, date_time=(2025, 1, 1, 0, 0, 0))
            entry.external_attr = info.external_attr or (0o100644 << 16)
            entry.compress_type = rng.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
            try:
                with zf.open(entry, "w") as fh:
                    fh.write(data)
            except (ValueError, OSError):
                continue  # zipfile will not write that entry; leave it out
    data = out.getvalue()
    if rng.random() < 0.15:  # raw flags in the table of contents (encryption, sizes, offsets)
        data, what = mutate_bytes(data, rng, focus_end=400)
        done.append(what)
    return data, "zip:" + "+".join(done)


# -- running -----------------------------------------------------------------------------------
def _alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout("the case ran past --case-timeout")


def run_target(target: str, cases: int, seed: int, out: Path | None, case_timeout: float,
               trace_memory: bool, progress_every: int) -> Tally:
    tally = Tally(target)
    saved = 0
    with tempfile.TemporaryDirectory(prefix="cnnstudio-fuzz-") as tmp:
        folder = Path(tmp) / "open"
        folder.mkdir()
        bases = graph_bases() if target == "graph" else project_bases(Path(tmp))
        names = sorted(bases)
        structured = {n: json.loads(bases[n]) for n in names} if target == "graph" else {}
        started = time.perf_counter()
        for case in range(cases):
            rng = random.Random(f"{seed}:{target}:{case}")
            base_name = rng.choice(names)
            try:
                if target == "graph":
                    if rng.random() < 0.5:
                        data, what = mutate_bytes(bases[base_name], rng, text=True)
                    else:
                        doc, what = mutate_json(structured[base_name], rng)
                        data = to_json(doc).encode("utf-8", "surrogatepass")
                        what = "json:" + what
                elif rng.random() < 0.4:
                    data, what = mutate_bytes(bases[base_name], rng, focus_end=700)
                else:
                    data, what = mutate_archive(bases[base_name], rng)
            except RecursionError:  # the fuzzer's own copy of a deep document: plain bytes
                data, what = mutate_bytes(bases[base_name], rng, text=target == "graph")
            tally.mutations[what.split(":")[0]] += 1
            label = f"{base_name} {what}"[:200]

            if target == "graph":
                path = folder / "fuzzed.json"
                path.write_bytes(data)

                def check(path: Path = path) -> tuple[str, str]:
                    return check_graph(path)
            else:
                def check(data: bytes = data, via_file: bool = case % 10 == 0
                          ) -> tuple[str, str]:
                    return check_project(data, folder, via_file)

            (outcome, message), error = _run_case(check, case_timeout, trace_memory, tally,
                                                  case, label)
            for p in folder.iterdir():
                p.unlink()
            if error is None:
                tally.counts["valid" if outcome == "valid" else "clear error"] += 1
                if outcome != "valid":
                    tally.errors[_error_kind(message)] += 1
            else:
                tally.counts["unexpected"] += 1
                tally.unexpected.append(f"case {case} ({label}): {error.splitlines()[-1]}")
                if out is not None and saved < MAX_SAVED:
                    saved += 1
                    suffix = ".json" if target == "graph" else ".cnnproj"
                    stem = out / f"{target}-seed{seed}-case{case:06d}"
                    stem.with_suffix(suffix).write_bytes(data)
                    stem.with_suffix(".txt").write_text(
                        f"{label}\nreplay: python fuzz/fuzz_readers.py --replay "
                        f"{stem.with_suffix(suffix)}\n\n{error}")
            if progress_every and (case + 1) % progress_every == 0:
                rate = (case + 1) / (time.perf_counter() - started)
                print(f"  {target}: {case + 1}/{cases} ({rate:.0f}/s), unexpected "
                      f"{tally.counts['unexpected']}", flush=True)
        tally.seconds = time.perf_counter() - started
    return tally


def _run_case(check: Callable[[], tuple[str, str]], case_timeout: float, trace_memory: bool,
              tally: Tally, case: int, label: str) -> tuple[tuple[str, str], str | None]:
    if trace_memory:
        tracemalloc.start()
    if case_timeout:
        signal.setitimer(signal.ITIMER_REAL, case_timeout)
    start = time.perf_counter()
    try:
        outcome, error = check(), None
    except CaseTimeout:
        outcome, error = ("", ""), f"timeout after {case_timeout} s\nCaseTimeout"
    except Exception:  # noqa: BLE001 - exactly what the fuzzer looks for
        outcome, error = ("", ""), traceback.format_exc()
    finally:
        if case_timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)
    elapsed = time.perf_counter() - start
    if elapsed > tally.slowest[0]:
        tally.slowest = (elapsed, case, label)
    if trace_memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if peak > tally.py_peak[0]:
            tally.py_peak = (peak, case, label)
    return outcome, error


def _rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def summary(tally: Tally, rss_before: float) -> str:
    n = sum(tally.counts.values())
    lines = [f"target {tally.target}: {n} cases in {tally.seconds:.1f} s "
             f"({n / max(tally.seconds, 1e-9):.0f} cases/s)"]
    for key in ("valid", "clear error", "unexpected"):
        lines.append(f"  {key:<12} {tally.counts[key]:>8}")
    seconds, case, label = tally.slowest
    lines.append(f"  slowest case  {seconds:.3f} s (case {case}: {label[:90]})")
    if tally.py_peak[1] >= 0:
        peak, case, label = tally.py_peak
        lines.append(f"  largest Python allocation peak in one case  {peak / (1 << 20):.1f} MiB "
                     f"(case {case}: {label[:70]})")
    lines.append(f"  peak RSS of the process  {_rss_mb():.0f} MiB (before this target "
                 f"{rss_before:.0f} MiB)")
    lines.append("  mutations: " + ", ".join(f"{k} {v}" for k, v in
                                             tally.mutations.most_common()))
    lines.append(f"  kinds of clear error ({len(tally.errors)}), most common:")
    for kind, count in tally.errors.most_common(12):
        lines.append(f"    {count:>7}  {kind}")
    for item in tally.unexpected[:20]:
        lines.append(f"  UNEXPECTED {item[:300]}")
    return "\n".join(lines)


def replay(path: Path) -> int:
    """Open one saved input as the fuzzer did and show what happens."""
    if path.suffix == ".json":
        outcome, message = check_graph(path)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            outcome, message = check_project(path.read_bytes(), Path(tmp), False)
    print(outcome, message[:500])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000, help="cases per target")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--target", choices=("graph", "project", "all"), default="all")
    parser.add_argument("--out", type=Path, help="folder for the inputs of unexpected cases")
    parser.add_argument("--case-timeout", type=float, default=20.0,
                        help="seconds before a case counts as hung (0: no limit)")
    parser.add_argument("--trace-memory", action="store_true",
                        help="measure each case's Python allocation peak (tracemalloc; slow)")
    parser.add_argument("--progress", type=int, default=2000, metavar="N",
                        help="print progress every N cases (0: never)")
    parser.add_argument("--replay", type=Path, help="open one saved input and show the result")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", "Duplicate name", UserWarning)  # zipfile, on purpose
    if args.replay:
        return replay(args.replay)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    if args.case_timeout:
        signal.signal(signal.SIGALRM, _alarm)
    targets = ("graph", "project") if args.target == "all" else (args.target,)
    print(f"fuzz_readers: {args.cases} cases per target, seed {args.seed}, "
          f"targets {', '.join(targets)}", flush=True)
    tallies = []
    for target in targets:
        before = _rss_mb()
        tally = run_target(target, args.cases, args.seed, args.out, args.case_timeout,
                           args.trace_memory, args.progress)
        tallies.append(tally)
        print(summary(tally, before), flush=True)
    unexpected = sum(t.counts["unexpected"] for t in tallies)
    print(f"total: {sum(sum(t.counts.values()) for t in tallies)} cases, "
          f"{unexpected} unexpected" + (f" (inputs in {args.out})" if unexpected and args.out
                                         else ""))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
