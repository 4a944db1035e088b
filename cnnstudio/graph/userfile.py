"""Opening a file the user named, within bounds: every reader of a user's file (graph JSON,
project archive, dataset CSV, weights) goes through here before it reads a byte.

A FIFO blocks its reader until a writer comes, a device such as ``/dev/zero`` never ends and
reports a size of 0, and a huge file exhausts memory before a parser can object. So the file
is opened without waiting (``O_NONBLOCK``: a FIFO opens at once), must be a regular file, and
its size is checked against the reader's limit before reading; a read stops one byte past the
limit, for a file that grows meanwhile.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

_NO_WAIT = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class FileRefused(ValueError):
    """Why a file is not read (one line, without its path: the reader adds that)."""


def open_regular(path: str | os.PathLike[str], limit: int, what: str) -> BinaryIO:
    """``path`` opened for reading when it is a regular file of at most ``limit`` bytes;
    FileRefused when it is a folder, a FIFO, a device or too large (``what`` names what it
    should have been: "graph file"); OSError when it cannot be opened."""
    fd = os.open(path, os.O_RDONLY | _NO_WAIT)
    try:
        info = os.fstat(fd)  # of the file opened, whatever the path names by now
        if stat.S_ISDIR(info.st_mode):
            raise FileRefused(f"it is a folder, not a {what}")
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"it is not a regular file ({kind(info.st_mode)}), so not a {what}")
        if info.st_size > limit:
            raise FileRefused(too_large(info.st_size, limit, what))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """The bytes of ``path``, checked as ``open_regular`` checks it."""
    with open_regular(path, limit, what) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:  # it grew after it was measured
        raise FileRefused(f"it grew past {limit:,} bytes while it was read, too large for a "
                          f"{what}")
    return data


def kind(mode: int) -> str:
    """What a file of ``mode`` (``os.stat``'s) is, for a message: "a FIFO", "a folder" ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def too_large(size: int, limit: int, what: str) -> str:
    return f"{size:,} bytes is too large for a {what} (the limit is {limit:,})"
