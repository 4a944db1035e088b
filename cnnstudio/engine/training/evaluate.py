"""Evaluation of a classifier: accuracy, top-k, per-class precision/recall/F1, the confusion
matrix, and one-vs-rest ROC curves with their AUC — as JSON-able numbers for the run history.

Test-time augmentation (``predict(..., tta=)``) averages the softmax over views of each batch:
``flip`` the image and its mirror; ``center`` and ``ten_crop`` first enlarge the batch by
TTA_SCALE (8/7, torchvision's 224 → 256) and take crops of the input size: the centre one, or
TenCrop's ten (the four corners and the centre, and their mirrors). The batches are already
normalised; resizing and cropping commute with the per-channel normalisation, so the views are
made from them directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torchvision.transforms.v2.functional as TF
from torch import nn

ROC_POINTS = 101
TTA = ("none", "flip", "center", "ten_crop")
TTA_SCALE = 8 / 7
"""How much ``center`` and ``ten_crop`` enlarge an image before cropping the input's size."""


def tta_views(x: torch.Tensor, tta: str) -> list[torch.Tensor]:
    """The views of a batch ``[B, C, H, W]`` whose predictions ``tta`` averages."""
    if tta not in TTA:
        raise ValueError(f"unknown test-time augmentation {tta!r}; choose one of "
                         f"{', '.join(TTA)}")
    if tta == "none":
        return [x]
    if x.dim() != 4:
        raise ValueError("test-time augmentation needs image input ([C, H, W]); this network "
                         "takes flat vectors")
    if tta == "flip":
        return [x, x.flip(-1)]
    h, w = x.shape[-2:]
    big = TF.resize(x, [max(h, round(h * TTA_SCALE)), max(w, round(w * TTA_SCALE))],
                    antialias=True)
    if tta == "center":
        return [TF.center_crop(big, [h, w])]
    return list(TF.ten_crop(big, [h, w]))


def _forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    return (out[0] if isinstance(out, tuple) else out).float()


@torch.no_grad()
def predict(model: nn.Module, batches: Any, tta: str = "none"
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels (on the CPU) over ``batches`` of (x, y), in evaluation mode. With
    ``tta`` (see the module's notes), the "logits" are the log of the softmax averaged over
    the views, so that their softmax is that average."""
    was_training = model.training
    model.eval()
    logits, labels = [], []
    try:
        for x, y in batches:
            views = tta_views(x, tta)
            if tta == "none":
                out = _forward(model, x)
            else:
                probs = torch.stack([_forward(model, v).softmax(1) for v in views]).mean(0)
                out = probs.clamp_min(torch.finfo(probs.dtype).tiny).log()
            logits.append(out.cpu())
            labels.append((y.argmax(dim=1) if y.dim() == 2 else y).cpu())
    finally:
        model.train(was_training)
    return torch.cat(logits), torch.cat(labels)


def evaluate(logits: torch.Tensor, labels: torch.Tensor, classes: Sequence[str]) -> dict[str, Any]:
    k = logits.shape[1]
    n = labels.shape[0]
    pred = logits.argmax(dim=1)
    out: dict[str, Any] = {"samples": int(n), "accuracy": _ratio((pred == labels).sum(), n)}
    ranked = logits.topk(min(k, 5), dim=1).indices
    out["top_k"] = {str(j): _ratio((ranked[:, :j] == labels[:, None]).any(dim=1).sum(), n)
                    for j in (1, 3, 5) if j <= k}
    confusion = torch.zeros(k, k, dtype=torch.long)
    confusion.index_put_((labels, pred), torch.ones_like(labels), accumulate=True)
    out["confusion"] = confusion.tolist()
    per_class = []
    for c in range(k):
        tp = int(confusion[c, c])
        support = int(confusion[c].sum())
        predicted = int(confusion[:, c].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append({"class": classes[c] if c < len(classes) else str(c),
                          "precision": precision, "recall": recall, "f1": f1,
                          "support": support})
    out["per_class"] = per_class
    present = [p for p in per_class if p["support"]]
    out["macro"] = {m: sum(p[m] for p in present) / len(present) if present else 0.0
                    for m in ("precision", "recall", "f1")}
    probs = logits.softmax(dim=1)
    roc = [_roc(probs[:, c], labels == c) for c in range(k)]
    out["roc"] = roc
    aucs = [r["auc"] for r in roc if r["auc"] is not None]
    out["macro_auc"] = sum(aucs) / len(aucs) if aucs else None
    return out


def _ratio(count: torch.Tensor, n: int) -> float:
    return float(count) / n if n else 0.0


def _roc(scores: torch.Tensor, positive: torch.Tensor) -> dict[str, Any]:
    """One-vs-rest ROC: false/true positive rates as the threshold falls; AUC by trapezoids."""
    pos = int(positive.sum())
    neg = int(positive.numel()) - pos
    if pos == 0 or neg == 0:
        return {"fpr": [], "tpr": [], "auc": None}
    order = scores.argsort(descending=True)
    hits = positive[order].double()
    tpr = torch.cat([torch.zeros(1, dtype=torch.float64), hits.cumsum(0) / pos])
    fpr = torch.cat([torch.zeros(1, dtype=torch.float64), (1 - hits).cumsum(0) / neg])
    # Tied scores share a threshold: keep only the last point of each tie.
    s = scores[order]
    keep = torch.ones(len(s) + 1, dtype=torch.bool)
    keep[1:-1] = s[1:] != s[:-1]
    tpr, fpr = tpr[keep], fpr[keep]
    auc = float(torch.trapezoid(tpr, fpr))
    if len(fpr) > ROC_POINTS:
        idx = torch.linspace(0, len(fpr) - 1, ROC_POINTS).round().long()
        tpr, fpr = tpr[idx], fpr[idx]
    return {"fpr": [round(float(v), 5) for v in fpr], "tpr": [round(float(v), 5) for v in tpr],
            "auc": auc}
