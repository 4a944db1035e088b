"""Gradient flow while training: a few times an epoch, per layer with weights, the gradient's
L2 norm and the update-to-weight ratio, with a one-line warning when gradients vanish or explode
(what the textbooks teach about deep sigmoid stacks, shown on the user's own network).

The numbers are read in the optimizer's step hooks, so the trainer's one ``optimizer_step`` (the
same code the generated ``train.py`` runs) stays as it is. The pre-step hook runs after AMP's
GradScaler has unscaled the gradients and after gradient clipping: these are the gradients the
step uses. (Clipping scales every layer by one factor, so the ratios between layers, the
vanishing signal, are those of the raw gradients.) A step the GradScaler skips (an inf in
float16) fires neither hook and gives no sample.

The update ratio is the step's actual ‖Δw‖/‖w‖, measured across the step from a copy of the
weights, not lr·‖g‖/‖w‖: Adam, momentum and weight decay make the update differ from lr·g by
orders of magnitude, and the rule of thumb (~1e-3 per step) is about the real update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ...graph import Graph
from .transfer import node_of

SAMPLES_PER_EPOCH = 4
"""Steps sampled per epoch, evenly spaced: never every step, so a run stays as fast (each sample
costs about one extra optimizer step; see benchmarks/gradflow_overhead.py)."""
VANISHING = 1e-4
"""A layer whose gradient norm is below this share of the largest layer's is vanishing."""
EXPLODING = 1e3
"""A layer whose gradient norm is above this is exploding (healthy layers' norms stay under
~10 with a mean-reduced loss)."""
SHOWN_NAMES = 4


@dataclass(frozen=True)
class GradientSample:
    """One sampled step: per layer (node id, ordered by depth), the gradient's L2 norm and the
    update-to-weight ratio ‖Δw‖/‖w‖; ``flagged`` names the layers the warning is about."""

    epoch: int
    step: int  # steps done in the epoch, this one included (as BatchEnd.step)
    steps: int
    layers: dict[str, tuple[float, float]]
    flagged: tuple[str, ...] = ()
    warning: str | None = None
    event: str = "gradients"


def sample_steps(steps: int, per_epoch: int = SAMPLES_PER_EPOCH) -> frozenset[int]:
    """The 0-based steps of an epoch of ``steps`` steps to sample: ``per_epoch`` evenly spaced,
    the first step included (a fresh network's gradients are the textbook picture)."""
    n = min(max(per_epoch, 0), steps)
    return frozenset(i * steps // n for i in range(n)) if n else frozenset()


def diagnose(layers: dict[str, tuple[float, float]]) -> tuple[tuple[str, ...], str | None]:
    """The layers whose gradients are non-finite, vanishing or exploding, and one line about
    them (None: none is)."""
    norms = {node: g for node, (g, _) in layers.items()}
    broken = [n for n, g in norms.items() if not math.isfinite(g)]
    if broken:
        return tuple(broken), f"non-finite gradients in {_names(broken)}"
    if not norms:
        return (), None
    top_node = max(norms, key=norms.__getitem__)
    top = norms[top_node]
    if top == 0:
        return tuple(norms), "no gradient reaches any layer (all are zero)"
    parts, flagged = [], []
    exploding = [n for n, g in norms.items() if g > EXPLODING]
    if exploding:
        flagged += exploding
        parts.append(f"exploding gradients in {_names(exploding)} (norm above {EXPLODING:g})")
    vanishing = [n for n, g in norms.items() if g < VANISHING * top]
    if vanishing:
        flagged += vanishing
        parts.append(f"vanishing gradients in {_names(vanishing)} (under "
                     f"{VANISHING:.0e}".replace("e-0", "e-") + f" of {top_node}'s norm {top:.2g})")
    return tuple(flagged), "; ".join(parts) or None


def _names(nodes: list[str]) -> str:
    more = f" and {len(nodes) - SHOWN_NAMES} more" if len(nodes) > SHOWN_NAMES else ""
    return ", ".join(nodes[:SHOWN_NAMES]) + more


class GradientFlow:
    """Samples ``model``'s layers with weights (nodes of ``graph`` holding a kernel or matrix:
    normalisation layers' per-channel scales would double the bars without saying more about
    depth); a node's weight and bias count together."""

    def __init__(self, model: nn.Module, graph: Graph) -> None:
        ids = set(graph.nodes)
        depth = {nid: i for i, nid in enumerate(graph.topological_order())}
        owners: dict[str, list[tuple[str, nn.Parameter]]] = {}
        for name, param in model.named_parameters():
            node = node_of(name, ids)
            if node is not None:
                owners.setdefault(node, []).append((name, param))
        weighted = [n for n, params in owners.items() if any(p.dim() >= 2 for _, p in params)]
        self.nodes = sorted(weighted, key=depth.__getitem__)
        """The layers sampled, by depth (a frozen one is left out while it is frozen)."""
        self.params = [(node, p) for node in self.nodes for _, p in owners[node]]

    def watch(self, optimizer: torch.optim.Optimizer) -> _Watch:
        """Read the next step of ``optimizer``; ``_Watch.sample`` gives the numbers."""
        return _Watch(self, optimizer)


class _Watch:
    """One sampled step: the pre-step hook reads the gradients' and weights' norms and copies
    the weights, the post-step hook measures the update; one read-back in ``sample``."""

    def __init__(self, flow: GradientFlow, optimizer: torch.optim.Optimizer) -> None:
        self.flow = flow
        self.nodes: list[str] = []
        self.params: list[torch.Tensor] = []
        self.before: list[torch.Tensor] = []
        self.norms: torch.Tensor | None = None
        self.handles = [optimizer.register_step_pre_hook(self._pre),
                        optimizer.register_step_post_hook(self._post)]

    @torch.no_grad()
    def _pre(self, _optimizer: Any, _args: Any, _kwargs: Any) -> None:
        chosen = [(node, p) for node, p in self.flow.params
                  if p.requires_grad and p.grad is not None and not p.grad.is_sparse]
        if not chosen:
            return
        self.nodes = [node for node, _ in chosen]
        self.params = [p for _, p in chosen]
        grads = torch._foreach_norm([p.grad for p in self.params])
        weights = torch._foreach_norm(self.params)
        self.norms = torch.stack([torch.stack(grads).float(), torch.stack(weights).float()])
        self.before = torch._foreach_mul(self.params, 1.0)  # a copy, on the device

    @torch.no_grad()
    def _post(self, _optimizer: Any, _args: Any, _kwargs: Any) -> None:
        if self.norms is None:
            return
        torch._foreach_sub_(self.before, self.params)
        delta = torch.stack(torch._foreach_norm(self.before)).float()
        self.norms = torch.cat([self.norms, delta[None]])
        self.before = []

    def sample(self, epoch: int, step: int, steps: int) -> GradientSample | None:
        """The step's numbers (None: the step was skipped or had no gradients); the hooks
        are removed."""
        for handle in self.handles:
            handle.remove()
        if self.norms is None or self.norms.shape[0] < 3:
            return None
        grad, weight, delta = self.norms.cpu().double().tolist()  # the one wait
        sums: dict[str, list[float]] = {}
        for node, g, w, d in zip(self.nodes, grad, weight, delta):
            acc = sums.setdefault(node, [0.0, 0.0, 0.0])
            acc[0] += g * g
            acc[1] += w * w
            acc[2] += d * d
        layers = {node: (math.sqrt(g2), math.sqrt(d2) / max(math.sqrt(w2), 1e-12))
                  for node, (g2, w2, d2) in sums.items()}
        flagged, warning = diagnose(layers)
        return GradientSample(epoch, step, steps, layers, flagged, warning)
