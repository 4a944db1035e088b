"""The one door to torch (DESIGN.md §1.2): graphs become modules, projects are trained, models
are inspected, exported and imported here. Imports no Qt.

This face names what the window and the command line use; each name is imported from its
module the first time it is asked for (PEP 562), so ``from cnnstudio import engine`` costs
nothing until a name is used. That keeps the window's start and ``cnnstudio summary``
free of torch, and lets each caller name ``engine.Session`` instead of a module path.
Inside ``engine/`` modules import from the module that defines a name, never from this face.
"""

from __future__ import annotations

import importlib
from typing import Any

_FACE: dict[str, str] = {
    # graphs become modules
    "to_module": "build", "GraphBuildError": "build", "GraphModule": "build",
    # data
    "DatasetError": "data.errors", "load_data": "data.load", "Pipeline": "data.augment.pipeline",
    "preview_grid": "data.preview", "preview_from_config": "data.preview",
    "default_cache_dir": "data.sources", "load_torchvision": "data.sources",
    "fixed_mean_std": "data.load", "describe_skipped": "data.imagefiles",
    # training
    "Session": "training.session", "DataProgress": "training.session",
    "DataReady": "training.session", "Saved": "training.session",
    "Started": "training.trainer", "BatchEnd": "training.trainer",
    "EpochEnd": "training.trainer", "CheckpointSaved": "training.trainer",
    "Finished": "training.trainer", "Failed": "training.trainer",
    "GradientSample": "training.gradflow",
    "TrainingError": "training.trainer", "pick_device": "training.trainer",
    "lr_range_test": "training.lrfinder",
    "setup_from_env": "training.distributed", "teardown": "training.distributed",
    # using a trained model
    "InferenceError": "inference.model", "model_from_state": "inference.model",
    "project_data": "inference.model", "read_image": "inference.model",
    "to_input": "inference.model", "top_k": "inference.model", "split_images": "inference.model",
    "class_names": "inference.model",
    "predict_split": "inference.predictions", "cell_indices": "inference.predictions",
    "confident_mistakes": "inference.predictions",
    # export, import, code
    "FORMATS": "export.exporter", "ExportError": "export.exporter",
    "export_model": "export.exporter",
    "model_to_export": "exchange", "project_state": "exchange", "imported_project": "exchange",
    "training_script": "codegen.train",
    "ModelImportError": "importers.common", "describe_import": "importers.common",
    "from_torchvision": "importers.modules",
    "from_python_file": "importers.modules", "torchvision_names": "importers.modules",
    "from_onnx": "importers.onnx.reader",
    "from_timm": "importers.timm_source", "timm_cnn_names": "importers.timm_source",
    # pretrained weights (``engine.pretrained.available(name)`` lists a model's versions)
    "pretrained_project": "exchange", "PretrainedError": "pretrained",
    "WeightsInfo": "pretrained",
}
"""Public name → the module (under ``engine``) that defines it."""

_MODULES: dict[str, str] = {"checkpoint": "checkpoint", "probe": "inference.probe",
                            "pretrained": "pretrained"}
"""Modules the views use as a whole (weights as bytes; the feature-map drawing helpers; the
catalogue, download and cache of pretrained weights)."""

__all__ = sorted([*_FACE, *_MODULES])


def module_of(name: str) -> str:
    """The full module name behind a public name (what ``engine_loader`` imports ahead)."""
    return f"{__name__}.{_FACE.get(name) or _MODULES[name]}"


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        value = importlib.import_module(module_of(name))
    elif name in _FACE:
        value = getattr(importlib.import_module(module_of(name)), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
