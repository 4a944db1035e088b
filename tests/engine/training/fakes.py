"""A small in-memory dataset with the engine's Data/Split interface, for trainer tests that do
not depend on any real source."""

from __future__ import annotations

from collections.abc import Iterator

import torch


class TensorSplit:
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.labels = x, y

    def __len__(self) -> int:
        return len(self.labels)

    def num_batches(self, batch_size: int, drop_last: bool = False) -> int:
        n = len(self)
        return n // batch_size if drop_last else -(-n // batch_size)

    def batches(self, batch_size: int, *, shuffle: bool, seed: int, epoch: int,
                start_batch: int = 0, augment: bool = False,
                drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self)
        if shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1000 + epoch))
        else:
            order = torch.arange(n)
        for b in range(start_batch, self.num_batches(batch_size, drop_last)):
            idx = order[b * batch_size:(b + 1) * batch_size]
            yield self.x[idx], self.labels[idx]


class TensorData:
    """Two Gaussian blobs per class in a 1×8×8 image: learnable in a few epochs."""

    def __init__(self, n: int = 256, classes: int = 3, seed: int = 0, val: int = 64) -> None:
        g = torch.Generator().manual_seed(seed)
        labels = torch.arange(n + val) % classes
        centres = torch.randn(classes, 1, 8, 8, generator=g)
        x = centres[labels] + 0.7 * torch.randn(n + val, 1, 8, 8, generator=g)
        self.train = TensorSplit(x[:n], labels[:n])
        self.val = TensorSplit(x[n:], labels[n:]) if val else None
        self.test = None
        self.num_classes = classes
        self.classes = [f"c{i}" for i in range(classes)]
        self.class_counts = [int((labels[:n] == c).sum()) for c in range(classes)]
        self.input_shape = (1, 8, 8)

    def summary(self) -> dict:
        return {"source": "fake", "train": len(self.train), "classes": self.classes}
