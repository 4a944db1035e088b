"""The augmentations that move pixels: crops, flips, rotation, affine maps and erasing,
batched with a random draw per sample. Images are float ``[B, C, H, W]`` in [0, 1]."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF

from ..errors import DatasetError
from .base import Draw, Params, Step, fill_tensor


def _sample(x: torch.Tensor, theta: torch.Tensor, fill: list[float],
            mode: str = "bilinear") -> torch.Tensor:
    """Resamples each image through its 2×3 ``theta`` (output → input, normalised coordinates
    as in ``F.affine_grid``); outside the image is ``fill``."""
    b, c, h, w = x.shape
    grid = F.affine_grid(theta.to(x.dtype), [b, c, h, w], align_corners=False)
    if all(v == 0 for v in fill):
        return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)
    ones = torch.ones_like(x[:, :1])
    out = F.grid_sample(torch.cat([x, ones], 1), grid, mode=mode, padding_mode="zeros",
                        align_corners=False)
    inside = out[:, c:]
    return out[:, :c] + (1 - inside) * fill_tensor(fill, c, x)


def _warp(x: torch.Tensor, forward: np.ndarray, fill: list[float], mode: str) -> torch.Tensor:
    """Applies per-sample forward maps ``[B, 2, 3]`` in pixel units about the image centre
    (x right, y down)."""
    _, _, h, w = x.shape
    inv = np.linalg.inv(forward[:, :, :2])
    d = np.array([[w / 2.0, 0.0], [0.0, h / 2.0]])
    d_inv = np.linalg.inv(d)
    lin = d_inv @ inv @ d
    shift = -(d_inv @ inv @ forward[:, :, 2:])
    theta = torch.as_tensor(np.concatenate([lin, shift], 2), dtype=torch.float32,
                            device=x.device)
    return _sample(x, theta, fill, mode)


def _boxes(rng: np.random.Generator, n: int, h: int, w: int, scale: tuple[float, float],
           ratio: tuple[float, float], strict: bool) -> tuple[np.ndarray, ...]:
    """torchvision's box search (10 tries a sample), for n samples at once: (top, left,
    height, width, found). ``strict`` wants boxes smaller than the image (erasing)."""
    area = h * w
    target = area * rng.uniform(scale[0], scale[1], (n, 10))
    aspect = np.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1]), (n, 10)))
    if strict:  # RandomErasing: h from area × ratio
        bh = np.rint(np.sqrt(target * aspect)).astype(np.int64)
        bw = np.rint(np.sqrt(target / aspect)).astype(np.int64)
        ok = (bh < h) & (bw < w) & (bh > 0) & (bw > 0)
    else:  # RandomResizedCrop: w from area × ratio
        bw = np.rint(np.sqrt(target * aspect)).astype(np.int64)
        bh = np.rint(np.sqrt(target / aspect)).astype(np.int64)
        ok = (bh <= h) & (bw <= w) & (bh > 0) & (bw > 0)
    found = ok.any(1)
    first = ok.argmax(1)
    rows = np.arange(n)
    bh, bw = bh[rows, first], bw[rows, first]
    if not strict:  # no box found: the central crop at the nearest allowed aspect
        in_ratio = w / h
        cw = np.where(in_ratio < ratio[0], w, np.where(in_ratio > ratio[1],
                      int(round(h * ratio[1])), w))
        ch = np.where(in_ratio < ratio[0], int(round(w / ratio[0])), h)
        bw, bh = np.where(found, bw, cw), np.where(found, bh, ch)
    bh, bw = np.maximum(bh, 1), np.maximum(bw, 1)
    top = np.floor(rng.random(n) * (h - bh + 1)).astype(np.int64)
    left = np.floor(rng.random(n) * (w - bw + 1)).astype(np.int64)
    if not strict:
        top, left = np.where(found, top, (h - bh) // 2), np.where(found, left, (w - bw) // 2)
    return top, left, bh, bw, found


def box_mask(top: np.ndarray, left: np.ndarray, bh: np.ndarray, bw: np.ndarray, h: int, w: int,
              device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(top, device=device).view(-1, 1, 1, 1)
    lf = torch.as_tensor(left, device=device).view(-1, 1, 1, 1)
    ys = torch.arange(h, device=device).view(1, 1, h, 1)
    xs = torch.arange(w, device=device).view(1, 1, 1, w)
    return ((ys >= t) & (ys < t + torch.as_tensor(bh, device=device).view(-1, 1, 1, 1))
            & (xs >= lf) & (xs < lf + torch.as_tensor(bw, device=device).view(-1, 1, 1, 1)))


class RandomCrop(Step):
    name = "random_crop"
    params = ("size", "padding", "padding_mode", "fill")

    def setup(self, a: Params) -> None:
        size = a.given.get("size")
        self.size: tuple[int, int] | None = None
        if size is not None:
            hw = a.numbers("size", size, (1, 2), 1)
            if any(int(v) != v for v in hw):
                raise a.fail("size", "must be whole pixels")
            self.size = (int(hw[0]), int(hw[-1]))
        pad = a.numbers("padding", 4 if size is None else 0, (1, 2, 4), 0)
        if any(int(v) != v for v in pad):
            raise a.fail("padding", "must be whole pixels")
        pad = [int(v) for v in pad]
        # (left, right, top, bottom) as F.pad wants; 2 values: (left/right, top/bottom)
        self.pad = (pad * 4 if len(pad) == 1 else
                    [pad[0], pad[0], pad[1], pad[1]] if len(pad) == 2 else pad)
        mode = a.choice("padding_mode", "constant", ("constant", "reflect", "edge"))
        self.mode = "replicate" if mode == "edge" else mode
        self.fill = a.fill()

    def bind(self, shape: tuple[int, int, int]) -> None:
        super().bind(shape)
        _, h, w = shape
        ch, cw = self.size or (h, w)
        left, right, t, b = self.pad
        if ch > h + t + b or cw > w + left + right:
            raise DatasetError(f"augmentation random_crop: size {ch}×{cw} is larger than the "
                               f"padded {h + t + b}×{w + left + right} image; lower size or raise "
                               "padding")
        if self.mode == "reflect" and (max(t, b) >= h or max(left, right) >= w):
            raise DatasetError(f"augmentation random_crop: reflect padding must be smaller than "
                               f"the {h}×{w} image; lower padding")

    def apply(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        b, c, h, w = x.shape
        if any(self.pad):
            if self.mode == "constant":
                x = F.pad(x, self.pad, value=0.0)
                if any(v != 0 for v in self.fill):
                    inside = F.pad(torch.ones_like(x[:1, :1, self.pad[2]:self.pad[2] + h,
                                                     self.pad[0]:self.pad[0] + w]), self.pad)
                    x = x + (1 - inside) * fill_tensor(self.fill, c, x)
            else:
                x = F.pad(x, self.pad, mode=self.mode)
        ch, cw = self.size or (h, w)
        hp, wp = x.shape[-2:]
        dev = x.device
        top = torch.as_tensor(draw.rng.integers(0, hp - ch + 1, b), device=dev)
        left = torch.as_tensor(draw.rng.integers(0, wp - cw + 1, b), device=dev)
        rows = (top[:, None] + torch.arange(ch, device=dev))[:, None, :, None]
        cols = (left[:, None] + torch.arange(cw, device=dev))[:, None, None, :]
        out = x[torch.arange(b, device=dev)[:, None, None, None],
                torch.arange(c, device=dev)[None, :, None, None], rows, cols]
        if (ch, cw) != (h, w):
            out = TF.resize(out, [h, w], antialias=True)
        return out


class RandomResizedCrop(Step):
    name = "random_resized_crop"
    params = ("scale", "ratio", "interpolation")

    def setup(self, a: Params) -> None:
        self.scale = a.interval("scale", [0.08, 1.0], lo=1e-6, hi=1.0)
        self.ratio = a.interval("ratio", [3 / 4, 4 / 3], lo=1e-3)
        self.mode = a.choice("interpolation", "bilinear", ("bilinear", "nearest"))

    def apply(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        b, _, h, w = x.shape
        top, left, bh, bw, _ = _boxes(draw.rng, b, h, w, self.scale, self.ratio, strict=False)
        theta = np.zeros((b, 2, 3), np.float32)
        theta[:, 0, 0] = bw / w
        theta[:, 1, 1] = bh / h
        theta[:, 0, 2] = (left + bw / 2) / (w / 2) - 1
        theta[:, 1, 2] = (top + bh / 2) / (h / 2) - 1
        return _sample(x, draw.tensor(theta), [0.0], self.mode)


class HorizontalFlip(Step):
    name = "horizontal_flip"
    default_p = 0.5

    def apply(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        return x.flip(-1)


class VerticalFlip(Step):
    name = "vertical_flip"
    default_p = 0.5

    def apply(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        return x.flip(-2)


class Affine(Step):
    name = "affine"
    params = ("degrees", "translate", "scale", "shear", "fill", "interpolation")
    defaults: dict[str, Any] = {"degrees": 10.0, "translate": [0.1, 0.1],
                                "scale": [0.9, 1.1], "shear": 0.0}

    def setup(self, a: Params) -> None:
        d = self.defaults
        self.degrees = a.interval("degrees", d["degrees"], around=0.0)
        tr = a.numbers("translate", d["translate"], (1, 2), 0.0, 1.0)
        self.translate = tr * 2 if len(tr) == 1 else tr
        sc = a.numbers("scale", d["scale"], (2,), 1e-3)
        if sc[0] > sc[1]:
            raise a.fail("scale", "must be [min, max] with min <= max")
        self.scale = sc
        sh = a.numbers("shear", d["shear"], (1, 2, 4), -89.0, 89.0)
        self.shear = ([-abs(sh[0]), abs(sh[0]), 0.0, 0.0] if len(sh) == 1 else
                      [sh[0], sh[1], 0.0, 0.0] if len(sh) == 2 else sh)
        self.fill = a.fill()
        self.mode = a.choice("interpolation", "bilinear", ("bilinear", "nearest"))

    def apply(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        b, _, h, w = x.shape
        rng = draw.rng
        angle = np.radians(rng.uniform(*self.degrees, b))
        s = rng.uniform(*self.scale, b)
        sx = np.radians(rng.uniform(self.shear[0], self.shear[1], b))
        sy = np.radians(rng.uniform(self.shear[2], self.shear[3], b))
        tx = rng.uniform(-self.translate[0], self.translate[0], b) * w
        ty = rng.uniform(-self.translate[1], self.translate[1], b) * h
        # counter-clockwise on screen (y down), as torchvision's rotate
        cos, sin = np.cos(angle), np.sin(angle)
        rot = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)
        shear = np.stack([np.stack([np.ones(b), np.tan(sx)], -1),
                          np.stack([np.tan(sy), np.ones(b)], -1)], -2)
        lin = rot @ shear * s[:, None, None]
        fwd = np.concatenate([lin, np.stack([tx, ty], -1)[:, :, None]], 2)
        return _warp(x, fwd, self.fill, self.mode)


class Rotation(Affine):
    name = "rotation"
    params = ("degrees", "fill", "interpolation")
    defaults = {"degrees": 15.0, "translate": [0.0, 0.0], "scale": [1.0, 1.0], "shear": 0.0}


class RandomErasing(Step):
    name = "random_erasing"
    default_p = 0.5
    params = ("scale", "ratio", "value")

    def setup(self, a: Params) -> None:
        self.scale = a.interval("scale", [0.02, 0.33], lo=0.0, hi=1.0)
        self.ratio = a.interval("ratio", [0.3, 3.3], lo=1e-3)
        self.value = a.fill("value", 0.0, allow_random=True)

    def apply(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        b, c, h, w = x.shape
        top, left, bh, bw, found = _boxes(draw.rng, b, h, w, self.scale, self.ratio, strict=True)
        mask = box_mask(top, left, np.where(found, bh, 0), bw, h, w, x.device)
        if self.value == "random":
            fill = draw.rand(x.shape).to(x.dtype)
        else:
            fill = fill_tensor(self.value, c, x)  # type: ignore[arg-type]
        return torch.where(mask, fill, x)
