"""The project file, NAME.cnnproj (DESIGN.md §3.5): a zip archive of JSON documents and
safetensors files only, read without extracting anything and written atomically.

Layout (format version 1)::

    project.json                   format, version, name, description, created, modified,
                                   graph_revision, graph_hash, current_weights,
                                   dataset (DatasetConfig), training (TrainConfig), unknown keys
    graph.json                     the graph document (cnnstudio.graph.jsonformat)
    runs.json                      {"runs": [Run, ...]}
    weights/NAME.safetensors       trained weights (Project.weights)
    checkpoint/state.json          a resumable checkpoint's state, with its "run_id" ...
    checkpoint/state.safetensors   ... and its tensors (Project.checkpoint)
    other .json / .safetensors     kept as they are (Project.extra_members)

Nothing else may be in the archive: no pickles, no code, no folders or links. Reading checks
every member's name, type and declared size before reading any of it, then reads each member
in chunks, stopping at the limits, so a hostile archive costs at most the limits below.
Every error is a ProjectError whose message names the file, the member and, where there is
one, the field.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

from ..fileio import atomic_writer, write_reason
from ..graph import GraphError, dumps_graph, graph_from_dict
from ..graph.jsonformat import shorten
from ..graph.userfile import FileRefused, open_regular
from . import lock, migrations, ondisk
from .config import ConfigError, DatasetConfig, TrainConfig, number, text
from .errors import ProjectError
from .model import Checkpoint, Project, Run, now
from .safetensors_check import looks_like_pickle
from .safetensors_check import read as read_safetensors

__all__ = ["ProjectError", "load_project", "read_project_bytes", "save_project"]

FORMAT = "cnnstudio.project"
SUFFIX = ".cnnproj"

MiB = 1 << 20
GiB = 1 << 30
MAX_MEMBERS = 10_000
MAX_JSON_BYTES = 64 * MiB
"""Per JSON member, uncompressed."""
MAX_TENSOR_BYTES = 8 * GiB
"""Per safetensors member."""
MAX_TOTAL_BYTES = 32 * GiB
"""All members together, uncompressed."""
MAX_RATIO = 1000
"""A member larger than RATIO_FLOOR may inflate at most this many times (deflate itself
cannot pass about 1032:1, so only zip bombs and degenerate data come near)."""
RATIO_FLOOR = 1 * MiB
MAX_JSON_DEPTH = 100
"""Nesting of JSON arrays and objects (a graph needs about 5)."""
MAX_NAME_CHARS = 1024
MAX_DIRECTORY_BYTES = 16 * MiB
"""The zip's table of contents (about 100 bytes a member): zipfile parses all of it before
the member count can be checked, so a huge one is refused first."""
MAX_FILE_BYTES = MAX_TOTAL_BYTES + MAX_DIRECTORY_BYTES
"""The file itself: its members, stored at worst, and its table of contents."""
CHUNK = 1 * MiB

PROJECT_JSON = "project.json"
GRAPH_JSON = "graph.json"
RUNS_JSON = "runs.json"
STATE_JSON = "checkpoint/state.json"
STATE_TENSORS = "checkpoint/state.safetensors"
WEIGHTS_PREFIX = "weights/"
TENSOR_SUFFIX = ".safetensors"
_KNOWN_JSON = (PROJECT_JSON, GRAPH_JSON, RUNS_JSON, STATE_JSON)
_PROJECT_KEYS = ("format", "version", "name", "description", "created", "modified",
                 "graph_revision", "graph_hash", "current_weights", "dataset", "training")
_REQUIRED_KEYS = ("format", "version", "name", "graph_revision", "dataset", "training")

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
"""Every member's timestamp, so that the same project always gives the same bytes."""

# What the zip reader raises on damaged data (ProjectError is a ValueError: re-raise it first).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
               struct.error, zlib.error, NotImplementedError, RuntimeError, OverflowError,
               IndexError, KeyError)

_REFUSED_KINDS = {
    ".pkl": "a Python pickle, which can run code when it is opened",
    ".pickle": "a Python pickle, which can run code when it is opened",
    ".pth": "a PyTorch file, a pickle that can run code when it is opened",
    ".pt": "a PyTorch file, a pickle that can run code when it is opened",
    ".ckpt": "a checkpoint pickle, which can run code when it is opened",
    ".bin": "a binary file, often a PyTorch pickle",
    ".npy": "a numpy array file, which may hold pickles",
    ".npz": "numpy arrays, which may hold pickles",
    ".py": "Python code",
    ".pyc": "compiled Python code",
    ".so": "native code",
    ".dll": "native code",
    ".exe": "a program",
}


# -- reading ---------------------------------------------------------------------------------
def load_project(path: str | os.PathLike[str]) -> Project:
    """Open a .cnnproj file; raises ProjectError with a message that names the problem."""
    shown = os.fspath(path)
    try:
        fh = open_regular(path, MAX_FILE_BYTES, "project file")  # closed below
    except FileRefused as exc:  # a pipe or a device would block or never end
        raise ProjectError(f"cannot open {shown}: {exc}") from None
    except OSError as exc:
        raise ProjectError(f"cannot open {shown}: {_os_reason(exc)}") from None
    with fh:
        st = os.fstat(fh.fileno())  # of the file read, whatever replaces it meanwhile
        project = _read(fh, shown)
    project.disk = ondisk.state_of(project, path, st)
    return project


def read_project_bytes(data: bytes, name: str = "project") -> Project:
    """A project from the bytes of a .cnnproj file (``name`` is used in messages)."""
    return _read(io.BytesIO(data), name)


def _read(fh: BinaryIO, name: str) -> Project:
    try:
        return _read_archive(fh)
    except ProjectError as exc:  # a value quoted in it may be huge: keep the message short
        raise ProjectError(f"{name}: {shorten(str(exc))}") from None


def _read_archive(fh: BinaryIO) -> Project:
    directory = _directory_size(fh)
    if directory is not None and directory > MAX_DIRECTORY_BYTES:
        raise ProjectError(f"the archive's table of contents is {directory:,} bytes, more than "
                           f"a project of at most {MAX_MEMBERS:,} members needs (the limit is "
                           f"{MAX_DIRECTORY_BYTES:,})")
    try:
        fh.seek(0)
        zf = zipfile.ZipFile(fh)
    except ProjectError:
        raise
    except _ZIP_ERRORS as exc:
        raise ProjectError(_not_a_zip(fh, exc)) from None
    with zf:
        infos = _check_members(zf)
        budget = [MAX_TOTAL_BYTES]
        raw = {info.filename: _read_member(zf, info, budget) for info in infos}
    return _build(raw)


def _directory_size(fh: BinaryIO) -> int | None:
    """The size of the central directory as declared by the end record zipfile will use (the
    same search: the last 22 bytes, else the last signature within a maximal comment), or
    None where there is none to find (zipfile then refuses the file itself)."""
    try:
        end = fh.seek(0, 2)
        start = max(end - (1 << 16) - 22, 0)
        fh.seek(start)
        tail = fh.read(end - start)
    except (OSError, ValueError, OverflowError):
        return None
    if tail[-22:-18] == b"PK\x05\x06" and tail[-2:] == b"\0\0":
        pos = len(tail) - 22
    else:
        pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + 22 > len(tail):
        return None
    (size,) = struct.unpack_from("<I", tail, pos + 12)
    # Zip64: a locator right before the end record, and the zip64 record right before that.
    if pos >= 76 and tail[pos - 20:pos - 16] == b"PK\x06\x07" and \
            tail[pos - 76:pos - 72] == b"PK\x06\x06":
        (size,) = struct.unpack_from("<Q", tail, pos - 76 + 40)
    return size


def _not_a_zip(fh: BinaryIO, exc: BaseException) -> str:
    try:
        fh.seek(0)
        head = fh.read(16)
    except (OSError, ValueError):
        head = b""
    if not head:
        return "not a CNN Studio project (the file is empty)"
    if head[:4] == b"PK\x03\x04":
        return ("the archive is damaged or truncated (its table of contents is missing or "
                f"broken: {_describe(exc)})")
    if head.lstrip()[:1] in (b"{", b"["):
        return ("not a CNN Studio project (not a zip archive; it looks like JSON text, such as "
                "a graph file)")
    if looks_like_pickle(head):
        return ("not a CNN Studio project (not a zip archive; it looks like a Python pickle, "
                "such as a PyTorch .pth file, and projects never hold pickles)")
    return "not a CNN Studio project (not a zip archive)"


def _name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a member of a project (None: it can)."""
    if not name:
        return "an empty name"
    if len(name) > MAX_NAME_CHARS:
        return f"a name longer than {MAX_NAME_CHARS} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "a name with control characters"
    if "\\" in name:
        return "a name with a backslash (member names use '/')"
    if name.startswith("/"):
        return "an absolute path"
    if re.match(r"[A-Za-z]:", name):
        return "a name with a drive letter"
    if name.endswith("/"):
        return "a folder entry (a project holds files only)"
    parts = name.split("/")
    if ".." in parts:
        return "a '..' in its path (pointing outside the archive)"
    if "" in parts or "." in parts:
        return "an empty or '.' part in its path"
    return None


def _kind(name: str) -> str:
    """'json' or 'tensors'; raises ProjectError for anything else."""
    if name.endswith(".json"):
        return "json"
    if name.endswith(TENSOR_SUFFIX):
        return "tensors"
    suffix = os.path.splitext(name)[1].lower()
    what = _REFUSED_KINDS.get(suffix)
    hint = f"; it looks like {what}" if what else ""
    raise ProjectError(f"member {_show(name)} is not allowed: a project holds only .json and "
                       f".safetensors files{hint}")


def _check_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Check names, types and declared sizes of all members before reading any."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ProjectError(f"the archive has {len(infos):,} members; a project has at most "
                           f"{MAX_MEMBERS:,}")
    names = {info.filename for info in infos}
    if PROJECT_JSON not in names:
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            raise ProjectError("not a CNN Studio project: it looks like a PyTorch file written "
                               "by torch.save (.pth/.pt), a pickle that can run code when it "
                               "is opened; projects hold safetensors only")
    seen: set[str] = set()
    declared = 0
    for info in infos:
        name = info.filename
        problem = _name_problem(info.orig_filename)
        if problem:
            raise ProjectError(f"member {_show(info.orig_filename)} is refused: {problem}")
        if name in seen:
            raise ProjectError(f"member {_show(name)} appears twice in the archive")
        seen.add(name)
        mode = info.external_attr >> 16
        kind_bits = stat.S_IFMT(mode)
        if kind_bits == stat.S_IFLNK:
            raise ProjectError(f"member {_show(name)} is a symbolic link; a project holds files "
                               "only")
        if kind_bits not in (0, stat.S_IFREG) or info.is_dir():
            raise ProjectError(f"member {_show(name)} is not a plain file")
        if info.flag_bits & 0x1:
            raise ProjectError(f"member {_show(name)} is encrypted; CNN Studio projects never are")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ProjectError(f"member {_show(name)} uses compression method "
                               f"{info.compress_type}; CNN Studio reads stored and deflated "
                               "members only")
        kind = _kind(name)
        limit = MAX_JSON_BYTES if kind == "json" else MAX_TENSOR_BYTES
        if info.file_size > limit:
            raise ProjectError(f"member {_show(name)} is too large: {info.file_size:,} bytes "
                               f"uncompressed (the limit for a {_suffix(kind)} member is "
                               f"{limit:,})")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * info.compress_size:
            raise ProjectError(f"member {_show(name)} would inflate from {info.compress_size:,} to "
                               f"{info.file_size:,} bytes, more than {MAX_RATIO} times (a zip "
                               "bomb?)")
        declared += info.file_size
        if declared > MAX_TOTAL_BYTES:
            raise ProjectError(f"the members add up to more than {MAX_TOTAL_BYTES:,} bytes "
                               "uncompressed, the limit for a project")
    _check_no_overlap(zf, infos)
    return infos


def _check_no_overlap(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """Members must not share data: the 'overlapping files' zip bomb makes thousands of
    members out of one compressed block."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    end_of_data = getattr(zf, "start_dir", None)
    for a, b in zip(ordered, ordered[1:] + [None]):
        end = a.header_offset + 30 + a.compress_size  # 30: a local header without its name
        limit = b.header_offset if b is not None else end_of_data
        if limit is not None and end > limit:
            other = f"member {_show(b.filename)}" if b is not None else "the table of contents"
            raise ProjectError(f"member {_show(a.filename)} overlaps {other} in the archive "
                               "(a damaged archive or a zip bomb)")


def _show(name: Any) -> str:
    """A member name for a message: quoted, escaped, and cut short when it is long."""
    shown = repr(name)
    return shown if len(shown) <= 80 else f"{shown[:60]}... ({len(shown):,} characters)"


def _suffix(kind: str) -> str:
    return ".json" if kind == "json" else ".safetensors"


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: list[int]) -> bytes:
    """The member's bytes, read in chunks and never more than it declared, its kind's limit,
    or what is left of the total budget."""
    name = info.filename
    limit = MAX_JSON_BYTES if name.endswith(".json") else MAX_TENSOR_BYTES
    allowed = min(info.file_size, limit, budget[0])
    out = io.BytesIO()
    total = 0
    try:
        with zf.open(info) as src:
            while True:
                chunk = src.read(min(CHUNK, allowed - total + 1))
                if not chunk:
                    break
                total += len(chunk)
                if total > allowed:
                    raise ProjectError(f"member {_show(name)} holds more data than the "
                                       f"{allowed:,} bytes allowed for it (a zip bomb?)")
                out.write(chunk)
    except ProjectError:
        raise
    except _ZIP_ERRORS as exc:
        raise ProjectError(f"member {_show(name)} is damaged ({_describe(exc)})") from None
    if total != info.file_size:
        raise ProjectError(f"member {_show(name)} is damaged (it holds {total:,} of the "
                           f"{info.file_size:,} bytes it declares)")
    budget[0] -= total
    return out.getvalue()


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _parse_json(member: str, data: bytes) -> Any:
    try:
        text_ = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{member}: not UTF-8 text (byte {exc.start})") from None
    text_ = text_.removeprefix("\ufeff")
    try:
        doc = json.loads(text_)
    except json.JSONDecodeError as exc:
        raise ProjectError(f"{member}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                           f"{exc.msg})") from None
    except RecursionError:
        raise ProjectError(f"{member}: the JSON is nested too deeply (the limit is "
                           f"{MAX_JSON_DEPTH} levels)") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ProjectError(f"{member}: not valid JSON ({exc})") from None
    if _too_deep(doc):
        raise ProjectError(f"{member}: the JSON is nested more than {MAX_JSON_DEPTH} levels "
                           "deep")
    return doc


def _too_deep(doc: Any) -> bool:
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _build(raw: dict[str, bytes]) -> Project:
    """Parse, migrate and check the members' contents."""
    if PROJECT_JSON not in raw:
        raise ProjectError(f"not a CNN Studio project (the archive has no {PROJECT_JSON})")
    originals = {name: _parse_json(name, data) for name, data in raw.items()
                 if name.endswith(".json")}
    head = originals[PROJECT_JSON]
    if not isinstance(head, dict):
        raise ProjectError(f"{PROJECT_JSON}: expected a JSON object")
    fmt = head.get("format")
    if fmt != FORMAT:
        raise ProjectError(f"{PROJECT_JSON}: format: expected {FORMAT!r}, found {fmt!r}: this "
                           "is not a CNN Studio project")
    version = head.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProjectError(f"{PROJECT_JSON}: version: expected a positive integer, found "
                           f"{version!r}")
    current = migrations.CURRENT_VERSION
    if version > current:
        raise ProjectError(f"written by a newer CNN Studio (project format version {version}; "
                           f"this one reads up to {current}): update CNN Studio to open it")
    docs = originals
    if version < current:
        try:
            docs = migrations.migrate(originals, version)
        except migrations.MigrationError as exc:
            raise ProjectError(f"cannot open this version-{version} project: {exc}") from None

    head = docs.get(PROJECT_JSON)
    if not isinstance(head, dict):
        raise ProjectError(f"{PROJECT_JSON}: expected a JSON object")
    weights = {name: data for name, data in raw.items() if _is_weights(name)}
    for name, data in weights.items():
        read_safetensors(data, name)
    try:
        fields = _project_fields(head)
    except ConfigError as exc:
        raise ProjectError(f"{PROJECT_JSON}: {exc}") from None

    if GRAPH_JSON not in docs:
        raise ProjectError(f"the archive has no {GRAPH_JSON} (the network)")
    try:
        graph = graph_from_dict(docs[GRAPH_JSON])
    except GraphError as exc:
        raise ProjectError(f"{GRAPH_JSON}: {exc}") from None

    runs = _runs(docs.get(RUNS_JSON, {"runs": []}))
    members = set(weights)
    current_weights = fields["current_weights"]
    if current_weights is not None and current_weights not in members:
        raise ProjectError(f"{PROJECT_JSON}: current_weights: names {current_weights!r}, which "
                           "is not in the archive")
    for i, run in enumerate(runs):
        for key in ("weights", "best_weights"):
            ref = getattr(run, key)
            if ref is not None and ref not in members:
                raise ProjectError(f"{RUNS_JSON}: runs[{i}].{key}: names {ref!r}, which is not "
                                   "in the archive")
    checkpoint = _checkpoint(docs, raw, runs)

    extra_members: dict[str, bytes] = {}
    for name in sorted(set(raw) | set(docs)):
        if name in _KNOWN_JSON or name == STATE_TENSORS or _is_weights(name):
            continue
        if name.endswith(".json"):
            if name not in docs:
                continue  # dropped by a migration
            same = name in originals and originals[name] == docs[name]
            extra_members[name] = raw[name] if same else _dump(name, docs[name])
        elif name in raw:
            read_safetensors(raw[name], name)
            extra_members[name] = raw[name]

    return Project(graph=graph, runs=runs, weights=weights, checkpoint=checkpoint,
                   extra_members=extra_members, **fields)


def _is_weights(name: str) -> bool:
    return (name.startswith(WEIGHTS_PREFIX) and name.endswith(TENSOR_SUFFIX)
            and len(name) > len(WEIGHTS_PREFIX) + len(TENSOR_SUFFIX))


def _project_fields(head: dict[str, Any]) -> dict[str, Any]:
    for key in _REQUIRED_KEYS:
        if key not in head:
            raise ConfigError(f"{key}: missing")
    created = text()(head.get("created"), "created")
    modified = text()(head.get("modified"), "modified")
    return {
        "name": text(nullable=False)(head["name"], "name"),
        "description": text()(head.get("description"), "description") or "",
        "created": created or now(),
        "modified": modified or created or now(),
        "graph_revision": number(0, integer=True)(head["graph_revision"], "graph_revision"),
        "saved_graph_hash": text()(head.get("graph_hash"), "graph_hash"),
        "current_weights": text()(head.get("current_weights"), "current_weights"),
        "dataset": DatasetConfig.from_dict(head["dataset"], "dataset"),
        "training": TrainConfig.from_dict(head["training"], "training"),
        "extra": {k: v for k, v in head.items() if k not in _PROJECT_KEYS},
    }


def _runs(doc: Any) -> list[Run]:
    if not isinstance(doc, dict):
        raise ProjectError(f"{RUNS_JSON}: expected a JSON object with \"runs\"")
    items = doc.get("runs", [])
    if not isinstance(items, list):
        raise ProjectError(f"{RUNS_JSON}: runs: expected a list, found {type(items).__name__}")
    runs: list[Run] = []
    ids: set[int] = set()
    for i, item in enumerate(items):
        try:
            run = Run.from_dict(item, f"runs[{i}]")
        except ConfigError as exc:
            raise ProjectError(f"{RUNS_JSON}: {exc}") from None
        if run.id in ids:
            raise ProjectError(f"{RUNS_JSON}: runs[{i}].id: run {run.id} appears twice")
        ids.add(run.id)
        runs.append(run)
    return runs


def _checkpoint(docs: dict[str, Any], raw: dict[str, bytes], runs: list[Run]) -> Checkpoint | None:
    has_state, has_tensors = STATE_JSON in docs, STATE_TENSORS in raw
    if not has_state and not has_tensors:
        return None
    if not (has_state and has_tensors):
        present, missing = ((STATE_JSON, STATE_TENSORS) if has_state
                            else (STATE_TENSORS, STATE_JSON))
        raise ProjectError(f"the checkpoint is incomplete: {present} is there but {missing} "
                           "is not")
    state = docs[STATE_JSON]
    if not isinstance(state, dict):
        raise ProjectError(f"{STATE_JSON}: expected a JSON object")
    try:
        run_id = number(1, integer=True)(state.get("run_id"), "run_id")
    except ConfigError as exc:
        raise ProjectError(f"{STATE_JSON}: {exc}") from None
    if all(run.id != run_id for run in runs):
        raise ProjectError(f"{STATE_JSON}: run_id: there is no run {run_id} in {RUNS_JSON}")
    read_safetensors(raw[STATE_TENSORS], STATE_TENSORS)
    return Checkpoint(run_id, {k: v for k, v in state.items() if k != "run_id"},
                      raw[STATE_TENSORS])


# -- writing ---------------------------------------------------------------------------------
def save_project(project: Project, path: str | os.PathLike[str], *,
                 aside: bool = False) -> list[Run]:
    """Write ``project`` to ``path`` holding its lock (lock.py: LockedError while another
    process writes it). When the file changed on disk since the project was read from it or
    last saved to it, the runs another writer added are merged into ``project`` first (and
    returned); when that writer changed the network or the settings, nothing is overwritten:
    ``project`` goes to a conflict copy beside the file and a ProjectError says where.
    ``aside``: a copy (a recovery file); the project's own file stays the one it came from."""
    target = Path(path)
    with lock.hold(target, hint="wait for it to finish or save to another file"):
        merged = _merge_from_disk(project, target)
        _write_project(project, target)
        if not aside:
            project.disk = ondisk.state_of(project, target)
    return merged


def _merge_from_disk(project: Project, target: Path) -> list[Run]:
    """The runs merged from the file at ``target`` when it changed since ``project`` saw it;
    a ProjectError, with ``project`` saved aside, when they cannot be."""
    if not ondisk.changed_since(project, target) or not target.exists():
        return []  # unchanged, or removed: writing it again loses nothing
    try:
        why = ondisk.conflict(project, disk := load_project(target))
    except ProjectError as exc:
        why = f"it can no longer be read ({exc})"
    if why is None:
        return ondisk.merge_runs(project, disk)
    aside = ondisk.conflict_path(target)
    _write_project(project, aside)
    raise ProjectError(f"{target} changed on disk since it was read ({why}), so it was not "
                       f"overwritten: your version was saved as {aside.name} beside it")


def _write_project(project: Project, path: str | os.PathLike[str]) -> None:
    """Write ``project`` to ``path`` atomically: a temporary file beside it, flushed, then
    renamed over it. Bumps the graph revision when the network changed since the last save
    and sets ``modified``; on failure the project and the old file stay as they were and a
    ProjectError says why in one line. A symlink is followed: the file it points at is
    replaced, as an editor saving through it would, and the link stays."""
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    before = (project.graph_revision, project.saved_graph_hash, project.modified)
    try:
        project.note_graph_change()
        project.modified = now()
        try:
            members = _members(project)
        except ProjectError as exc:
            message = str(exc)
            if not message.startswith("cannot save"):
                message = f"cannot save the project: {message}"
            raise ProjectError(message) from None
        with atomic_writer(target) as fh:
            _write_zip(fh, members)
    except OSError as exc:
        project.graph_revision, project.saved_graph_hash, project.modified = before
        raise ProjectError(f"cannot save to {target}: {write_reason(exc, target)}") from None
    except BaseException:
        project.graph_revision, project.saved_graph_hash, project.modified = before
        raise


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno == errno.EISDIR:
        return "it is a folder, not a project file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return str(exc.strerror or exc)


def _fail_save(message: str) -> ProjectError:
    return ProjectError(f"cannot save the project: {message}")


def _members(project: Project) -> list[tuple[str, bytes, bool]]:
    """(name, data, deflate) for every member, in the order they are written; checks that the
    result will read back."""
    weights = dict(project.weights)
    for name, data in weights.items():
        if not isinstance(name, str) or not _is_weights(name) or _name_problem(name):
            raise _fail_save(f"weights member {_show(name)} must be named "
                             "weights/NAME.safetensors")
        read_safetensors(_as_bytes(data, name), name)
    refs = [("current_weights", project.current_weights)]
    ids: set[int] = set()
    for i, run in enumerate(project.runs):
        refs += [(f"runs[{i}].weights", run.weights), (f"runs[{i}].best_weights",
                                                       run.best_weights)]
        if run.id in ids:
            raise _fail_save(f"runs[{i}].id: run {run.id} appears twice")
        ids.add(run.id)
    for where, ref in refs:
        if ref is not None and ref not in weights:
            raise _fail_save(f"{where} names {ref!r}, which is not in the project's weights")

    project_doc: dict[str, Any] = {
        "format": FORMAT,
        "version": migrations.CURRENT_VERSION,
        "name": project.name,
        "description": project.description,
        "created": project.created,
        "modified": project.modified,
        "graph_revision": project.graph_revision,
        "graph_hash": project.saved_graph_hash,
        "current_weights": project.current_weights,
        "dataset": project.dataset.to_dict(),
        "training": project.training.to_dict(),
    }
    project_doc.update({k: v for k, v in project.extra.items() if k not in _PROJECT_KEYS})
    json_members = [(PROJECT_JSON, _dump(PROJECT_JSON, project_doc))]
    try:
        graph_text = dumps_graph(project.graph)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _fail_save(f"{GRAPH_JSON}: {exc}") from None
    try:
        json_members.append((GRAPH_JSON, graph_text.encode("utf-8")))
    except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape: write it escaped
        from ..graph import graph_to_dict
        json_members.append((GRAPH_JSON, _dump(GRAPH_JSON, graph_to_dict(project.graph))))
    json_members.append((RUNS_JSON, _dump(RUNS_JSON,
                                          {"runs": [r.to_dict() for r in project.runs]})))
    tensor_members: list[tuple[str, bytes]] = []
    cp = project.checkpoint
    if cp is not None:
        if cp.run_id not in ids:
            raise _fail_save(f"the checkpoint belongs to run {cp.run_id}, which is not in the "
                             "project's runs")
        state = {"run_id": cp.run_id, **{k: v for k, v in cp.state.items() if k != "run_id"}}
        json_members.append((STATE_JSON, _dump(STATE_JSON, state)))
        tensors = _as_bytes(cp.tensors, STATE_TENSORS)
        read_safetensors(tensors, STATE_TENSORS)
        tensor_members.append((STATE_TENSORS, tensors))
    tensor_members += [(name, _as_bytes(weights[name], name)) for name in sorted(weights)]

    reserved = set(_KNOWN_JSON) | {STATE_TENSORS}
    extra_json, extra_tensors = [], []
    for name in sorted(project.extra_members):
        data = _as_bytes(project.extra_members[name], name)
        problem = _name_problem(name) if isinstance(name, str) else "not a string"
        if problem or name in reserved or _is_weights(name):
            raise _fail_save(f"extra member {_show(name)} cannot be written: "
                             f"{problem or 'the name is reserved'}")
        if name.endswith(".json"):
            _parse_json(name, data)
            extra_json.append((name, data))
        elif name.endswith(TENSOR_SUFFIX):
            read_safetensors(data, name)
            extra_tensors.append((name, data))
        else:
            raise _fail_save(f"extra member {_show(name)}: a project holds only .json and "
                             ".safetensors files")
    return ([(n, d, True) for n, d in json_members + extra_json]
            + [(n, d, False) for n, d in tensor_members + extra_tensors])


def _as_bytes(data: Any, name: str) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data) if not isinstance(data, bytes) else data
    raise _fail_save(f"{name}: expected bytes, found {type(data).__name__}")


def _dump(member: str, doc: Any) -> bytes:
    try:
        text_ = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    except (TypeError, ValueError, RecursionError) as exc:
        raise _fail_save(f"{member}: {exc}") from None
    try:
        return text_.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape: write it escaped
        return (json.dumps(doc, indent=1) + "\n").encode("ascii")


def _write_zip(fh: BinaryIO, members: list[tuple[str, bytes, bool]]) -> None:
    with zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
        for name, data, deflate in members:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            zf.writestr(info, data, compresslevel=6 if deflate else None)
