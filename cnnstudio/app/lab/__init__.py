"""Tools ▸ Numeric sandbox: the window over ``engine.lab``."""

from __future__ import annotations

from .window import SandboxWindow, open_sandbox

__all__ = ["SandboxWindow", "open_sandbox"]
