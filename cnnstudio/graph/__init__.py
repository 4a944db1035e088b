"""The graph core: model, layer catalogue, analysis, presets and the graph file format.

Plain Python on purpose (DESIGN.md §1.1): it imports neither Qt nor torch, so the validator is
instant and the core is tested headless.
"""

from . import layers, presets
from .analysis import Issue, MemoryEstimate, NodeReport, Report, analyze
from .jsonformat import dumps_graph, graph_from_dict, graph_to_dict, load_graph, save_graph
from .model import UNSET, Edge, Graph, GraphError, Group, Node

__all__ = [
    "UNSET", "Edge", "Graph", "GraphError", "Group", "Issue", "MemoryEstimate", "Node",
    "NodeReport", "Report", "analyze", "dumps_graph", "graph_from_dict", "graph_to_dict",
    "layers", "load_graph", "presets", "save_graph",
]
