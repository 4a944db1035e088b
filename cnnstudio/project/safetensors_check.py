"""Checking a safetensors buffer without loading it: pure Python, no torch, no numpy.

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON (tensor name →
``{"dtype", "shape", "data_offsets"}``, plus an optional ``"__metadata__"`` of strings), then
the raw tensor data. The checks are those the reference loader makes (the data area is indexed
completely, without holes or overlaps, and each tensor's size is its element count times its
item size), so a buffer that passes here also loads in the engine, and one that fails gets a
message naming the archive member instead of a loader error much later.

A pickle (what ``torch.save`` writes, the usual ``.pth``/``.pt`` file) in place of safetensors
is recognised and refused by name: a pickle can run code when loaded, safetensors cannot.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from .errors import ProjectError

MAX_HEADER_BYTES = 100_000_000
"""The reference loader's limit on the JSON header."""
MAX_DIMENSIONS = 64

ITEM_BITS: dict[str, int] = {
    "F64": 64, "F32": 32, "F16": 16, "BF16": 16, "F8_E4M3": 8, "F8_E5M2": 8,
    "I64": 64, "I32": 32, "I16": 16, "I8": 8,
    "U64": 64, "U32": 32, "U16": 16, "U8": 8, "BOOL": 8,
}
"""The dtypes a project's tensors may have, with their size in bits."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    """Offset of the first byte in the data area (which begins after the header)."""
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start

    @property
    def numel(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


@dataclass(frozen=True)
class Header:
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]
    data_start: int
    """Offset of the data area in the buffer (8 + the header length)."""


def looks_like_pickle(data: bytes) -> bool:
    """Whether ``data`` starts like a Python pickle or a ``torch.save`` zip archive."""
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return True  # pickle protocol 2-5 (torch.save's legacy format, pickle.dumps)
    if data[:4] == b"PK\x03\x04":
        return True  # torch.save's zip format (archive/data.pkl inside)
    # Protocols 0 and 1 are text-like: a global, a mark, a list or a dict, ending with STOP.
    return data[:1] in (b"c", b"(", b"]", b"}") and data.rstrip(b"\n")[-1:] == b"."


def read_header(data: bytes, name: str) -> dict[str, TensorInfo]:
    """The tensors a safetensors buffer holds, by name, after checking the whole layout;
    raises ProjectError naming ``name`` (the archive member) when anything is wrong."""
    return read(data, name).tensors


def read(data: bytes, name: str) -> Header:
    """Like read_header, with the ``__metadata__`` strings and the data offset."""

    try:
        return _read(data, name)
    except ProjectError:
        # Checked only after a failure: a valid header length can begin with these bytes.
        if not looks_like_pickle(data):
            raise
    kind = ("a zip archive, probably a PyTorch .pth/.pt file written by torch.save"
            if data[:4] == b"PK\x03\x04" else
            "a Python pickle, probably a PyTorch .pth/.pt file written by torch.save")
    raise ProjectError(f"{name} is not a safetensors file: it looks like {kind}. Projects hold "
                       "weights as safetensors only, because a pickle can run code when it is "
                       "opened; convert the weights to .safetensors "
                       "(safetensors.torch.save_file) first")


def _read(data: bytes, name: str) -> Header:
    def fail(message: str) -> ProjectError:
        return ProjectError(f"{name} is not a safetensors file: {message}")

    if len(data) < 8:
        raise fail(f"{len(data)} bytes is too short (the header length alone takes 8)")
    (size,) = struct.unpack("<Q", data[:8])
    if size > MAX_HEADER_BYTES:
        raise fail(f"the header length {size:,} is above the limit of {MAX_HEADER_BYTES:,} "
                   "bytes")
    if 8 + size > len(data):
        raise fail(f"the header length {size:,} runs past the end of the "
                   f"{len(data):,}-byte buffer (truncated?)")
    raw = data[8:8 + size]
    if raw[:1] != b"{":
        raise fail("the header does not start with '{'")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"the header is not UTF-8 text (byte {exc.start})") from None
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise fail(f"the header is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                   f"{exc.msg})") from None
    except _Duplicate as exc:
        raise fail(f"the header names {exc.args[0]!r} twice") from None
    except RecursionError:
        raise fail("the header's JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise fail(f"the header is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise fail("the header is not a JSON object")

    data_start = 8 + size
    available = len(data) - data_start
    metadata: dict[str, str] = {}
    tensors: dict[str, TensorInfo] = {}
    for key, entry in doc.items():
        if key == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str)
                                                      for v in entry.values()):
                raise fail("__metadata__ must map strings to strings")
            metadata = entry
            continue
        tensors[key] = _tensor(key, entry, available, fail)

    # The reference loader requires the data area to be indexed completely, in order.
    position = 0
    previous: TensorInfo | None = None
    for info in sorted(tensors.values(), key=lambda t: (t.start, t.end)):
        if info.start < position:
            assert previous is not None
            raise fail(f"tensor {info.name!r} (bytes {info.start}-{info.end}) overlaps "
                       f"{previous.name!r} (bytes {previous.start}-{previous.end})")
        if info.start > position:
            raise fail(f"bytes {position}-{info.start} of the data belong to no tensor")
        position = info.end
        previous = info
    if position != available:
        raise fail(f"the tensors cover {position:,} bytes but the data area holds "
                   f"{available:,}")
    return Header(tensors, metadata, data_start)


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _tensor(key: str, entry: Any, available: int, fail: Any) -> TensorInfo:
    where = f"tensor {key!r}"
    if not isinstance(entry, dict):
        raise fail(f"{where}: expected an object with dtype, shape and data_offsets")
    for field in ("dtype", "shape", "data_offsets"):
        if field not in entry:
            raise fail(f"{where}: {field} is missing")
    dtype = entry["dtype"]
    if not isinstance(dtype, str) or dtype not in ITEM_BITS:  # a list is not even hashable
        raise fail(f"{where}: unknown dtype {_short(dtype)} (known: {', '.join(ITEM_BITS)})")
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(_natural(d) for d in shape):
        raise fail(f"{where}: the shape must be a list of non-negative integers, found "
                   f"{_short(shape)}")
    if len(shape) > MAX_DIMENSIONS:
        raise fail(f"{where}: {len(shape)} dimensions (at most {MAX_DIMENSIONS})")
    offsets = entry["data_offsets"]
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_natural, offsets))):
        raise fail(f"{where}: data_offsets must be [begin, end] non-negative integers, found "
                   f"{_short(offsets)}")
    start, end = offsets
    if end < start:
        raise fail(f"{where}: data_offsets [{start}, {end}] end before they begin")
    if end > available:
        raise fail(f"{where}: data_offsets [{start}, {end}] run past the end of the data "
                   f"({available:,} bytes; truncated?)")
    numel = 1
    for dim in shape:
        numel *= dim
    nbytes = numel * ITEM_BITS[dtype] // 8
    if end - start != nbytes:
        raise fail(f"{where}: {dtype} of shape {list(shape)} takes {nbytes:,} bytes but its "
                   f"data_offsets span {end - start:,}")
    return TensorInfo(key, dtype, tuple(shape), start, end)


def _natural(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
