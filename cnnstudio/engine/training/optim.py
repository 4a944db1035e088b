"""Optimizers and learning-rate schedules.

A schedule here is a pure function of the (fractional) epoch, applied before every step, so a
resumed run follows exactly the curve of an uninterrupted one; only reduce-on-plateau keeps
state, and it travels in the checkpoint. ``lr_factor``, ``plateau_step``, ``lookahead`` and
``optimizer_step`` use torch alone and read settings as dicts, because the code generator copies
them verbatim into the standalone ``train.py``: the script and the application follow one curve.

LAMB is timm's (``timm.optim.Lamb``, an optional dependency: ``pip install 'cnnstudio[timm]'``).
Lookahead is ``lookahead`` below rather than ``timm.optim.Lookahead``: timm's wrapper skips
``Optimizer.__init__``, so step hooks (the gradient sampling) never fire on it, and it would make
every exported ``train.py`` need timm; ``lookahead`` steps exactly as timm's does (a test holds
them together).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from ...project.config import OptimizerConfig, ScheduleConfig


def optimizer_problem(config: OptimizerConfig) -> str | None:
    """Why the configured optimizer cannot be made here (None: it can), asked before a run is
    recorded: LAMB is timm's, an optional dependency."""
    if config.name != "lamb":
        return None
    try:  # the run imports it anyway
        import timm.optim  # noqa: F401
    except ImportError:
        return ("training.optimizer.name: LAMB is timm's optimizer: install it with "
                "pip install 'cnnstudio[timm]', or choose another")
    return None


def make_optimizer(config: OptimizerConfig, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """The configured optimizer over parameter ``groups`` (each with its own ``lr``), with
    Lookahead around it when ``lookahead_k`` is set."""
    optimizer = _base_optimizer(config, groups)
    if config.lookahead_k:
        lookahead(optimizer, config.lookahead_k, config.lookahead_alpha)
    return optimizer


def _base_optimizer(config: OptimizerConfig,
                    groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
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
    if name == "adadelta":
        return torch.optim.Adadelta(groups, lr=config.lr, rho=config.rho, eps=config.eps,
                                    weight_decay=wd)
    if name == "lamb":
        if problem := optimizer_problem(config):
            raise ValueError(problem)
        from timm.optim import Lamb

        # No clipping inside LAMB (timm's default clips to 1): train.grad_clip is the one clip.
        return Lamb(groups, lr=config.lr, betas=betas, eps=config.eps, weight_decay=wd,
                    max_grad_norm=None)
    raise ValueError(f"training.optimizer.name: unknown optimizer {name!r}")


def lookahead(optimizer: torch.optim.Optimizer, k: int, alpha: float) -> None:
    """Lookahead (Zhang et al., 2019) around ``optimizer``: after every ``k``-th step the slow
    weights move ``alpha`` of the way to the fast ones, and the fast weights restart from
    them. As timm's ``Lookahead``: the slow weights start at the fast ones of the first sync,
    and live in the optimizer's state (``lookahead_slow_buff``, the step count in its groups),
    so they travel in its ``state_dict``."""
    for group in optimizer.param_groups:
        group.setdefault("lookahead_step", 0)

    @torch.no_grad()
    def sync(opt: torch.optim.Optimizer, _args: Any, _kwargs: Any) -> None:
        for group in opt.param_groups:
            group["lookahead_step"] += 1
            if group["lookahead_step"] % k:
                continue
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = opt.state[p]
                if "lookahead_slow_buff" not in state:
                    state["lookahead_slow_buff"] = p.detach().clone()
                slow = state["lookahead_slow_buff"]
                slow.add_(p - slow, alpha=alpha)
                p.copy_(slow)

    optimizer.register_step_post_hook(sync)


def lr_factor(schedule: dict[str, Any], t: float, epochs: int, steps: int, base_lr: float,
              plateau_scale: float = 1.0) -> float:
    """The learning rate over ``base_lr`` at fractional epoch ``t`` (0 at the start) of a run of
    ``epochs`` epochs of ``steps`` steps, for ``schedule`` (the project's schedule settings).
    Warm-up rises linearly by step, so the first step already learns a little."""
    name = schedule["name"]
    epoch = math.floor(t + 1e-9)  # the epoch a fractional t falls in, safe from rounding
    if name == "step":
        f = schedule["gamma"] ** (epoch // schedule["step_size"])
    elif name == "multistep":
        f = schedule["gamma"] ** sum(1 for m in schedule["milestones"] if m <= epoch)
    elif name == "exponential":
        f = schedule["gamma"] ** epoch
    elif name in ("cosine", "cosine_restarts"):
        now, period = min(t, epochs), epochs
        if name == "cosine_restarts":  # SGDR: restart every period, each t_mult times longer
            start, period = 0.0, schedule["t0"]
            while t >= start + period:
                start += period
                period *= schedule["t_mult"]
            now = t - start
        floor = schedule["eta_min"] / base_lr
        f = floor + (1 - floor) * (1 + math.cos(math.pi * now / period)) / 2
    elif name == "polynomial":  # (1 − t/T)^power from 1 down to the lowest rate
        floor = schedule["eta_min"] / base_lr
        f = floor + (1 - floor) * (1 - min(t, epochs) / epochs) ** schedule["power"]
    elif name == "cyclic":
        # torch's CyclicLR by epochs: from the lowest rate up to 1 and back, each way
        # cycle_epochs long; triangular2 halves each cycle, exp_range shrinks by γ an epoch.
        x = t / schedule["cycle_epochs"]
        cycle = math.floor(1 + x / 2)
        height = max(0.0, 1 - abs(x - 2 * cycle + 1))
        mode = schedule["cycle_mode"]
        if mode == "triangular2":
            height /= 2 ** (cycle - 1)
        elif mode == "exp_range":
            height *= schedule["gamma"] ** t
        floor = schedule["eta_min"] / base_lr
        f = floor + (1 - floor) * height
    elif name == "plateau":  # never below min_lr (nor raised above 1 by it)
        f = max(plateau_scale, min(1.0, schedule["min_lr"] / base_lr))
    elif name == "onecycle":
        # torch's OneCycleLR with its defaults: 30% up from max/25, then down to max/25e4.
        peak = (schedule["max_lr"] or 10 * base_lr) / base_lr
        start, end = peak / 25, peak / 25 / 1e4
        rise = 0.3 * epochs
        if t < rise:
            f = peak + (start - peak) * (1 + math.cos(math.pi * t / rise)) / 2
        else:
            p = min(1.0, (t - rise) / max(epochs - rise, 1e-9))
            f = end + (peak - end) * (1 + math.cos(math.pi * p)) / 2
    else:
        f = 1.0
    warmup = schedule["warmup_epochs"]
    if warmup > 0 and t < warmup:
        f *= min(1.0, (t * steps + 1) / (warmup * steps))
    return f


def plateau_step(plateau: dict[str, Any], loss: float, schedule: dict[str, Any]) -> None:
    """Reduce-on-plateau, once an epoch: ``plateau["scale"]`` shrinks by the schedule's
    ``factor`` after more than ``patience`` epochs without a loss 0.01 % below the best."""
    best = plateau["best"]
    if best is None or loss < best * (1 - 1e-4):
        plateau["best"], plateau["bad"] = loss, 0
    else:
        plateau["bad"] += 1
        if plateau["bad"] > schedule["patience"]:
            plateau["scale"] *= schedule["factor"]
            plateau["bad"] = 0


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor,
                   params: Iterable[torch.Tensor], grad_clip: float | None,
                   scaler: torch.amp.GradScaler | None = None) -> None:
    """One step on ``loss``: backward (through the float16 ``scaler`` when given), the
    gradient norm clipped to ``grad_clip`` (on the unscaled gradients), then the update."""
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        if grad_clip:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(params, grad_clip)
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()


class LrSchedule:
    """The learning-rate multiplier at fractional epoch ``t`` (0 at the start of training),
    with the reduce-on-plateau state that travels in the checkpoint."""

    def __init__(self, config: ScheduleConfig, base_lr: float, epochs: int,
                 steps_per_epoch: int) -> None:
        self.config = config
        self.settings = config.to_dict()
        self.base_lr = base_lr
        self.epochs = epochs
        self.steps = max(1, steps_per_epoch)
        self.plateau: dict[str, Any] = {"scale": 1.0, "best": None, "bad": 0}

    def factor(self, t: float) -> float:
        return lr_factor(self.settings, t, self.epochs, self.steps, self.base_lr,
                         self.plateau["scale"])

    def end_of_epoch(self, val_loss: float | None) -> None:
        """Reduce-on-plateau: scale down after ``patience`` epochs without improvement."""
        if self.config.name == "plateau" and val_loss is not None:
            plateau_step(self.plateau, val_loss, self.settings)

    def state_dict(self) -> dict[str, Any]:
        return {"plateau_scale": self.plateau["scale"], "plateau_best": self.plateau["best"],
                "plateau_bad": self.plateau["bad"]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.plateau = {"scale": float(state["plateau_scale"]), "best": state["plateau_best"],
                        "bad": int(state["plateau_bad"])}
