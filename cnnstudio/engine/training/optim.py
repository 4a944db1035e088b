"""Optimizers and learning-rate schedules.

A schedule here is a pure function of the (fractional) epoch, applied before every step, so a
resumed run follows exactly the curve of an uninterrupted one; only reduce-on-plateau keeps
state, and it travels in the checkpoint.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ...project.config import OptimizerConfig, ScheduleConfig


def make_optimizer(config: OptimizerConfig, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """The configured optimizer over parameter ``groups`` (each with its own ``lr``)."""
    wd = config.weight_decay
    betas = (config.beta1, config.beta2)
    name = config.name
    if name == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov and config.momentum > 0,
                               weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(groups, lr=config.lr, betas=betas, eps=config.eps,
                                weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, betas=betas, eps=config.eps,
                                 weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=config.lr, momentum=config.momentum,
                                   eps=config.eps, weight_decay=wd)
    if name == "adagrad":
        return torch.optim.Adagrad(groups, lr=config.lr, eps=config.eps, weight_decay=wd)
    if name == "radam":
        return torch.optim.RAdam(groups, lr=config.lr, betas=betas, eps=config.eps,
                                 weight_decay=wd)
    raise ValueError(f"training.optimizer.name: unknown optimizer {name!r}")


class LrSchedule:
    """The learning-rate multiplier at fractional epoch ``t`` (0 at the start of training)."""

    def __init__(self, config: ScheduleConfig, base_lr: float, epochs: int,
                 steps_per_epoch: int) -> None:
        self.config = config
        self.base_lr = base_lr
        self.epochs = epochs
        self.steps = max(1, steps_per_epoch)
        self.plateau_scale = 1.0
        self.plateau_best: float | None = None
        self.plateau_bad = 0

    def factor(self, t: float) -> float:
        c = self.config
        epoch = math.floor(t + 1e-9)
        name = c.name
        if name == "step":
            f = c.gamma ** (epoch // c.step_size)
        elif name == "multistep":
            f = c.gamma ** sum(1 for m in c.milestones if m <= epoch)
        elif name == "exponential":
            f = c.gamma ** epoch
        elif name == "cosine":
            f = self._cosine(min(t, self.epochs), self.epochs)
        elif name == "cosine_restarts":
            period, start = c.t0, 0.0
            while t >= start + period:
                start += period
                period *= c.t_mult
            f = self._cosine(t - start, period)
        elif name == "plateau":
            f = self.plateau_scale
        elif name == "onecycle":
            f = self._one_cycle(t)
        else:
            f = 1.0
        if c.warmup_epochs > 0 and t < c.warmup_epochs:
            f *= min(1.0, (t * self.steps + 1) / (c.warmup_epochs * self.steps))
        return f

    def _cosine(self, t: float, period: float) -> float:
        floor = self.config.eta_min / self.base_lr
        return floor + (1 - floor) * (1 + math.cos(math.pi * t / period)) / 2

    def _one_cycle(self, t: float) -> float:
        # torch's OneCycleLR with its defaults: 30% up from max/25, then down to max/25e4.
        peak = (self.config.max_lr or 10 * self.base_lr) / self.base_lr
        start, end = peak / 25, peak / 25 / 1e4
        total = self.epochs
        rise = 0.3 * total
        if t < rise:
            p = t / rise
            return peak + (start - peak) * (1 + math.cos(math.pi * p)) / 2
        p = min(1.0, (t - rise) / max(total - rise, 1e-9))
        return end + (peak - end) * (1 + math.cos(math.pi * p)) / 2

    def end_of_epoch(self, val_loss: float | None) -> None:
        """Reduce-on-plateau: scale down after ``patience`` epochs without improvement."""
        if self.config.name != "plateau" or val_loss is None:
            return
        if self.plateau_best is None or val_loss < self.plateau_best * (1 - 1e-4):
            self.plateau_best = val_loss
            self.plateau_bad = 0
        else:
            self.plateau_bad += 1
            if self.plateau_bad > self.config.patience:
                self.plateau_scale *= self.config.factor
                self.plateau_bad = 0

    def state_dict(self) -> dict[str, Any]:
        return {"plateau_scale": self.plateau_scale, "plateau_best": self.plateau_best,
                "plateau_bad": self.plateau_bad}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.plateau_scale = float(state["plateau_scale"])
        self.plateau_best = state["plateau_best"]
        self.plateau_bad = int(state["plateau_bad"])
