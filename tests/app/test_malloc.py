"""The window's process allocates from one malloc arena, as the main thread does, so its
training thread does not give memory back to the kernel at every step."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cnnstudio.app import malloc

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import ctypes, sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from cnnstudio.app.document import Document
from cnnstudio.app.training.controller import TrainingController
from cnnstudio.project import load_project

project = load_project(sys.argv[1])
project.training.epochs, project.training.batch_size = 2, 64
c = TrainingController(Document(project))
c.failed.connect(lambda e: sys.exit(e.message))
c.state_changed.connect(lambda s: s == "idle" and app.quit())
c.train()
app.exec()
sys.stderr.flush()
ctypes.CDLL(None).malloc_stats()  # glibc writes each arena's figures to stderr
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas: Linux only")
def test_a_run_in_the_window_s_process_allocates_from_one_arena(tmp_path):
    # With an arena per thread, the run's thread gave its tensors' pages back to the kernel
    # and faulted them in again at every step (benchmarks/NOTES.md#malloc).
    assert malloc.one_arena()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    example = ROOT / "projects" / "lenet5-digits.cnnproj"
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(example)], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    arenas = re.findall(r"^Arena (\d+):", out.stderr, re.MULTILINE)
    assert arenas == ["0"], out.stderr[-2000:]


def test_where_there_is_no_glibc_it_says_so(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not malloc.one_arena()
