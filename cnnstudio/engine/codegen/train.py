"""A standalone ``train.py`` for an exported model: the project's data (digits, a torchvision
set or an image folder), split as CNN Studio splits it, normalised and augmented as configured,
and the project's optimizer, learning-rate schedule, loss, epochs, batch size and seed; it
loads and saves weights as safetensors. Only torch, torchvision and safetensors are needed
(scikit-learn for the digits, timm for the LAMB optimizer)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ...graph import analyze
from ...project import Project
from ...project.config import Section, TrainConfig
from ..data.augment.pipeline import make_step
from ..data.geometry import check_resize
from ..data.load import fixed_mean_std, plan_shape
from ..data.sources import TORCHVISION_SETS
from ..training.transfer import resolve_ids
from .text import Call, literal
from .train_parts import script

NATIVE = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28),
          "kmnist": (1, 28, 28), "cifar10": (3, 32, 32), "cifar100": (3, 32, 32),
          "svhn": (3, 32, 32)}


def training_script(project: Project, *, model_file: str = "model.py",
                    weights_file: str | None = None) -> str:
    """The text of ``train.py``, to sit beside ``model_file`` (the generated model, imported
    by its module name) and, when given, ``weights_file`` (loaded before training when it
    exists). Raises ValueError when the project's data cannot feed its graph."""
    module = Path(model_file).stem
    report = analyze(project.graph)
    if not report.ok:
        raise ValueError(f"the graph cannot be built ({report.errors[0].message}); fix it first")
    ds, cfg = project.dataset, project.training
    if cfg.distill.teacher:
        raise ValueError("the training script does not distil from a teacher yet; clear "
                         "training.distill.teacher to export it")
    if ds.task != "classify":
        what = "multi-label" if ds.task == "multilabel" else "regression"
        raise ValueError(f"the training script trains classifiers only; this project's "
                         f"{what} CSV (dataset.task {ds.task}) trains in CNN Studio or with "
                         "`cnnstudio train`")
    if ds.source == "csv":
        raise ValueError("the training script reads digits, torchvision sets and image "
                         "folders; this project's data is a CSV list of files")
    input_shape = tuple(report.input_shape or ())
    try:
        image_shape, flat = plan_shape(input_shape, NATIVE.get(ds.source))
        normalize = _normalize(ds, image_shape[0])
        check_resize(ds.resize, image_shape)
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    official = ds.source in TORCHVISION_SETS
    values = {
        "TITLE": project.name, "MODULE": module, "IMPORT": _import_line(module),
        "EPOCHS": cfg.epochs, "BATCH_SIZE": cfg.batch_size, "SEED": cfg.seed,
        "LR": cfg.optimizer.lr, "IMAGE_SHAPE": image_shape, "FLAT": flat,
        "VAL_FRACTION": ds.val_fraction, "TEST_FRACTION": 0.0 if official else ds.test_fraction,
        "SPLIT_SEED": ds.split_seed, "FOLDS": ds.folds, "FOLD": ds.fold, "LIMIT": ds.limit,
        "GRAD_CLIP": cfg.grad_clip,
        "EARLY_STOPPING": cfg.early_stopping, "AMP": cfg.amp,
        "WEIGHTS": weights_file, "DATA_ROOT": ds.path, "DOWNLOAD": ds.download,
        "SOURCE": ds.source, "NORMALIZE": normalize,
        "RESIZE": ds.resize, "INTERPOLATION": ds.interpolation, "FIT": ds.fit,
        "LOADER": _loader(ds.source, official),
        "OPTIMIZER": _optimizer(cfg), "LOSS": _settings(cfg.loss),
        "LOOKAHEAD": (cfg.optimizer.lookahead_k, cfg.optimizer.lookahead_alpha)
        if cfg.optimizer.lookahead_k else None,
        "SCHEDULE": _settings(cfg.schedule),
        "AUGMENT": _augment(ds.augment, image_shape), "MIX": _mix(ds),
        "UNFREEZE": {s.epoch: _ids(project, s.nodes) for s in cfg.transfer.unfreeze},
        "LR_MULT": {p: m for ident, m in sorted(cfg.transfer.lr_multipliers.items(),
                                                key=lambda kv: kv[0].count("."))
                    for p in _ids(project, [ident])},
    }
    return script(values)


def _import_line(module: str) -> str:
    if module.isidentifier():
        return f"from {module} import build_model  # the exported model, beside this script"
    return ""


def _normalize(ds: Any, channels: int) -> str:
    """The mean and std the engine uses, as source, or "auto" (measured by the script)."""
    fixed = fixed_mean_std(ds.normalize, channels, ds.mean, ds.std)
    if fixed is None:
        return "auto"
    return f"{literal(tuple(fixed[0]))}, {literal(tuple(fixed[1]))}"


def _loader(source: str, official: bool) -> str:
    if source == "digits":
        return "digits"
    if official:
        ts = TORCHVISION_SETS[source]
        return f"{ts.kind}:{ts.class_name}"
    return "folder"


def _optimizer(cfg: TrainConfig) -> Call:
    """The constructor call engine/training/optim.py makes, as source over ``groups``."""
    o = cfg.optimizer
    lr = [("lr", "LR")]
    betas = [("betas", literal((o.beta1, o.beta2)))]
    eps, wd = [("eps", repr(o.eps))], [("weight_decay", repr(o.weight_decay))]
    calls = {
        "sgd": ("torch.optim.SGD", [("momentum", repr(o.momentum)),
                                    ("nesterov", repr(o.nesterov and o.momentum > 0)), *wd]),
        "adam": ("torch.optim.Adam", [*betas, *eps, *wd]),
        "adamw": ("torch.optim.AdamW", [*betas, *eps, *wd]),
        "rmsprop": ("torch.optim.RMSprop", [("momentum", repr(o.momentum)), *eps, *wd]),
        "adagrad": ("torch.optim.Adagrad", [*eps, *wd]),
        "radam": ("torch.optim.RAdam", [*betas, *eps, *wd]),
        "adadelta": ("torch.optim.Adadelta", [("rho", repr(o.rho)), *eps, *wd]),
        "lamb": ("timm.optim.Lamb", [*betas, *eps, *wd, ("max_grad_norm", "None")]),
    }
    func, kwargs = calls[o.name]
    return Call(func, ["groups"], lr + kwargs)


def _settings(section: Section) -> dict[str, Any]:
    """A config section as the dict the engine's training maths reads (unknown keys left out)."""
    return {k: x for k, x in section.to_dict().items() if k not in section.extra}


_INTERP = {"bilinear": "v2.InterpolationMode.BILINEAR",
           "nearest": "v2.InterpolationMode.NEAREST"}
_POLICY = {"randaugment": "RandAugment", "autoaugment": "AutoAugment",
           "trivialaugment": "TrivialAugmentWide"}


def _augment(steps: list[Any], image_shape: tuple[int, int, int]) -> list[Call]:
    """Each configured augmentation as the torchvision transform that does the same (on
    float images in [0, 1]); the random draws differ from CNN Studio's own."""
    c, h, w = image_shape
    out: list[Call] = []
    for cfg in steps:
        step = make_step(cfg.name, cfg.params)
        name, p = cfg.name, step.p
        fill = [("fill", _fill(getattr(step, "fill", [0.0]), c))]
        if name == "random_crop":
            left, right, top, bottom = step.pad
            size = tuple(step.size or (h, w))
            mode = {"replicate": "edge"}.get(step.mode, step.mode)
            t = Call("v2.RandomCrop", [literal(size)], [
                ("padding", literal([left, top, right, bottom])), *fill,
                ("padding_mode", literal(mode))])
            if size != (h, w):
                resize = Call("v2.Resize", [literal((h, w))], [("antialias", "True")])
                t = Call("v2.Compose", [Call("", [t, resize], open="[", close="]")])
        elif name == "random_resized_crop":
            t = Call("v2.RandomResizedCrop", [literal((h, w))], [
                ("scale", _num(step.scale)), ("ratio", _num(step.ratio)),
                ("interpolation", _INTERP[step.mode])])
        elif name in ("horizontal_flip", "vertical_flip", "random_erasing"):
            kind = {"horizontal_flip": "RandomHorizontalFlip",
                    "vertical_flip": "RandomVerticalFlip"}.get(name, "RandomErasing")
            t = Call(f"v2.{kind}", kwargs=[("p", repr(p))])
            if name == "random_erasing":
                value = literal("random") if step.value == "random" else _fill(step.value, c)
                t.kwargs += [("scale", _num(step.scale)), ("ratio", _num(step.ratio)),
                             ("value", value)]
            out.append(t)
            continue
        elif name == "rotation":
            t = Call("v2.RandomRotation", [_num(step.degrees)],
                     [("interpolation", _INTERP[step.mode]), *fill])
        elif name == "affine":
            t = Call("v2.RandomAffine", [_num(step.degrees)], [
                ("translate", _num(step.translate)), ("scale", _num(step.scale)),
                ("shear", _num(step.shear)), ("interpolation", _INTERP[step.mode]), *fill])
        elif name == "color_jitter":
            t = Call("v2.ColorJitter", kwargs=[
                ("brightness", _num(step.brightness)), ("contrast", _num(step.contrast))])
            if c == 3:  # grey images take brightness and contrast only
                t.kwargs += [("saturation", _num(step.saturation)), ("hue", _num(step.hue))]
        elif name == "gaussian_blur":
            kh, kw = step.kernel
            t = Call("v2.GaussianBlur", [literal((kw, kh))], [("sigma", _num(step.sigma))])
        elif name in ("randaugment", "autoaugment", "trivialaugment"):
            # torchvision's own policies on one image: the same operations and magnitudes
            t = Call(f"v2.{_POLICY[name]}", kwargs=[
                ("interpolation", _INTERP[step.mode]), *fill])
            if name == "randaugment":
                t.kwargs[:0] = [("num_ops", repr(step.num_ops)),
                                ("magnitude", repr(step.magnitude))]
            elif name == "autoaugment":
                t.kwargs[:0] = [("policy", f"v2.AutoAugmentPolicy.{step.policy.upper()}")]
        else:  # gaussian_noise: CNN Studio draws the std per image in [min, max]
            t = Call("v2.GaussianNoise", kwargs=[("sigma", repr(sum(step.std) / 2)),
                                                 ("clip", repr(step.clip))])
        if p < 1:
            t = Call("v2.RandomApply", [Call("", [t], open="[", close="]")], [("p", repr(p))])
        out.append(t)
    return out


def _num(values: Any) -> str:
    """Numbers as a tuple literal, without negative zeros."""
    return literal(tuple(float(v) + 0.0 for v in values))


def _fill(value: Any, channels: int) -> str:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(values) == 1:
        return repr(float(values[0]) + 0.0)
    return literal([float(v) + 0.0 for v in values[:channels]])


def _mix(ds: Any) -> Call | None:
    parts = []
    if ds.cutmix_alpha > 0:
        parts.append(Call("v2.CutMix", kwargs=[("alpha", repr(ds.cutmix_alpha)),
                                               ("num_classes", "num_classes")]))
    if ds.mixup_alpha > 0:
        parts.append(Call("v2.MixUp", kwargs=[("alpha", repr(ds.mixup_alpha)),
                                              ("num_classes", "num_classes")]))
    if len(parts) == 2:  # CNN Studio applies one or the other to each batch
        return Call("v2.RandomChoice", [Call("", parts, open="[", close="]")])
    return parts[0] if parts else None


def _ids(project: Project, idents: list[str]) -> list[str]:
    """Module paths covering the nodes ``idents`` names (node ids, blocks, id prefixes)."""
    graph = project.graph
    out: list[str] = []
    for ident in idents:
        nodes = resolve_ids(graph, [ident])
        under = {n for n in graph.nodes if n == ident or n.startswith(ident + ".")}
        out += [ident] if nodes == under else sorted(nodes)
    return [p for p in dict.fromkeys(out) if re.fullmatch(r"[\w.\-]+", p)]
