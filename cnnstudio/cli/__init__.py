"""The command line (DESIGN.md §3.3): ``main`` parses and dispatches; each command group lives
in a module of its own (``summary``, ``train``, ``export``) with shared helpers in ``common``."""

from .main import main

__all__ = ["main"]
