"""One malloc arena for the whole window process (glibc only).

The window trains on a QThread, and glibc gives each thread that allocates an arena of its
own, kept in separate heaps that glibc shrinks and unmaps as they empty. torch frees a step's
tensors at the step's end, so in some runs (it depends on where long-lived blocks land) the
training thread and its OpenMP helper gave pages back to the kernel and faulted them in again
at every step: LeNet-5 on digits made 1,700 to 877,000 page faults in 20 epochs on a thread
(up to 2 s of kernel time), and 30 to 330 with one arena, as on the main thread where
`cnnstudio train` runs. The window's other threads allocate little, so they hardly contend
for the one arena's lock.

glibc reads the limit when a thread first allocates, so this has to run before the process
starts its threads: importing the application package does it.
"""

from __future__ import annotations

import ctypes
import sys

M_ARENA_MAX = -8  # glibc's malloc.h


def one_arena() -> bool:
    """Ask glibc for one arena; False where there is no glibc (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt(M_ARENA_MAX, 1) == 1
