"""Looking inside a model for one probe image: the activations of any node, the first
convolution's filters, Grad-CAM heat maps and the receptive field of one unit.

Node ids are module paths of the built GraphModule (engine/build.py), so a node's output is
caught with a forward hook on ``model.get_submodule(node_id)``. Input and Output nodes have no
module: the Input's value is the input itself and an Output passes its source's value on, so
with the graph at hand they are resolved to the node whose value they carry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from math import ceil, floor, sqrt
from typing import Any

import numpy as np
import torch
from torch import nn

from ...graph import Graph, Report, analyze, layers
from ...graph.layers.spec import WHOLE
from ..build import Block
from ..data.errors import DatasetError
from ..data.geometry import Sizing
from ..data.load import fixed_mean_std
from .model import InferenceError, model_from_state, read_image, to_input

CONV_TYPES = frozenset({"Conv2d", "ConvTranspose2d"})
Region = tuple[int, int, int, int]  # top, left, bottom, right; bottom and right exclusive


# -- which node, which module ------------------------------------------------------------------
def _module_at(model: nn.Module, node_id: str) -> nn.Module | None:
    try:
        module = model.get_submodule(node_id)
    except AttributeError:
        return None
    return None if isinstance(module, Block) else module


def _carrier(model: nn.Module, graph: Graph | None, node_id: str) -> str | None:
    """The node whose module computes ``node_id``'s value (None: the model's input)."""
    nid = node_id
    inputs = graph.input_map() if graph is not None else {}
    while _module_at(model, nid) is None:
        if graph is None or nid not in graph.nodes:
            raise InferenceError(f"{node_id} is not a layer of this model")
        if graph.nodes[nid].type == "Input":
            return None
        sources = inputs.get(nid) or []
        if not sources:
            raise InferenceError(f"{node_id} has no input, so it has no value")
        nid = sources[0]
    return nid


def first_conv(graph: Graph | Report) -> str | None:
    """The first Conv2d in topological order."""
    report = graph if isinstance(graph, Report) else analyze(graph)
    return next((n for n, r in report.nodes.items() if r.type == "Conv2d"), None)


def cam_node(graph: Graph | Report) -> str | None:
    """The default Grad-CAM target: the last node after a convolution whose output is still a
    map larger than 1×1, pooling left out (the finer map before it says the same; VGG-16's is
    features.29, as in the Grad-CAM paper), auxiliary training-only branches left out."""
    report = graph if isinstance(graph, Report) else analyze(graph)
    after_conv: dict[str, bool] = {}
    best = None
    for nid, rep in report.nodes.items():
        seen = rep.type in CONV_TYPES or any(after_conv.get(s, False) for s in rep.sources)
        after_conv[nid] = seen
        shape = rep.shape or ()
        if seen and len(shape) == 3 and shape[1] * shape[2] > 1 and not rep.training_only \
                and rep.type not in ("Output", "Input") \
                and layers.get(rep.type).category != "Pooling":
            best = nid
    return best


# -- activations -------------------------------------------------------------------------------
@torch.no_grad()
def activations(model: nn.Module, x: torch.Tensor, node_ids: Iterable[str],
                graph: Graph | None = None) -> dict[str, torch.Tensor]:
    """The outputs (batch first) of ``node_ids`` for input ``x``, caught by forward hooks
    during one forward pass. Input/Output nodes need ``graph`` to be resolved (see above)."""
    wanted = list(dict.fromkeys(node_ids))
    carriers = {nid: _carrier(model, graph, nid) for nid in wanted}
    caught: dict[str, torch.Tensor] = {}

    def keep(name: str) -> Any:
        def hook(_module: nn.Module, _ins: Any, out: Any) -> None:
            value = out[0] if isinstance(out, tuple) else out
            caught[name] = value.detach().clone()  # a later in-place op must not change it
        return hook

    handles = [_module_at(model, c).register_forward_hook(keep(c))  # type: ignore[union-attr]
               for c in set(carriers.values()) if c is not None]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    result = {}
    for nid, carrier in carriers.items():
        if carrier is None:
            result[nid] = x.detach().clone()
        elif carrier in caught:
            result[nid] = caught[carrier]
        else:
            raise InferenceError(f"{nid} is not computed for the model's output "
                                 "(it only feeds a training-only branch)")
    return result


# -- filters -----------------------------------------------------------------------------------
def filters(model: nn.Module, graph: Graph | Report, per_filter: bool = True) -> np.ndarray:
    """The first Conv2d's weights as RGB patches ``[out_channels, kh, kw, 3]`` in 0..1: RGB for
    3-channel inputs, grey for 1-channel ones, the first channel in grey for other counts.
    Each patch is stretched to its own range (``per_filter``) or all share one range."""
    nid = first_conv(graph)
    if nid is None:
        raise InferenceError("the model has no Conv2d, so there are no filters to show")
    weight = model.get_submodule(nid).weight.detach().float().cpu()  # [O, I, kh, kw]
    w = weight if weight.shape[1] == 3 else weight[:, :1].expand(-1, 3, -1, -1)
    w = w.permute(0, 2, 3, 1)
    dims = (1, 2, 3) if per_filter else (0, 1, 2, 3)
    lo, hi = w.amin(dim=dims, keepdim=True), w.amax(dim=dims, keepdim=True)
    span = hi - lo
    out = torch.where(span > 0, (w - lo) / span.clamp_min(1e-12), torch.full_like(w, 0.5))
    return out.numpy().astype(np.float32)


# -- Grad-CAM ----------------------------------------------------------------------------------
def grad_cam(model: nn.Module, x: torch.Tensor, node_id: str, class_index: int | None = None
             ) -> tuple[np.ndarray, torch.Tensor]:
    """Grad-CAM (Selvaraju et al.) for one input ``[1, C, H, W]``: the node's maps weighted by
    the mean gradient of the class score, summed, ReLU'd, upsampled (bilinear) to the input's
    H×W and divided by its maximum. ``class_index`` None: the predicted class. Returns the
    heat map in 0..1 and the logits ``[K]``."""
    if x.dim() != 4:
        raise InferenceError("Grad-CAM needs an image input [C, H, W]")
    module = _module_at(model, node_id)
    if module is None:
        raise InferenceError(f"{node_id} has no module of its own; choose a layer")
    caught: dict[str, torch.Tensor] = {}
    handle = module.register_forward_hook(
        lambda _m, _i, out: caught.__setitem__("a", out[0] if isinstance(out, tuple) else out))
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)  # gradients flow even if all is frozen
        try:
            out = model(x)
        finally:
            handle.remove()
        logits = out[0] if isinstance(out, tuple) else out
        a = caught.get("a")
        if a is None or a.dim() != 4:
            raise InferenceError(f"{node_id} has no spatial output to weigh")
        k = int(logits[0].argmax()) if class_index is None else int(class_index)
        if not 0 <= k < logits.shape[1]:
            raise InferenceError(f"class {k} is not an output of the model")
        (grads,) = torch.autograd.grad(logits[0, k], a, allow_unused=True)
    if grads is None:
        heat = torch.zeros(x.shape[-2:])
    else:
        weights = grads.mean(dim=(2, 3), keepdim=True)
        cam = (weights * a).sum(dim=1, keepdim=True).relu().detach()
        cam = nn.functional.interpolate(cam, size=tuple(x.shape[-2:]), mode="bilinear",
                                        align_corners=False)[0, 0]
        top = float(cam.max())
        heat = cam / top if top > 0 else torch.zeros_like(cam)
    return heat.clamp(0, 1).cpu().numpy().astype(np.float32), logits[0].detach().cpu()


# -- receptive field of one unit ---------------------------------------------------------------
def unit_region(graph: Graph | Report, node_id: str, unit: tuple[int, int],
                clip: bool = True) -> Region:
    """Input pixels ``(top, left, bottom, right)`` (bottom/right exclusive) that unit
    ``(row, col)`` of the node's maps sees: centred at ``start + index·jump`` per axis and
    ``r`` wide (the analysis' receptive field). ``clip`` keeps it inside the image (the rest
    is padding); a node that sees the whole input gives the whole image."""
    report = graph if isinstance(graph, Report) else analyze(graph)
    rep = report.nodes.get(node_id)
    hw = report.input_hw
    if rep is None or hw is None or rep.rf is None:
        raise InferenceError(f"{node_id} has no receptive field on an image input")
    h, w = hw
    if rep.rf == WHOLE:
        return 0, 0, h, w
    row, col = unit
    shape = rep.shape or ()
    if len(shape) == 3 and not (0 <= row < shape[1] and 0 <= col < shape[2]):
        raise InferenceError(f"unit ({row}, {col}) is outside {node_id}'s "
                             f"{shape[1]}×{shape[2]} maps")
    (rh, jh, sh), (rw, jw, sw) = rep.rf  # type: ignore[misc]
    ch, cw = sh + row * jh, sw + col * jw
    top, bottom = floor(ch - rh / 2 + 1e-9), ceil(ch + rh / 2 - 1e-9)
    left, right = floor(cw - rw / 2 + 1e-9), ceil(cw + rw / 2 - 1e-9)
    if clip:
        top, left, bottom, right = max(top, 0), max(left, 0), min(bottom, h), min(right, w)
    return top, left, bottom, right


# -- grids of maps -----------------------------------------------------------------------------
def grid_layout(n: int, h: int, w: int) -> tuple[int, int]:
    """(rows, cols) for ``n`` tiles of h×w: about as wide as tall overall."""
    cols = max(1, min(n, ceil(sqrt(n * h / max(w, 1)))))
    return ceil(n / cols), cols


def grid_cell(n: int, h: int, w: int, y: float, x: float, pad: int = 1
              ) -> tuple[int, int, int] | None:
    """The (map, row, col) under grid pixel (y, x) of ``map_grid``'s layout (None: a gap)."""
    rows, cols = grid_layout(n, h, w)
    if y < 0 or x < 0:
        return None
    r, ry = divmod(int(y), h + pad)
    c, cx = divmod(int(x), w + pad)
    index = r * cols + c
    if ry >= h or cx >= w or r >= rows or c >= cols or index >= n:
        return None
    return index, ry, cx


def tile(patches: np.ndarray, cols: int, pad: int = 1) -> np.ndarray:
    """``[N, h, w(, 3)]`` patches side by side, row by row, NaN in the gaps."""
    n, h, w = patches.shape[:3]
    rows = ceil(n / cols)
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, *patches.shape[3:]),
                  np.nan, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = patches[i]
    return out


def _stretch(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    lo, hi = a.min(axis=axes, keepdims=True), a.max(axis=axes, keepdims=True)
    span = hi - lo
    return np.where(span > 0, (a - lo) / np.where(span > 0, span, 1), 0.0).astype(np.float32)


def map_grid(act: Any, max_maps: int = 64, pad: int = 1) -> np.ndarray:
    """Maps ``[C, H, W]`` (the first ``max_maps``) as one image: tiles laid out by
    ``grid_layout``, each stretched to 0..1 on its own, NaN in the gaps. A vector ``[F]`` (or
    maps of 1×1) becomes one near-square tile, stretched as a whole, NaN past its end."""
    a = act.detach().float().cpu().numpy() if isinstance(act, torch.Tensor) \
        else np.asarray(act, dtype=np.float32)
    if a.ndim == 3 and a.shape[1] * a.shape[2] > 1:
        a = a[:max_maps]
        rows, cols = grid_layout(*a.shape)
        return tile(_stretch(a, (1, 2)), cols, pad)
    v = _stretch(a.reshape(-1), (0,))
    side = max(1, ceil(sqrt(v.size)))
    square = np.full(side * ceil(v.size / side), np.nan, dtype=np.float32)
    square[:v.size] = v
    return square.reshape(-1, side)


# -- colours -----------------------------------------------------------------------------------
VIRIDIS = ((0.0, (68, 1, 84)), (0.25, (59, 82, 139)), (0.5, (33, 145, 140)),
           (0.75, (94, 201, 98)), (1.0, (253, 231, 37)))
JET = ((0.0, (0, 0, 128)), (0.125, (0, 0, 255)), (0.375, (0, 255, 255)),
       (0.625, (255, 255, 0)), (0.875, (255, 0, 0)), (1.0, (128, 0, 0)))


def colorize(values: np.ndarray, stops: Sequence[tuple[float, tuple[int, int, int]]] = VIRIDIS,
             gap: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Values in 0..1 (NaN: a gap) → uint8 RGB ``[..., 3]`` through the colour ``stops``."""
    where = [s[0] for s in stops]
    v = np.nan_to_num(np.clip(values, 0, 1), nan=0.0)
    rgb = np.stack([np.interp(v, where, [s[1][i] for s in stops]) for i in range(3)], axis=-1)
    rgb[np.isnan(values)] = gap
    return np.ascontiguousarray(rgb.round().astype(np.uint8))


def to_rgb(image: Any) -> np.ndarray:
    """A uint8 image ``[C, H, W]`` (1 or 3 channels; others: the first) → ``[H, W, 3]``."""
    a = image.cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    a = a if a.shape[0] == 3 else np.repeat(a[:1], 3, axis=0)
    return np.ascontiguousarray(a.transpose(1, 2, 0).astype(np.uint8))


def overlay(rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """A heat map in 0..1 coloured (jet) and blended over an RGB image, weighted by heat."""
    colour = colorize(heat, JET).astype(np.float32)
    a = (alpha * np.clip(heat, 0, 1))[..., None] + 0.15
    out = rgb.astype(np.float32) * (1 - a) + colour * a
    return np.ascontiguousarray(out.clip(0, 255).astype(np.uint8))


# -- everything the feature-map view shows, in one pass ----------------------------------------
@dataclass
class Look:
    """What a probe image shows about a model (numpy only, ready to draw)."""

    probs: np.ndarray  # class probabilities [K]
    node: str | None = None
    node_shape: tuple[int, ...] = ()
    grid: np.ndarray | None = None  # map_grid of the node's output
    maps_shown: int = 0  # tiles in the grid; 0: a vector, laid out in rows
    filters: np.ndarray | None = None  # [O, kh, kw, 3]
    filters_node: str | None = None
    cam: np.ndarray | None = None  # [H, W] in 0..1
    cam_node: str | None = None
    cam_class: int | None = None
    notes: list[str] = field(default_factory=list)


def model_for(graph: Graph, state: dict[str, torch.Tensor] | None
              ) -> tuple[nn.Module, str | None]:
    """The model with ``state``, or with its initial weights and a note saying why."""
    if state is None:
        return model_from_state(graph, None), ("No trained weights yet: these are the initial "
                                               "random weights.")
    try:
        return model_from_state(graph, state), None
    except InferenceError as exc:
        return model_from_state(graph, None), f"{exc}; showing the initial random weights."


def probe_input(image: torch.Tensor, input_shape: Sequence[int], data: Any = None,
                stats: dict[str, Any] | None = None) -> torch.Tensor:
    """A uint8 probe ``[C, H, W]`` → the model's input ``[1, ...]``: normalised as the dataset
    does, or with ``stats`` (mean/std of the last run) when the dataset is not at hand."""
    if data is not None:
        return to_input(image, data).cpu()
    c = image.shape[0]
    mean = torch.tensor((stats or {}).get("mean") or [0.0] * c).view(1, c, 1, 1)
    std = torch.tensor((stats or {}).get("std") or [1.0] * c).view(1, c, 1, 1)
    x = (image[None].float() / 255 - mean) / std
    return x.flatten(1) if len(input_shape) == 1 else x


def fixed_stats(input_shape: Sequence[int] | None, dataset: Any
                ) -> dict[str, list[float]] | None:
    """The ``stats`` for ``probe_input`` when the settings ``dataset`` (a DatasetConfig) fix
    the normalisation (none, imagenet, custom: the loader's own ``fixed_mean_std``), so an
    image file becomes the model's input without the data; None when only the data can say:
    "auto" (the training images' statistics) or an input that is no grey or RGB image (a flat
    input's image size comes from the data)."""
    shape = tuple(input_shape or ())
    if len(shape) != 3 or shape[0] not in (1, 3) or dataset is None:
        return None
    try:
        fixed = fixed_mean_std(dataset.normalize, shape[0], dataset.mean, dataset.std)
    except DatasetError as exc:
        raise InferenceError(str(exc)) from None
    return None if fixed is None else {"mean": fixed[0], "std": fixed[1]}


def read_probe(path: str, image_shape: Sequence[int], data: Any = None,
               dataset: Any = None) -> torch.Tensor:
    """An image file as a uint8 probe at the dataset's image size; without the data, sized
    with the settings of ``dataset`` (a DatasetConfig; default: straight to the size)."""
    if data is None:
        data = type("Shape", (), {"image_shape": tuple(image_shape),
                                  "sizing": Sizing.of(dataset)})()
    return read_image(path, data)


def look(model: nn.Module, graph: Graph, x: torch.Tensor, node_id: str | None,
         cam_class: int | None = None, max_maps: int = 64) -> Look:
    """Probabilities, the node's maps, the first filters and Grad-CAM for one input; a part
    that cannot be made leaves a note instead."""
    report = analyze(graph)
    node_id = node_id if node_id in report.nodes else first_conv(report)
    target = cam_node(report)
    result = Look(probs=np.zeros(0, dtype=np.float32), node=node_id, cam_node=target)
    if target is not None and x.dim() == 4:
        try:
            result.cam, logits = grad_cam(model, x, target, cam_class)
            result.cam_class = int(logits.argmax()) if cam_class is None else cam_class
        except InferenceError as exc:
            result.notes.append(f"Grad-CAM: {exc}")
            logits = None
    else:
        logits = None
        result.notes.append("Grad-CAM: no layer after a convolution has a map larger than 1×1")
    if logits is None:
        with torch.no_grad():
            out = model(x)
        logits = (out[0] if isinstance(out, tuple) else out)[0]
    result.probs = logits.float().softmax(0).numpy()
    if node_id is not None:
        try:
            act = activations(model, x, [node_id], graph)[node_id][0]
            result.node_shape = tuple(act.shape)
            spatial = act.dim() == 3 and act.shape[1] * act.shape[2] > 1
            result.maps_shown = min(act.shape[0], max_maps) if spatial else 0
            result.grid = map_grid(act, max_maps)
        except InferenceError as exc:
            result.notes.append(str(exc))
    try:
        result.filters, result.filters_node = filters(model, report), first_conv(report)
    except InferenceError as exc:
        result.notes.append(str(exc))
    return result
