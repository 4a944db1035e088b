"""What torchvision's ``_ops`` counts for ConvNeXt, which the analysis must count too (the
counts themselves are checked with every torchvision CNN, test_presets_catalogue.py)."""

from __future__ import annotations

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from cnnstudio.graph import analyze, presets


def test_macs_equal_torchs_flop_counter_on_torchvisions_model() -> None:
    """torchvision's _ops is torch's FLOP counter ÷ 2 (convolutions and matrix products;
    LayerNorm, GELU, the layer scale and the residual sums count nothing): the analysis counts
    the same, at any input size."""
    report = analyze(presets.build("convnext_tiny", input_shape=(3, 96, 64)))
    model = torchvision.models.convnext_tiny().eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 3, 96, 64))
    assert counter.get_total_flops() == 2 * report.macs
