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
import threading

from . import gc_guard

MODULES = (
    "torch",
    "cnnstudio.engine.session",
    "cnnstudio.engine.data",
    "cnnstudio.engine.inference",
    "cnnstudio.engine.inspect",
    "cnnstudio.engine.predictions",
    "cnnstudio.engine.checkpoint",
    "cnnstudio.engine.lrfinder",
    "cnnstudio.app.training.charts",  # pyqtgraph: classes only, no Qt object made on import
)
"""What Train and the training views import on the GUI thread, heaviest first."""

_thread: threading.Thread | None = None
failure: str | None = None
"""Why the background load stopped (the view that needs the module reports it again)."""


def load_in_background() -> threading.Thread:
    """Start the load once per process; later calls return the same thread."""
    global _thread
    if _thread is None:
        _thread = threading.Thread(target=_load, name="cnnstudio-engine-loader", daemon=True)
        _thread.start()
    return _thread


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
