"""The no_writes fixture: reading a project must write nothing to disk (outside tmp_path,
where a test may put the file it reads)."""

from __future__ import annotations

import builtins
import io
import os
import tempfile
import zipfile
from pathlib import Path

import pytest

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


@pytest.fixture
def no_writes(tmp_path, monkeypatch):
    allowed = str(Path(tmp_path).resolve())

    def inside(path) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor
        return os.path.realpath(os.fspath(path)).startswith(allowed + os.sep)

    real_open, real_os_open = builtins.open, os.open

    def guarded_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and not inside(file):
            raise AssertionError(f"wrote {file!r} outside tmp_path")
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & _WRITE_FLAGS and not inside(path):
            raise AssertionError(f"wrote {path!r} outside tmp_path")
        return real_os_open(path, flags, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("reading a project must not create files")

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile",
                 "SpooledTemporaryFile", "TemporaryDirectory"):
        monkeypatch.setattr(tempfile, name, refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extract", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", refuse)
    yield
    monkeypatch.undo()
