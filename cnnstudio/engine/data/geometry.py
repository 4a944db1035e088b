"""How images are brought to the network's input size: straight to it, or (``resize``) the
shorter side to that many pixels and then the centre crop of the input's size, as
torchvision's pretrained weights expect (resize 256, crop 224), or (``fit`` "pad", a letterbox)
the whole image scaled to fit inside the input, keeping its aspect ratio, and centred on black.
``resize_plan``, ``fit_images`` and ``fit_image`` use only torch, torchvision's ``v2`` and PIL,
so the exported training script copies them verbatim (codegen/train_parts.py) and sizes its
images exactly as the application does."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from PIL import Image
from torchvision.transforms import v2

from .errors import DatasetError


@dataclass(frozen=True, eq=False)
class Sizing:
    """A dataset's ``resize``, ``interpolation`` and ``fit`` settings, carried together."""

    resize: int | None = None
    interpolation: str = "bilinear"
    fit: str = "crop"

    @classmethod
    def of(cls, cfg: object) -> Sizing:
        """The settings of a DatasetConfig (or anything with those attributes)."""
        return cls(getattr(cfg, "resize", None), getattr(cfg, "interpolation", "bilinear"),
                   getattr(cfg, "fit", "crop"))

    def __iter__(self) -> Iterator[object]:
        """The arguments of ``fit_images`` and ``fit_image`` after the shape. ``fit`` comes only
        when it is not the default, so that ``tuple(sizing)`` (which the data's fingerprint
        hashes) stays what it was before letterboxing existed, and earlier runs still match."""
        yield self.resize
        yield self.interpolation
        if self.fit != "crop":
            yield self.fit

    def __eq__(self, other: object) -> bool:  # as the tuple it was: Sizing(30, "x") == (30, "x")
        if isinstance(other, (Sizing, tuple)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))


STRAIGHT = Sizing()
"""The default: straight to the input size, bilinear (what CNN Studio always did)."""


def resize_plan(height: int, width: int, size: Sequence[int], resize: int | None,
                fit: str = "crop") -> tuple[int, int, int, int]:
    """(height, width) an image of ``height``×``width`` is resized to, and the (top, left)
    in it of the ``size`` = (H, W) window the network sees (torchvision's centre-crop
    arithmetic). ``fit`` "pad" scales the whole image into the window, keeping its aspect
    ratio: the window then starts above or left of the image (top or left negative) and the
    rest of it is padding."""
    h, w = size
    if fit == "pad":
        scale = min(h / height, w / width)
        rh, rw = max(1, min(h, round(height * scale))), max(1, min(w, round(width * scale)))
    elif resize is None:
        return h, w, 0, 0
    elif width <= height:
        rh, rw = int(resize * height / width), resize
    else:
        rh, rw = resize, int(resize * width / height)
    return rh, rw, int(round((rh - h) / 2.0)), int(round((rw - w) / 2.0))


def fit_images(x: torch.Tensor, shape: Sequence[int], resize: int | None = None,
               interpolation: str = "bilinear", fit: str = "crop") -> torch.Tensor:
    """uint8 ``[N, C, h, w]`` → ``[N, C, H, W]``: RGB → grey by luminance, grey → RGB by
    repeating, resized (antialiased) and centre-cropped or padded as ``resize_plan`` says."""
    c, h, w = shape
    if x.shape[1] == 3 and c == 1:
        x = v2.functional.rgb_to_grayscale(x)
    rh, rw, top, left = resize_plan(x.shape[-2], x.shape[-1], (h, w), resize, fit)
    if tuple(x.shape[-2:]) != (rh, rw):
        mode = v2.InterpolationMode[interpolation.upper()]
        x = v2.functional.resize(x, [rh, rw], interpolation=mode, antialias=True)
    if (rh, rw) != (h, w) and (top < 0 or left < 0):  # letterbox: black around the image
        x = v2.functional.pad(x, [-left, -top, w - rw + left, h - rh + top], fill=0)
    elif (rh, rw) != (h, w):
        x = x[..., top:top + h, left:left + w]
    if x.shape[1] == 1 and c == 3:
        x = x.expand(-1, 3, -1, -1)
    return x.contiguous()


def fit_image(image: Image.Image, shape: Sequence[int], resize: int | None = None,
              interpolation: str = "bilinear", fit: str = "crop") -> Image.Image:
    """A PIL image (already grey or RGB) resized and centre-cropped or padded (a crop box
    past the image is black) as ``resize_plan`` says."""
    _, h, w = shape
    rh, rw, top, left = resize_plan(image.height, image.width, (h, w), resize, fit)
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
