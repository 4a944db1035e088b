"""Loss functions for classification, all taking class scores (logits) and either class indices
or soft labels (mixup, cutmix)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ...project.config import LossConfig

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _one_hot(target: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    if target.dim() == 2:  # already soft labels
        return target.to(dtype)
    return F.one_hot(target, num_classes).to(dtype)


def class_weights(config: LossConfig, class_counts: Sequence[int]) -> list[float] | None:
    """The per-class weights the config asks for; 'balanced' weighs classes by the inverse
    of their frequency (n / (k · count)), as scikit-learn does."""
    weights = config.class_weights
    if weights is None:
        return None
    k = len(class_counts)
    if weights == "balanced":
        n = sum(class_counts)
        return [n / (k * c) if c else 0.0 for c in class_counts]
    if len(weights) != k:
        raise ValueError(f"training.loss.class_weights: {len(weights)} weights for {k} classes")
    return [float(w) for w in weights]


def make_loss(config: LossConfig, num_classes: int, class_counts: Sequence[int],
              device: torch.device) -> Loss:
    """The configured loss as ``loss(logits, target)`` (mean over the batch)."""
    weights = class_weights(config, class_counts)
    w = torch.tensor(weights, dtype=torch.float32, device=device) if weights else None
    name = config.name
    if name == "cross_entropy":
        smoothing = config.label_smoothing

        def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(logits.float(), target, weight=w,
                                   label_smoothing=smoothing)

        return cross_entropy
    if name == "focal":
        gamma = config.focal_gamma

        def focal(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            # FL = −Σ_c y_c (1 − p_c)^γ log p_c (Lin et al., 2017), class-weighted.
            log_p = F.log_softmax(logits.float(), dim=1)
            y = _one_hot(target, num_classes, log_p.dtype)
            per_class = -y * (1 - log_p.exp()).pow(gamma) * log_p
            if w is not None:
                per_class = per_class * w
            return per_class.sum(dim=1).mean()

        return focal
    if name == "bce":
        def bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            # One sigmoid per class against one-hot (or soft) labels.
            y = _one_hot(target, num_classes, torch.float32)
            return F.binary_cross_entropy_with_logits(logits.float(), y, pos_weight=w)

        return bce
    if name in ("mse", "mae"):
        distance = F.mse_loss if name == "mse" else F.l1_loss

        def regression(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            # Between the predicted probabilities and the one-hot labels.
            probs = logits.float().softmax(dim=1)
            return distance(probs, _one_hot(target, num_classes, probs.dtype))

        return regression
    raise ValueError(f"training.loss.name: unknown loss {name!r}")
