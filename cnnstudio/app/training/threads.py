"""How many CPU threads torch uses on each of the window's threads.

torch's CPU kernels run on OpenMP, and OpenMP keeps one team of helper threads per thread that
ever ran a parallel kernel, alive as long as that thread lives. libgomp counts all of them, and
once it manages more threads than there are cores it stops spinning between kernels and sleeps
instead, so a second team that merely exists (a view job's, idle in the thread pool) slows
every step of the training thread: on 2 cores, LeNet-5 trained at 1,750 samples/s on a thread
beside the idle team of a thread that had run one kernel, against 3,670 without it. So while
a run trains, only its thread uses several cores; the GUI thread and the views' jobs use one,
on threads that end soon after their job (jobs.pool).
"""

from __future__ import annotations

import sys
import threading

_cores = 0
_lock = threading.Lock()
_training = 0


def cores() -> int:
    """torch's own choice of threads, read before anything here changed it."""
    global _cores
    if not _cores:
        import torch

        _cores = torch.get_num_threads()
    return _cores


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
    """On the training thread (or the learning-rate finder's): every core."""
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
