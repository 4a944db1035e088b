"""Structured pruning to a MACs target: whole channels removed by importance (the L1 or L2 norm
of their weights), dependency-aware through residual Adds, Concats and depthwise convolutions
by torch-pruning's dependency graph, then written back as an edited graph (narrower layers)
with its weights sliced.

Why torch-pruning: it traces the module and groups every parameter a channel touches (a
convolution's filters, the BatchNorm after it, the next layer's inputs, the other branch of an
Add), which is exactly the bookkeeping that goes wrong by hand; our graph then takes the new
widths from the pruned module and proves them by loading its weights strictly."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..graph import Graph, analyze
from .build import to_module

IMPORTANCES = ("l1", "l2")
SEARCH_STEPS = 8
"""Bisection steps on the channel ratio: the MACs kept land within about 0.5 % of the target."""


class PruneError(ValueError):
    """A graph or a target that cannot be pruned as asked (one line, for the user)."""


@dataclass(frozen=True)
class Pruned:
    graph: Graph
    state: dict[str, torch.Tensor]
    macs_before: int
    macs_after: int
    params_before: int
    params_after: int
    ratio: float
    """The share of channels removed from each prunable layer."""
    changed: dict[str, tuple[int, int]]
    """Node → (width before, width after), for the layers that lost channels."""

    @property
    def macs_kept(self) -> float:
        return self.macs_after / self.macs_before if self.macs_before else 1.0


def prune(graph: Graph, state: dict[str, torch.Tensor] | None, keep_macs: float, *,
          importance: str = "l1") -> Pruned:
    """``graph`` with whole channels removed so that about ``keep_macs`` (0 < f < 1) of its
    MACs are left, and ``state`` (its weights; None: fresh ones) sliced to fit."""
    import torch_pruning as tp

    if not 0 < keep_macs < 1:
        raise PruneError(f"the MACs to keep must be a fraction between 0 and 1, not {keep_macs}")
    if importance not in IMPORTANCES:
        raise PruneError(f"importance must be one of {', '.join(IMPORTANCES)}, not "
                         f"{importance!r}")
    report = analyze(graph)
    if not report.ok:
        raise PruneError(f"the graph has errors ({report.errors[0].message}); fix them first")
    module = to_module(graph).eval()
    if state is not None:
        module.load_state_dict(state, strict=True)
    x = torch.randn(1, *report.input_shape)
    kept = _ignored(graph, report, module)
    before_macs = report.macs
    norm = 1 if importance == "l1" else 2

    def pruned_at(ratio: float) -> nn.Module:
        candidate = copy.deepcopy(module)
        pruner = tp.pruner.MetaPruner(
            candidate, x, importance=tp.importance.MagnitudeImportance(p=norm),
            pruning_ratio=ratio, ignored_layers=[candidate.get_submodule(n) for n in kept])
        pruner.step()
        return candidate

    def macs_of(candidate: nn.Module) -> float:
        return float(tp.utils.count_ops_and_params(candidate, x)[0])

    full = macs_of(module)
    low, high, best = 0.0, 0.95, None
    for _ in range(SEARCH_STEPS):  # the largest ratio that keeps at least the target
        ratio = (low + high) / 2
        candidate = pruned_at(ratio)
        if macs_of(candidate) / full >= keep_macs:
            low, best = ratio, (ratio, candidate)
        else:
            high = ratio
    if best is None or best[0] == 0.0:
        raise PruneError(f"no channel can be removed while keeping {keep_macs:.0%} of the "
                         "MACs")
    ratio, candidate = best
    return _written_back(graph, candidate, ratio, before_macs, report.total_params)


def _ignored(graph: Graph, report: Any, module: nn.Module) -> list[str]:
    """Layers whose output width is fixed: those feeding an output (the classes)."""
    fixed = []
    for nid in report.output_ids:
        for src in graph.upstream([nid]):
            if graph.nodes[src].type in ("Linear", "Conv2d") and _feeds_only_outputs(graph,
                                                                                       src):
                fixed.append(src)
    return [n for n in dict.fromkeys(fixed) if _has_module(module, n)]


def _feeds_only_outputs(graph: Graph, nid: str) -> bool:
    """Whether nothing with weights comes after ``nid`` (its width is the network's output)."""
    todo, seen = list(graph.outputs(nid)), set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        if graph.nodes[node].type in ("Linear", "Conv2d", "ConvTranspose2d"):
            return False
        todo += graph.outputs(node)
    return True


def _has_module(module: nn.Module, path: str) -> bool:
    try:
        module.get_submodule(path)
    except AttributeError:
        return False
    return True


def _written_back(graph: Graph, pruned: nn.Module, ratio: float, macs_before: int,
                  params_before: int) -> Pruned:
    """The pruned module's widths set on a copy of the graph, proven by loading its weights."""
    edited = graph.copy()
    changed = {}
    for nid, node in graph.nodes.items():
        if not _has_module(pruned, nid):
            continue
        layer = pruned.get_submodule(nid)
        width = None
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            width, key = layer.out_channels, "out_channels"
            if node.params.get("groups", 1) != layer.groups:
                edited.set_param(nid, "groups", layer.groups)
        elif isinstance(layer, nn.Linear):
            width, key = layer.out_features, "out_features"
        if width is not None and width != node.params.get(key):
            changed[nid] = (node.params.get(key), width)
            edited.set_param(nid, key, width)
    report = analyze(edited)
    if not report.ok:
        raise PruneError(f"the pruned widths do not fit the graph ({report.errors[0].node}: "
                         f"{report.errors[0].message})")
    state = {k: v.detach().clone() for k, v in pruned.state_dict().items()}
    try:
        to_module(edited).load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise PruneError("the pruned weights do not fit the edited graph: "
                         f"{str(exc).splitlines()[1].strip()}") from None
    return Pruned(edited, state, macs_before, report.macs, params_before, report.total_params,
                  ratio, changed)
