"""What the window's views (feature maps, Grad-CAM, evaluation, predictions) need from a
project: its model with trained weights, its dataset's images both as stored (to show) and
normalised (to feed), and a user's image file made into the model's input."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...graph import analyze
from .. import checkpoint as ckpt
from ..build import GraphBuildError, to_module
from ..data.errors import DatasetError
from ..data.geometry import STRAIGHT
from ..data.imagefiles import decode
from ..data.load import Data, load_data


class InferenceError(ValueError):
    """A model or an image that cannot be used as asked; the message says why."""


def model_from_state(graph: Any, state: Mapping[str, torch.Tensor] | None,
                     device: str | torch.device = "cpu") -> nn.Module:
    """The graph's module in evaluation mode with ``state`` loaded (None: fresh weights)."""
    report = analyze(graph)
    if not report.ok:
        raise InferenceError(f"{GraphBuildError(report.errors)}; fix them first")
    model = to_module(graph)
    if state is not None:
        try:
            model.load_state_dict(dict(state), strict=True)
        except RuntimeError as exc:
            lines = str(exc).strip().splitlines()
            why = lines[1].strip() if len(lines) > 1 else lines[0]
            raise InferenceError("the weights do not fit this graph (it changed since they "
                                 f"were trained): {why}") from None
    return model.to(device).eval()


def project_model(project: Any, weights: str | None = None,
                  device: str | torch.device = "cpu") -> nn.Module:
    """The project's model with its weights ``weights`` (a key of ``project.weights``;
    default: the current ones; fresh weights when it has none)."""
    key = weights or project.current_weights
    state = None
    if key is not None:
        if key not in project.weights:
            raise InferenceError(f"the project has no weights named {key!r}")
        state = ckpt.from_bytes(project.weights[key])
    return model_from_state(project.graph, state, device)


def project_data(project: Any, *, base_dir: str | Path | None = None,
                 cache_dir: str | Path | None = None,
                 device: str | torch.device = "cpu") -> Data:
    """The project's dataset, split as training splits it, without downloading (a set that
    is not cached yet is an error saying so)."""
    report = analyze(project.graph)
    if report.input_shape is None:
        raise InferenceError("the graph has no Input")
    cfg = copy.deepcopy(project.dataset)
    cfg.download = False
    if cfg.path and base_dir is not None and not Path(cfg.path).expanduser().is_absolute():
        cfg.path = str(Path(base_dir) / cfg.path)
    try:
        return load_data(cfg, report.input_shape, device, cache_dir=cache_dir)
    except DatasetError as exc:
        raise InferenceError(str(exc)) from None


def read_image(path: str | Path, data: Data) -> torch.Tensor:
    """An image file as the dataset stores its images: uint8 ``[C, H, W]`` at its size,
    resized and centre-cropped with the dataset's settings (as in training)."""
    try:
        array = decode(str(path), tuple(data.image_shape), getattr(data, "sizing", STRAIGHT))
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets one clear message
        raise InferenceError(f"cannot read {Path(path).name} as an image: {exc}") from None
    return torch.from_numpy(array).contiguous()


def to_input(images: torch.Tensor, data: Data) -> torch.Tensor:
    """uint8 images ``[B, C, H, W]`` (or one ``[C, H, W]``) → the model's normalised input."""
    if images.dim() == 3:
        images = images[None]
    split = data.val or data.train
    return split.normalize(images.to(split.device))


def split_images(data: Data, split: str = "val", indices: Sequence[int] | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images ``[N, C, H, W]`` (CPU) and labels of a split (``val`` falls back to
    ``train`` when there is no validation split)."""
    chosen = data.splits.get(split) or data.val or data.train
    idx = torch.arange(len(chosen)) if indices is None else torch.as_tensor(list(indices))
    return chosen.images(idx).cpu(), chosen.labels[idx.to(chosen.labels.device)].cpu()


def class_names(outputs: int, data_classes: Sequence[str] | None = None,
                names: Sequence[str] = ()) -> list[str]:
    """The names of a head's ``outputs`` classes, for every view that names them: the
    dataset's (``data_classes``) when there is data with as many classes, else the project's
    own (``names``, ``DatasetConfig.class_names``: ImageNet's for a kept pretrained head) when
    they fit, else whichever there is; an output past the chosen names is named by its index."""
    data_classes = list(data_classes or ())
    fitting = [c for c in (data_classes, list(names)) if len(c) == outputs]
    chosen = fitting[0] if fitting else data_classes or list(names)
    return [str(c) for c in chosen[:outputs]] + [str(i) for i in range(len(chosen), outputs)]


@torch.no_grad()
def top_k(model: nn.Module, x: torch.Tensor, classes: Sequence[str] | None, k: int = 5,
          names: Sequence[str] = ()) -> list[tuple[str, float]]:
    """The ``k`` most probable classes for one input ``[1, ...]``, with their probabilities,
    named by ``class_names`` from the data's ``classes`` and the project's ``names``."""
    out = model(x)
    if isinstance(out, tuple):
        out = out[0]
    probs = out.float().softmax(dim=1)[0].cpu()
    labels = class_names(probs.numel(), classes, names)
    values, idx = probs.topk(min(k, probs.numel()))
    return [(labels[i], float(v)) for v, i in zip(values.tolist(), idx.tolist())]
