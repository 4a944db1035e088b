"""How images are brought to the network's input size: straight to it, or (``resize``) the
shorter side to that many pixels and then the centre crop of the input's size, as
torchvision's pretrained weights expect (resize 256, crop 224). ``resize_plan``,
``fit_images`` and ``fit_image`` use only torch, torchvision's ``v2`` and PIL, so the exported
training script copies them verbatim (codegen/train_parts.py) and sizes its images exactly as
the application does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from PIL import Image
from torchvision.transforms import v2

from .errors import DatasetError


class Sizing(NamedTuple):
    """A dataset's ``resize`` and ``interpolation`` settings, carried together."""

    resize: int | None = None
    interpolation: str = "bilinear"

    @classmethod
    def of(cls, cfg: object) -> Sizing:
        """The settings of a DatasetConfig (or anything with those attributes)."""
        return cls(getattr(cfg, "resize", None), getattr(cfg, "interpolation", "bilinear"))


STRAIGHT = Sizing()
"""The default: straight to the input size, bilinear (what CNN Studio always did)."""


def resize_plan(height: int, width: int, size: Sequence[int],
                resize: int | None) -> tuple[int, int, int, int]:
    """(height, width) an image of ``height``×``width`` is resized to, and the (top, left)
    of the centre crop of ``size`` = (H, W) in it (torchvision's arithmetic)."""
    h, w = size
    if resize is None:
        return h, w, 0, 0
    if width <= height:
        rh, rw = int(resize * height / width), resize
    else:
        rh, rw = resize, int(resize * width / height)
    return rh, rw, int(round((rh - h) / 2.0)), int(round((rw - w) / 2.0))


def fit_images(x: torch.Tensor, shape: Sequence[int], resize: int | None = None,
               interpolation: str = "bilinear") -> torch.Tensor:
    """uint8 ``[N, c, h, w]`` → ``[N, C, H, W]``: RGB → grey by luminance, grey → RGB by
    repeating, resized (antialiased) and centre-cropped as ``resize_plan`` says."""
    c, h, w = shape
    if x.shape[1] == 3 and c == 1:
        x = v2.functional.rgb_to_grayscale(x)
    rh, rw, top, left = resize_plan(x.shape[-2], x.shape[-1], (h, w), resize)
    if tuple(x.shape[-2:]) != (rh, rw):
        mode = v2.InterpolationMode[interpolation.upper()]
        x = v2.functional.resize(x, [rh, rw], interpolation=mode, antialias=True)
    if (rh, rw) != (h, w):
        x = x[..., top:top + h, left:left + w]
    if x.shape[1] == 1 and c == 3:
        x = x.expand(-1, 3, -1, -1)
    return x.contiguous()


def fit_image(image: Image.Image, shape: Sequence[int], resize: int | None = None,
              interpolation: str = "bilinear") -> Image.Image:
    """A PIL image (already grey or RGB) resized and centre-cropped as ``resize_plan`` says."""
    _, h, w = shape
    rh, rw, top, left = resize_plan(image.height, image.width, (h, w), resize)
    if image.size != (rw, rh):
        image = image.resize((rw, rh), Image.Resampling[interpolation.upper()])
    if (rh, rw) != (h, w):
        image = image.crop((left, top, left + w, top + h))
    return image


def check_resize(resize: int | None, shape: Sequence[int]) -> None:
    """Refuses a ``resize`` whose shorter side cannot cover the crop of ``shape`` (C, H, W)."""
    if resize is not None and resize < max(shape[-2], shape[-1]):
        raise DatasetError(
            f"dataset.resize: the shorter side resized to {resize} pixels is smaller than the "
            f"network's {shape[-2]}×{shape[-1]} input, so the centre crop would run past the "
            f"image; give at least {max(shape[-2], shape[-1])}, or leave it empty to resize "
            "straight to the input size")
