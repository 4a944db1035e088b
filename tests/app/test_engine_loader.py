"""The engine loads on a background thread once the window shows (Train does not freeze it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx

from cnnstudio.app import engine_loader
from tests.import_graph import cycles, read_imports

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import gc, json, sys
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from cnnstudio.app import engine_loader, main, preferences
preferences.use_folder(Path(sys.argv[1]))
before = [m for m in engine_loader.MODULES if m in sys.modules]

def check():
    job = engine_loader._job
    if job is None or job.running:
        return
    print(json.dumps({"before": before, "failure": engine_loader.failure,
                      "after": [m for m in engine_loader.MODULES if m in sys.modules],
                      "thread": job.name, "frozen": gc.get_freeze_count(),
                      "automatic_gc": gc.isenabled()}), flush=True)
    app.quit()

poll = QTimer()
poll.timeout.connect(check)
poll.start(20)
QTimer.singleShot(60_000, app.quit)
main.run()
"""


def test_the_application_loads_the_engine_in_the_background_after_it_shows(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["before"] == []  # the window shows before torch is imported
    assert result["failure"] is None
    assert result["after"] == list(engine_loader.MODULES)
    assert result["thread"] == "cnnstudio-engine-loader"
    # torch's objects are out of the collections the GUI thread runs during training
    assert result["frozen"] > 100_000 and not result["automatic_gc"]


def test_what_the_loader_imports_has_no_import_cycle_to_deadlock_on():
    graph = read_imports().graph
    reached = set()
    for name in engine_loader.MODULES:
        if name.startswith("cnnstudio"):
            assert name in graph, name
            reached |= {name} | nx.descendants(graph, name)
    assert "cnnstudio.engine.training.trainer" in reached
    assert cycles(graph.subgraph(reached)) == []


def test_a_broken_install_is_recorded_not_raised(monkeypatch):
    monkeypatch.setattr(engine_loader, "MODULES", ("cnnstudio.no_such_module",))
    monkeypatch.setattr(engine_loader, "failure", None)
    engine_loader._load()
    assert engine_loader.failure is not None
    assert engine_loader.failure.startswith("cnnstudio.no_such_module: ")
