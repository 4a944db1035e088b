"""The draws of graph/init.py's schemes, made on a built module's tensors.

These functions use torch, ``math`` and ``Draw`` only, and read a draw as the plain
``(tensor, kind, scale, fan)`` tuple it is, so the code generator copies them verbatim into the
exported model (engine/codegen/model.py, where ``Draw`` is that tuple type): the model it writes
draws the weights ``to_module`` draws from the same seed, with one source for both.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ...graph.init import Draw


def initialise(modules: dict[str, nn.Module], plan: dict[str, list[Draw]], seed: int) -> None:
    """Redraw the tensors ``plan`` names (graph/init.py) from a generator seeded with
    ``seed``, node by node in the plan's order, so the same seed gives the same weights. An
    empty plan (every node on torch's default) touches nothing and draws nothing."""
    if not plan:
        return
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for nid, node_draws in plan.items():
            module = modules.get(nid)
            for name, kind, scale, fan in node_draws:
                tensor = getattr(module, name, None)
                if isinstance(tensor, torch.Tensor):
                    fill(tensor, kind, scale, fan, generator)


def fill(tensor: torch.Tensor, kind: str, scale: float, fan: str,
         generator: torch.Generator) -> None:
    """One draw into ``tensor`` (the fields of graph.init.Draw: what ``kind`` and ``fan``
    mean)."""
    if kind == "constant":
        tensor.fill_(scale)
    elif kind == "normal":
        tensor.normal_(0.0, scale, generator=generator)
    elif kind == "uniform":
        tensor.uniform_(-scale, scale, generator=generator)
    elif kind == "trunc_normal":
        nn.init.trunc_normal_(tensor, 0.0, scale, -2.0, 2.0, generator=generator)
    elif kind == "orthogonal":
        nn.init.orthogonal_(tensor, scale, generator=generator)
    elif kind == "normal_fan":
        tensor.normal_(0.0, scale / math.sqrt(fan_size(tensor, fan)), generator=generator)
    elif kind == "uniform_fan":
        bound = scale / math.sqrt(fan_size(tensor, fan))
        tensor.uniform_(-bound, bound, generator=generator)
    else:
        raise ValueError(f"unknown initialisation draw {kind!r}")


def fan_size(tensor: torch.Tensor, mode: str) -> float:
    """fan_in, fan_out or their mean, counted as torch.nn.init counts them."""
    if tensor.dim() < 2:
        raise ValueError(f"fan-scaled initialisation needs a weight of 2 or more dimensions, "
                         f"not {tuple(tensor.shape)}")
    receptive = math.prod(tensor.shape[2:])
    fan_in, fan_out = tensor.shape[1] * receptive, tensor.shape[0] * receptive
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
