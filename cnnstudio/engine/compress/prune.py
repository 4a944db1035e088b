"""Structured pruning to a MACs target: whole channels removed by importance (the L1 or L2 norm
of their weights, or first-order Taylor: |w·∂L/∂w| over a few batches of data),
dependency-aware through residual Adds, Concats and depthwise convolutions by torch-pruning's
dependency graph, then written back as an edited graph (narrower layers)
with its weights sliced.

Why torch-pruning: it traces the module and groups every parameter a channel touches (a
convolution's filters, the BatchNorm after it, the next layer's inputs, the other branch of an
Add), which is exactly the bookkeeping that goes wrong by hand; our graph then takes the new
widths from the pruned module and proves them by loading its weights strictly.

Below the pruning itself, the recipe that the command line and the window share: the
validation accuracy of a network, the few training batches Taylor importance takes its
gradients on, the gentle fine-tuning after pruning (a tenth of the learning rate on a cosine
schedule, the project keeping its own settings), and the accuracy-against-MACs curve: one
trained network pruned to several targets, each scored, optionally after a short fine-tuning.

Torch is imported by the functions, not here: the command line reads the defaults at start."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...graph import Graph, analyze
from .options import finetune_config

if TYPE_CHECKING:
    import torch
    from torch import nn

IMPORTANCES = ("l1", "l2", "taylor")
Loss = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]
Batch = tuple["torch.Tensor", "torch.Tensor"]
SEARCH_STEPS = 8
"""Bisection steps on the channel ratio: the MACs kept land within about 0.5 % of the target."""
DEFAULT_TARGETS = (0.9, 0.75, 0.5, 0.35, 0.25)
TAYLOR_BATCHES = 4
"""Training batches whose gradients rank the channels: a few are enough to order them (Molchanov
et al. average over a few hundred images), and each costs a forward and a backward pass."""
MEMBER = "weights/pruned.safetensors"


class PruneError(ValueError):
    """A graph or a target that cannot be pruned as asked (one line, for the user)."""


@dataclass(frozen=True)
class Pruned:
    graph: Graph
    state: dict[str, torch.Tensor]
    macs_before: int
    macs_after: int
    params_before: int
    params_after: int
    ratio: float
    """The share of channels removed from each prunable layer."""
    changed: dict[str, tuple[int, int]]
    """Node → (width before, width after), for the layers that lost channels."""

    @property
    def macs_kept(self) -> float:
        return self.macs_after / self.macs_before if self.macs_before else 1.0


def prune(graph: Graph, state: dict[str, torch.Tensor] | None, keep_macs: float, *,
          importance: str = "l1", batches: Iterable[Batch] | None = None,
          loss: Loss | None = None) -> Pruned:
    """``graph`` with whole channels removed so that about ``keep_macs`` (0 < f < 1) of its
    MACs are left, and ``state`` (its weights; None: fresh ones) sliced to fit. ``taylor``
    scores channels by the gradients of ``loss`` (default: cross-entropy) over ``batches`` of
    (x, y), training data."""
    import torch
    import torch_pruning as tp

    from ..build import to_module

    if not 0 < keep_macs < 1:
        raise PruneError(f"the MACs to keep must be a fraction between 0 and 1, not {keep_macs}")
    if importance not in IMPORTANCES:
        raise PruneError(f"importance must be one of {', '.join(IMPORTANCES)}, not "
                         f"{importance!r}")
    if importance == "taylor" and batches is None:
        raise PruneError("taylor importance needs training data (batches) to take gradients on")
    report = analyze(graph)
    if not report.ok:
        raise PruneError(f"the graph has errors ({report.errors[0].message}); fix them first")
    module = to_module(graph).eval()
    if state is not None:
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise PruneError("the weights do not fit the graph (it changed since they were "
                             f"trained): {str(exc).splitlines()[1].strip()}") from None
    x = torch.randn(1, *report.input_shape)
    kept = _ignored(graph, report, module)
    before_macs = report.macs
    if importance == "taylor":
        assert batches is not None
        grads = _gradients(module, batches, loss or _cross_entropy)
        scorer = tp.importance.TaylorImportance()
    else:
        grads, scorer = {}, tp.importance.MagnitudeImportance(p=1 if importance == "l1" else 2)

    def pruned_at(ratio: float) -> nn.Module:
        candidate = copy.deepcopy(module)  # a deep copy drops .grad: the original's go back on
        for name, param in candidate.named_parameters():
            if name in grads:
                param.grad = grads[name].clone()
        pruner = tp.pruner.MetaPruner(
            candidate, x, importance=scorer,
            pruning_ratio=ratio, ignored_layers=[candidate.get_submodule(n) for n in kept])
        pruner.step()
        return candidate

    def macs_of(candidate: nn.Module) -> float:
        return float(tp.utils.count_ops_and_params(candidate, x)[0])

    full = macs_of(module)
    low, high, best = 0.0, 0.95, None
    for _ in range(SEARCH_STEPS):  # the largest ratio that keeps at least the target
        ratio = (low + high) / 2
        candidate = pruned_at(ratio)
        if macs_of(candidate) / full >= keep_macs:
            low, best = ratio, (ratio, candidate)
        else:
            high = ratio
    if best is None or best[0] == 0.0:
        raise PruneError(f"no channel can be removed while keeping {keep_macs:.0%} of the "
                         "MACs")
    ratio, candidate = best
    return _written_back(graph, candidate, ratio, before_macs, report.total_params)


def _cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    from torch.nn.functional import cross_entropy

    return cross_entropy(logits.float(), target)


def _gradients(module: nn.Module, batches: Iterable[Batch], loss: Loss) -> dict[str, torch.Tensor]:
    """∂L/∂w of every parameter, summed over ``batches``, taken once on the unpruned network:
    every candidate of the bisection is then ranked by the same scores. In evaluation mode, so
    that BatchNorm's running statistics (part of the weights kept) do not move; frozen layers
    get gradients too (they are pruned like the rest)."""
    import torch

    params = dict(module.named_parameters())
    wanted = {name: p.requires_grad for name, p in params.items()}
    for p in params.values():
        p.requires_grad_(True)
        p.grad = None
    seen = 0
    try:
        with torch.enable_grad():
            for x, y in batches:
                out = module(x)
                loss(out[0] if isinstance(out, tuple) else out, y).backward()
                seen += 1
        grads = {name: p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
                 for name, p in params.items()}
    finally:
        for name, p in params.items():
            p.grad = None
            p.requires_grad_(wanted[name])
    if not seen:
        raise PruneError("taylor importance needs at least one batch of training data")
    return grads


def _ignored(graph: Graph, report: Any, module: nn.Module) -> list[str]:
    """Layers whose output width is fixed: those feeding an output (the classes)."""
    fixed = []
    for nid in report.output_ids:
        for src in graph.upstream([nid]):
            if graph.nodes[src].type in ("Linear", "Conv2d") and _feeds_only_outputs(graph,
                                                                                       src):
                fixed.append(src)
    return [n for n in dict.fromkeys(fixed) if _has_module(module, n)]


def _feeds_only_outputs(graph: Graph, nid: str) -> bool:
    """Whether nothing with weights comes after ``nid`` (its width is the network's output)."""
    todo, seen = list(graph.outputs(nid)), set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        if graph.nodes[node].type in ("Linear", "Conv2d", "ConvTranspose2d"):
            return False
        todo += graph.outputs(node)
    return True


def _has_module(module: nn.Module, path: str) -> bool:
    try:
        module.get_submodule(path)
    except AttributeError:
        return False
    return True


def _written_back(graph: Graph, pruned: nn.Module, ratio: float, macs_before: int,
                  params_before: int) -> Pruned:
    """The pruned module's widths set on a copy of the graph, proven by loading its weights."""
    from torch import nn

    from ..build import to_module

    edited = graph.copy()
    changed = {}
    for nid, node in graph.nodes.items():
        if not _has_module(pruned, nid):
            continue
        layer = pruned.get_submodule(nid)
        width = None
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            width, key = layer.out_channels, "out_channels"
            if node.params.get("groups", 1) != layer.groups:
                edited.set_param(nid, "groups", layer.groups)
        elif isinstance(layer, nn.Linear):
            width, key = layer.out_features, "out_features"
        if width is not None and width != node.params.get(key):
            changed[nid] = (node.params.get(key), width)
            edited.set_param(nid, key, width)
    report = analyze(edited)
    if not report.ok:
        raise PruneError(f"the pruned widths do not fit the graph ({report.errors[0].node}: "
                         f"{report.errors[0].message})")
    state = {k: v.detach().clone() for k, v in pruned.state_dict().items()}
    try:
        to_module(edited).load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise PruneError("the pruned weights do not fit the edited graph: "
                         f"{str(exc).splitlines()[1].strip()}") from None
    return Pruned(edited, state, macs_before, report.macs, params_before, report.total_params,
                  ratio, changed)


# -- the recipe shared by the command line and the window ------------------------------------
class FinetuneFailed(ValueError):
    """The fine-tuning run failed (its message says why, in one line)."""


@dataclass(frozen=True)
class CurvePoint:
    target: float
    """The share of the MACs asked for (1.0: the network as it is)."""
    macs: int
    params: int
    macs_kept: float
    accuracy: float | None
    """Validation accuracy right after pruning (None without a validation split)."""
    finetuned: float | None = None
    """Validation accuracy after the fine-tuning (None: not fine-tuned)."""


def accuracy(graph: Any, state: Any, data: Any) -> float | None:
    """Validation accuracy of ``graph`` with ``state`` (the task's score for multi-label or
    regression targets; None without a validation split)."""
    import torch

    from ..inference.model import model_from_state
    from ..training.evaluate import predict, task_score

    if data.val is None:
        return None
    model = model_from_state(graph, state)
    with torch.no_grad():
        logits, labels = predict(model, data.val.batches(256, shuffle=False, seed=0, epoch=0),
                                 task=data.task)
    return task_score(data.task, logits, labels)


def prune_project(project: Any, state: Any, keep_macs: float, data: Any, *,
                  importance: str = "l1") -> Pruned:
    """``prune`` of the project's network; Taylor importance takes its gradients on a few
    training batches, through the project's own loss."""
    import torch

    if importance != "taylor":
        return prune(project.graph, state, keep_macs, importance=importance)
    from ..training.losses import make_loss

    loss = make_loss(project.training.loss, data.num_classes, data.class_counts,
                     torch.device("cpu"), data.task)
    size = min(project.training.batch_size, 64)
    batches = list(itertools.islice(
        data.train.batches(size, shuffle=True, seed=0, epoch=0), TAYLOR_BATCHES))
    return prune(project.graph, state, keep_macs, importance=importance,
                 batches=[(x.cpu(), y.cpu()) for x, y in batches], loss=loss)


def finetune(project: Any, path: Path | None, epochs: int, *, lr: float | None = None,
             data: Any = None, cache_dir: Any = None, base_dir: Any = None,
             on_epoch: Callable[[int, float | None], None] | None = None,
             cancelled: Callable[[], bool] | None = None) -> float | None:
    """A run of ``project`` from its current weights with the fine-tuning recipe, recorded in
    it (and saved to ``path`` at checkpoints when given); its last validation accuracy.
    ``data`` (already loaded) is used when it lies where the run trains. Raises
    FinetuneFailed."""
    from ..training.session import Session
    from ..training.trainer import EpochEnd, Failed, pick_device

    if data is not None and data.train.device.type != pick_device(
            project.training.device).type:
        data = None  # the run loads its own, onto its device
    last = None
    session = Session(project, path, from_current=True, data=data, cache_dir=cache_dir,
                      base_dir=base_dir, training=finetune_config(project.training, epochs, lr))
    for event in session.events():
        if cancelled is not None and cancelled():
            session.stop()
        if isinstance(event, EpochEnd):
            last = event.record.val_acc
            if on_epoch is not None:
                on_epoch(event.record.epoch, last)
        elif isinstance(event, Failed):
            raise FinetuneFailed(f"fine-tuning failed: {event.message}")
    return last


def parse_targets(text: str) -> tuple[float, ...]:
    """``"0.9,0.5"`` as fractions, each strictly between 0 and 1, largest first; ValueError
    (one line) otherwise."""
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"targets must be fractions separated by commas, e.g. 0.9,0.5, not "
                         f"{text!r}") from None
    if not values or any(not 0 < v < 1 for v in values):
        raise ValueError(f"each target must be a fraction between 0 and 1, not {text!r}")
    return tuple(sorted(set(values), reverse=True))


def curve(project: Any, state: Any, data: Any, targets: tuple[float, ...] = DEFAULT_TARGETS,
          *, importance: str = "l1", finetune_epochs: int = 0, cache_dir: Any = None,
          base_dir: Any = None, progress: Callable[[float, str], None] | None = None,
          cancelled: Callable[[], bool] | None = None) -> list[CurvePoint]:
    """The network as it is (target 1.0), then pruned to each of ``targets`` (largest first),
    each scored on the validation split, and after ``finetune_epochs`` of fine-tuning on a
    scratch copy of the project when asked (the project itself is left as it was; the
    first point's fine-tuned accuracy is then its own, where both curves start). Stops
    early, with the points so far, when ``cancelled()``."""
    report = (progress or (lambda _f, _t: None))
    full = accuracy(project.graph, state, data)
    base = analyze(project.graph)
    points = [CurvePoint(1.0, base.macs, base.total_params, 1.0, full,
                         full if finetune_epochs else None)]
    for i, target in enumerate(targets):
        if cancelled is not None and cancelled():
            break
        report(i / len(targets), f"pruning to {target:.0%} of the MACs")
        pruned = prune_project(project, state, target, data, importance=importance)
        tuned = None
        if finetune_epochs:
            report((i + 0.5) / len(targets), f"fine-tuning the {target:.0%} network")
            scratch = _scratch(project, pruned)
            tuned = finetune(scratch, None, finetune_epochs, data=data, cache_dir=cache_dir,
                             base_dir=base_dir, cancelled=cancelled)
        points.append(CurvePoint(target, pruned.macs_after, pruned.params_after,
                                 pruned.macs_kept, accuracy(pruned.graph, pruned.state, data),
                                 tuned))
    report(1.0, "done")
    return points


def _scratch(project: Any, pruned: Pruned) -> Any:
    """A project of the pruned network alone, with its weights and the project's settings."""
    from ...project import Project
    from .. import checkpoint

    return Project(name=project.name, graph=pruned.graph,
                   dataset=copy.deepcopy(project.dataset),
                   training=copy.deepcopy(project.training),
                   weights={MEMBER: checkpoint.to_bytes(pruned.state)}, current_weights=MEMBER)
