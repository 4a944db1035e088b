"""Whole-graph edits a user asks for by intent rather than by node ("this input size",
"this many classes"), shared by the command line and the window."""

from __future__ import annotations

from collections.abc import Sequence

from . import layers
from .model import Graph, GraphError

# Layers a class score passes through unchanged in number on its way to the output.
_PASS_THROUGH = {"Output", "Flatten", "Dropout", "Identity", "Softmax", "LogSoftmax",
                 "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "StochasticDepth"}


def parse_shape(text: str) -> list[int] | None:
    """A per-sample shape typed as ``C,H,W`` (or ``CxHxW``, ``C×H×W``; one to three positive
    integers), or None when the text is not one. The dialogs and the command line read it so."""
    try:
        shape = [int(p) for p in text.replace("×", ",").replace("x", ",").split(",")]
    except ValueError:
        return None
    return shape if 1 <= len(shape) <= 3 and all(d > 0 for d in shape) else None


def members_of(graph: Graph, ident: str) -> set[str]:
    """The node ids an id of the training settings names (freeze, learning-rate multipliers,
    unfreezing): the node itself, a block's members, or the nodes under an id prefix
    (``layer1`` → ``layer1.0.conv1`` ...); empty when it names nothing."""
    if ident in graph.nodes:
        return {ident}
    found = set(graph.group_members(ident)) if ident in graph.groups else set()
    return found | {nid for nid in graph.nodes if nid.startswith(ident + ".")}


def set_input_shape(graph: Graph, shape: Sequence[int]) -> None:
    """Give the (single) Input node a new per-sample shape."""
    inputs = [n.id for n in graph if n.type == "Input"]
    if len(inputs) != 1:
        raise GraphError(f"the graph has {len(inputs)} Input nodes; set the shape on one of "
                         "them by hand")
    problem = layers.get("Input").param_map["shape"].check(list(shape))
    if problem:
        raise GraphError(f"input shape {list(shape)}: {problem}")
    graph.set_param(inputs[0], "shape", list(shape))


def classifier_node(graph: Graph) -> str:
    """The layer whose outputs are the class scores: the last Linear (or 1×1 Conv2d, as in
    SqueezeNet) before the main output."""
    ends = [n.id for n in graph if n.type == "Output"
            and not n.params.get("training_only", False)]
    if not ends:
        ends = [n.id for n in graph if not graph.outputs(n.id) and n.type != "Input"]
    if len(ends) != 1:
        raise GraphError("cannot tell which layer gives the classes (the model has "
                         f"{len(ends)} outputs); set out_features on it by hand")
    nid = ends[0]
    seen = set()
    while nid not in seen:
        seen.add(nid)
        node = graph.node(nid)
        if node.type in ("Linear", "Conv2d"):
            return nid
        srcs = graph.inputs(nid)
        if node.type not in _PASS_THROUGH and layers.get(node.type).category != "Activation" \
                or len(srcs) != 1:
            break
        nid = srcs[0]
    raise GraphError("cannot tell which layer gives the classes (the model does not end in a "
                     "Linear layer); set out_features on it by hand")


def set_num_classes(graph: Graph, n: int) -> str:
    """Resize the classifier to ``n`` classes; returns the id of the layer changed."""
    if not isinstance(n, int) or n < 1:
        raise GraphError(f"the number of classes must be a positive integer, not {n!r}")
    nid = classifier_node(graph)
    name = "out_features" if graph.node(nid).type == "Linear" else "out_channels"
    graph.set_param(nid, name, n)
    return nid
