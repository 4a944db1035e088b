"""The learned and random augmentation policies: RandAugment, AutoAugment and TrivialAugment
(torchvision's ``RandAugment``, ``AutoAugment`` and ``TrivialAugmentWide``), batched with a
policy drawn per sample.

torchvision's transforms draw one operation for a whole call, so a batch given to them at once
would get one policy for all its samples. Here every sample draws its own operations and
magnitudes (from the step's ``Draw``); the samples that drew the same operation are then
transformed together, with their magnitudes as a vector: at most 14 batched calls per
operation slot, whatever the batch size. The operations work on the pipeline's float images
in [0, 1] as torchvision's do on float images (posterize keeps ``2**bits`` levels of [0, 1],
solarize inverts values at or above the threshold, equalize bins to 256 levels); geometry
goes through the same resampling as ``affine`` (``interpolation`` nearest by default, as
torchvision's). The magnitude tables and AutoAugment's policies are torchvision's own, so the
exported ``train.py`` (which uses torchvision's transforms, one image at a time) draws from the
same space. Grey (one-channel) images take every operation; ``Color`` leaves them as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import v2

from .base import Draw, Params, Step
from .color import _grey
from .geometry import _warp

AUTO_POLICIES = {"imagenet": v2.AutoAugmentPolicy.IMAGENET,
                 "cifar10": v2.AutoAugmentPolicy.CIFAR10, "svhn": v2.AutoAugmentPolicy.SVHN}
RAND_BINS = 31  # torchvision's num_magnitude_bins for RandAugment and TrivialAugment
AUTO_BINS = 10

Op = Callable[[torch.Tensor, np.ndarray, "_Policy"], torch.Tensor]


def _blend(x: torch.Tensor, other: torch.Tensor, factor: np.ndarray) -> torch.Tensor:
    f = torch.as_tensor(factor, dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)
    return (f * x + (1 - f) * other).clamp(0, 1)


def _sharpen_source(x: torch.Tensor) -> torch.Tensor:
    """The 3×3 smoothed image (PIL's SMOOTH kernel) with its border pixels kept."""
    c = x.shape[1]
    k = torch.tensor([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]], dtype=x.dtype,
                     device=x.device) / 13.0
    smooth = F.conv2d(x, k.expand(c, 1, 3, 3), groups=c)
    out = x.clone()
    out[..., 1:-1, 1:-1] = smooth
    return out


def _linear(x: torch.Tensor, mags: np.ndarray, policy: _Policy, kind: str) -> torch.Tensor:
    """Shear, translation or rotation, one magnitude per sample, as torchvision's affine:
    shears about the top-left corner, rotation about the centre (counter-clockwise)."""
    n, _, h, w = x.shape
    m = mags.astype(np.float64)
    lin = np.tile(np.eye(2), (n, 1, 1))
    shift = np.zeros((n, 2))
    corner = np.array([-w / 2.0, -h / 2.0])
    if kind == "ShearX":
        lin[:, 0, 1] = -m
    elif kind == "ShearY":
        lin[:, 1, 0] = -m
    elif kind == "Rotate":
        a = np.radians(m)
        lin = np.stack([np.stack([np.cos(a), np.sin(a)], -1),
                        np.stack([-np.sin(a), np.cos(a)], -1)], -2)
    elif kind == "TranslateX":
        shift[:, 0] = np.trunc(m)  # torchvision translates by whole pixels
    else:
        shift[:, 1] = np.trunc(m)
    if kind in ("ShearX", "ShearY"):
        shift = corner - lin @ corner
    fwd = np.concatenate([lin, shift[:, :, None]], 2)
    return _warp(x, fwd, policy.fill, policy.mode)


def _posterize(x: torch.Tensor, bits: np.ndarray) -> torch.Tensor:
    levels = torch.as_tensor(2.0 ** bits, dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)
    return torch.minimum((x * levels).floor(), levels - 1) / levels


def _contrast(x: torch.Tensor, f: np.ndarray) -> torch.Tensor:
    return _blend(x, _grey(x).mean((1, 2, 3), keepdim=True), f)


def _color(x: torch.Tensor, f: np.ndarray) -> torch.Tensor:
    return x if x.shape[1] == 1 else _blend(x, _grey(x), f)


def _sharpness(x: torch.Tensor, f: np.ndarray) -> torch.Tensor:
    return x if min(x.shape[-2:]) <= 2 else _blend(x, _sharpen_source(x), f)


def _solarize(x: torch.Tensor, t: np.ndarray) -> torch.Tensor:
    th = torch.as_tensor(t, dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)
    return torch.where(x >= th, 1 - x, x)


OPS: dict[str, Op] = {
    "Identity": lambda x, m, p: x,
    **{k: (lambda kind: lambda x, m, p: _linear(x, m, p, kind))(k)
       for k in ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")},
    "Brightness": lambda x, m, p: _blend(x, torch.zeros_like(x), 1 + m),
    "Color": lambda x, m, p: _color(x, 1 + m),
    "Contrast": lambda x, m, p: _contrast(x, 1 + m),
    "Sharpness": lambda x, m, p: _sharpness(x, 1 + m),
    "Posterize": lambda x, m, p: _posterize(x, m),
    "Solarize": lambda x, m, p: _solarize(x, m),
    "AutoContrast": lambda x, m, p: TF.autocontrast(x),
    "Equalize": lambda x, m, p: TF.equalize(x),
    "Invert": lambda x, m, p: 1 - x,
}
"""Each operation on a group of samples ``[n, C, H, W]`` with their magnitudes ``[n]``."""


class _Policy(Step):
    """Shared by the three: the space of operations and magnitudes (torchvision's), drawing
    and applying a slot of per-sample operations."""

    space: dict = {}
    params_common = ("fill", "interpolation")

    def setup(self, a: Params) -> None:
        self.fill = a.fill()
        self.mode = a.choice("interpolation", "nearest", ("nearest", "bilinear"))

    def table(self, name: str, bins: int, h: int, w: int) -> tuple[np.ndarray | None, bool]:
        """The magnitudes of operation ``name`` over ``bins`` bins, and whether it is signed."""
        make, signed = self.space[name]
        values = make(bins, h, w)
        return (None if values is None else values.double().numpy()), signed

    def run(self, x: torch.Tensor, draw: Draw, ops: np.ndarray, mags: np.ndarray,
            names: list[str]) -> torch.Tensor:
        """Applies operation ``names[ops[i]]`` with magnitude ``mags[i]`` to sample i
        (ops < 0: none), one batched call per operation."""
        out = x.clone()
        for k in np.unique(ops[ops >= 0]):
            rows = np.flatnonzero(ops == k)
            idx = torch.as_tensor(rows, device=x.device)
            out[idx] = OPS[names[int(k)]](out[idx], mags[rows], self).to(x.dtype)
        return out

    def magnitudes(self, draw: Draw, names: list[str], ops: np.ndarray, level: np.ndarray,
                   bins: int, h: int, w: int) -> np.ndarray:
        """Per sample: the magnitude of its operation at its bin ``level``, with a random sign
        where the operation is signed (0 where it takes none)."""
        n = len(ops)
        sign = np.where(draw.rng.random(n) < 0.5, -1.0, 1.0)
        mags = np.zeros(n)
        for k in np.unique(ops[ops >= 0]):
            rows = np.flatnonzero(ops == k)
            values, signed = self.table(names[int(k)], bins, h, w)
            if values is not None:
                mags[rows] = values[level[rows]] * (sign[rows] if signed else 1.0)
        return mags


class RandAugment(_Policy):
    name = "randaugment"
    params = ("num_ops", "magnitude", *_Policy.params_common)
    space = v2.RandAugment._AUGMENTATION_SPACE

    def setup(self, a: Params) -> None:
        super().setup(a)
        self.num_ops = a.number("num_ops", 2, 0, 16, integer=True)
        self.magnitude = a.number("magnitude", 9, 0, RAND_BINS - 1, integer=True)

    def apply(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        n, _, h, w = x.shape
        names = list(self.space)
        level = np.full(n, self.magnitude)
        for _ in range(self.num_ops):
            ops = draw.rng.integers(0, len(names), n)
            x = self.run(x, draw, ops, self.magnitudes(draw, names, ops, level, RAND_BINS, h, w),
                         names)
        return x


class TrivialAugment(_Policy):
    name = "trivialaugment"
    params = _Policy.params_common
    space = v2.TrivialAugmentWide._AUGMENTATION_SPACE

    def apply(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        n, _, h, w = x.shape
        names = list(self.space)
        ops = draw.rng.integers(0, len(names), n)
        level = draw.rng.integers(0, RAND_BINS, n)
        return self.run(x, draw, ops, self.magnitudes(draw, names, ops, level, RAND_BINS, h, w),
                        names)


class AutoAugment(_Policy):
    name = "autoaugment"
    params = ("policy", *_Policy.params_common)
    space = v2.AutoAugment._AUGMENTATION_SPACE

    def setup(self, a: Params) -> None:
        super().setup(a)
        self.policy = a.choice("policy", "imagenet", tuple(AUTO_POLICIES))
        policy = AUTO_POLICIES[self.policy]
        self.sub_policies = v2.AutoAugment(policy)._get_policies(policy)

    def apply(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        n, _, h, w = x.shape
        names = list(self.space)
        chosen = draw.rng.integers(0, len(self.sub_policies), n)
        for slot in range(2):
            picked = [self.sub_policies[i][slot] for i in chosen]
            ops = np.array([names.index(op) for op, _, _ in picked])
            applied = draw.rng.random(n) <= np.array([prob for _, prob, _ in picked])
            ops = np.where(applied, ops, -1)
            level = np.array([0 if m is None else m for _, _, m in picked])
            x = self.run(x, draw, ops, self.magnitudes(draw, names, ops, level, AUTO_BINS, h, w),
                         names)
        return x


POLICIES: tuple[type[Step], ...] = (RandAugment, AutoAugment, TrivialAugment)
