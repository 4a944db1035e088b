"""A text progress bar for the command line: one redrawn line on a terminal, plain lines when
the output is a file or a pipe."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Bar:
    """``update(done, total, text)`` redraws at most ``fps`` times a second."""

    def __init__(self, stream: TextIO | None = None, width: int = 24, fps: float = 8.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.width = width
        self.interval = 1.0 / fps
        self._last = 0.0
        self._shown = False

    def update(self, label: str, done: int, total: int | None, text: str = "",
               force: bool = False) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        if total:
            filled = int(self.width * min(done, total) / total)
            bar = "█" * filled + "░" * (self.width - filled)
            line = f"{label} |{bar}| {done}/{total} {text}"
        else:
            line = f"{label} {done} {text}"
        self.stream.write("\r" + line[:160].ljust(min(160, max(len(line), 60))))
        self.stream.flush()
        self._shown = True

    def line(self, text: str) -> None:
        """A permanent line (the bar is redrawn below it)."""
        if self._shown:
            self.stream.write("\r" + " " * 160 + "\r")
            self._shown = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
