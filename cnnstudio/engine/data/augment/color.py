"""The augmentations that change values: colour jitter, blur and noise, batched with a
random draw per sample. Images are float ``[B, C, H, W]`` in [0, 1]."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DatasetError
from .base import Draw, Params, Step

_LUMA = (0.299, 0.587, 0.114)


class ColorJitter(Step):
    name = "color_jitter"
    params = ("brightness", "contrast", "saturation", "hue")

    def setup(self, a: Params) -> None:
        self.brightness = a.interval("brightness", 0.4, around=1.0, lo=0.0)
        self.contrast = a.interval("contrast", 0.4, around=1.0, lo=0.0)
        self.saturation = a.interval("saturation", 0.4, around=1.0, lo=0.0)
        self.hue = a.interval("hue", 0.0, around=0.0, lo=-0.5, hi=0.5)

    def apply(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        b, c = x.shape[:2]

        def factor(rng: tuple[float, float]) -> torch.Tensor | None:
            if rng == (1.0, 1.0):
                return None
            return draw.uniform(rng[0], rng[1], b).view(b, 1, 1, 1)

        if (f := factor(self.brightness)) is not None:
            x = (x * f).clamp(0, 1)
        if (f := factor(self.contrast)) is not None:
            mean = _grey(x).mean((1, 2, 3), keepdim=True)
            x = ((x - mean) * f + mean).clamp(0, 1)
        if c == 3 and (f := factor(self.saturation)) is not None:
            g = _grey(x)
            x = ((x - g) * f + g).clamp(0, 1)
        if c == 3 and self.hue != (0.0, 0.0):
            x = _rotate_hue(x, draw.rng.uniform(self.hue[0], self.hue[1], b) * (2 * math.pi))
        return x


def _grey(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                        [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def _rotate_hue(x: torch.Tensor, turn: np.ndarray) -> torch.Tensor:
    """Rotates each image's chroma (I, Q) by its angle (radians); luminance Y stays."""
    cos, sin = np.cos(turn), np.sin(turn)
    rot = np.zeros((len(turn), 3, 3))
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
    m = torch.as_tensor(_YIQ_TO_RGB @ rot @ _RGB_TO_YIQ, dtype=x.dtype, device=x.device)
    return torch.einsum("bij,bjhw->bihw", m, x).clamp(0, 1)


class GaussianBlur(Step):
    name = "gaussian_blur"
    params = ("kernel_size", "sigma")

    def setup(self, a: Params) -> None:
        k = a.numbers("kernel_size", 3, (1, 2), 1)
        if any(int(v) != v or int(v) % 2 == 0 for v in k):
            raise a.fail("kernel_size", "must be odd whole numbers")
        self.kernel = [int(v) for v in (k * 2 if len(k) == 1 else k)]  # (kh, kw)
        self.sigma = a.interval("sigma", [0.1, 2.0], lo=1e-3)

    def bind(self, shape: tuple[int, int, int]) -> None:
        super().bind(shape)
        _, h, w = shape
        if self.kernel[0] // 2 >= h or self.kernel[1] // 2 >= w:
            raise DatasetError(f"augmentation gaussian_blur: kernel_size {self.kernel} is too "
                               f"large for {h}×{w} images; lower it")

    def apply(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        b, c, h, w = x.shape
        sigma = draw.uniform(*self.sigma, b).to(x.dtype)
        out = x.reshape(1, b * c, h, w)
        for axis, k in ((3, self.kernel[1]), (2, self.kernel[0])):
            if k == 1:
                continue
            r = k // 2
            t = torch.arange(-r, r + 1, device=x.device, dtype=x.dtype)
            ker = torch.exp(-(t[None] ** 2) / (2 * sigma[:, None] ** 2))
            ker = (ker / ker.sum(1, keepdim=True)).repeat_interleave(c, 0)  # [b*c, k]
            if axis == 3:
                out = F.conv2d(F.pad(out, (r, r, 0, 0), mode="reflect"),
                               ker.view(b * c, 1, 1, k), groups=b * c)
            else:
                out = F.conv2d(F.pad(out, (0, 0, r, r), mode="reflect"),
                               ker.view(b * c, 1, k, 1), groups=b * c)
        return out.reshape(b, c, h, w)


class GaussianNoise(Step):
    name = "gaussian_noise"
    params = ("std", "clip")

    def setup(self, a: Params) -> None:
        self.std = a.interval("std", 0.05, lo=0.0)
        self.clip = a.boolean("clip", True)

    def apply(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        std = draw.uniform(*self.std, x.shape[0]).view(-1, 1, 1, 1).to(x.dtype)
        out = x + draw.randn(x.shape).to(x.dtype) * std
        return out.clamp(0, 1) if self.clip else out
