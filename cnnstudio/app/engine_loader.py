"""Loading the training engine (torch, torchvision: one to three seconds of imports) on a
background thread once the window shows, so that clicking Train, opening the feature maps or an
evaluation does not freeze the window while Python imports them on the GUI thread.

A view that needs a module before the load is done waits for that module only (Python's
per-module import locks), never longer than importing it itself would take. These modules do
not import each other in a cycle (tests/app/test_engine_loader.py checks), so the two threads
cannot deadlock on those locks.

Once loaded, those modules' objects are frozen out of garbage collection (gc_guard).
"""

from __future__ import annotations

import importlib

from .. import engine
from . import gc_guard, workers

VIEWS = ("Session", "load_data", "project_data", "probe", "predict_split", "checkpoint",
         "lr_range_test")
"""The engine's names that Train and the training views use, heaviest first."""

ENGINE_MODULES = tuple(dict.fromkeys(engine.module_of(name) for name in VIEWS))
MODULES = (
    "torch",
    *ENGINE_MODULES,
    "cnnstudio.app.training.charts",  # pyqtgraph: classes only, no Qt object made on import
)
"""What Train and the training views import on the GUI thread."""

_job: workers.Job | None = None
failure: str | None = None
"""Why the background load stopped (the view that needs the module reports it again)."""


def load_in_background() -> workers.Job:
    """Start the load once per process (on the GUI thread); later calls return the same job."""
    global _job
    if _job is None:
        _job = workers.run_in_background(_load, on_done=_ignore, on_error=_ignore,
                                         kind=workers.IMPORT, name="cnnstudio-engine-loader")
    return _job


def import_views() -> None:
    """Import the views' engine modules now, on this thread (Train does, before its worker
    starts, so the GUI thread never waits on the import lock of a module the worker holds)."""
    for name in ENGINE_MODULES:
        importlib.import_module(name)


def _load() -> None:
    global failure
    with gc_guard.importing():
        for name in MODULES:
            try:
                importlib.import_module(name)
            except Exception as exc:  # noqa: BLE001 - a broken install: the view will say so
                failure = f"{name}: {exc}"
                return
    gc_guard.freeze_once()


def _ignore(_answer: object) -> None:
    """The load's end: a failure is kept in ``failure`` (and logged, were it unforeseen)."""
