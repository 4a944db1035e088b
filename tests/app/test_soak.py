"""A bounded soak run for CI (benchmarks/soak.py runs 200 epochs and prints the figures): a run
with the charts and the feature maps live, their refreshes far more frequent than users get,
keeps its memory flat from the first epochs to the last."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "projects" / "lenet5-digits.cnnproj"
EPOCHS = 16


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_a_long_run_with_live_views_keeps_its_memory_flat(window, qtbot) -> None:
    assert window.open_file(EXAMPLE, as_copy=True)
    project = window.document.project
    project.training.epochs = EPOCHS
    ui = window.training
    window.workspaces.switch("train")  # as F5 would: then the maps are put beside the charts
    ui.show_panel("Charts")
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.docks["Feature maps"])
    window.docks["Feature maps"].show()
    charts, features = ui.panel("Charts"), ui.panel("Feature maps")
    window.document.select([next(n.id for n in window.document.graph if n.type == "Conv2d")])
    controller = ui.controller
    controller.snapshot_seconds = 0.3  # maps refreshed every few batches, not a few a minute
    maps: list[int] = []
    show = features._show  # the feature maps' answer, looked up at each job's start
    features._show = lambda result: (maps.append(1), show(result))
    memory: list[float] = []
    controller.epoch.connect(lambda _e: memory.append(rss_mb()))
    assert ui.train()
    qtbot.waitUntil(lambda: controller.state == "idle" and len(memory) == EPOCHS,
                    timeout=300_000)
    run = project.runs[-1]
    assert run.status == "finished" and len(run.epochs) == EPOCHS
    assert len(maps) >= 5, "the feature maps did not refresh during the run"
    assert len(charts.epochs) == EPOCHS
    growth = memory[-1] - memory[3]
    assert growth < 64, f"resident memory grew {growth:.0f} MB from epoch 4 to {EPOCHS}"
