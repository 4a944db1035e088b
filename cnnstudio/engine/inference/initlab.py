"""The initialisation lab: the network built once per weight scheme (graph/init.py's), one batch
forward and backward, and per layer through depth the mean and spread of the activations and of
the gradients that reach them, with a histogram of the activations (Glorot & Bengio, 2010).

The lab shows why initialisation matters: zeros make every unit of a layer compute the same
thing (symmetry), too small a σ shrinks the signal layer after layer until it vanishes, and the
fan-scaled schemes (Xavier for tanh, He for ReLU) keep its spread about constant with depth.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from ...graph import Graph, analyze, layers
from ...graph import init as inits
from ..build import to_module
from .model import InferenceError, project_data

LAB_SCHEMES = ("zeros", "normal", "xavier_normal", "kaiming_normal", "lecun_normal",
               "orthogonal")
"""The schemes the lab compares (graph/init.py's names), each with its default parameters."""
BINS = 40
_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
            nn.FeatureAlphaDropout)


@dataclass(frozen=True)
class LayerStats:
    """One probed layer's output for one scheme. ``spread``: the standard deviation across the
    layer's units (channels, features) of each unit's mean output; 0 when every unit computes
    the same thing, the symmetry zero initialisation cannot break."""

    node_id: str
    type: str
    act_mean: float
    act_std: float
    grad_mean: float
    grad_std: float
    spread: float
    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class SchemeRun:
    init: dict[str, Any]
    label: str
    loss: float
    layers: tuple[LayerStats, ...]


@dataclass(frozen=True)
class LabInput:
    """The batch the lab feeds: ``labels`` None for random input; ``source`` says which."""

    x: torch.Tensor
    labels: torch.Tensor | None
    source: str


def lab_schemes(std: float = 0.01) -> list[dict[str, Any]]:
    """The compared schemes as checked scheme dicts, the normal one with σ = ``std``."""
    return [inits.check({"scheme": name, "std": std} if name == "normal" else name)
            for name in LAB_SCHEMES]


def label(init: Mapping[str, Any]) -> str:
    """A short legend name: the scheme's label, with σ for the normal scheme."""
    text = inits.SCHEMES[init["scheme"]].label
    return f"{text} σ={inits.values(init)['std']:g}" if init["scheme"] == "normal" else text


def probe_nodes(graph: Graph) -> list[str]:
    """The layers the lab follows through depth, in topological order: every activation layer
    (what the next layer receives), then the layer giving the main output (the scores); the
    weighted layers when the network has no activation layer. Auxiliary (training-only)
    branches are left out."""
    report = analyze(graph)
    main = [n for n, r in report.nodes.items() if not r.training_only and r.type != "Output"]
    picked = [n for n in main if layers.get(report.nodes[n].type).category == "Activation"]
    if not picked:
        picked = [n for n in main if report.nodes[n].type in inits.WEIGHTED]
    outputs = [o for o in report.output_ids if not report.nodes[o].training_only]
    last = outputs[0] if outputs else None
    while last is not None and report.nodes[last].type == "Output":  # the value it passes on
        sources = report.nodes[last].sources
        last = sources[0] if sources else None
    if last is not None and last not in picked and report.nodes[last].type != "Input":
        picked.append(last)
    return picked


def lab_input(graph: Graph, dataset: Any, *, base_dir: str | Path | None = None,
              batch_size: int = 16, seed: int = 0) -> LabInput:
    """One training batch of the project's data (as training sees it, without augmentation),
    or standard normal noise of the input's shape when the data cannot be loaded here."""
    try:
        data = project_data(SimpleNamespace(graph=graph, dataset=dataset), base_dir=base_dir)
    except InferenceError as exc:
        shape = analyze(graph).input_shape
        if shape is None:
            raise
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn((batch_size, *shape), generator=generator)
        return LabInput(x, None, f"random normal input, {batch_size} samples (no data: {exc})")
    x, y = next(data.train.batches(batch_size, shuffle=True, seed=seed, epoch=0))
    return LabInput(x, y, f"one training batch of {data.name}, {len(x)} images")


def run_lab(graph: Graph, schemes: Sequence[Mapping[str, Any]], batch: LabInput, *,
            seed: int = 0, bins: int = BINS,
            progress: Callable[[float, str], None] | None = None,
            stop: Callable[[], bool] | None = None) -> list[SchemeRun]:
    """Each scheme's run, in order; ``stop`` is asked between schemes (True: return those
    done so far)."""
    nodes = probe_nodes(graph)
    runs: list[SchemeRun] = []
    for i, init in enumerate(schemes):
        if stop is not None and stop():
            break
        if progress is not None:
            progress(i / len(schemes), f"{label(init)}…")
        runs.append(run_scheme(graph, init, batch, nodes, seed=seed, bins=bins))
    return runs


def run_scheme(graph: Graph, init: Mapping[str, Any], batch: LabInput, nodes: Sequence[str],
               *, seed: int = 0, bins: int = BINS) -> SchemeRun:
    """``graph`` built with ``init`` for every layer (node overrides dropped), in training mode
    (BatchNorm normalises with the batch's statistics, as the first step of training does) with
    dropout off, one forward and backward pass of the cross-entropy loss."""
    checked = inits.check(dict(init))
    model = _built(graph, checked, seed)
    acts: dict[str, tuple[float, float, float, tuple[float, ...], tuple[int, ...]]] = {}
    grads: dict[str, tuple[float, float]] = {}

    def watch(nid: str) -> Any:
        def hook(_module: nn.Module, _ins: Any, out: Any) -> None:
            value = out[0] if isinstance(out, tuple) else out
            acts[nid] = _describe(value.detach(), bins)
            if value.requires_grad:
                value.register_hook(lambda g: grads.__setitem__(nid, _mean_std(g)))
        return hook

    handles = [model.get_submodule(nid).register_forward_hook(watch(nid)) for nid in nodes]
    try:
        x = batch.x.detach().clone().requires_grad_(True)  # a backward pass with no weights
        out = model(x)
        scores = out[_main_index(graph)] if isinstance(out, tuple) else out
        loss = _loss(scores, batch.labels, seed)
        loss.backward()
    finally:
        for handle in handles:
            handle.remove()
    stats = []
    for nid in nodes:
        if nid not in acts:
            continue
        mean, std, spread, edges, counts = acts[nid]
        g_mean, g_std = grads.get(nid, (0.0, 0.0))
        stats.append(LayerStats(nid, graph.nodes[nid].type, mean, std, g_mean, g_std, spread,
                                edges, counts))
    return SchemeRun(checked, label(checked), float(loss.detach()), tuple(stats))


def _built(graph: Graph, init: dict[str, Any], seed: int) -> nn.Module:
    copy = graph.copy()
    for node in copy:
        copy.set_node_init(node.id, None)
    copy.set_init(init)
    model = to_module(copy, seed=seed)
    model.requires_grad_(True)  # frozen layers still pass their gradients on
    model.train()
    for module in model.modules():
        if isinstance(module, _DROPOUT):
            module.eval()
    return model


def _main_index(graph: Graph) -> int:
    """Where the main output is among the outputs a training-mode forward returns."""
    report = analyze(graph)
    return next((i for i, o in enumerate(report.output_ids)
                 if not graph.nodes[o].params.get("training_only")), 0)


def _loss(scores: torch.Tensor, labels: torch.Tensor | None, seed: int) -> torch.Tensor:
    """Cross-entropy against the batch's labels (random ones for random input or labels the
    scores do not cover); half the mean square for outputs that are no class scores."""
    if scores.dim() != 2 or scores.shape[1] < 2:
        return 0.5 * scores.pow(2).mean()
    k = scores.shape[1]
    if labels is None or labels.dim() != 1 or len(labels) != len(scores) \
            or int(labels.max()) >= k:
        generator = torch.Generator().manual_seed(seed)
        labels = torch.randint(0, k, (len(scores),), generator=generator)
    return nn.functional.cross_entropy(scores, labels.to(scores.device))


def _mean_std(value: torch.Tensor) -> tuple[float, float]:
    v = value.detach().float()
    if v.numel() < 2:
        return float(v.mean()) if v.numel() else 0.0, 0.0
    std, mean = torch.std_mean(v)
    return float(mean), float(std)


def _describe(value: torch.Tensor, bins: int
              ) -> tuple[float, float, float, tuple[float, ...], tuple[int, ...]]:
    """Mean, std, the spread across units (axis 1) and a histogram over [min, max]."""
    v = value.float()
    mean, std = _mean_std(v)
    if v.dim() >= 2 and v.shape[1] > 1:
        per_unit = v.transpose(0, 1).reshape(v.shape[1], -1).mean(dim=1)
        spread = float(per_unit.std())
    else:
        spread = 0.0
    finite = v[torch.isfinite(v)]  # an exploded layer's inf and nan are left out
    lo, hi = (float(finite.min()), float(finite.max())) if finite.numel() else (0.0, 0.0)
    if not hi > lo:  # one value everywhere (zeros): a bin around it
        lo, hi = lo - 0.5, hi + 0.5
    counts = torch.histc(finite, bins=bins, min=lo, max=hi)
    edges = torch.linspace(lo, hi, bins + 1)
    return mean, std, spread, tuple(float(e) for e in edges), tuple(int(c) for c in counts)
