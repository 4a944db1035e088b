"""The teacher of a distillation run: another project's network and current weights, or a
preset with torchvision's pretrained weights (``pretrained:NAME[:WEIGHTS]``, for a student of
the same classes, such as ImageNet's), read and checked before the run starts (its input must
be the student's, its outputs the classes'), so a wrong teacher is refused before any work
instead of failing at the first batch."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...graph import Graph, analyze
from .. import checkpoint as ckpt
from ..build import to_module
from .trainer import TrainingError

PRETRAINED = "pretrained:"
"""A teacher named ``pretrained:resnet50`` (or ``pretrained:resnet50:IMAGENET1K_V2``) is the
preset with torchvision's pretrained weights rather than a project file."""


@dataclass
class Teacher:
    """What the trainer builds on its device: the graph and its weights."""

    path: Path | str
    """The project file, or the ``pretrained:`` name."""
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
    name = config.teacher
    if not name:
        return None
    where = f"training.distill.teacher {name!r}"
    if name.startswith(PRETRAINED):
        path: Path | str = name
        project = _pretrained(name, where, student)
    else:
        path = Path(name).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        project = _project(path, where)
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
        hint = " (fine-tune it on your data first: `cnnstudio new PRESET --weights DEFAULT " \
            "--classes N`, train, and name that project)" if path == name else ""
        raise TrainingError(f"{where}: it has {theirs} outputs, this network {ours}; a "
                            f"teacher scores the same classes{hint}")
    state = ckpt.from_bytes(project.weights[project.current_weights])
    try:
        to_module(project.graph).load_state_dict(state, strict=True)
    except RuntimeError:
        raise TrainingError(f"{where}: its weights do not fit its graph (it changed since "
                            "they were trained)") from None
    return Teacher(path, project.graph, state)


def _project(path: Path, where: str) -> Any:
    from ...project import ProjectError, load_project

    if not os.path.isfile(path):  # an OSError for a name too long
        raise TrainingError(f"{where}: no such project file")
    try:
        return load_project(path)
    except ProjectError as exc:
        raise TrainingError(f"{where}: {exc}") from None


def _pretrained(name: str, where: str, student: Any) -> Any:
    """The preset with torchvision's pretrained weights (fetched into torch's hub cache when
    missing) at the student's input size, its head the weights' own: a head for other classes
    would teach nothing but its random start."""
    from ..exchange import pretrained_project
    from ..pretrained import PretrainedError

    preset, _, weights = name[len(PRETRAINED):].partition(":")
    if not preset:
        raise TrainingError(f"{where}: name a preset, e.g. {PRETRAINED}resnet50")
    try:
        return pretrained_project(preset, weights or "DEFAULT",
                                  input_shape=tuple(student.input_shape or ()))
    except PretrainedError as exc:
        raise TrainingError(f"{where}: {exc}") from None


def _classes(report: Any) -> int | None:
    shape = report.nodes[report.output_ids[0]].shape if report.output_ids else None
    return shape[-1] if shape else None
