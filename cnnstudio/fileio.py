"""Writing files so that a crash or a full disk never leaves a half-written file behind.

A write goes to a temporary file beside the target (``.NAME.XXXXXXXX.tmp``), renamed over the
target when complete. A process killed mid-write (power cut, SIGKILL, the OOM killer) leaves
that temporary file; the next write of the same target removes it, once it is older than
``STALE_SECONDS`` and no live writer holds its lock (each write locks its temporary file while
it runs; a dead process holds no lock).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows: an open file cannot be deleted there, which is the lock
    fcntl = None  # type: ignore[assignment]

TEMP_SUFFIX = ".tmp"
STALE_SECONDS = 10 * 60
"""A temporary file this old that nobody writes (holds the lock of) was left by a dead
process. The age only guards the instant between a writer creating its file and locking it,
and file systems whose locks are not shared between machines."""
_RANDOM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")  # tempfile's name characters


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see ``atomic_writer``): on any failure the old
    file is untouched and no temporary file is left."""
    with atomic_writer(path) as fh:
        fh.write(data)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through, for data too large to hold in memory: the
    writes go to a temporary file beside ``path``; when the block ends without an exception
    the file is flushed to disk and renamed over ``path``, otherwise it is removed and the old
    file stays untouched. The new file gets the old file's permissions (or the usual ones
    for a new file, not mkstemp's owner-only ones)."""
    target = Path(path)
    remove_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    lock = _lock(fd)
    try:
        with os.fdopen(fd, "w+b") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except OSError:
            mode = 0o666 & ~_umask()
        try:
            os.chmod(tmp, mode)
        except OSError:
            pass
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    finally:
        if lock is not None:
            os.close(lock)
    _fsync_folder(target.parent)


def _lock(fd: int) -> int | None:
    """Lock the temporary file for as long as the write runs, through the rename: a second
    descriptor of it, closed when the write ends (or by the system when the process dies)."""
    if fcntl is None:
        return None
    try:
        lock = os.dup(fd)
    except OSError:
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # a file system without locks: the age alone tells stale files
        pass
    return lock


def is_temporary(name: str, target_name: str) -> bool:
    """Whether ``name`` is one of ``atomic_writer``'s temporary files for ``target_name``."""
    prefix = f".{target_name}."
    if not (name.startswith(prefix) and name.endswith(TEMP_SUFFIX)):
        return False
    middle = name[len(prefix):-len(TEMP_SUFFIX)]
    return len(middle) == 8 and set(middle) <= _RANDOM


def remove_stale_temporaries(target: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files that earlier writes of ``target`` left when their process
    died; returns their names. Never fails: a file it cannot judge or remove stays."""
    target = Path(target)
    removed: list[str] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        try:
            if not is_temporary(entry.name, target.name) or \
                    not entry.is_file(follow_symlinks=False) or \
                    now - entry.stat(follow_symlinks=False).st_mtime < STALE_SECONDS:
                continue
            if _remove_unlocked(entry.path):
                removed.append(entry.name)
        except OSError:
            continue
    return removed


def _remove_unlocked(path: str) -> bool:
    if fcntl is None:
        os.unlink(path)  # fails while a writer has it open
        return True
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live write holds it (or locks do not work here: leave it)
            return False
        os.unlink(path)
        return True
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); best effort."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
