"""Where the evaluation view's model and data come from, and the background jobs that use
them. What a job needs is copied on the GUI thread (the graph as JSON, the dataset settings,
the weights), so the worker never reads the live project; the loaded data and model come back
with the result and are kept for the next job while the weights and settings are the same.
No Qt and no module-level torch here."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ... import engine
from ...graph import analyze, graph_from_dict, graph_to_dict
from ...project.model import graph_hash

SPLIT_LABELS = {"train": "training", "val": "validation", "test": "test"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm", ".pbm")


@dataclass
class Source:
    """The weights to evaluate: those of the run in progress (``state``) or a project key."""

    token: tuple[Any, ...]
    label: str
    state: Any = None  # dict[str, Tensor] (live) — held so ids in the token stay unique
    blob: bytes | None = None  # safetensors bytes (project)


def resolve(document: Any, controller: Any) -> Source | None:
    """The weights the view should use now, or None when there are none yet."""
    ghash = graph_hash(document.graph)
    run = getattr(controller, "run", None)
    if controller.running:
        state = controller.last_weights
        if state is None:
            return None
        epochs = len(run.epochs) if run is not None else 0
        return Source(("live", id(state), ghash), f"the run in progress after {epochs} epoch"
                      f"{'' if epochs == 1 else 's'}", state=state)
    project = document.project
    key = project.current_weights
    if key is None or key not in project.weights:
        return None
    blob = project.weights[key]
    return Source(("project", key, id(blob), ghash), _weights_label(project, key), blob=blob)


def _weights_label(project: Any, key: str) -> str:
    for run in reversed(project.runs):
        if run.weights == key:
            n = len(run.epochs)
            return f"run {run.id}'s weights after {n} epoch{'' if n == 1 else 's'}"
        if run.best_weights == key:
            return f"run {run.id}'s best weights (epoch {run.best_epoch})"
    return f"the weights {Path(key).stem}"


def graph_problem(document: Any) -> str | None:
    report = analyze(document.graph)
    if report.input_shape is None:
        return "The network has no Input layer."
    if not report.ok:
        return (f"The network has {len(report.errors)} error(s) (see Problems); fix them to "
                "evaluate it.")
    return None


@dataclass
class Loaded:
    """What a job loaded, for the next one."""

    source: Source
    data: Any
    data_key: str
    model: Any


@dataclass
class Evaluated(Loaded):
    predictions: Any = None
    plain: Any = None  # with test-time augmentation: the predictions without it, to compare


@dataclass
class ImagePrediction(Loaded):
    path: Path = Path()
    image: Any = None  # uint8 numpy [C, H, W]
    top: Any = None  # list[(class, probability)]


class Cache:
    """The last data and model, kept on the GUI thread."""

    def __init__(self) -> None:
        self.data: Any = None
        self.data_key = ""
        self.model: Any = None
        self.token: tuple[Any, ...] | None = None
        self.source: Source | None = None

    def keep(self, result: Loaded) -> None:
        if result.data is not None:  # a prediction made without the data keeps the last data
            self.data, self.data_key = result.data, result.data_key
        self.model, self.token, self.source = result.model, result.source.token, result.source


def _loader(document: Any, controller: Any, cache: Cache, source: Source
            ) -> Callable[[], tuple[Any, str, Any]]:
    """A function (for the worker) giving (data, data key, model), reusing the cache."""
    project = document.project
    graph_doc = graph_to_dict(project.graph)
    dataset = copy.deepcopy(project.dataset)
    device_name = "cpu" if controller.running else project.training.device
    if controller.data is not None:
        given, key = controller.data, f"given:{id(controller.data)}"
    else:
        given, key = None, json.dumps([dataset.to_dict(), device_name, str(document.path)],
                                      sort_keys=True, default=str)
        if not controller.running and controller.session is not None:
            trainer = getattr(controller.session, "trainer", None)
            trained_on = getattr(trainer, "data", None)
            run = controller.run
            same = (controller.session.project is project and run is not None
                    and run.dataset.get("config") == dataset.to_dict()
                    and run.graph_hash == graph_hash(project.graph))
            if trained_on is not None and same and cache.data_key != key:
                given = trained_on  # the data the run just used, already loaded
    data = cache.data if cache.data_key == key else given
    model = cache.model if cache.token == source.token else None
    base_dir = document.path.parent if document.path is not None else None

    def load() -> tuple[Any, str, Any]:
        loaded = data
        if loaded is None:
            graph = graph_from_dict(graph_doc)
            loaded = engine.project_data(SimpleNamespace(graph=graph, dataset=dataset),
                                         base_dir=base_dir, device=engine.pick_device(device_name))
        net = model if model is not None else \
            _model(graph_from_dict(graph_doc), source, loaded.train.device)
        return loaded, key, net

    return load


def _model(graph: Any, source: Source, device: Any) -> Any:
    state = source.state
    if state is None:
        state = engine.checkpoint.from_bytes(source.blob)
    return engine.model_from_state(graph, state, device)


def _settings_predictor(document: Any, controller: Any, cache: Cache, source: Source
                        ) -> Callable[[Path], ImagePrediction | None]:
    """A function (for the worker) predicting an image file from the project's settings
    alone: the graph's Input gives the image size, the dataset settings the resizing and a
    fixed normalisation, the project's class names (ImageNet's for a kept pretrained head) name
    the outputs. A pretrained project so predicts a photo without loading its data (slow to
    fit to the input, or not on this machine). It gives None when the data is needed: "auto"
    normalisation, a flat input, or outputs the project does not name."""
    project = document.project
    graph_doc = graph_to_dict(project.graph)
    dataset = copy.deepcopy(project.dataset)
    names = list(dataset.class_names)
    device_name = "cpu" if controller.running else project.training.device
    model = cache.model if cache.token == source.token else None

    def predict(path: Path) -> ImagePrediction | None:
        graph = graph_from_dict(graph_doc)
        report = analyze(graph)
        heads = report.output_shapes
        named = bool(names) and bool(heads) and tuple(heads[0] or ()) == (len(names),)
        shape = report.input_shape
        stats = engine.probe.fixed_stats(shape, dataset) if named else None
        if stats is None:
            return None
        image = engine.probe.read_probe(str(path), shape, None, dataset)
        net = model if model is not None else \
            _model(graph, source, engine.pick_device(device_name))
        param = next(iter(net.parameters()), None)
        x = engine.probe.probe_input(image, shape, None, stats)
        if param is not None:
            x = x.to(param.device)
        top = engine.top_k(net, x, None, 5, names=names)
        return ImagePrediction(source, None, "", net, path, image.numpy(), top)

    return predict


def evaluation_job(document: Any, controller: Any, cache: Cache, source: Source,
                   split: str | None, tta: str = "none") -> Callable[[], Evaluated]:
    """Predicts the split, with test-time augmentation ``tta`` and (to compare) without."""
    load = _loader(document, controller, cache, source)
    names = list(document.project.dataset.class_names)

    def job() -> Evaluated:
        data, key, model = load()
        name = split if split in data.splits else \
            "test" if data.test is not None else "val" if data.val is not None else "train"
        pred = engine.predict_split(model, data, name, names=names, tta=tta)
        pred.metrics()  # computed here, not on the GUI thread
        plain = None
        if tta != "none":
            plain = engine.predict_split(model, data, name, names=names)
            plain.metrics()
        return Evaluated(source, data, key, model, pred, plain)

    return job


def image_job(document: Any, controller: Any, cache: Cache, source: Source,
              path: Path) -> Callable[[], ImagePrediction]:
    load = _loader(document, controller, cache, source)
    without_data = _settings_predictor(document, controller, cache, source)
    names = list(document.project.dataset.class_names)

    def job() -> ImagePrediction:
        if not path.is_file():
            raise ValueError(f"{path.name} is not a file")
        predicted = without_data(path)
        if predicted is not None:
            return predicted
        data, key, model = load()
        image = engine.read_image(path, data)
        param = next(iter(model.parameters()), None)
        x = engine.to_input(image, data)
        if param is not None:
            x = x.to(param.device)
        top = engine.top_k(model, x, data.classes, 5, names=names)
        return ImagePrediction(source, data, key, model, path, image.numpy(), top)

    return job


def images_of(data: Any, split: str, indices: list[int]) -> Any:
    """uint8 numpy ``[N, C, H, W]`` of a split's images."""
    chosen = data.splits[split]
    if not indices:
        c, h, w = chosen.image_shape
        import numpy as np

        return np.zeros((0, c, h, w), dtype=np.uint8)
    return chosen.images(indices).cpu().numpy()
