"""Quantisation-aware fine-tuning: a few gentle epochs with int8 simulated in the forward pass
(each convolution's and linear layer's weights rounded to int8 per output channel, its input to
uint8 over a running range), so the weights learn to sit where rounding hurts least; the
fine-tuned float weights are then quantised post-training as before.

Why simulate and then quantise post-training rather than convert the fake-quantised model
itself: the int8 file is made, checked and timed by one path (onnxruntime's quantiser), and the
ranges it calibrates are those of the weights as they finally are. The simulation rounds the
weights before BatchNorm, where the exported file folds BatchNorm into them first; the rounding
it teaches is close, not exact, which is why the result is scored again as int8."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from ...graph import Graph
from ..training.trainer import EpochEnd, Failed, Trainer, TrainingError
from .options import finetune_config

QUANTISED = (nn.Conv2d, nn.Linear)
MOMENTUM = 0.1
"""How fast an input's observed range follows the batches (an exponential moving average)."""


class _Weights(nn.Module):
    """A parametrisation: the weight rounded to symmetric int8 per output channel (the
    gradient passes straight through the rounding)."""

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        top = w.detach().abs().flatten(1).amax(1).clamp_min(1e-8)
        scale = (top / 127).float()
        zero = torch.zeros_like(scale, dtype=torch.int32)
        return torch.fake_quantize_per_channel_affine(w, scale, zero, 0, -127, 127)


class _Inputs:
    """A forward pre-hook: the layer's input rounded to uint8 over its observed range (the
    range follows the batches while training and stays fixed in evaluation)."""

    def __init__(self) -> None:
        self.low: float | None = None
        self.high: float | None = None

    def __call__(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        x = args[0]
        if module.training or self.low is None:
            with torch.no_grad():
                low, high = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
            if self.low is None or self.high is None:
                self.low, self.high = low, high
            else:
                self.low += MOMENTUM * (low - self.low)
                self.high += MOMENTUM * (high - self.high)
        scale = max((self.high - self.low) / 255, 1e-8)
        zero = int(min(max(round(-self.low / scale), 0), 255))
        return (torch.fake_quantize_per_tensor_affine(x, scale, zero, 0, 255), *args[1:])


def simulate_int8(model: nn.Module) -> Callable[[], None]:
    """Simulate int8 in ``model``'s convolutions and linear layers; the returned function
    takes the simulation out again, leaving the trained float weights under their own names."""
    layers = [m for m in model.modules() if isinstance(m, QUANTISED)]
    hooks = []
    for layer in layers:
        parametrize.register_parametrization(layer, "weight", _Weights())
        hooks.append(layer.register_forward_pre_hook(_Inputs()))

    def remove() -> None:
        for hook in hooks:
            hook.remove()
        for layer in layers:
            if parametrize.is_parametrized(layer, "weight"):
                parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)

    return remove


def finetune_int8(graph: Graph, config: Any, data: Any, state: dict[str, torch.Tensor],
                  epochs: int, progress: Callable[[str], None] | None = None
                  ) -> tuple[dict[str, torch.Tensor], float | None]:
    """``state`` fine-tuned for ``epochs`` with int8 simulated, at a tenth of ``config``'s
    learning rate on a cosine schedule, on the CPU or the configured device; the new float
    weights and the last simulated-int8 validation accuracy. TrainingError when it fails."""
    say = progress or (lambda _text: None)
    cfg = finetune_config(config, epochs)
    cfg.checkpoint_every, cfg.early_stopping = max(epochs, 1), None
    cfg.distill.teacher = None
    cfg.amp = cfg.compile = False  # the simulation rounds in float32
    removers: list[Callable[[], None]] = []
    trainer = Trainer(graph, cfg, data, initial_weights=state,
                      prepare=lambda model: removers.append(simulate_int8(model)))
    accuracy = None
    for event in trainer.run():
        if isinstance(event, EpochEnd):
            accuracy = event.record.val_acc
            shown = "—" if accuracy is None else f"{100 * accuracy:.2f} %"
            say(f"quantisation-aware epoch {event.record.epoch}/{epochs}: simulated int8 "
                f"val acc {shown}")
        elif isinstance(event, Failed):
            raise TrainingError(f"quantisation-aware fine-tuning failed: {event.message}")
    model = trainer.model
    assert model is not None
    for remove in removers:
        remove()
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, accuracy
