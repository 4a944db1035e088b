"""Training state ↔ (JSON, safetensors bytes): the only forms a project stores, so resuming a
run never unpickles anything."""

from __future__ import annotations

from typing import Any

import torch
from safetensors.torch import load as _load
from safetensors.torch import save as _save


def to_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    """safetensors bytes of ``tensors`` (moved to the CPU, made contiguous)."""
    return _save({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()})


def from_bytes(data: bytes) -> dict[str, torch.Tensor]:
    return _load(data)


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Any],
                                                                dict[str, torch.Tensor]]:
    """Split the optimizer's state into JSON and tensors (keys ``optimizer.<i>.<name>``)."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    state: dict[str, Any] = {}
    for idx, entry in sd["state"].items():
        kept: dict[str, Any] = {}
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{idx}.{key}"] = value
                kept[key] = {"tensor": True}
            else:
                kept[key] = value
        state[str(idx)] = kept
    groups = []
    for i, group in enumerate(sd["param_groups"]):  # timm's LAMB counts its steps in a tensor
        kept = {}
        for key, value in group.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.groups.{i}.{key}"] = value
                kept[key] = {"tensor": True}
            else:
                kept[key] = list(value) if isinstance(value, tuple) else value
        groups.append(kept)
    return {"state": state, "param_groups": groups}, tensors


def load_optimizer_state(optimizer: torch.optim.Optimizer, meta: dict[str, Any],
                         tensors: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for idx, entry in meta["state"].items():
        state[int(idx)] = {
            key: tensors[f"optimizer.{idx}.{key}"]
            if isinstance(value, dict) and value.get("tensor") else value
            for key, value in entry.items()
        }
    groups = []
    for i, group in enumerate(meta["param_groups"]):
        kept = {}
        for key, value in group.items():
            if isinstance(value, dict) and value.get("tensor"):
                kept[key] = tensors[f"optimizer.groups.{i}.{key}"]
            else:
                kept[key] = tuple(value) if key == "betas" else value
        groups.append(kept)
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def rng_state() -> dict[str, torch.Tensor]:
    tensors = {"rng.cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    return tensors


def load_rng_state(tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["rng.cpu"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        states = [tensors[k] for k in cuda][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(states)
