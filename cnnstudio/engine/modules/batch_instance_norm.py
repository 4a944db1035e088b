"""Batch-Instance Normalization (Nam & Kim, 2018): per channel, a learned mix of batch and
instance normalisation, y = γ·(ρ·x̂_batch + (1 − ρ)·x̂_instance) + β with the gate ρ in [0, 1].

The paper clips ρ to [0, 1] after each optimizer step. The trainer's optimizers are not this
layer's to change, so the module clips its own ρ in place at the start of every training
forward pass (the same thing, one step later: the update is applied, then clipped before it is
used) and also clamps it in the computation, so weights that were loaded or edited out of range
still act as the nearest valid gate. The code generator copies this class into the exported
file (engine/codegen/layers.py COPIED), so it uses ``torch`` and ``nn`` only.
"""

from __future__ import annotations

import torch
from torch import nn


class BatchInstanceNorm2d(nn.Module):
    """BatchNorm2d's statistics and affine (the same state_dict keys) plus a gate ``rho`` per
    channel, starting at ``rho_init`` (1: plain batch normalisation)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 rho_init: float = 1.0) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.rho = nn.Parameter(torch.full((num_features,), float(rho_init)))
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training:
            with torch.no_grad():
                self.rho.clamp_(0.0, 1.0)
            if self.track_running_stats and self.num_batches_tracked is not None:
                self.num_batches_tracked.add_(1)
                if self.momentum is None:  # a cumulative average, as BatchNorm2d
                    momentum = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or self.running_mean is None
        x_batch = nn.functional.batch_norm(x, self.running_mean, self.running_var, None, None,
                                           use_batch, momentum, self.eps)
        x_instance = nn.functional.instance_norm(x, eps=self.eps)
        rho = self.rho.clamp(0.0, 1.0).view(1, -1, 1, 1)
        out = rho * x_batch + (1 - rho) * x_instance
        if self.weight is not None:
            out = out * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")
