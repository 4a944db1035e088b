"""One malloc arena for the whole window process (glibc only).

Rule: importing the application package asks for it, before the process starts its threads
(glibc reads the limit when a thread first allocates).
Why: a training thread's own arena gave its pages back to the kernel and faulted them in again
at every step (see benchmarks/NOTES.md#malloc).
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
