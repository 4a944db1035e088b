"""Faults during training, below the window: out of memory in whatever words the device uses
is an 'oom' failure with a smaller batch to try, and images read batch by batch that vanish
mid-run end the run as a 'data' failure with the dataset's own message (not a DataLoader
traceback), the weights of the last checkpoint kept in the saved project."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from cnnstudio.engine.training.trainer import Failed, Trainer
from cnnstudio.project import load_project, save_project

from .fakes import TensorData
from .test_trainer import config, run_all, small_graph

EXAMPLE = Path(__file__).resolve().parents[3] / "projects" / "lenet5-digits.cnnproj"

OOM = {
    "cuda": lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    "mps": lambda: RuntimeError("MPS backend out of memory (MPS allocated: 8.00 GB)"),
    "cpu": lambda: RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: "
                                "not enough memory: you tried to allocate 1073741824 bytes."),
    "python": lambda: MemoryError(),
}


@pytest.mark.parametrize("device", sorted(OOM))
def test_out_of_memory_in_any_words_is_an_oom_failure(monkeypatch: pytest.MonkeyPatch,
                                                        device: str) -> None:
    """CUDA, Apple's MPS, torch's CPU allocator and Python each say it differently; each is
    the 'oom' failure whose advice is a smaller batch."""
    trainer = Trainer(small_graph(), config(batch_size=64), TensorData())
    original = Trainer._setup

    def setup(self: Trainer) -> None:
        original(self)

        def boom(*args: Any, **kwargs: Any) -> Any:
            raise OOM[device]()

        monkeypatch.setattr(self.model, "forward", boom)

    monkeypatch.setattr(Trainer, "_setup", setup)
    failed = run_all(trainer)[-1]
    assert isinstance(failed, Failed) and failed.kind == "oom"
    assert failed.suggested_batch_size == 32 and "out of memory with batch size 64" in \
        failed.message


def test_images_read_batch_by_batch_that_vanish_end_the_run_as_a_data_failure(
        tmp_path: Path) -> None:
    """A dataset too large for memory is decoded batch by batch in DataLoader workers; its
    folder deleted after the first checkpoint, the run fails as 'data' with a message naming
    the file, and the saved project keeps the run's epochs and weights up to that checkpoint.
    (A dataset that fits in memory is read whole at the start and is not affected.)"""
    import numpy as np
    from PIL import Image

    from cnnstudio.engine.data.load import load_data
    from cnnstudio.engine.training.session import Session
    from cnnstudio.graph import analyze

    images = tmp_path / "images"
    rng = np.random.default_rng(0)
    for name, level in (("dark", 60), ("light", 190)):
        (images / name).mkdir(parents=True)
        for i in range(16):
            pixels = rng.integers(level - 40, level + 40, (12, 12), dtype=np.uint8)
            Image.fromarray(pixels).save(images / name / f"{i}.png")
    project = load_project(EXAMPLE)
    project.dataset.source, project.dataset.path = "folder", str(images)
    project.training.epochs, project.training.batch_size = 3, 8
    data = load_data(project.dataset, analyze(project.graph).input_shape, memory_budget=1)
    assert data.storage == "files"
    path = tmp_path / "p.cnnproj"
    first: dict[str, bytes] = {}

    def save(p: Any, where: Path) -> None:
        save_project(p, where)
        if not first:
            first["weights"] = p.weights[p.current_weights]
            shutil.rmtree(images)

    events = list(Session(project, path, data=data, save=save).events())
    failed = [e for e in events if isinstance(e, Failed)]
    assert len(failed) == 1 and failed[0].kind == "data"
    message = failed[0].message
    assert message.startswith(str(images)) and "can no longer be read" in message
    assert "Traceback" not in message and "DataLoader" not in message
    saved = load_project(path)
    run = saved.runs[-1]
    assert run.status == "failed" and run.message == message
    assert [e.epoch for e in run.epochs] == [1]
    assert saved.weights[saved.current_weights] == first["weights"]
    assert saved.checkpoint is not None and saved.checkpoint.state["epoch"] == 1
