"""Transfer learning as the seeds teach it: load pretrained weights into the layers whose names
and shapes match, freeze layers or blocks, give blocks their own learning rates."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...graph import Graph
from ...graph.edits import members_of
from ...graph.userfile import FileRefused, open_regular
from ...project.archive import MAX_TENSOR_BYTES


class WeightsError(ValueError):
    """A weights file that cannot be read or used; the message says why."""


@dataclass
class LoadReport:
    """What loading a weights file into the model did."""

    loaded: list[str] = field(default_factory=list)
    shape_mismatch: list[tuple[str, list[int], list[int]]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    @property
    def fresh(self) -> list[str]:
        """The model's tensors that kept their fresh initialisation."""
        return [k for k, _, _ in self.shape_mismatch] + self.missing

    def summary(self) -> str:
        """One line for people: "loaded 60 of 62 tensors; fresh: fc.weight, fc.bias"."""
        fresh = self.fresh
        parts = [f"loaded {len(self.loaded)} of {len(self.loaded) + len(fresh)} tensors"]
        if fresh:
            more = f", … ({len(fresh) - 4} more)" if len(fresh) > 4 else ""
            parts.append(f"fresh: {', '.join(fresh[:4])}{more}")
        if self.unexpected:
            n = len(self.unexpected)
            parts.append(f"{n} of the weights' tensors fit no layer" if n > 1 else
                         "1 of the weights' tensors fits no layer")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"loaded": len(self.loaded),
                "shape_mismatch": [list(x) for x in self.shape_mismatch],
                "missing": self.missing, "unexpected": self.unexpected,
                "summary": self.summary()}


def read_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file or of a ``.pth``/``.pt`` state_dict, read with
    ``weights_only=True`` so that a file cannot run code."""
    path = Path(path)
    if not os.path.exists(path):
        raise WeightsError(f"{path}: no such file")
    try:
        open_regular(path, MAX_TENSOR_BYTES, "weights file").close()
    except FileRefused as exc:
        raise WeightsError(f"{path}: {exc}") from None
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refusals and corrupt files alike
        raise WeightsError(
            f"{path}: not a plain state_dict that can be read safely ({type(exc).__name__}); "
            "save it with torch.save(model.state_dict(), ...) or as .safetensors") from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: holds a {type(obj).__name__}, not a state_dict")
    tensors = {k.removeprefix("module."): v for k, v in obj.items() if torch.is_tensor(v)}
    if not tensors:
        raise WeightsError(f"{path}: holds no tensors")
    return tensors


def load_matching(model: nn.Module, tensors: dict[str, torch.Tensor]) -> LoadReport:
    """Copy every tensor whose key and shape match the model's; report the rest."""
    report = LoadReport()
    own = model.state_dict()
    with torch.no_grad():
        for key, target in own.items():
            source = tensors.get(key)
            if source is None:
                report.missing.append(key)
            elif tuple(source.shape) != tuple(target.shape):
                report.shape_mismatch.append((key, list(source.shape), list(target.shape)))
            else:
                target.copy_(source.to(target.dtype))
                report.loaded.append(key)
    report.unexpected = [k for k in tensors if k not in own]
    return report


def resolve_ids(graph: Graph, ids: Iterable[str]) -> set[str]:
    """Node ids for ``ids``: node ids, block ids (their members), or id prefixes."""
    found: set[str] = set()
    for ident in ids:
        members = members_of(graph, ident)
        if not members:
            raise WeightsError(f"no node or block {ident!r} in the graph")
        found |= members
    return found


def node_of(param_name: str, node_ids: set[str]) -> str | None:
    """The node a parameter (``layer1.0.conv1.weight``) belongs to."""
    parts = param_name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        candidate = ".".join(parts[:cut])
        if candidate in node_ids:
            return candidate
    return None


def set_trainable(model: nn.Module, graph: Graph, ids: Iterable[str], trainable: bool) -> int:
    """(Un)freeze the parameters of the nodes ``ids`` name; returns how many tensors."""
    nodes = resolve_ids(graph, ids)
    all_ids = set(graph.nodes)
    count = 0
    for name, param in model.named_parameters():
        if node_of(name, all_ids) in nodes:
            param.requires_grad_(trainable)
            count += 1
    return count


def train_mode(model: nn.Module) -> None:
    """Training mode, except for frozen normalisation layers: a BatchNorm whose parameters do
    not train keeps its running statistics too (in eval mode), so a frozen layer is frozen."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._NormBase):
            own = list(module.parameters(recurse=False))
            if own and not any(p.requires_grad for p in own):
                module.eval()


def param_groups(model: nn.Module, graph: Graph, base_lr: float,
                 multipliers: dict[str, float]) -> list[dict[str, Any]]:
    """Parameter groups, one per learning-rate multiplier (the most specific id wins)."""
    all_ids = set(graph.nodes)
    scale: dict[str, float] = {}
    # Broad ids first, so that a node's own multiplier overrides its block's.
    for ident, mult in sorted(multipliers.items(), key=lambda kv: kv[0].count(".")):
        for nid in resolve_ids(graph, [ident]):
            scale[nid] = mult
    groups: dict[float, list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        mult = scale.get(node_of(name, all_ids) or "", 1.0)
        groups.setdefault(mult, []).append(param)
    return [{"params": params, "lr": base_lr * mult, "lr_mult": mult}
            for mult, params in sorted(groups.items())]
