"""torchvision models, the user's own ``nn.Module`` classes and Python files as editable graphs.

The public entry points of the model import; the work is done in ``import_fx`` (tracing a
module with torch.fx), ``import_python`` (running a user's file) and, for ONNX files,
``import_onnx.from_onnx``. Every failure a user can cause is one ModelImportError whose
one-line message says what to change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from ...graph import init, presets
from .. import pretrained
from ..pretrained import Progress, WeightsInfo
from . import python as import_python
from .common import Imported, ModelImportError, one_line
from .fx.trace import import_module

__all__ = [
    "Imported", "ModelImportError", "from_module", "from_python_file", "from_torchvision",
    "torchvision_names",
]

# torchvision families whose models use operations no layer stands for (found by the full
# sweep in tests/engine/importers/test_import.py): ConvNeXt (LayerNorm over permuted axes,
# layer scale parameters), Swin, ViT and MaxViT (attention, windows, class tokens).
_UNSUPPORTED_FAMILIES = ("swin", "vit", "maxvit")

# Input sizes other than 224×224 that a model is made for.
_DEFAULT_INPUT = {"inception_v3": (3, 299, 299)}


def _all_torchvision() -> list[str]:
    import torchvision

    return torchvision.models.list_models(module=torchvision.models)


def torchvision_names() -> list[str]:
    """The torchvision classification models that import as graphs."""
    return [n for n in _all_torchvision() if not n.startswith(_UNSUPPORTED_FAMILIES)]


def from_module(module: nn.Module, input_shape: Sequence[int], *,
                source: str = "") -> Imported:
    """Import ``module`` by tracing it with torch.fx for inputs of ``input_shape`` ([C, H, W]).

    The module is traced in evaluation mode; GoogLeNet-style auxiliary heads that only
    training mode returns become training-only Output nodes. The module itself is left as it
    was (its weights are copied, its train/eval flags restored)."""
    return import_module(module, input_shape, source)


def from_torchvision(name: str, *, num_classes: int | None = None,
                     input_shape: Sequence[int] | None = None,
                     weights: str | WeightsInfo | None = None, progress: Progress | None = None,
                     cancelled: Callable[[], bool] | None = None) -> Imported:
    """torchvision's classification model ``name``: with random weights when ``weights`` is
    None (nothing is downloaded), else with its pretrained ``weights`` (``DEFAULT``, a version
    such as ``IMAGENET1K_V1``, or one ``pretrained.available`` gave), fetched into torch's hub
    cache when missing; a head for other ``num_classes`` is fresh. ``input_shape`` defaults to
    the weights' crop size, else the size the model is made for."""
    import torchvision

    available = _all_torchvision()
    if name not in available:
        import difflib

        close = difflib.get_close_matches(name, available, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ModelImportError(f"torchvision has no classification model {name!r}{hint}")
    kwargs: dict[str, Any] = {"weights": None}
    if num_classes is not None:
        if int(num_classes) < 1:
            raise ModelImportError(f"num_classes must be at least 1, not {num_classes}")
        kwargs["num_classes"] = int(num_classes)
    if name in ("googlenet", "inception_v3"):
        kwargs["init_weights"] = True  # torchvision's own init; also silences its warning
    info = weights if isinstance(weights, WeightsInfo) or weights is None \
        else pretrained.resolve(name, weights)
    state = None
    if info is not None:
        pretrained.fetch(info, progress, cancelled)
        state = pretrained.load_state(info)
        kwargs.update(pretrained.implied_options(name))  # as torchvision's builder does
    try:
        model = torchvision.models.get_model(name, **kwargs)
    except Exception as exc:
        raise ModelImportError(f"torchvision {name} cannot be built: {one_line(exc)}") from None
    notes = []
    if info is not None and state is not None:
        fresh = pretrained.load_into(model, state, info.file_name)
        notes.append(f"pretrained weights {info.full_name}"
                     + (f"; new head ({', '.join(fresh)})" if fresh else ""))
    if input_shape is None:
        input_shape = (3, info.crop, info.crop) if info is not None \
            else _DEFAULT_INPUT.get(name, (3, 224, 224))
    imported = import_module(model, input_shape, f"torchvision {name}",
                             {"torchvision": True, "model": name,
                              **({"weights": info.full_name} if info is not None else {})})
    imported.notes.extend(notes)
    family = _family(name)
    if family is not None:  # retraining it starts as torchvision's builder would
        imported.graph.metadata[init.KEY] = {"scheme": "torchvision", "family": family}
    return imported


def _family(name: str) -> str | None:
    """The torchvision family whose builder's initialisation model ``name`` uses, where the
    ``torchvision`` scheme knows it (the presets of the same name tell)."""
    try:
        preset = presets.get(name)
    except presets.PresetError:
        return None
    return preset.family if preset.torchvision else None


def from_python_file(path: str | Path, name: str | None,
                     input_shape: Sequence[int]) -> Imported:
    """Import a model defined in a Python file. THIS RUNS THE FILE'S CODE: the caller warns
    the user first. ``name`` is a class (built with no arguments) or a function returning a
    module; None picks ``build_model()``, else the one nn.Module subclass the file defines."""
    path = Path(path)
    model, used, module_name = import_python.build(path, name)
    try:
        return import_module(model, input_shape, f"{path.name}: {used}",
                             {"file": path.name, "name": used})
    finally:
        import_python.drop(module_name)
