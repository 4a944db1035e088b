"""Projects and archives for the project-file tests (no torch: weights come from numpy)."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from typing import Any

import numpy as np
from safetensors.numpy import save as save_tensors

from cnnstudio.graph import presets
from cnnstudio.project import (
    Checkpoint,
    DatasetConfig,
    EpochRecord,
    Project,
    Run,
    TrainConfig,
    save_project,
)
from cnnstudio.project.model import graph_hash


def tensors(seed: int = 0, size: int = 6) -> bytes:
    rng = np.random.default_rng(seed)
    return save_tensors({
        "conv.weight": rng.standard_normal((2, size)).astype(np.float32),
        "conv.bias": np.zeros(2, dtype=np.float16),
        "steps": np.array([seed], dtype=np.int64),
        "empty": np.zeros((0, 3), dtype=np.uint8),
    }, metadata={"format": "pt"})


def sample_project() -> Project:
    """A project using every part of the format, with non-default values everywhere."""
    graph = presets.build("lenet5")
    graph.set_node_attrs("features.c1", frozen=True)
    dataset = DatasetConfig.from_dict({
        "source": "cifar10", "val_fraction": 0.15, "split_seed": 3, "limit": 500,
        "normalize": "imagenet", "mixup_alpha": 0.2,
        "augment": [{"name": "random_crop", "params": {"size": 32, "padding": 4}},
                    {"name": "horizontal_flip"}],
        "future_dataset_option": {"kept": True},
    }, "dataset")
    training = TrainConfig.from_dict({
        "epochs": 3, "batch_size": 32, "seed": 7, "amp": False, "grad_clip": 1.5,
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.8, "nesterov": True},
        "schedule": {"name": "multistep", "milestones": [2, 3], "gamma": 0.5},
        "loss": {"label_smoothing": 0.1, "class_weights": "balanced"},
        "transfer": {"lr_multipliers": {"classifier": 2.0},
                     "unfreeze": [{"epoch": 2, "nodes": ["features.c1"]}]},
        "future_training_option": [1, 2],
    }, "training")
    ghash = graph_hash(graph)

    def run(run_id: int, epochs: int, status: str) -> Run:
        return Run(
            id=run_id, started=f"2025-01-0{run_id}T10:00:00+00:00", graph_revision=1,
            graph_hash=ghash, seed=run_id * 10, training=training.to_dict(),
            dataset=dataset.to_dict(), status=status, device="cpu",
            finished=f"2025-01-0{run_id}T11:00:00+00:00" if status != "running" else None,
            epochs=[EpochRecord(e, train_loss=1.0 / e, train_acc=0.5 + e / 10, val_loss=1.1 / e,
                                val_acc=0.4 + e / 10, lr=0.05, seconds=1.25,
                                samples_per_s=1000.0 + e) for e in range(1, epochs + 1)],
            best_epoch=epochs,
            evaluation={"accuracy": 0.71, "confusion": [[5, 1], [2, 7]],
                        "per_class": {"cat": {"precision": 0.8}}},
            weights=f"weights/run-{run_id}-last.safetensors",
            best_weights=f"weights/run-{run_id}-best.safetensors",
            extra={"future_run_field": "kept"},
        )

    runs = [run(1, 3, "finished"), run(2, 2, "interrupted")]
    weights = {name: tensors(i) for i, name in enumerate(sorted(
        w for r in runs for w in (r.weights, r.best_weights)))}
    return Project(
        name="Cats and dogs", description="A test project — with UTF-8 ✓",
        graph=graph, dataset=dataset, training=training, runs=runs, weights=weights,
        current_weights="weights/run-1-best.safetensors",
        checkpoint=Checkpoint(2, {"epoch": 2, "step": 40, "rng": {"python": [1, 2, 3]}},
                              tensors(99)),
        graph_revision=1, created="2025-01-01T09:00:00+00:00",
        extra={"future_project_key": {"nested": [1, {"a": None}]}},
        extra_members={"notes/future.json": b'{"hello": "world"}\n',
                       "embeddings/extra.safetensors": tensors(5)},
    )


def saved_bytes(project: Project | None = None, tmp_path: Any = None) -> bytes:
    """The bytes save_project writes for ``project`` (sample_project by default)."""
    import tempfile
    from pathlib import Path

    project = project if project is not None else sample_project()
    if tmp_path is not None:
        path = Path(tmp_path) / "saved.cnnproj"
        save_project(project, path)
        return path.read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "saved.cnnproj"
        save_project(project, path)
        return path.read_bytes()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def make_zip(items: list[tuple[str, bytes]] | dict[str, bytes], *, deflate: bool = True,
             mode: int = 0o100644) -> bytes:
    """A zip of exactly these members (any names, duplicates included)."""
    pairs = list(items.items()) if isinstance(items, dict) else list(items)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in pairs:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            zf.writestr(info, data)
    return out.getvalue()


def rezip(data: bytes, replace: dict[str, bytes | None] | None = None,
          add: dict[str, bytes] | None = None) -> bytes:
    """``data`` with some members replaced (None: removed) or added."""
    items = members(data)
    for name, value in (replace or {}).items():
        if value is None:
            items.pop(name, None)
        else:
            items[name] = value
    items.update(add or {})
    return make_zip(items)


def edit_json(data: bytes, member: str, change: Any) -> bytes:
    """``data`` with ``change(doc)`` applied to the JSON member (or, where it returns a
    string, with that text as the member)."""
    doc = json.loads(members(data)[member])
    result = change(doc)
    text = result if isinstance(result, str) else json.dumps(doc)
    return rezip(data, {member: text.encode()})


def patch_central(data: bytes, index: int, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite a field of the index-th central directory entry (offset from its
    signature: 8 flags, 10 method, 20 compressed size, 24 size, 42 local header offset)."""
    pos = -1
    for _ in range(index + 1):
        pos = data.index(b"PK\x01\x02", pos + 1)
    out = bytearray(data)
    struct.pack_into(fmt, out, pos + offset, value)
    return bytes(out)


def safetensors_bytes(header: Any, body: bytes = b"", raw_header: bytes | None = None) -> bytes:
    head = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + body
