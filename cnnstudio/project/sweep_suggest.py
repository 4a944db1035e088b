"""What the window offers to sweep, and a first domain for each: the training options that
matter most and the graph parameters a user tunes (a layer's width, kernel size, dropout rate,
activation type). Each domain holds the project's own value, so the first trial is the project
as it is. Also the space of a project that has none (``default_space``), made the same way."""

from __future__ import annotations

from typing import Any

from ..graph import layers
from ..graph.repeat import stages
from .sweep import (
    ACTIVATION,
    BLOCK,
    KEY,
    NODE,
    PRESET,
    REPEAT,
    Dimension,
    SweepSpace,
    check_space,
    own_value,
    preset_origin,
)

TRAINING: tuple[tuple[str, str], ...] = (
    ("optimizer.lr", "Learning rate"),
    ("batch_size", "Batch size"),
    ("optimizer.name", "Optimizer"),
    ("optimizer.weight_decay", "Weight decay"),
    ("optimizer.momentum", "Momentum"),
    ("optimizer.lookahead_k", "Lookahead steps"),
    ("loss.l1", "L1 penalty"),
    ("epochs", "Epochs"),
    ("schedule.name", "Schedule"),
    ("loss.label_smoothing", "Label smoothing"),
    ("dataset.mixup_alpha", "Mixup α"),
    ("dataset.cutmix_alpha", "CutMix α"),
)
"""Training (and dataset) options the panel offers, by the path a dimension's target takes."""
WIDTHS = ("out_channels", "out_features")
NODE_PARAMS = (*WIDTHS, "kernel_size", "p")
"""Layer parameters the panel offers, where a node has them."""
ACTIVATIONS = ("ReLU", "GELU", "SiLU", "Tanh")
FIXED_OPTIONS = ("num_classes", "round_nearest")
"""Preset options a sweep leaves alone: the classes are the data's."""


def preset_options(graph: Any) -> list[str]:
    """The options of the graph's preset a sweep can vary: its width multiplier, whole
    numbers (a hidden layer's width) and dropout rates."""
    found = preset_origin(graph)
    if found is None:
        return []
    return [k for k, v in found[1].items() if k not in FIXED_OPTIONS and (
        (isinstance(v, int) and not isinstance(v, bool)) or
        (isinstance(v, float) and (k == "width_mult" or _is_rate(k))))]


def _is_rate(option: str) -> bool:
    return "drop" in option or option.endswith("_prob")


def sweepable(project: Any) -> list[tuple[str, str, str]]:
    """``(group, target, label)`` for each setting the panel offers: training options first,
    then each stage's number of blocks, each node's parameters and activation types, in the
    graph's order."""
    found = [("Training", target, label) for target, label in TRAINING]
    origin = preset_origin(project.graph)
    found += [("Preset", f"{PRESET}{k}", f"{origin[0]} · {k}")
              for k in preset_options(project.graph)]
    found += [("Layers", f"{BLOCK}{stage}{REPEAT}", f"{stage} · blocks")
              for stage, n in stages(project.graph).items() if n >= 2]  # one block: no copy
    for node in project.graph.nodes.values():
        last = not project.graph.outputs(node.id)  # its width is the number of classes
        for name in NODE_PARAMS:
            if name in node.spec.param_map and not (last and name in WIDTHS):
                found.append(("Layers", f"{NODE}{node.id}.{name}", f"{node.id} · {name}"))
        if node.spec.category == ACTIVATION and node.type in layers.names():
            found.append(("Layers", f"{NODE}{node.id}.type", f"{node.id} · activation type"))
    return found


DEFAULT = ("optimizer.lr", "batch_size", "optimizer.name", "optimizer.weight_decay")
"""The space of a project that has none: the training options that matter most."""


def default_space(project: Any = None) -> SweepSpace:
    """The space of a project that has none. With ``project`` each domain also holds the
    project's own value (its batch size, its weight decay, 0 included), so the first trial is
    the project as it is and the best trial is at least as good as where the sweep started."""
    return SweepSpace([suggest(t, own_value(project, t) if project is not None else None)
                       for t in DEFAULT])


def space_of(project: Any) -> SweepSpace:
    """The project's stored space, or the default one; ConfigError when the stored one is
    malformed or does not fit the project."""
    doc = project.extra.get(KEY)
    space = default_space(project) if doc is None else SweepSpace.from_dict(doc, KEY)
    check_space(space, project)
    return space


def suggest(target: str, own: Any = None) -> Dimension:
    """A first domain for ``target`` that holds ``own``, the project's value (if any)."""
    name = target.rpartition(".")[2]
    if target == "optimizer.lr":
        own = own if isinstance(own, (int, float)) else 1e-2
        return Dimension(target, "float", min(1e-4, own / 10), max(1e-1, own * 10), log=True)
    if target == "batch_size":
        return _choices(target, [16, 32, 64, 128], own)
    if target == "optimizer.name":
        return _choices(target, ["sgd", "adam", "adamw"], own, keep_order=True)
    if target == "optimizer.weight_decay":
        return _choices(target, [0.0, 1e-5, 1e-4, 1e-3], None if own is None else float(own))
    if target == "loss.l1":  # a sum over every weight: a smaller λ than weight decay's
        return _choices(target, [0.0, 1e-6, 1e-5, 1e-4], None if own is None else float(own))
    if target == "optimizer.lookahead_k":  # 0: without Lookahead
        return _choices(target, [0, 5, 10], own if isinstance(own, int) else None)
    if target == "schedule.name":
        return _choices(target, ["none", "cosine", "onecycle"], own, keep_order=True)
    if target == f"{PRESET}width_mult":
        return _choices(target, [0.5, 0.75, 1.0, 1.25], own)
    if target.startswith(PRESET) and isinstance(own, int) and not isinstance(own, bool):
        return Dimension(target, "int", max(1, own // 2), max(2, own * 2))
    if target.startswith(BLOCK):  # a block fewer to two more
        own = own if isinstance(own, int) else 1
        return Dimension(target, "int", max(1, own - 1), own + 2)
    if target.startswith(NODE) and name == "type":
        return _choices(target, list(ACTIVATIONS), own, keep_order=True)
    if target == "epochs" or name in WIDTHS:
        own = own if isinstance(own, int) else 10
        return Dimension(target, "int", max(1, own // 2), max(2, own * 2))
    if name == "kernel_size":
        return _choices(target, [3, 5], own if isinstance(own, int) else 3)
    ranges = {"optimizer.momentum": (0.8, 0.99), "loss.label_smoothing": (0.0, 0.2),
              "dataset.mixup_alpha": (0.0, 0.4), "dataset.cutmix_alpha": (0.0, 1.0)}
    low, high = ranges.get(target, (0.0, 0.5))  # a Dropout's p
    own = float(own) if isinstance(own, (int, float)) else low
    return Dimension(target, "float", min(low, own), max(high, own))


def _choices(target: str, values: list, own: Any, keep_order: bool = False) -> Dimension:
    if own is not None and own not in values:
        values = [*values, own]
    return Dimension(target, "choice", choices=values if keep_order else sorted(values))
