"""The teacher of a distillation run: another project's network and current weights, read and
checked before the run starts (its input must be the student's, its outputs the classes'), so a
wrong teacher is refused before any work instead of failing at the first batch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...graph import Graph, analyze
from .. import checkpoint as ckpt
from ..build import to_module
from .trainer import TrainingError


@dataclass
class Teacher:
    """What the trainer builds on its device: the graph and its weights."""

    path: Path
    graph: Graph
    state: dict[str, torch.Tensor]

    def module(self, device: torch.device) -> nn.Module:
        """The teacher in evaluation mode, frozen, on ``device``."""
        model = to_module(self.graph)
        model.load_state_dict(self.state, strict=True)
        return model.to(device).eval().requires_grad_(False)


def load_teacher(config: Any, base_dir: str | Path | None, student: Any) -> Teacher | None:
    """The teacher ``config.teacher`` names (None: no distillation); TrainingError, one line,
    when it cannot teach ``student`` (the student's analysis report)."""
    from ...project import ProjectError, load_project

    name = config.teacher
    if not name:
        return None
    path = Path(name).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    where = f"training.distill.teacher {name!r}"
    if not path.is_file():
        raise TrainingError(f"{where}: no such project file")
    try:
        project = load_project(path)
    except ProjectError as exc:
        raise TrainingError(f"{where}: {exc}") from None
    if not project.current_weights:
        raise TrainingError(f"{where}: the project has no trained weights to teach with")
    report = analyze(project.graph)
    if not report.ok:
        raise TrainingError(f"{where}: its graph has errors ({report.errors[0].message})")
    if tuple(report.input_shape or ()) != tuple(student.input_shape or ()):
        raise TrainingError(f"{where}: it takes inputs of {list(report.input_shape or ())}, "
                            f"this network {list(student.input_shape or ())}; a teacher sees "
                            "the same images")
    ours, theirs = _classes(student), _classes(report)
    if ours != theirs:
        raise TrainingError(f"{where}: it has {theirs} outputs, this network {ours}; a "
                            "teacher scores the same classes")
    state = ckpt.from_bytes(project.weights[project.current_weights])
    try:
        to_module(project.graph).load_state_dict(state, strict=True)
    except RuntimeError:
        raise TrainingError(f"{where}: its weights do not fit its graph (it changed since "
                            "they were trained)") from None
    return Teacher(path, project.graph, state)


def _classes(report: Any) -> int | None:
    shape = report.nodes[report.output_ids[0]].shape if report.output_ids else None
    return shape[-1] if shape else None
