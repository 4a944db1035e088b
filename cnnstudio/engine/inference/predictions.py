"""A model's predictions over one split, kept whole so the evaluation view can go from a number
(a confusion-matrix cell, a low recall) back to the images behind it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..training.evaluate import evaluate, predict
from .model import class_names

SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}


@dataclass
class Predictions:
    """Logits, probabilities, labels and predicted classes (CPU) of a split's samples;
    ``indices[i]`` is sample i's position in the split (for ``Split.images``). For the
    ``task`` multilabel, labels are multi-hot float ``[N, K]``, probabilities sigmoids and
    ``predicted`` the multi-hot answer at 0.5; for regress, logits and labels are the
    predicted and true values ``[N, T]`` in the CSV's units."""

    logits: torch.Tensor  # float32 [N, K]
    labels: torch.Tensor  # int64 [N]
    indices: torch.Tensor  # int64 [N]
    classes: list[str]
    split: str = "val"
    tta: str = "none"  # the test-time augmentation (engine.training.evaluate.TTA)
    task: str = "classify"
    probs: torch.Tensor = field(init=False)  # float32 [N, K]
    predicted: torch.Tensor = field(init=False)  # int64 [N]
    _metrics: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.logits = self.logits.detach().float().cpu()
        self.labels = self.labels.detach().cpu()
        self.labels = self.labels.long() if self.task == "classify" else self.labels.float()
        self.indices = self.indices.detach().long().cpu()
        if self.task == "multilabel":
            self.probs = self.logits.sigmoid()
            self.predicted = (self.probs >= 0.5).float()
        elif self.task == "regress":
            self.probs, self.predicted = self.logits, self.logits
        else:
            self.probs = self.logits.softmax(dim=1)
            self.predicted = self.logits.argmax(dim=1)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.logits.shape[1])

    @property
    def confidence(self) -> torch.Tensor:
        """The probability of each sample's predicted class."""
        return self.probs.gather(1, self.predicted[:, None])[:, 0]

    def confusion(self) -> torch.Tensor:
        """int64 ``[K, K]``: rows are true classes, columns predicted ones."""
        k = self.num_classes
        out = torch.zeros(k, k, dtype=torch.long)
        out.index_put_((self.labels, self.predicted), torch.ones_like(self.labels),
                       accumulate=True)
        return out

    def metrics(self) -> dict[str, Any]:
        """``engine.evaluate.evaluate`` of these logits: the numbers a run stores."""
        if self._metrics is None:
            self._metrics = evaluate(self.logits, self.labels, self.classes, self.task)
            self._metrics["split"] = SPLIT_NAMES.get(self.split, self.split)
            self._metrics["tta"] = self.tta
        return self._metrics


def _on(device: torch.device, batches: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for x, y in batches:
        yield x.to(device), y


def predict_split(model: nn.Module, data: Any, split: str = "val",
                  batch_size: int = 256, names: Sequence[str] = (),
                  tta: str = "none") -> Predictions:
    """The model's predictions over ``data``'s split ``split`` (train, val or test), in order;
    its classes named by ``class_names`` (``names``: the project's); ``tta`` averages over
    views of each image (``predict``)."""
    chosen = data.splits.get(split)
    if chosen is None:
        raise ValueError(f"the dataset has no {SPLIT_NAMES.get(split, split)} split")
    if len(chosen) == 0:
        raise ValueError(f"the {SPLIT_NAMES.get(split, split)} split is empty")
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else chosen.device
    batches = chosen.batches(batch_size, shuffle=False, seed=0, epoch=0)
    task = getattr(data, "task", "classify")
    logits, labels = predict(model, _on(device, batches), tta, task)
    if task == "regress":
        logits, labels = data.original_units(logits), data.original_units(labels)
    classes = class_names(int(logits.shape[1]), data.classes, names)
    return Predictions(logits, labels, torch.arange(len(chosen)), classes, split, tta, task)


def cell_indices(pred: Predictions, true_class: int, predicted_class: int) -> list[int]:
    """The split indices of the samples of class ``true_class`` predicted as
    ``predicted_class`` (one confusion-matrix cell), in split order."""
    hit = (pred.labels == true_class) & (pred.predicted == predicted_class)
    return pred.indices[hit].tolist()


def confident_mistakes(pred: Predictions, n: int = 24) -> list[tuple[int, int, int, float]]:
    """The ``n`` wrong predictions made with the highest confidence, most confident first:
    ``(split index, true class, predicted class, probability of the predicted class)``."""
    wrong = (pred.predicted != pred.labels).nonzero()[:, 0]
    if wrong.numel() == 0:
        return []
    conf = pred.confidence[wrong]
    order = conf.argsort(descending=True, stable=True)[:n]
    rows = wrong[order]
    return [(int(pred.indices[i]), int(pred.labels[i]), int(pred.predicted[i]),
             float(pred.confidence[i])) for i in rows.tolist()]
