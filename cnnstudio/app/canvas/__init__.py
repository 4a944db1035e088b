"""The node-graph canvas: GraphScene draws the Document's graph and turns gestures into
Document edits; GraphView scrolls, zooms and carries the minimap and context menus."""

from .scene import GraphScene
from .view import GraphView

__all__ = ["GraphScene", "GraphView"]
