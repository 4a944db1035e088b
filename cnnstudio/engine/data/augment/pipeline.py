"""Batched augmentation on the device, random per sample (as the fast CIFAR-10 trainers do).

Every step takes a float32 batch ``[B, C, H, W]`` with values in [0, 1] (on any device) and
returns one of the same shape, dtype and device; ``Pipeline`` accepts uint8 (0–255) or such a
float batch and returns the float one. Fill values (``fill``, ``value``) are in that [0, 1]
range. Each step draws its random numbers from a ``Draw`` (a numpy Generator for the per-sample
parameters, a torch Generator on the batch's device for per-pixel noise), so a batch's
augmentation depends on the seed it is given and nothing else.

Every step takes ``p``: the chance that a sample is augmented at all (flips and erasing default
to 0.5, the rest to 1).

======================  ===================================================================
random_crop             pad by ``padding`` (4; ``padding_mode`` constant|reflect|edge, ``fill``)
                        and crop ``size`` (the image's size) at a random place; a crop of
                        another size is resized back to the image's size
random_resized_crop     a box of ``scale`` [0.08, 1] of the area and aspect ``ratio``
                        [3/4, 4/3], stretched to the image's size
horizontal_flip         ``p`` 0.5
vertical_flip           ``p`` 0.5
rotation                ``degrees`` 15 (± or [min, max]), ``fill``, ``interpolation``
affine                  ``degrees`` 10, ``translate`` [0.1, 0.1] (fractions of width, height),
                        ``scale`` [0.9, 1.1], ``shear`` 0 (degrees: ±x, [min, max] or
                        [xmin, xmax, ymin, ymax]), ``fill``, ``interpolation``
color_jitter            ``brightness``, ``contrast``, ``saturation`` 0.4 (factors in [1-v, 1+v]
                        or [min, max]), ``hue`` 0 (turns in [-v, v], v <= 0.5; a rotation in
                        YIQ colour space); grey images take brightness and contrast only
gaussian_blur           ``kernel_size`` 3 (odd), ``sigma`` [0.1, 2.0] (or one number)
gaussian_noise          ``std`` 0.05 (or [min, max]), ``clip`` true
random_erasing          ``p`` 0.5, ``scale`` [0.02, 0.33], ``ratio`` [0.3, 3.3], ``value`` 0
                        (a number, one per channel, or "random")
randaugment             ``num_ops`` 2 operations a sample, each at ``magnitude`` 9 (of 0–30)
autoaugment             ``policy`` imagenet | cifar10 | svhn (the learned sub-policies)
trivialaugment          one operation a sample at a random magnitude (TrivialAugmentWide)
======================  ===================================================================

The three policies (``policies``) also take ``fill`` and ``interpolation`` (nearest) and draw
their operations per sample.

Mixup and CutMix (``mix``) draw λ ~ Beta(α, α) per sample, pair each sample with another of
the batch, and return soft labels ``[B, K]`` that sum to 1 (per sample, either one when both
are on).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DatasetError
from .base import Draw, Params, Step
from .color import ColorJitter, GaussianBlur, GaussianNoise
from .geometry import (
    Affine,
    HorizontalFlip,
    RandomCrop,
    RandomErasing,
    RandomResizedCrop,
    Rotation,
    VerticalFlip,
    box_mask,
)
from .policies import AutoAugment, RandAugment, TrivialAugment

__all__ = ["STEPS", "Draw", "Params", "Pipeline", "Step", "check_steps", "make_step", "mix"]

STEPS: dict[str, type[Step]] = {s.name: s for s in (
    RandomCrop, RandomResizedCrop, HorizontalFlip, VerticalFlip, Rotation, Affine, ColorJitter,
    GaussianBlur, GaussianNoise, RandomErasing, RandAugment, AutoAugment, TrivialAugment)}


def make_step(name: str, params: dict[str, Any] | None = None) -> Step:
    if name not in STEPS:
        raise DatasetError(f"unknown augmentation {name!r}; the augmentations are "
                           f"{', '.join(STEPS)}")
    if params is not None and not isinstance(params, dict):
        raise DatasetError(f"augmentation {name}: params must be an object, found {params!r}")
    return STEPS[name](params or {})


# ------------------------------------------------------------------------------------------
# Mixup and CutMix


def mix(x: torch.Tensor, y: torch.Tensor, num_classes: int, mixup_alpha: float,
        cutmix_alpha: float, draw: Draw) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (blend with a partner) and CutMix (paste a partner's box) with λ ~ Beta(α, α)
    per sample; with both on, each sample gets one of them at even odds. Returns the images
    and soft labels ``[B, K]`` (λ on the own class, 1 − λ on the partner's; sums to 1)."""
    b, _, h, w = x.shape
    rng = draw.rng
    partner = torch.as_tensor(rng.permutation(b), device=x.device)
    if mixup_alpha > 0 and cutmix_alpha > 0:
        cut = rng.random(b) < 0.5
    else:
        cut = np.full(b, cutmix_alpha > 0)
    lam = np.ones(b)
    if mixup_alpha > 0:
        lam = np.where(cut, lam, rng.beta(mixup_alpha, mixup_alpha, b))
    out = x
    if mixup_alpha > 0 and not cut.all():
        lm = draw.tensor(np.where(cut, 1.0, lam)).view(b, 1, 1, 1).to(x.dtype)
        out = lm * x + (1 - lm) * x[partner]
    if cutmix_alpha > 0 and cut.any():
        lc = rng.beta(cutmix_alpha, cutmix_alpha, b)
        side = np.sqrt(1 - lc)
        bh, bw = (h * side).astype(np.int64), (w * side).astype(np.int64)
        cy, cx = rng.integers(0, h, b), rng.integers(0, w, b)
        top, bottom = np.clip(cy - bh // 2, 0, h), np.clip(cy + bh // 2, 0, h)
        left, right = np.clip(cx - bw // 2, 0, w), np.clip(cx + bw // 2, 0, w)
        area = (bottom - top) * (right - left)
        lam = np.where(cut, 1 - area / (h * w), lam)
        mask = box_mask(top, left, np.where(cut, bottom - top, 0), right - left, h, w,
                         x.device)
        out = torch.where(mask, x[partner], out)
    one_hot = F.one_hot(y, num_classes).to(torch.float32)
    lt = draw.tensor(lam).view(b, 1)
    return out, lt * one_hot + (1 - lt) * one_hot[partner]


# ------------------------------------------------------------------------------------------
# The pipeline


class Pipeline:
    """The configured steps, in order, then Mixup/CutMix. ``pipeline(x, y, seed)`` →
    ``(x, y)``: x float32 in [0, 1]; y soft ``[B, K]`` when ``mixes``, else as given."""

    def __init__(self, steps: Sequence[Any], shape: tuple[int, int, int], *,
                 num_classes: int, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0) -> None:
        self.steps = [s if isinstance(s, Step) else
                      make_step(*((s.name, s.params) if hasattr(s, "name") else s))
                      for s in steps]
        self.shape = tuple(shape)
        for s in self.steps:
            s.bind(self.shape)  # type: ignore[arg-type]
        self.num_classes = num_classes
        self.mixup_alpha = float(mixup_alpha)
        self.cutmix_alpha = float(cutmix_alpha)

    @classmethod
    def from_config(cls, cfg: Any, shape: tuple[int, int, int], num_classes: int) -> Pipeline:
        return cls(cfg.augment, shape, num_classes=num_classes, mixup_alpha=cfg.mixup_alpha,
                   cutmix_alpha=cfg.cutmix_alpha)

    @property
    def mixes(self) -> bool:
        return self.mixup_alpha > 0 or self.cutmix_alpha > 0

    def __bool__(self) -> bool:
        return bool(self.steps) or self.mixes

    def __call__(self, x: torch.Tensor, y: torch.Tensor,
                 seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        draw = Draw(seed, x.device)
        for step in self.steps:
            x = step(x, draw)
        if self.mixes:
            x, y = mix(x, y, self.num_classes, self.mixup_alpha, self.cutmix_alpha, draw)
        return x, y


def check_steps(steps: Sequence[Any]) -> None:
    """Reads every step's parameters (no image shape needed): the early check."""
    for s in steps:
        make_step(*((s.name, s.params) if hasattr(s, "name") else s))
