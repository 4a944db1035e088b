"""Writing files so that a crash or a full disk never leaves a half-written file behind.

A write goes to a temporary file beside the target (``.NAME.XXXXXXXX.tmp``), renamed over the
target when complete. A process killed mid-write (power cut, SIGKILL, the OOM killer) leaves
that temporary file; the next write of the same target removes it, once it is older than
``STALE_SECONDS`` and no live writer holds its lock (each write locks its temporary file while
it runs; a dead process holds no lock).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

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


@contextlib.contextmanager
def atomic_text_writer(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """``atomic_writer`` for UTF-8 text, with newlines untranslated (as the csv module wants)."""
    with atomic_writer(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        yield text
        text.flush()
        text.detach()  # the binary file stays open for atomic_writer to sync and rename


class OutputRefused(ValueError):
    """Why a file is not written (one line, without its path: the caller adds that)."""


def check_output(path: str | os.PathLike[str], temporary: str = TEMP_SUFFIX) -> Path:
    """The file to write for ``path``, checked before any work (OutputRefused says why not):
    a new name or a regular file, never a folder, device, FIFO or socket, which a write would
    replace or block on; in a folder that exists and takes the temporary file written beside
    it, ``.NAME.XXXXXXXX`` + ``temporary`` (so the name is not too long once that is added).
    A symlink is followed, as the project save follows it: the file it points at is checked
    and returned, and a write to that replaces the file and keeps the link."""
    from .graph.userfile import kind  # here: graph imports this module

    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None  # a new file (or a missing folder, which the trial below names)
    except OSError as exc:
        raise OutputRefused(write_reason(exc, target)) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputRefused("it is a folder; choose a file name")
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputRefused(f"it is {kind(mode)}, not a file to replace; choose a file name")
    try:  # the one way to know the folder takes it: ask the file system
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=temporary,
                                   dir=target.parent)
    except OSError as exc:
        raise OutputRefused(write_reason(exc, target)) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    return target


def check_room(path: str | os.PathLike[str], need: int, what: str) -> None:
    """OutputRefused when the disk of ``path``'s folder has less than ``need`` bytes free
    for ``what``; nothing when the free space cannot be known."""
    folder = Path(path).parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < need:
        raise OutputRefused(f"its folder has {_mb(free)} free, too little for {what} (about "
                            f"{_mb(need)}); free some space or choose another folder")


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MB"


def write_reason(exc: OSError, target: Path) -> str:
    """Why writing ``target`` failed with ``exc``, and what to do, for a one-line message."""
    code = exc.errno
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied; choose another folder"
    if code == errno.ENOENT and not target.parent.is_dir():
        return f"the folder {target.parent} does not exist; choose another folder"
    if code == errno.ENOENT:  # /proc and the like: a folder that takes no new files
        return f"the folder {target.parent} takes no new files; choose another folder"
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "the disk is full; free some space or choose another folder"
    if code == errno.EFBIG:
        return "the file is larger than this disk or a limit allows; choose another folder"
    if code == errno.EROFS:
        return "the disk is read-only; choose another folder"
    if code == errno.EISDIR:
        return "that is a folder; choose a file name"
    if code == errno.ENOTDIR:
        return "part of the path is not a folder; choose another folder"
    if code == errno.ENAMETOOLONG:
        return ("the name is too long for this disk once the temporary suffix of the save is "
                "added; choose a shorter one")
    return f"{exc.strerror or exc}; choose another folder"


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
