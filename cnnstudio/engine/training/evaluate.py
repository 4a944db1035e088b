"""Evaluation of a classifier: accuracy, top-k, per-class precision/recall/F1, the confusion
matrix, and one-vs-rest ROC curves with their AUC — as JSON-able numbers for the run history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

ROC_POINTS = 101


@torch.no_grad()
def predict(model: nn.Module, batches: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels (on the CPU) over ``batches`` of (x, y), in evaluation mode."""
    was_training = model.training
    model.eval()
    logits, labels = [], []
    try:
        for x, y in batches:
            out = model(x)
            if isinstance(out, tuple):
                out = out[0]
            logits.append(out.float().cpu())
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
