"""The ConvNeXt presets at their default input against torchvision's weights metadata: the
parameter count exactly, and the MACs against ``_ops`` (torchvision's GFLOPS, counted as
multiply-accumulates of the convolutions and Linear layers)."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from cnnstudio.graph import analyze, presets

NAMES = ["convnext_tiny", "convnext_small", "convnext_base", "convnext_large"]


@pytest.mark.parametrize("name", NAMES)
def test_params_and_macs_match_torchvisions_metadata(name: str) -> None:
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    report = analyze(presets.build(name))
    assert report.ok, report.errors
    assert report.input_shape == (3, 224, 224)
    assert report.total_params == meta["num_params"]
    assert round(report.macs / 1e9, 3) == meta["_ops"]


def test_macs_equal_torchs_flop_counter_on_torchvisions_model() -> None:
    """torchvision's _ops is torch's FLOP counter ÷ 2 (convolutions and matrix products;
    LayerNorm, GELU, the layer scale and the residual sums count nothing): the analysis counts
    the same, at any input size."""
    report = analyze(presets.build("convnext_tiny", input_shape=(3, 96, 64)))
    model = torchvision.models.convnext_tiny().eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 3, 96, 64))
    assert counter.get_total_flops() == 2 * report.macs
