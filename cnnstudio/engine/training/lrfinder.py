"""The learning-rate range test (Smith, 2017): raise the rate exponentially batch by batch,
record the smoothed loss, stop when it explodes, and suggest the rate where it fell fastest.
Each batch is the trainer's step (auxiliary heads, the L1 penalty, gradient clipping), so the
rate suggested is for the run that will use it. The model's weights are restored afterwards."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch

from ...graph import Graph
from ...project.config import TrainConfig
from ..build import to_module
from .losses import AUX_WEIGHT, l1_penalty, make_loss, training_loss
from .optim import make_optimizer, optimizer_step
from .trainer import pick_device


@dataclass
class RangeTest:
    lrs: list[float]
    losses: list[float]
    suggested: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"lrs": self.lrs, "losses": self.losses, "suggested": self.suggested}


def lr_range_test(graph: Graph, config: TrainConfig, data: Any, *, start: float = 1e-7,
                  end: float = 10.0, steps: int = 100, smoothing: float = 0.05,
                  model: torch.nn.Module | None = None) -> RangeTest:
    """Losses over ``steps`` batches with the rate going from ``start`` to ``end``."""
    device = pick_device(config.device)
    net = model if model is not None else to_module(graph, seed=config.seed)
    saved = copy.deepcopy(net.state_dict())
    net.to(device).train()
    optimizer = make_optimizer(config.optimizer, [{"params": list(net.parameters()),
                                                   "lr": start}])
    loss_fn = make_loss(config.loss, data.num_classes, data.class_counts, device,
                        getattr(data, "task", "classify"))
    ratio = (end / start) ** (1 / max(steps - 1, 1))
    lrs: list[float] = []
    losses: list[float] = []
    avg, best = 0.0, math.inf
    step = 0
    epoch = 0
    try:
        while step < steps:
            for x, y in data.train.batches(config.batch_size, shuffle=True, seed=config.seed,
                                           epoch=epoch, augment=True):
                lr = start * ratio ** step
                for group in optimizer.param_groups:
                    group["lr"] = lr
                labels, _ = training_loss(net(x), y, loss_fn, AUX_WEIGHT)
                loss = labels + l1_penalty(net, config.loss.l1)
                optimizer_step(optimizer, loss, net.parameters(), config.grad_clip)
                value = float(loss.detach())  # one read-back per step is the point here
                avg = smoothing * value + (1 - smoothing) * avg  # debiased moving average
                smoothed = avg / (1 - (1 - smoothing) ** (step + 1))
                if not math.isfinite(smoothed) or (step > 10 and smoothed > 4 * best):
                    step = steps
                    break
                best = min(best, smoothed)
                lrs.append(lr)
                losses.append(smoothed)
                step += 1
                if step >= steps:
                    break
            epoch += 1
    finally:
        net.load_state_dict(saved)
    return RangeTest(lrs, losses, suggest(lrs, losses))


def suggest(lrs: list[float], losses: list[float]) -> float | None:
    """The rate of steepest descent of the loss against log(rate), away from the ends."""
    if len(losses) < 8:
        return None
    logs = [math.log10(lr) for lr in lrs]
    skip = max(1, len(losses) // 10)
    best_i, best_slope = None, 0.0
    for i in range(skip, len(losses) - skip):
        slope = (losses[i + 1] - losses[i - 1]) / (logs[i + 1] - logs[i - 1])
        if slope < best_slope:
            best_i, best_slope = i, slope
    return lrs[best_i] if best_i is not None else None
