"""Training's GPU paths, on a CUDA GPU only (``pytest -m cuda``; they skip without one, and
benchmarks/gpu_check.py runs them): the device-resident data gives the GPU the very batches the
CPU gets, and mixed precision learns, in bf16 and in fp16 with its gradient scaler."""

from __future__ import annotations

import math

import pytest
import torch

from cnnstudio.engine.data.load import load_data
from cnnstudio.engine.training.trainer import CheckpointSaved, EpochEnd, Finished, Trainer
from cnnstudio.graph import load_graph
from cnnstudio.project import DatasetConfig

from .test_trainer import config

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(),
                                 reason="the GPU paths need a CUDA GPU; none is present")]

DIGITS = DatasetConfig(source="digits", val_fraction=0.2)  # bundled with scikit-learn


def digits_graph():
    """8×8 grey digits → 10 classes, with batch norm (which autocast keeps in fp32)."""
    nodes = [
        {"id": "input", "type": "Input", "params": {"shape": [1, 8, 8]}},
        {"id": "features.conv", "type": "Conv2d",
         "params": {"out_channels": 16, "kernel_size": 3, "padding": 1}},
        {"id": "features.bn", "type": "BatchNorm2d"},
        {"id": "features.relu", "type": "ReLU"},
        {"id": "flatten", "type": "Flatten"},
        {"id": "fc", "type": "Linear", "params": {"out_features": 10}},
    ]
    return load_graph({"format": "cnnstudio.graph", "version": 1, "nodes": nodes})


@pytest.fixture(scope="module")
def digits():
    return load_data(DIGITS, (1, 8, 8), "cuda")


def amp_config():
    return config(epochs=5, device="cuda", amp=True, channels_last=True,
                  optimizer={"name": "adam", "lr": 0.01})


def trained(trainer: Trainer) -> tuple[list, list]:
    events = list(trainer.run())
    assert isinstance(events[-1], Finished), events[-1]
    records = [e.record for e in events if isinstance(e, EpochEnd)]
    assert len(records) == 5
    assert all(math.isfinite(r.train_loss) and math.isfinite(r.val_loss) for r in records)
    assert records[-1].train_loss < records[0].train_loss
    assert records[-1].val_acc > 0.8
    return events, records


def test_the_device_resident_data_batches_on_the_gpu_as_on_the_cpu(digits) -> None:
    assert digits.storage == "device"
    assert digits.train.labels.is_cuda
    on_cpu = load_data(DIGITS, (1, 8, 8), "cpu")
    assert digits.mean == on_cpu.mean and digits.std == on_cpu.std
    gpu = list(digits.train.batches(64, shuffle=True, seed=3, epoch=1, augment=True))
    cpu = list(on_cpu.train.batches(64, shuffle=True, seed=3, epoch=1, augment=True))
    assert len(gpu) == len(cpu) == digits.train.num_batches(64)
    for (xg, yg), (xc, yc) in zip(gpu, cpu):
        assert xg.is_cuda and yg.is_cuda and xg.dtype == torch.float32
        torch.testing.assert_close(xg.cpu(), xc, rtol=1e-6, atol=1e-6)
        assert torch.equal(yg.cpu(), yc)


def test_mixed_precision_learns_in_bf16_where_the_gpu_has_it(digits) -> None:
    trainer = Trainer(digits_graph(), amp_config(), digits)
    trained(trainer)
    bf16 = torch.cuda.is_bf16_supported()
    assert trainer.amp_dtype == (torch.bfloat16 if bf16 else torch.float16)
    assert (trainer.scaler is None) == bf16  # bf16 has fp32's range: nothing to scale
    weight = trainer.model.get_submodule("features.conv").weight
    assert weight.is_cuda and weight.dtype == torch.float32  # autocast keeps fp32 masters
    assert weight.is_contiguous(memory_format=torch.channels_last)


def test_fp16_mixed_precision_scales_its_gradients_and_saves_the_scaler(
        digits, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    trainer = Trainer(digits_graph(), amp_config(), digits)
    events, _ = trained(trainer)
    assert trainer.amp_dtype == torch.float16
    assert isinstance(trainer.scaler, torch.amp.GradScaler)
    assert trainer.scaler.get_scale() > 0
    saved = [e for e in events if isinstance(e, CheckpointSaved)][-1]
    assert saved.checkpoint.state["scaler"]["scale"] == trainer.scaler.get_scale()
