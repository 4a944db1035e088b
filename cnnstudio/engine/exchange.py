"""What the command line and the window share for export and import: the model to export
(a project's weights, or fresh ones, at an input size the user may change) and the project an
imported model becomes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..graph import Graph, GraphError, graph_from_dict, graph_to_dict
from ..graph.edits import set_input_shape
from ..project.model import Project
from . import checkpoint as ckpt
from .inference.model import InferenceError, model_from_state

IMPORTED_WEIGHTS = "weights/imported.safetensors"


def project_state(project: Project, key: str | None = None) -> dict[str, torch.Tensor] | None:
    """The project's weights ``key`` (default: the current ones; None when untrained)."""
    key = key or project.current_weights
    if key is None:
        return None
    if key not in project.weights:
        known = ", ".join(sorted(project.weights)) or "none"
        raise InferenceError(f"the project has no weights named {key!r} (it has: {known})")
    return ckpt.from_bytes(project.weights[key])


def model_to_export(graph: Graph, state: Mapping[str, torch.Tensor] | None,
                    input_shape: Sequence[int] | None = None) -> tuple[Graph, nn.Module]:
    """A copy of ``graph`` (at ``input_shape`` when given) and its module in evaluation mode
    with ``state`` loaded (None: fresh weights from seed 0, as ``to_module`` draws them)."""
    graph = graph_from_dict(graph_to_dict(graph))
    if input_shape is not None:
        try:
            set_input_shape(graph, input_shape)
        except GraphError as exc:
            raise InferenceError(str(exc)) from None
    try:
        model = model_from_state(graph, state)
    except InferenceError as exc:
        if input_shape is not None and state is not None:
            raise InferenceError(f"{exc}; at input {'×'.join(map(str, input_shape))} the "
                                 "trained weights no longer fit: keep the project's input "
                                 "size") from None
        raise
    return graph, model


def imported_project(imported: Any, name: str) -> Project:
    """A project holding an imported model: its graph, and its weights as the current ones."""
    project = Project(name=name, graph=imported.graph)
    project.weights[IMPORTED_WEIGHTS] = ckpt.to_bytes(imported.state)
    project.current_weights = IMPORTED_WEIGHTS
    lines = [f"Imported from {imported.source}."] + list(imported.notes)
    project.description = "\n".join(lines)
    return project
