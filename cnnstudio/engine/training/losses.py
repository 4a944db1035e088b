"""Loss functions for classification, all taking class scores (logits) and either class indices
or soft labels (mixup, cutmix); with ``loss["task"]`` multilabel, bce takes multi-hot targets,
and regress makes mse and mae compare the raw outputs with the target values.

The plain functions here use torch alone and read the settings as a dict, because the code
generator copies them verbatim into the standalone ``train.py`` (codegen/train_parts.py): the
application and the script then compute one and the same loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...project.config import LossConfig

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

AUX_WEIGHT = 0.3  # GoogLeNet's weight of its auxiliary classifiers' losses


def soft_labels(target: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """One row of class probabilities per sample: class indices become one-hot rows."""
    if target.dim() == 2:  # already soft labels
        return target.to(dtype)
    return F.one_hot(target, num_classes).to(dtype)


def hard_labels(target: torch.Tensor) -> torch.Tensor:
    """Class indices; soft labels (mixup, cutmix) count as their most likely class."""
    return target.argmax(dim=1) if target.dim() == 2 else target


def class_weights(weights: str | list[float] | None,
                  class_counts: Sequence[int]) -> list[float] | None:
    """The per-class weights asked for; 'balanced' weighs classes by the inverse of their
    frequency (n / (k · count)), as scikit-learn does."""
    if weights is None:
        return None
    k = len(class_counts)
    if weights == "balanced":
        n = sum(class_counts)
        return [n / (k * c) if c else 0.0 for c in class_counts]
    if len(weights) != k:
        raise ValueError(f"training.loss.class_weights: {len(weights)} weights for {k} classes")
    return [float(w) for w in weights]


def loss_function(loss: dict[str, Any], num_classes: int, class_counts: Sequence[int],
                  device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss that the settings ``loss`` name, as ``loss_fn(logits, target)`` (mean over
    the batch); ``class_counts`` are the training split's, for balanced class weights."""
    task = loss.get("task", "classify")
    weights = class_weights(loss["class_weights"], class_counts) if task != "regress" else None
    w = torch.tensor(weights, dtype=torch.float32, device=device) if weights else None
    name = loss["name"]
    if name == "cross_entropy":
        smoothing = loss["label_smoothing"]

        def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(logits.float(), target, weight=w,
                                   label_smoothing=smoothing)

        return cross_entropy
    if name == "focal":
        gamma = loss["focal_gamma"]

        def focal(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            # FL = −Σ_c y_c (1 − p_c)^γ log p_c (Lin et al., 2017), class-weighted.
            log_p = F.log_softmax(logits.float(), dim=1)
            y = soft_labels(target, num_classes, log_p.dtype)
            per_class = -y * (1 - log_p.exp()).pow(gamma) * log_p
            if w is not None:
                per_class = per_class * w
            return per_class.sum(dim=1).mean()

        return focal
    if name == "bce":
        def bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            # One sigmoid per class against one-hot (or soft) labels.
            y = soft_labels(target, num_classes, torch.float32)
            return F.binary_cross_entropy_with_logits(logits.float(), y, pos_weight=w)

        return bce
    if name in ("mse", "mae"):
        distance = F.mse_loss if name == "mse" else F.l1_loss
        if task == "regress":
            def regress(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
                # The outputs are the predicted (standardised) values themselves.
                return distance(out.float(), target.float())

            return regress

        def regression(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            # Between the predicted probabilities and the one-hot labels.
            probs = logits.float().softmax(dim=1)
            return distance(probs, soft_labels(target, num_classes, probs.dtype))

        return regression
    if name == "hinge":
        def hinge(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            # torch's multi_margin_loss is the same sum divided by the number of classes.
            return multiclass_hinge(logits.float(), target, w).mean()

        return hinge
    raise ValueError(f"training.loss.name: unknown loss {name!r}")


def multiclass_hinge(s: torch.Tensor, target: torch.Tensor,
                     w: torch.Tensor | None) -> torch.Tensor:
    """Per sample, cs231n's multi-class SVM loss (Weston & Watkins): Σ_{j≠y} max(0, s_j − s_y
    + 1), times class y's weight. Soft labels (mixup, cutmix) get the loss expected over them,
    from every pair of classes (N·C² values: fine for the class counts a hinge loss suits)."""
    if target.dim() == 2:
        pairs = (s.unsqueeze(1) - s.unsqueeze(2) + 1).clamp(min=0)  # [n, c, j]: s_j − s_c + 1
        own = torch.eye(s.shape[1], dtype=torch.bool, device=s.device)
        per_class = pairs.masked_fill(own, 0.0).sum(dim=2)
        y = target.to(s.dtype) if w is None else target.to(s.dtype) * w
        return (y * per_class).sum(dim=1)
    at = target.unsqueeze(1)
    margins = (s - s.gather(1, at) + 1).clamp(min=0).scatter(1, at, 0.0)
    return margins.sum(dim=1) if w is None else margins.sum(dim=1) * w[target]


def l1_penalty(model: nn.Module, l1: float) -> torch.Tensor | float:
    """λ·Σ|w| over the trainable weights of convolutions and fully connected layers: the
    parameters with two dimensions or more. Biases and normalisation scales and shifts (one
    dimension) are left out: they set offsets and scales, not which inputs count, and pulling
    a BatchNorm's scale to 0 would switch its channel off rather than thin its weights."""
    if not l1:
        return 0.0
    weights = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    return l1 * sum(p.abs().sum() for p in weights)


def training_loss(out: torch.Tensor | tuple[torch.Tensor, ...], target: torch.Tensor,
                  loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                  aux_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss of one training batch, and the logits to score it by. A model with auxiliary
    classifiers (GoogLeNet) returns their logits after its own in training; their losses add
    in, each weighted by ``aux_weight``."""
    if isinstance(out, tuple):
        aux = sum(loss_fn(o, target) for o in out[1:])
        return loss_fn(out[0], target) + aux_weight * aux, out[0]
    return loss_fn(out, target), out


def distilled(base: torch.Tensor, student: torch.Tensor, teacher: torch.Tensor,
              temperature: float, alpha: float) -> torch.Tensor:
    """Hinton's distillation loss: ``(1 − α) · base + α · T² · KL(teacher_T ‖ student_T)``, the
    two networks' outputs softened by the temperature T (T² keeps the soft term's gradients
    on the scale of the hard one's as T grows)."""
    t = float(temperature)
    soft = F.kl_div(F.log_softmax(student.float() / t, dim=1),
                    F.log_softmax(teacher.float() / t, dim=1), reduction="batchmean",
                    log_target=True)
    return (1 - alpha) * base + alpha * t * t * soft


def make_loss(config: LossConfig, num_classes: int, class_counts: Sequence[int],
              device: torch.device, task: str = "classify") -> Loss:
    """The configured loss as ``loss(logits, target)`` (mean over the batch), for the
    dataset's ``task``."""
    return loss_function({**config.to_dict(), "task": task}, num_classes, class_counts, device)
