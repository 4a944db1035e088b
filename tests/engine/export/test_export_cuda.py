"""Exporting a model that lives on a CUDA GPU in channels-last memory, as training leaves it
(``pytest -m cuda``; skips without a GPU): the files verify, and the user's model stays where
and as it was."""

from __future__ import annotations

import pytest
import torch

from cnnstudio.engine import to_module
from cnnstudio.engine.export.exporter import FORMATS, export_model
from cnnstudio.graph import presets

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(),
                                 reason="exporting from the GPU needs a CUDA GPU; none is present")]

SHAPE = (3, 32, 32)


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_a_channels_last_model_on_the_gpu_exports_and_verifies(fmt, tmp_path) -> None:
    graph = presets.build("resnet18", num_classes=10, input_shape=SHAPE)
    model = to_module(graph, seed=0).to("cuda", memory_format=torch.channels_last).train()
    result = export_model(model, SHAPE, fmt, tmp_path / f"resnet18{FORMATS[fmt].suffix}")
    assert result.paths[0].is_file() and result.batches == (1, 3)  # verified, batch size free
    weight = model.get_submodule("conv1").weight
    assert weight.is_cuda and weight.is_contiguous(memory_format=torch.channels_last)
    assert model.training
