"""One writer per project file: a lock file beside it, ``NAME.cnnproj.lock``, held with the
operating system's advisory lock (``flock``; ``msvcrt.locking`` on Windows) and holding the
writer's pid, host, command and start, so that a second writer is refused with a message that
names the first. The operating system drops the lock when its process ends, however it ends:
a lock file left by a killed process is taken over, never waited for.

A process may take the lock of a file it holds again (training saves at every checkpoint
inside the command that holds it for its whole work); a child process it starts to do the
same work (torchrun) gets the parent's locks through ``child_env``."""

from __future__ import annotations

import json
import os
import shlex
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import ProjectError

ENV = "CNNSTUDIO_HELD_LOCKS"
"""Lock files a parent process holds for this one (os.pathsep-separated)."""
SUFFIX = ".lock"
_WINDOWS_OFFSET = 1 << 20
"""On Windows the lock is on one byte this far in, so that the holder's text stays readable."""
_MAX_INFO = 4096
_MAX_COMMAND = 120


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its lock file says."""

    pid: int | None = None
    host: str | None = None
    command: str | None = None
    since: float | None = None

    def describe(self) -> str:
        """``pid 1234 (cnnstudio train a.cnnproj) since 10:02``."""
        if self.pid is None:
            return "another process"
        text = f"pid {self.pid}"
        if self.host and self.host != socket.gethostname():
            text += f" on {self.host}"
        if self.command:
            text += f" ({self.command})"
        if self.since is not None:
            same_day = time.localtime(self.since)[:3] == time.localtime()[:3]
            text += " since " + time.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M",
                                               time.localtime(self.since))
        return text


class LockedError(ProjectError):
    """Another process is writing the project file."""

    def __init__(self, path: Path, holder: Holder, hint: str) -> None:
        super().__init__(f"{path} is being written by {holder.describe()}; {hint}")
        self.path, self.holder = path, holder


@dataclass
class _Held:
    fd: int | None  # None: the folder could not take a lock file (nothing can be written)
    path: Path
    count: int = 1


_held: dict[str, _Held] = {}
_guard = threading.Lock()


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The lock file of the project file ``path``."""
    real = Path(os.path.realpath(path))
    return real.with_name(real.name + SUFFIX)


def default_command() -> str:
    """This process's command line, as the lock file shows it to another writer."""
    argv = sys.argv
    program = Path(argv[0]) if argv and argv[0] not in ("", "-c", "-m") else Path("python")
    first = program.parent.name if program.name == "__main__.py" else program.stem
    return _short(shlex.join([first, *argv[1:]]))


def _short(command: str) -> str:
    return command if len(command) <= _MAX_COMMAND else command[:_MAX_COMMAND - 1] + "…"


@contextmanager
def hold(path: str | os.PathLike[str], command: str | None = None,
         hint: str = "wait for it to finish") -> Iterator[None]:
    """Hold the lock of the project file ``path`` for the ``with`` block; LockedError (a
    ProjectError, one line ending with ``hint``) at once when another process holds it."""
    lock = lock_path(path)
    key = str(lock)
    if key in os.environ.get(ENV, "").split(os.pathsep):
        yield  # the parent process that started this one holds it
        return
    with _guard:
        held = _held.get(key)
        if held is not None:
            held.count += 1
        else:
            held = _held[key] = _acquire(Path(path), lock, command or default_command(), hint)
    try:
        yield
    finally:
        with _guard:
            held.count -= 1
            if held.count == 0:
                del _held[key]
                _release(held)


def child_env() -> dict[str, str]:
    """Environment variables that let a child process doing this process's work use the locks
    this process holds (the child would otherwise be refused by its own parent)."""
    with _guard:
        keys = [k for k, h in _held.items() if h.fd is not None]
    inherited = [k for k in os.environ.get(ENV, "").split(os.pathsep) if k]
    return {ENV: os.pathsep.join(dict.fromkeys(inherited + keys))} if keys or inherited else {}


def holder(path: str | os.PathLike[str]) -> Holder | None:
    """Who holds the lock of ``path`` now, this process included (None: nobody)."""
    lock = lock_path(path)
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return None
    try:
        if _try_lock(fd):
            _unlock(fd)
            return None
        return _read_holder(fd)
    finally:
        os.close(fd)


def _acquire(path: Path, lock: Path, command: str, hint: str) -> _Held:
    for _ in range(10):  # the holder may remove the file between our open and our lock
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            # A folder that takes no lock file takes no project either: the save says why.
            return _Held(None, lock)
        if not _try_lock(fd):
            found = _read_holder(fd)
            os.close(fd)
            raise LockedError(path, found, hint)
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except OSError:
            same = False
        if same:
            _write_holder(fd, command)
            return _Held(fd, lock)
        _unlock(fd)
        os.close(fd)
    raise LockedError(path, Holder(), hint)


def _release(held: _Held) -> None:
    if held.fd is None:
        return
    try:  # removed while still locked: a waiting process then sees the file is gone
        os.unlink(held.path)
    except OSError:
        pass  # Windows keeps an open file; the next writer reuses it
    _unlock(held.fd)
    os.close(held.fd)


def _write_holder(fd: int, command: str) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
            "since": time.time()}
    data = (json.dumps(info) + "\n").encode("utf-8")
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)
    except OSError:
        pass  # the lock holds without the text; a refusal then says "another process"


def _read_holder(fd: int) -> Holder:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, _MAX_INFO).decode("utf-8"))
    except (OSError, ValueError):
        return Holder()
    if not isinstance(info, dict):
        return Holder()
    pid, host, command, since = (info.get(k) for k in ("pid", "host", "command", "since"))
    return Holder(pid if isinstance(pid, int) else None,
                  host if isinstance(host, str) else None,
                  _short(command) if isinstance(command, str) else None,
                  float(since) if isinstance(since, (int, float)) else None)


if sys.platform == "win32":  # pragma: no cover - tested on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:  # a file system without locks: nothing to hold
            return True
        return True

    def _unlock(fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass
