"""What an augmentation pipeline does to a few training images, tiled into one picture: the
augmentation editor's preview and ``cnnstudio preview``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .errors import DatasetError
from .load import load_data


def preview_grid(data_or_split: Any, n: int = 16, seed: int = 0, *, augment: bool = True,
                 scale: int = 1, gap: int = 2) -> np.ndarray:
    """The same ``n`` training images (spread over the set, whatever ``seed``), augmented with
    ``seed``, tiled into a grid: uint8 ``[H, W, 3]`` (``PIL.Image.fromarray(grid).save(p)``
    writes it as a PNG). ``scale`` enlarges each pixel (nearest)."""
    split = getattr(data_or_split, "train", data_or_split)
    total = len(split)
    if total == 0:
        raise DatasetError("there are no training images to preview")
    n = max(1, min(n, total))
    pick = torch.randperm(total, generator=torch.Generator().manual_seed(0))[:n].sort().values
    x = split.images(pick)  # uint8 [n, C, H, W] on the device
    if augment and split.pipeline:
        y = split.labels[pick.to(split.labels.device)]
        x, _ = split.pipeline(x, y, seed)
        x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    x = x.cpu()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if scale > 1:
        x = x.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
    _, _, h, w = x.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * h + (rows + 1) * gap, cols * w + (cols + 1) * gap, 3), 128, np.uint8)
    tiles = x.permute(0, 2, 3, 1).numpy()
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = gap + r * (h + gap), gap + c * (w + gap)
        grid[top:top + h, left:left + w] = tiles[i]
    return grid


def preview_from_config(cfg: Any, input_shape: Sequence[int], *, n: int = 16, seed: int = 0,
                        scale: int | None = None, cache_dir: Any = None, progress: Any = None,
                        device: str = "cpu") -> np.ndarray:
    """``preview_grid`` for a DatasetConfig (the command line's preview): loads at most 1,024
    training images; ``scale`` None enlarges small images to about 96 pixels a side."""
    quick = dataclasses.replace(cfg, limit=min(cfg.limit or 1024, 1024))
    data = load_data(quick, input_shape, device, cache_dir=cache_dir, progress=progress)
    if scale is None:
        scale = max(1, 96 // max(data.image_shape[1:]))
    return preview_grid(data, n, seed, scale=scale)
