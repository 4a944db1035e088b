"""Evaluation of a classifier: accuracy, top-k, per-class precision/recall/F1, the confusion
matrix, and one-vs-rest ROC curves with their AUC — as JSON-able numbers for the run history.
Multi-label networks get per-label precision/recall/F1 at 0.5, micro/macro F1, subset accuracy
and mean average precision; regressions MAE, RMSE and R² (scikit-learn's definitions). Each
task's one number per epoch (``SCORES``) is summed on the device batch by batch
(``batch_score``) and read back with ``epoch_score``.

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

from ...project.config import TASK_SCORES
from .losses import hard_labels

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


SCORES = TASK_SCORES


def score_width(task: str, outputs: int) -> int:
    """How many running sums ``batch_score`` gives."""
    return {"classify": 1, "multilabel": 3}.get(task, 3 * outputs)


def batch_score(task: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """float64 sums of one batch: classify [correct]; multilabel [tp, fp, fn] at p = 0.5;
    regress [Σ residual², Σ y, Σ y²] per target."""
    if task == "multilabel":
        pred, true = out.detach() > 0, y >= 0.5
        return torch.stack(((pred & true).sum(), (pred & ~true).sum(),
                            (~pred & true).sum())).double()
    if task == "regress":
        o, t = out.detach().double(), y.double()
        return torch.cat(((o - t).pow(2).sum(0), t.sum(0), t.pow(2).sum(0)))
    return (out.detach().argmax(dim=1) == hard_labels(y)).sum().double().reshape(1)


def epoch_score(task: str, sums: list[float], count: int) -> float:
    """The task's score from summed ``batch_score`` values over ``count`` samples: accuracy,
    micro-F1, or R² averaged over the targets (a constant target counts 1 when predicted
    exactly, else 0, as scikit-learn does)."""
    if task == "multilabel":
        tp, fp, fn = sums
        return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    if task == "regress":
        t = len(sums) // 3
        scores = []
        for res, sy, syy in zip(sums[:t], sums[t:2 * t], sums[2 * t:]):
            total = syy - sy * sy / max(count, 1)
            scores.append(1 - res / total if total > 1e-12 else float(res <= 1e-12))
        return sum(scores) / len(scores) if scores else 0.0
    return sums[0] / max(count, 1)


def task_score(task: str, out: torch.Tensor, y: torch.Tensor) -> float:
    """The task's score (accuracy, micro-F1 or R²) of outputs ``out`` against ``y``."""
    return epoch_score(task, batch_score(task, out, y).tolist(), len(y))


def _forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    return (out[0] if isinstance(out, tuple) else out).float()


@torch.no_grad()
def predict(model: nn.Module, batches: Any, tta: str = "none", task: str = "classify"
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels (on the CPU) over ``batches`` of (x, y), in evaluation mode. With
    ``tta`` (see the module's notes), the "logits" are the log of the softmax averaged over
    the views, so that their softmax is that average. Multi-label and regression targets come
    back as they are (float ``[N, K]``); their views average the sigmoids (as logits again)
    or the outputs."""
    was_training = model.training
    model.eval()
    logits, labels = [], []
    try:
        for x, y in batches:
            views = tta_views(x, tta)
            if tta == "none":
                out = _forward(model, x)
            elif task == "regress":
                out = torch.stack([_forward(model, v) for v in views]).mean(0)
            elif task == "multilabel":
                probs = torch.stack([_forward(model, v).sigmoid() for v in views]).mean(0)
                out = probs.logit(eps=1e-7)
            else:
                probs = torch.stack([_forward(model, v).softmax(1) for v in views]).mean(0)
                out = probs.clamp_min(torch.finfo(probs.dtype).tiny).log()
            logits.append(out.cpu())
            keep = task != "classify" or y.dim() != 2
            labels.append((y if keep else y.argmax(dim=1)).cpu())
    finally:
        model.train(was_training)
    return torch.cat(logits), torch.cat(labels)


def evaluate(logits: torch.Tensor, labels: torch.Tensor, classes: Sequence[str],
             task: str = "classify", data: Any = None) -> dict[str, Any]:
    """The task's metrics of ``logits`` against ``labels``; ``data`` (a loaded Data) turns
    standardised regression values back into the CSV's units."""
    if task == "multilabel":
        return evaluate_multilabel(logits, labels, classes)
    if task == "regress":
        if data is not None:
            logits, labels = data.original_units(logits), data.original_units(labels)
        return evaluate_regression(logits, labels, classes)
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


def evaluate_multilabel(logits: torch.Tensor, targets: torch.Tensor,
                        classes: Sequence[str]) -> dict[str, Any]:
    """Per label precision/recall/F1 at p = 0.5, micro and macro F1, subset accuracy (every
    label right) and mean average precision over the labels that occur. ``accuracy`` is the
    micro-F1, the number the runs table, the sweeps and the trainer's epochs compare."""
    from sklearn import metrics as skm

    probs = logits.float().sigmoid().numpy()
    true = (targets >= 0.5).numpy().astype(int)
    pred = (probs >= 0.5).astype(int)
    n, k = true.shape
    p, r, f, support = skm.precision_recall_fscore_support(true, pred, average=None,
                                                           labels=list(range(k)),
                                                           zero_division=0)
    per_label = [{"class": classes[c] if c < len(classes) else str(c),
                  "precision": float(p[c]), "recall": float(r[c]), "f1": float(f[c]),
                  "support": int(support[c]),
                  "ap": float(skm.average_precision_score(true[:, c], probs[:, c]))
                  if 0 < support[c] < n else None} for c in range(k)]
    present = [c for c in per_label if c["support"]]
    aps = [c["ap"] for c in per_label if c["ap"] is not None]
    micro = float(skm.f1_score(true, pred, average="micro", zero_division=0)) if n else 0.0
    return {
        "task": "multilabel", "samples": int(n), "accuracy": micro, "micro_f1": micro,
        "macro_f1": float(sum(c["f1"] for c in present) / len(present)) if present else 0.0,
        "subset_accuracy": float(skm.accuracy_score(true, pred)) if n else 0.0,
        "mean_ap": sum(aps) / len(aps) if aps else None,
        "per_class": per_label,
        "macro": {m: sum(c[m] for c in present) / len(present) if present else 0.0
                  for m in ("precision", "recall", "f1")},
    }


SCATTER_POINTS = 2000
"""Predicted-against-true pairs kept per target for the evaluation's scatter plot."""


def evaluate_regression(pred: torch.Tensor, true: torch.Tensor,
                        names: Sequence[str]) -> dict[str, Any]:
    """MAE, RMSE and R² per target and averaged over them, and up to SCATTER_POINTS (true,
    predicted) pairs per target for the scatter and residual plots. ``accuracy`` is the mean
    R²."""
    from sklearn import metrics as skm

    p, t = pred.double().numpy(), true.double().numpy()
    n, k = t.shape
    targets = []
    step = max(1, -(-n // SCATTER_POINTS))
    for j in range(k):
        mse = float(skm.mean_squared_error(t[:, j], p[:, j])) if n else 0.0
        targets.append({
            "name": names[j] if j < len(names) else f"value{j + 1}",
            "mae": float(skm.mean_absolute_error(t[:, j], p[:, j])) if n else 0.0,
            "rmse": mse ** 0.5,
            "r2": float(skm.r2_score(t[:, j], p[:, j])) if n > 1 else 0.0,
            "true": [round(float(v), 6) for v in t[::step, j]],
            "predicted": [round(float(v), 6) for v in p[::step, j]]})

    def mean(key: str) -> float:
        return sum(x[key] for x in targets) / k if k else 0.0

    return {"task": "regress", "samples": int(n), "accuracy": mean("r2"), "r2": mean("r2"),
            "mae": mean("mae"), "rmse": mean("rmse"), "targets": targets}


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
