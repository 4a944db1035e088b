"""What the command line and the window share for export and import: the model to export
(a project's weights, or fresh ones, at an input size the user may change), the project an
imported model becomes, and a project started from a preset's pretrained weights."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..graph import Graph, GraphError, analyze, graph_from_dict, graph_to_dict, presets
from ..graph.edits import classifier_node, set_input_shape
from ..project.config import ConfigError, DatasetConfig, TrainConfig
from ..project.model import Project
from . import checkpoint as ckpt
from .build import to_module
from .inference.model import InferenceError, model_from_state
from .pretrained import (
    PretrainedError,
    Progress,
    WeightsInfo,
    apply_preprocessing,
    fetch,
    implied_options,
    load_into,
    load_state,
    resolve,
)
from .training.transfer import WeightsError, load_matching, node_of, read_weights_file

IMPORTED_WEIGHTS = "weights/imported.safetensors"
PRETRAINED_WEIGHTS = "weights/pretrained.safetensors"


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


def imported_project(imported: Any, name: str, weights: WeightsInfo | None = None) -> Project:
    """A project holding an imported model: its graph, and its weights as the current ones
    (with ``weights``: torchvision's pretrained ones, whose preprocessing the data takes, as
    it takes the preprocessing an import of pretrained timm weights carries)."""
    project = _with_weights(name, imported.graph, imported.state, IMPORTED_WEIGHTS)
    expects = weights or getattr(imported, "preprocessing", None)  # timm's weights bring theirs
    if expects is not None:
        apply_preprocessing(project.dataset, expects, analyze(imported.graph).input_shape)
    if weights is not None:
        keep_category_names(project.dataset, weights, imported.graph)
    lines = [f"Imported from {imported.source}."] + list(imported.notes)
    project.description = "\n".join(lines)
    return project


def _with_weights(name: str, graph: Graph, state: Mapping[str, torch.Tensor],
                  member: str) -> Project:
    project = Project(name=name, graph=graph)
    project.weights[member] = ckpt.to_bytes(dict(state))
    project.current_weights = member
    return project


def pretrained_project(preset_name: str, weights: str = "DEFAULT", *,
                       classes: int | None = None, input_shape: Sequence[int] | None = None,
                       data: Mapping[str, Any] | None = None, freeze_backbone: bool = False,
                       progress: Progress | None = None,
                       cancelled: Callable[[], bool] | None = None) -> Project:
    """A project from preset ``preset_name`` whose current weights are pretrained ones:
    torchvision's (``DEFAULT`` or a version such as ``IMAGENET1K_V1``, fetched into torch's
    hub cache when missing) or a ``.safetensors``/``.pth`` file. With ``classes`` other than
    the weights', the head is new and every other tensor is kept as it was; torchvision's
    weights bring their preprocessing into the data settings (input: their crop size unless
    ``input_shape`` says otherwise). ``data`` sets dataset fields (``source``, ``path`` ...);
    ``freeze_backbone`` freezes every layer with weights except the new (or kept) head."""
    try:
        preset = presets.get(preset_name)
    except presets.PresetError as exc:
        raise PretrainedError(str(exc)) from None
    try:
        dataset = DatasetConfig.from_dict(dict(data or {}), "dataset")
    except ConfigError as exc:
        raise PretrainedError(str(exc)) from None
    seed = TrainConfig().seed  # a new project's: its fresh head is the one training draws
    if _is_file(weights):
        graph, state, fresh, note = _from_file(preset, Path(weights), classes, input_shape, seed)
    else:
        info = resolve(preset.name, weights)
        shape = list(input_shape) if input_shape else [3, info.crop, info.crop]
        graph, state, fresh = _from_torchvision(preset, info, classes, shape, seed, progress,
                                                cancelled)
        apply_preprocessing(dataset, info, shape)
        note = f"Pretrained weights: torchvision {info.model} {info.describe()}."
        keep_category_names(dataset, info, graph)
    project = _with_weights(preset.name, graph, state, PRETRAINED_WEIGHTS)
    project.dataset = dataset
    lines = [f"Preset {preset.name}.", note]
    if fresh:
        lines.append(f"New head for {_classes_of(graph)} classes: "
                     f"{', '.join(sorted(_nodes(graph, fresh)))} (fresh weights).")
    if freeze_backbone:
        frozen = freeze_all_but(graph, _nodes(graph, fresh) or {classifier_node(graph)})
        lines.append(f"Frozen: {frozen} layers (all but the head).")
    project.description = "\n".join(lines)
    return project


def keep_category_names(dataset: DatasetConfig, info: WeightsInfo, graph: Graph) -> None:
    """Name the outputs with the weights' categories (ImageNet's) when the graph kept their
    head, so that a prediction reads "tabby cat" rather than "281"; a new head keeps none."""
    shapes = [tuple(s) for s in analyze(graph).output_shapes if s is not None]
    if info.categories and (len(info.categories),) in shapes:
        dataset.class_names = list(info.categories)


def _is_file(weights: str) -> bool:
    return Path(weights).suffix.lower() in (".safetensors", ".pth", ".pt") \
        or any(sep in weights for sep in "/\\")


def _build(preset: presets.Preset, classes: int, shape: Sequence[int],
           options: Mapping[str, Any] | None = None) -> Graph:
    """The preset at ``classes`` and ``shape``, with ``options`` it takes (those pretrained
    weights imply, such as GoogLeNet's transform_input)."""
    taken = {k: v for k, v in (options or {}).items() if k in preset.options()}
    try:
        return preset.build(num_classes=classes, input_shape=tuple(shape), **taken)
    except (ValueError, GraphError) as exc:
        raise PretrainedError(f"preset {preset.name}: {exc}") from None


def _from_torchvision(preset: presets.Preset, info: WeightsInfo, classes: int | None,
                      shape: list[int], seed: int, progress: Progress | None,
                      cancelled: Callable[[], bool] | None
                      ) -> tuple[Graph, dict[str, torch.Tensor], list[str]]:
    """The preset at the weights' classes with the weights loaded (every key, every shape),
    then, for other ``classes``, rebuilt with a fresh head and every other tensor copied."""
    n = len(info.categories) or 1000
    if shape[0] != 3:
        raise PretrainedError(f"{info.full_name} takes colour images: the input must have 3 "
                              f"channels, not {shape[0]}")
    options = implied_options(info.model)
    graph = _build(preset, n, shape, options)
    fetch(info, progress, cancelled)
    model = to_module(graph, seed)
    unfit = load_into(model, load_state(info), info.file_name)
    if unfit:
        raise PretrainedError(f"{info.file_name} does not fit preset {preset.name} at input "
                              f"{'×'.join(map(str, shape))}: {unfit[0]} has another shape")
    state = model.state_dict()
    if classes is None or classes == n:
        return graph, state, []
    graph = _build(preset, classes, shape, options)
    model = to_module(graph, seed)
    fresh = load_into(model, state, info.file_name)
    return graph, model.state_dict(), fresh


def _from_file(preset: presets.Preset, path: Path, classes: int | None,
               input_shape: Sequence[int] | None, seed: int
               ) -> tuple[Graph, dict[str, torch.Tensor], list[str], str]:
    """The preset with the tensors of a weights file that fit by name and shape; without
    ``classes``, as many classes as the file's head has."""
    try:
        tensors = read_weights_file(path)
    except WeightsError as exc:
        raise PretrainedError(str(exc)) from None
    default = preset.build()
    shape = list(input_shape) if input_shape else list(analyze(default).input_shape or ())
    if classes is None:
        head = tensors.get(f"{classifier_node(default)}.weight")
        classes = int(head.shape[0]) if head is not None else _classes_of(default)
    graph = _build(preset, classes, shape)
    model = to_module(graph, seed)
    report = load_matching(model, tensors)
    if not report.loaded:
        raise PretrainedError(f"{path}: no tensor fits preset {preset.name} by name and shape")
    fresh = [k for k, _, _ in report.shape_mismatch] + report.missing
    return graph, model.state_dict(), fresh, f"Weights from {path.name}: {report.summary()}."


def _classes_of(graph: Graph) -> int:
    report = analyze(graph)
    shape = report.nodes[classifier_node(graph)].shape
    return int(shape[0]) if shape else 0


def _nodes(graph: Graph, keys: Sequence[str]) -> set[str]:
    ids = set(graph.nodes)
    return {nid for nid in (node_of(k, ids) for k in keys) if nid is not None}


def freeze_all_but(graph: Graph, keep: set[str]) -> int:
    """Freeze every node with weights except ``keep`` (node attributes: the analysis counts
    them as frozen, the canvas shows them so, training leaves them unchanged); returns how
    many were frozen."""
    report = analyze(graph)
    count = 0
    for nid, node in report.nodes.items():
        if node.params and nid not in keep and not graph.nodes[nid].frozen:
            graph.set_node_attrs(nid, frozen=True)
            count += 1
    return count
