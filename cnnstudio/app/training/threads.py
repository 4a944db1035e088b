"""How many CPU threads torch uses on each of the window's threads, and how many view jobs run
at once: the one place that decides it; every job asks here (app/workers.py).

Rule: a run's thread uses every core; while a run trains, every other thread (the GUI's, a
view's job, an export) uses one, else every core; at most one view job per core runs at once.
Why: an idle OpenMP team beside the training thread halves its speed (see
benchmarks/NOTES.md#threads).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

VIEW, TRAINING, IMPORT = "view", "training", "import"
"""Kinds of jobs: a view's (or a dialog's) short job, a training run, the engine's imports."""
JOBS_AT_ONCE = os.cpu_count() or 1
"""View jobs that run at once (more wait for their turn), as a thread pool would."""

_cores = 0
_lock = threading.Lock()
_training = 0
_turns = threading.BoundedSemaphore(JOBS_AT_ONCE)


def cores() -> int:
    """torch's own choice of threads, read before anything here changed it."""
    global _cores
    if not _cores:
        import torch

        _cores = torch.get_num_threads()
    return _cores


def before_start(kind: str) -> None:
    """On the GUI thread, before a job's thread starts."""
    if kind == TRAINING:
        begin_training()


@contextmanager
def on_job_thread(kind: str) -> Iterator[None]:
    """Around a job's function on its own thread: its share of the cores and, for a view job,
    its turn."""
    if kind == TRAINING:
        try:
            for_training()
            yield
        finally:
            end_training()
    elif kind == VIEW:
        with _turns:
            for_views()
            yield
    else:  # the imports run no kernel
        yield


def begin_training() -> None:
    """On the GUI thread, before a run's thread starts: views go down to one core."""
    global _training
    cores()
    with _lock:
        _training += 1
    _set(1)  # the GUI thread's own kernels are small: one core, no second team


def end_training() -> None:
    global _training
    with _lock:
        _training = max(0, _training - 1)


def for_training() -> None:
    """On a run's thread: every core."""
    _set(cores())


def for_views() -> None:
    """On a job's thread (a view's, an export's): one core while a run trains, else all."""
    if "torch" in sys.modules:  # else no run trained yet and torch's defaults hold
        _set(1 if _training else cores())


def _set(threads: int) -> None:
    import torch

    # torch gives a thread the process-wide count at the thread's first kernel, which would
    # undo a count set before it; asking for the count does that first step now.
    torch.get_num_threads()
    torch.set_num_threads(threads)
