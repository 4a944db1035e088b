"""A split's images and labels on the device, and the batches the trainer takes from them:
normalised, augmented when asked, in an order and with randomness that depend only on
(seed, epoch) (and the batch's number), so a run resumed at batch k sees exactly the batches
the uninterrupted run would have seen. Also the stratified split itself."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from .augment.pipeline import Pipeline
from .errors import DatasetError
from .geometry import STRAIGHT, Sizing, fit_images
from .imagefiles import decode

LAZY_WORKERS = max(0, min(4, (os.cpu_count() or 1) - 1))  # DataLoader workers for ``files``


def mix_seed(*parts: Any) -> int:
    """A 63-bit seed from any plain values (seed, epoch, batch, purpose)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF_FFFF_FFFF


# ------------------------------------------------------------------------------------------
# Where a split's images live


READY_BYTES = 256 * 2**20
"""Largest split kept a second time as normalised float32, for speed without augmentation."""


class TensorStore:
    """uint8 images on the device; resized (and grey → RGB) per batch, as ``sizing`` says,
    when kept at their own size."""

    def __init__(self, x: torch.Tensor, shape: tuple[int, int, int],
                 sizing: Sizing = STRAIGHT) -> None:
        self.x = x
        self.shape = shape
        self.sizing = sizing
        self.per_batch = tuple(x.shape[1:]) != shape

    def fetch(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.x[idx.to(self.x.device)]
        return fit_images(x, self.shape, *self.sizing) if self.per_batch else x

    def iterate(self, batches: Sequence[torch.Tensor]) -> Iterator[torch.Tensor]:
        for idx in batches:
            yield self.fetch(idx)


class _FileSet(torch.utils.data.Dataset):
    def __init__(self, paths: Sequence[str], shape: tuple[int, int, int],
                 sizing: Sizing) -> None:
        self.paths = list(paths)
        self.shape = shape
        self.sizing = sizing

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        try:
            return torch.from_numpy(decode(self.paths[i], self.shape, self.sizing))
        except Exception as e:  # noqa: BLE001
            raise DatasetError(f"{self.paths[i]} can no longer be read ({e}); it could when the "
                               "data was loaded: restore it, or load the data again") from e


class FileStore:
    """Images decoded from their files batch by batch (DataLoader workers)."""

    def __init__(self, paths: Sequence[str], shape: tuple[int, int, int],
                 device: torch.device, sizing: Sizing = STRAIGHT) -> None:
        self.files = _FileSet(paths, shape, sizing)
        self.shape = shape
        self.device = device

    def fetch(self, idx: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.files[int(i)] for i in idx]).to(self.device)

    def iterate(self, batches: Sequence[torch.Tensor]) -> Iterator[torch.Tensor]:
        if not batches:
            return
        loader = torch.utils.data.DataLoader(
            self.files, batch_sampler=[b.tolist() for b in batches], num_workers=LAZY_WORKERS,
            pin_memory=self.device.type == "cuda")
        for x in loader:
            yield x.to(self.device, non_blocking=True)


# ------------------------------------------------------------------------------------------
# Splits


class Split:
    """One split's images and labels. ``batches`` yields ``(x, y)`` on the device: x float32
    ``[B, C, H, W]`` (``[B, F]`` for a flat input), normalised; y int64 ``[B]``, or soft
    labels float32 ``[B, K]`` when augmenting with Mixup/CutMix (``soft_labels``); for the
    multilabel and regress tasks, y is float32 ``[B, K]`` (multi-hot, or the targets)."""

    def __init__(self, name: str, store: TensorStore | FileStore, labels: torch.Tensor, *,
                 num_classes: int, input_shape: tuple[int, ...], mean: Sequence[float],
                 std: Sequence[float], pipeline: Pipeline, device: torch.device,
                 task: str = "classify") -> None:
        self.name = name
        self.task = task
        self.store = store
        self._labels = labels.to(device)
        self.num_classes = num_classes
        self.input_shape = input_shape
        self.image_shape = store.shape
        self.flat = len(input_shape) == 1
        self.pipeline = pipeline
        self.device = device
        self.set_normalization(mean, std)

    def set_normalization(self, mean: Sequence[float], std: Sequence[float]) -> None:
        c = self.image_shape[0]
        m = torch.tensor(list(mean), dtype=torch.float64)
        s = torch.tensor(list(std), dtype=torch.float64)

        def put(t: torch.Tensor) -> torch.Tensor:
            return t.to(torch.float32).view(1, c, 1, 1).to(self.device)

        # x' = x · scale + shift, for x in 0–255 (uint8) or in [0, 1] (float)
        self._scale_uint8, self._scale, self._shift = put(1 / (255 * s)), put(1 / s), put(-m / s)
        self._ready: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self._labels.shape[0])

    def __repr__(self) -> str:
        return f"Split({self.name!r}, {len(self)} images of {list(self.image_shape)})"

    @property
    def labels(self) -> torch.Tensor:
        """int64 ``[N]`` on the device (multi-hot or regression targets: float32 ``[N, K]``)."""
        return self._labels

    @property
    def class_counts(self) -> list[int]:
        """Samples per class (multilabel: images carrying each label; regress: none)."""
        if self.task == "regress":
            return []
        if self.task == "multilabel":
            return [int(v) for v in self._labels.sum(0).round().tolist()]
        return torch.bincount(self._labels, minlength=self.num_classes).tolist()

    @property
    def soft_labels(self) -> bool:
        """Whether ``batches(augment=True)`` yields soft labels (Mixup/CutMix on)."""
        return self.pipeline.mixes

    def num_batches(self, batch_size: int, drop_last: bool = False) -> int:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, found {batch_size}")
        n = len(self)
        return n // batch_size if drop_last else math.ceil(n / batch_size)

    def order(self, *, shuffle: bool, seed: int, epoch: int) -> torch.Tensor:
        """The epoch's sample order (CPU int64): the same for the same (seed, epoch)."""
        if not shuffle:
            return torch.arange(len(self))
        gen = torch.Generator().manual_seed(mix_seed(seed, epoch, "order"))
        return torch.randperm(len(self), generator=gen)

    def images(self, idx: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """The images at ``idx`` as uint8 ``[B, C, H, W]`` on the device (adapted, not
        normalised or augmented)."""
        return self.store.fetch(torch.as_tensor(idx, dtype=torch.int64))

    def _model_ready(self) -> torch.Tensor | None:
        """The whole split already normalised, for small in-memory splits (made once, then
        each batch is a single gather); None when it would take more than READY_BYTES."""
        if self._ready is not None:
            return self._ready
        store = self.store
        if not isinstance(store, TensorStore) or store.per_batch:
            return None
        if store.x.numel() * 4 > READY_BYTES:
            return None
        self._ready = self.normalize(store.x)
        return self._ready

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (0–255) or float (0–1) images → the model's input."""
        scale = self._scale_uint8 if x.dtype == torch.uint8 else self._scale
        x = (x.to(torch.float32) * scale).add_(self._shift)
        return x.flatten(1) if self.flat else x

    def batches(self, batch_size: int, *, shuffle: bool, seed: int, epoch: int,
                start_batch: int = 0, augment: bool = False,
                drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The epoch's batches from number ``start_batch`` on. The order comes from (seed,
        epoch); batch b's augmentation from (seed, epoch, b): starting at k gives exactly the
        batches k, k+1, ... of a run that started at 0. ``augment`` applies the configured
        augmentations and Mixup/CutMix (meant for the training split)."""
        total = self.num_batches(batch_size, drop_last)
        if not 0 <= start_batch <= total:
            raise ValueError(f"start_batch must be in [0, {total}], found {start_batch}")
        order = self.order(shuffle=shuffle, seed=seed, epoch=epoch)
        on_device = order.to(self.device)
        numbers = range(start_batch, total)
        augment = augment and bool(self.pipeline)
        ready = None if augment else self._model_ready()
        if ready is not None:  # one gather per batch, like a hand-written loop
            for b in numbers:
                idx = on_device[b * batch_size:(b + 1) * batch_size]
                yield ready[idx], self._labels[idx]
            return
        source = on_device if isinstance(self.store, TensorStore) else order
        index = [source[b * batch_size:(b + 1) * batch_size] for b in numbers]
        for b, x in zip(numbers, self.store.iterate(index)):
            y = self._labels[on_device[b * batch_size:(b + 1) * batch_size]]
            if augment:
                x, y = self.pipeline(x, y, mix_seed(seed, epoch, b, "augment"))
            yield self.normalize(x), y


# ------------------------------------------------------------------------------------------
# Splitting


def _round(v: float) -> int:
    return int(math.floor(v + 0.5))


def split_indices(labels: torch.Tensor, num_classes: int, val_fraction: float,
                  test_fraction: float, seed: int, limit: int | None, *, folds: int = 0,
                  fold: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stratified (train, val, test) positions, sorted: per class, ``round(fraction · n)``
    samples (keeping one for training), drawn with ``seed``. With ``folds`` >= 2 the test share
    is drawn the same way and the rest of each class is dealt round the folds (their sizes per
    class differ by at most one; each class starts where the last stopped, so the folds' totals
    do too): validation is fold ``fold``, training the others, and ``val_fraction`` is not used.
    ``limit`` then keeps at most that many training samples, shared out over the classes in
    proportion."""
    gen = torch.Generator().manual_seed(mix_seed(seed, "split"))
    train: list[torch.Tensor] = []
    val, test = [], []
    dealt = 0  # members dealt so far, over all classes: where the next class starts
    for c in range(num_classes):
        members = torch.nonzero(labels == c).flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        n = len(members)
        n_test, n_val = _round(test_fraction * n), _round(val_fraction * n)
        if folds >= 2:
            n_test = min(n_test, max(0, n - 1))
            rest = members[n_test:]
            in_fold = (torch.arange(len(rest)) + dealt) % folds == fold
            dealt += len(rest)
            test.append(members[:n_test])
            val.append(rest[in_fold])
            train.append(rest[~in_fold])
            continue
        excess = n_test + n_val - max(0, n - 1)
        if excess > 0:
            cut = min(excess, n_test)
            n_test, n_val = n_test - cut, n_val - (excess - cut)
        test.append(members[:n_test])
        val.append(members[n_test:n_test + n_val])
        train.append(members[n_test + n_val:])
    if limit is not None and limit < sum(len(t) for t in train):
        sizes = np.array([len(t) for t in train], dtype=np.float64)
        quota = sizes * (limit / sizes.sum())
        keep = np.floor(quota).astype(np.int64)
        left = limit - int(keep.sum())
        for c in np.argsort(-(quota - keep), kind="stable")[:left]:
            keep[c] += 1
        train = [t[:k] for t, k in zip(train, keep)]

    def joined(parts: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(parts).sort().values if parts else torch.zeros(0, dtype=torch.int64)

    return joined(train), joined(val), joined(test)
