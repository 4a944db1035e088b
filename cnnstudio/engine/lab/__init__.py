"""The numeric sandbox (issue 24): the arithmetic of a CNN done cell by cell, each output with
its formula with the numbers filled in, and the textbooks' worked examples as named exercises.
Plain Python floats, no torch: ``cnnstudio lab`` and Tools ▸ Numeric sandbox share it."""

from __future__ import annotations

from . import sliding, vectors  # noqa: F401 - each registers its ops (conv and pooling first)
from .exercises import Checked, Exercise, check, exercise, exercises
from .values import (
    DESCRIPTIONS,
    OPS,
    Cell,
    LabError,
    LabResult,
    Options,
    compute,
    num,
    parse_matrix,
)

__all__ = ["DESCRIPTIONS", "OPS", "Cell", "Checked", "Exercise", "LabError", "LabResult",
           "Options", "check", "compute", "exercise", "exercises", "num", "parse_matrix"]
