"""The int8 simulation of quantisation-aware fine-tuning: rounding in the forward pass,
gradients straight through it, and the float weights back under their own names after."""

from __future__ import annotations

import torch

from cnnstudio.engine import to_module
from cnnstudio.engine.compress.aware import simulate_int8
from cnnstudio.graph import presets


def test_simulation_rounds_and_is_removed_cleanly() -> None:
    model = to_module(presets.build("simple_cnn", channels=(4, 8), hidden=16), seed=1).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(4, 1, 28, 28)
    float_out = model(x)
    remove = simulate_int8(model)
    conv = model.get_submodule("block1.conv")
    w = conv.weight  # the parametrised weight: int8 steps of each channel's scale
    steps = w / (w.abs().flatten(1).amax(1) / 127).view(-1, 1, 1, 1)
    assert torch.allclose(steps, steps.round(), atol=1e-3)
    int8_out = model(x)
    assert not torch.equal(int8_out, float_out)
    assert torch.allclose(int8_out, float_out, atol=0.1 * float_out.abs().max().item())
    int8_out.sum().backward()  # the rounding passes gradients straight through
    grad = conv.parametrizations.weight.original.grad
    assert grad is not None and grad.abs().sum() > 0
    remove()
    assert model.state_dict().keys() == before.keys()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
    assert torch.equal(model(x), float_out)
