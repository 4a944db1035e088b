"""The one door to torch (DESIGN.md §1.2): graphs become modules here. Imports no Qt."""

from .build import GraphBuildError, GraphModule, to_module

__all__ = ["GraphBuildError", "GraphModule", "to_module"]
