"""``to_module`` of the RegNet and MnasNet presets draws what torchvision's builders draw:
convolutions N(0, 2/fan_out), BatchNorm γ=1 β=0, and each family's own classifier init."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision

from cnnstudio.engine.build import to_module
from cnnstudio.graph import presets


def _tensors(model: torch.nn.Module) -> dict[str, tuple[str, torch.Tensor]]:
    return {f"{name}.{p}": (type(m).__name__, getattr(m, p).detach())
            for name, m in model.named_modules()
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d))
            for p in ("weight", "bias") if getattr(m, p, None) is not None}


def _same_draws(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    """Constants equal, drawn tensors the same spread (a few biases: the same bound)."""
    a, b = _tensors(ours), _tensors(theirs)
    assert a.keys() == b.keys()
    for key, (kind, tensor) in a.items():
        other = b[key][1]
        if kind == "BatchNorm2d" or torch.count_nonzero(other) == 0:
            assert torch.equal(tensor, other), key
        elif tensor.numel() > 100:  # e.g. a 16-channel depthwise 3×3: 144 draws
            rel = 0.08 if tensor.numel() > 2000 else 0.25
            assert tensor.std().item() == pytest.approx(other.std().item(), rel=rel), key
        else:  # a few biases drawn by torch's default: the same bound
            assert tensor.abs().max().item() <= other.abs().max().item() * 1.5, key


def test_regnet_y_draws_as_torchvisions_builder() -> None:
    ours = to_module(presets.build("regnet_y_400mf"), 0)
    torch.manual_seed(0)
    _same_draws(ours, torchvision.models.regnet_y_400mf())
    conv = ours.get_submodule("trunk_output.block3.block3-0.f.a.0")  # 1×1, 104 → 208
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / 208), rel=0.03)
    fc = ours.get_submodule("fc")
    assert fc.weight.std().item() == pytest.approx(0.01, rel=0.03)
    assert torch.count_nonzero(fc.bias) == 0
    se = ours.get_submodule("trunk_output.block1.block1-0.f.se.fc1")
    assert torch.count_nonzero(se.bias) > 0  # torchvision leaves the SE biases at torch's init


def test_mnasnet_draws_as_torchvisions_builder() -> None:
    ours = to_module(presets.build("mnasnet0_5"), 0)
    torch.manual_seed(0)
    _same_draws(ours, torchvision.models.mnasnet0_5())
    fc = ours.get_submodule("classifier.1")
    bound = math.sqrt(3 / fc.out_features)  # Kaiming uniform, fan_out, gain 1 ("sigmoid")
    assert fc.weight.abs().max().item() <= bound
    assert fc.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert torch.count_nonzero(fc.bias) == 0
    stem = ours.get_submodule("layers.0")
    assert stem.weight.std().item() == pytest.approx(math.sqrt(2 / (16 * 9)), rel=0.1)
