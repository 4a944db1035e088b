"""Test-wide settings: Qt draws offscreen, so GUI tests run on machines without a screen.
And ``other_process``: another process holding a project file's lock (issue 25's tests of two
writers, from the command line, the project files and the window)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HOLD = """
import sys
from cnnstudio.project import lock
with lock.hold(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def other_process():
    """``start(path, command)``: a process holding the lock of ``path`` (its lock file naming
    ``command``) until the test ends, or until its stdin is closed."""
    started: list[subprocess.Popen] = []

    def start(path: Path, command: str = "cnnstudio train other.cnnproj") -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), command],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        started.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for proc in started:
        if not proc.stdin.closed:
            proc.stdin.close()
        proc.wait(timeout=30)
