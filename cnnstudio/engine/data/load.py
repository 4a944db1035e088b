"""Datasets for training: ``load_data`` reads a DatasetConfig's images, adapts them to the
graph's input, splits them (stratified) and keeps them on the device as uint8 tensors;
``Split.batches`` hands out normalised (and, for training, augmented) batches whose order and
randomness depend on (seed, epoch) only, so a resumed run sees the same batches.

Storage, chosen by size against a memory budget (4 GiB, at most half the free GPU memory):

1. ``device``: every image at the graph's size, uint8 ``[N, C, H, W]`` on the device;
2. ``device, resized per batch``: a built-in set too large at the graph's size (CIFAR-10 at
   224×224) stays at its own size on the device and is resized batch by batch;
3. ``files``: a folder or CSV too large for either is decoded batch by batch from the files
   (DataLoader workers), after one checking pass that also measures mean and std.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .augment.pipeline import Pipeline, check_steps
from .errors import DatasetError
from .geometry import STRAIGHT, Sizing, check_resize, fit_images
from .imagefiles import decode_files, list_csv, list_folder, probe
from .sources import (
    TORCHVISION_SETS,
    Arrays,
    Files,
    Progress,
    default_cache_dir,
    load_digits,
    load_torchvision,
)
from .splits import FileStore, Split, TensorStore, mix_seed, split_indices

__all__ = ["Data", "DatasetError", "Split", "fixed_mean_std", "known_classes", "list_files",
           "load_data", "plan_shape", "split_indices"]

GiB = 1 << 30
DEFAULT_BUDGET = 4 * GiB
STATS_SAMPLE = 10_000  # images measured for "auto" when they are resized per batch
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _quiet(stage: str, done: int, total: int | None) -> None:
    pass


# ------------------------------------------------------------------------------------------
# Adapting images to the graph's input


def _describe(shape: Sequence[int]) -> str:
    c, h, w = shape
    return f"{h}×{w} {'grey' if c == 1 else 'RGB'} images"


def plan_shape(input_shape: Sequence[int],
               native: tuple[int, int, int] | None) -> tuple[tuple[int, int, int], bool]:
    """The image shape ``(C, H, W)`` the data is adapted to, and whether the graph takes it
    flattened. A ``[F]`` input takes the images at their own size, grey or RGB, whichever has
    F values."""
    shape = tuple(input_shape)
    if len(shape) == 3:
        c, h, w = shape
        if c not in (1, 3):
            hint = f" (these are {_describe(native)})" if native else ""
            raise DatasetError(f"the graph's Input takes {c}-channel images; images have 1 "
                               f"(grey) or 3 (RGB) channels{hint}: give the Input shape "
                               f"[1, {h}, {w}] or [3, {h}, {w}]")
        return (c, h, w), False
    if len(shape) == 1:
        f = shape[0]
        if native is None:
            raise DatasetError(f"the graph takes [{f}] vectors, and no image could be read to "
                               "see whether they fit; give the Input an image shape [C, H, W]")
        c, h, w = native
        for cc in (c, 4 - c):
            if cc * h * w == f:
                return (cc, h, w), True
        raise DatasetError(f"the graph takes [{f}] vectors; these are {_describe(native)} "
                           f"({c * h * w} values): give the Input shape [{c}, {h}, {w}] or "
                           f"[{c * h * w}]")
    raise DatasetError(f"the graph's Input shape {list(shape)} is neither an image [C, H, W] "
                       "nor a vector [F]; image datasets need one of those")


def _per_channel(values: Sequence[float], c: int, what: str) -> list[float]:
    """Values given for 1 or 3 channels, for ``c``-channel images: averaged for grey images,
    repeated for RGB ones (a grey network can use RGB weights' statistics)."""
    values = [float(v) for v in values]
    if len(values) == c:
        return values
    if len(values) == 3 and c == 1:
        return [sum(values) / 3]
    if len(values) == 1 and c == 3:
        return values * 3
    raise DatasetError(f"dataset.{what}: {len(values)} value(s) for {c}-channel images; give "
                       f"{c} (or 1 or 3, which are adapted)")


def fixed_mean_std(normalize: str, channels: int, mean: Sequence[float] = (),
                   std: Sequence[float] = ()) -> tuple[list[float], list[float]] | None:
    """The mean and std that ``normalize`` fixes for ``channels``-channel images: zeros and
    ones ("none"), ImageNet's, or ``mean``/``std`` ("custom"); None for "auto", which
    measures the training images."""
    if normalize == "auto":
        return None
    if normalize == "none":
        return [0.0] * channels, [1.0] * channels
    if normalize == "imagenet":
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    elif normalize != "custom":
        raise DatasetError(f"dataset.normalize: unknown mode {normalize!r}; use auto, none, "
                           "imagenet or custom")
    elif not mean or len(mean) != len(std):
        raise DatasetError("dataset.mean: custom normalisation needs a mean and a std for each "
                           f"channel, found {len(mean)} and {len(std)}")
    return _per_channel(mean, channels, "mean"), _per_channel(std, channels, "std")


# ------------------------------------------------------------------------------------------
# The data


@dataclass
class Data:
    """The loaded data: splits on the device and what the trainer records about them."""

    train: Split
    val: Split | None
    test: Split | None
    classes: list[str]
    input_shape: tuple[int, ...]
    image_shape: tuple[int, int, int]
    mean: list[float]
    std: list[float]
    source: str
    name: str
    normalize: str = "auto"
    sizing: Sizing = STRAIGHT
    storage: str = "device"
    root: str | None = None
    native_shape: tuple[int, int, int] | None = None
    test_split: str | None = None  # "official" | "held out" | None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    split_config: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    task: str = "classify"
    """classify | multilabel | regress (see ``Files.task``)."""
    target_mean: list[float] | None = None
    """Regression with standardised targets: the training split's mean and std per target;
    the splits' targets are (value − mean) / std."""
    target_std: list[float] | None = None

    @property
    def num_classes(self) -> int:
        """The network's outputs: classes, labels or regression targets."""
        return len(self.classes)

    def original_units(self, values: torch.Tensor) -> torch.Tensor:
        """Regression outputs or targets ``[N, T]`` in the CSV's units (as they are when the
        targets are not standardised)."""
        if self.target_mean is None or self.target_std is None:
            return values
        return values * torch.tensor(self.target_std) + torch.tensor(self.target_mean)

    @property
    def class_counts(self) -> list[int]:
        """Training samples per class."""
        return self.train.class_counts

    @property
    def splits(self) -> dict[str, Split]:
        return {s.name: s for s in (self.train, self.val, self.test) if s is not None}

    def summary(self) -> dict[str, Any]:
        """A JSON-able record of what was loaded (for the run history)."""
        return {
            "source": self.source, "name": self.name, "root": self.root,
            "counts": {k: len(v) if v is not None else 0
                       for k, v in (("train", self.train), ("val", self.val),
                                    ("test", self.test))},
            "test_split": self.test_split,
            "classes": list(self.classes), "num_classes": self.num_classes,
            "class_counts": self.class_counts,
            "skipped": {"count": len(self.skipped),
                        "examples": [f"{n} ({r})" for n, r in self.skipped[:5]]},
            "input_shape": list(self.input_shape), "image_shape": list(self.image_shape),
            "native_shape": list(self.native_shape) if self.native_shape else None,
            "normalize": self.normalize, "mean": list(self.mean), "std": list(self.std),
            "resize": self.sizing.resize, "interpolation": self.sizing.interpolation,
            "split": dict(self.split_config), "storage": self.storage,
            "notes": list(self.notes), "fingerprint": self.fingerprint,
            **({"task": self.task, "target_mean": self.target_mean,
                "target_std": self.target_std} if self.task != "classify" else {}),
        }


def _budget(device: torch.device, budget: int | None) -> int:
    budget = DEFAULT_BUDGET if budget is None else int(budget)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = min(budget, free // 2)
    return budget


def _open(cfg: Any, cache_dir: Any, progress: Progress) -> Arrays | Files:
    if cfg.source == "digits":
        return load_digits()
    if cfg.source in TORCHVISION_SETS:
        if cfg.path:
            root = Path(cfg.path)
        else:
            root = (Path(cache_dir) if cache_dir else default_cache_dir()) / cfg.source
        return load_torchvision(cfg.source, root, cfg.download, progress)
    listing = list_files(cfg)
    assert listing is not None  # a folder or a CSV
    return listing


def list_files(cfg: Any) -> Files | None:
    """A folder's or a CSV's listing (no image decoded: the first readable one's header is
    probed), None for the built-in sets. Cheap next to loading, so a run lists its data, and
    refuses an empty folder or too many classes, before it is recorded."""
    if cfg.source == "digits" or cfg.source in TORCHVISION_SETS:
        return None
    if not cfg.path:
        raise DatasetError(f"dataset.path: a {cfg.source} dataset needs a path")
    listing = list_folder(Path(cfg.path)) if cfg.source == "folder" else \
        list_csv(Path(cfg.path), getattr(cfg, "task", "classify"))
    for p in listing.paths[:20]:
        try:
            listing.probe = probe(p)
            break
        except Exception:  # noqa: BLE001 - decoding will skip and count it
            continue
    return listing


def known_classes(cfg: Any, listing: Files | None) -> int | None:
    """How many classes (labels, regression targets) the dataset has, known before any image
    is read: the listing's, or a built-in set's own."""
    if listing is not None:
        return len(listing.classes)
    if cfg.source == "digits":
        return 10
    ts = TORCHVISION_SETS.get(cfg.source)
    return ts.classes if ts is not None else None


def _stats(chunks: Iterator[torch.Tensor], c: int) -> tuple[list[float], list[float]]:
    """Per-channel mean and std (of values scaled to [0, 1]) of uint8 images, exactly, from
    their histograms."""
    hist = torch.zeros(c, 256, dtype=torch.int64)
    for x in chunks:
        for ch in range(c):
            hist[ch] += torch.bincount(x[:, ch].reshape(-1), minlength=256).cpu()
    count = hist.sum(1).double()
    if float(count.min()) == 0:
        return [0.0] * c, [1.0] * c
    values = torch.arange(256, dtype=torch.float64) / 255.0
    mean = (hist.double() * values).sum(1) / count
    var = ((hist.double() * values**2).sum(1) / count - mean**2).clamp_min(0)
    return mean.tolist(), [v if v > 1e-6 else 1.0 for v in var.sqrt().tolist()]


def _chunks(n: int, per_image: int) -> int:
    return max(1, min(n, (64 << 20) // max(1, per_image)))


@dataclass
class _Stored:
    storage: str
    stores: dict[str, TensorStore | FileStore]
    labels: dict[str, torch.Tensor]
    train_images: Iterator[torch.Tensor]  # for the "auto" statistics
    skipped: list[tuple[str, str]]


Parts = dict[str, tuple[Any, torch.Tensor]]  # split name → (positions or None, labels)


def _store_arrays(src: Arrays, parts: Parts, shape: tuple[int, int, int], sizing: Sizing,
                  budget: int, device: torch.device, seed: int, digest: Any,
                  report: Progress) -> _Stored:
    native = src.native_shape
    n_total = sum(len(lab) for _, lab in parts.values())
    digest.update(np.ascontiguousarray(src.images.numpy()))
    if src.test_images is not None:
        digest.update(np.ascontiguousarray(src.test_images.numpy()))
    kept_c = min(shape[0], native[0])
    if n_total * math.prod(shape) <= budget:
        storage, kept = "device", shape
    elif n_total * kept_c * native[1] * native[2] <= budget:
        storage, kept = "device, resized per batch", (kept_c, native[1], native[2])
    else:
        raise _too_big(src.name, n_total, shape, budget, device)
    now = sizing if storage == "device" else STRAIGHT  # else: the channels only, for now
    stores: dict[str, TensorStore | FileStore] = {}
    labels: dict[str, torch.Tensor] = {}
    for name, (idx, lab) in parts.items():
        images = src.test_images if idx is None else src.images
        n = len(lab)
        out = torch.empty((n, *kept), dtype=torch.uint8, device=device)
        step = _chunks(n, math.prod(shape))
        for start in range(0, n, step):
            sel = slice(start, start + step)
            x = images[sel] if idx is None else images[idx[sel]]
            out[sel] = fit_images(x.to(device), kept, *now)
            report(f"preparing {name} images", min(n, start + step), n)
        stores[name], labels[name] = TensorStore(out, shape, sizing), lab
        if idx is not None:
            digest.update(idx.numpy())
    train = stores["train"]
    assert isinstance(train, TensorStore)
    if storage == "device":
        chunks = (train.x[i:i + 8192] for i in range(0, len(train.x), 8192))
    else:  # measuring a sample saves resizing every image once more
        gen = torch.Generator().manual_seed(mix_seed(seed, "stats"))
        sample = torch.randperm(len(train.x), generator=gen)[:STATS_SAMPLE]
        chunks = (train.fetch(sample[i:i + 512]) for i in range(0, len(sample), 512))
    return _Stored(storage, stores, labels, chunks, [])


def _store_files(src: Files, parts: Parts, shape: tuple[int, int, int], sizing: Sizing,
                 budget: int, device: torch.device, digest: Any, report: Progress) -> _Stored:
    n_total = sum(len(lab) for _, lab in parts.values())
    storage = "device" if n_total * math.prod(shape) <= budget else "files"
    paths = [src.paths[i] for idx, _ in parts.values() for i in idx.tolist()]
    for p in paths:
        try:
            st = os.stat(p)
            digest.update(repr((os.path.relpath(p, src.root), st.st_size,
                                st.st_mtime_ns)).encode())
        except OSError:
            digest.update(repr((p, None)).encode())
    n_train = len(parts["train"][1])
    measured: list[torch.Tensor] = []

    def measure(start: int, x: torch.Tensor, ok: torch.Tensor) -> None:
        if start < n_train:  # the training files come first
            measured.append(x[: n_train - start][ok[: n_train - start]].clone())

    if storage == "device":
        decoded, bad, reasons = decode_files(paths, shape, report, sizing=sizing)
    else:  # one pass to find the unreadable files and measure, keeping nothing
        decoded, bad, reasons = decode_files(paths, shape, report, "checking images",
                                             sink=measure, sizing=sizing)
    base = Path(src.root).parent if Path(src.root).is_file() else Path(src.root)
    skipped = [(os.path.relpath(paths[i], base), r) for i, r in zip(bad, reasons)]
    good = torch.ones(len(paths), dtype=torch.bool)
    good[bad] = False
    if not bool(good[:n_train].any()):
        first = (src.skipped + skipped)[0]
        raise DatasetError(f"none of the training files in {src.root} could be read as an "
                           f"image ({len(skipped)} skipped, e.g. {first[0]}: {first[1]}); "
                           "check the path, or convert the images to PNG or JPEG")
    stores: dict[str, TensorStore | FileStore] = {}
    labels: dict[str, torch.Tensor] = {}
    start = 0
    for name, (_, lab) in parts.items():
        n = len(lab)
        ok = good[start:start + n]
        digest.update(ok.numpy().tobytes())
        if bool(ok.any()):
            if decoded is not None:
                stores[name] = TensorStore(decoded[start:start + n][ok].to(device), shape)
            else:
                stores[name] = FileStore([p for p, g in zip(paths[start:start + n], ok) if g],
                                         shape, device, sizing)
            labels[name] = lab[ok]
        start += n
    train = stores["train"]
    if isinstance(train, TensorStore):
        chunks: Iterator[torch.Tensor] = (train.x[i:i + 8192]
                                          for i in range(0, len(train.x), 8192))
    else:
        chunks = iter(measured)
    return _Stored(storage, stores, labels, chunks, skipped)


def load_data(cfg: Any, input_shape: Sequence[int], device: torch.device | str = "cpu", *,
              cache_dir: str | os.PathLike | None = None, progress: Progress | None = None,
              memory_budget: int | None = None, listing: Files | None = None) -> Data:
    """Loads ``cfg`` (a DatasetConfig) for a graph whose Input takes ``input_shape``
    (``[C, H, W]`` or ``[F]``). ``cache_dir`` is the base folder for the downloaded sets
    (default ``~/.cache/cnnstudio/datasets``; ``cfg.path`` names a set's folder outright);
    ``progress(stage, done, total)`` hears about downloads, decoding and preparation;
    ``memory_budget`` (bytes, default 4 GiB) decides the storage (see the module's notes);
    ``listing``: ``list_files(cfg)`` already made (it is not listed again)."""
    report = progress or _quiet
    device = torch.device(device)
    input_shape = tuple(int(v) for v in input_shape)
    if any(v < 1 for v in input_shape):
        raise DatasetError(f"the graph's Input shape {list(input_shape)} has a size below 1")
    check_steps(cfg.augment)  # parameter mistakes show before any download
    sizing = Sizing.of(cfg)
    if len(input_shape) == 3:
        plan_shape(input_shape, None)
        check_resize(sizing.resize, input_shape)
    src = listing if listing is not None else _open(cfg, cache_dir, report)
    native = src.native_shape if isinstance(src, Arrays) else src.probe
    shape, flat = plan_shape(input_shape, native)
    check_resize(sizing.resize, shape)
    fixed = fixed_mean_std(cfg.normalize, shape[0], getattr(cfg, "mean", ()),
                           getattr(cfg, "std", ()))
    classes = list(src.classes)
    k = len(classes)
    official = isinstance(src, Arrays) and src.test_images is not None
    notes = list(src.notes)
    if official and cfg.test_fraction > 0:
        notes.append(f"test_fraction is not used: {src.name} has an official test split")
    folds = cfg.folds if cfg.folds >= 2 else 0
    if folds:
        notes.append(f"val_fraction is not used: validation is fold {cfg.fold} of {folds} "
                     "(cross-validation)")
    task = getattr(src, "task", "classify")
    # only classes are stratified: multi-label and regression rows split as one group
    strata, groups = (src.labels, k) if task == "classify" else \
        (torch.zeros(len(src.labels), dtype=torch.int64), 1)
    tr, va, te = split_indices(strata, groups, cfg.val_fraction,
                               0.0 if official else cfg.test_fraction, cfg.split_seed, cfg.limit,
                               folds=folds, fold=cfg.fold)
    pipeline = Pipeline.from_config(cfg, shape, k)
    parts: Parts = {"train": (tr, src.labels[tr])}
    if len(va):
        parts["val"] = (va, src.labels[va])
    if official:
        parts["test"] = (None, src.test_labels)
    elif len(te):
        parts["test"] = (te, src.labels[te])

    budget = _budget(device, memory_budget)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((cfg.source, src.name, classes, shape, flat)).encode())
    if task != "classify":  # classification keeps the fingerprints of earlier runs
        digest.update(repr((task, bool(cfg.standardize))).encode())
    if sizing != STRAIGHT:  # the default leaves the fingerprints of earlier runs as they were
        digest.update(repr(tuple(sizing)).encode())
    if isinstance(src, Arrays):
        stored = _store_arrays(src, parts, shape, sizing, budget, device, cfg.split_seed,
                               digest, report)
    else:
        stored = _store_files(src, parts, shape, sizing, budget, device, digest, report)

    c = shape[0]
    if fixed is None:
        report("measuring mean and std", 0, 1)
        mean, std = _stats(stored.train_images, c)
        report("measuring mean and std", 1, 1)
    else:
        mean, std = fixed
        if cfg.normalize == "custom" and len(cfg.mean) != c:
            notes.append(f"the custom mean and std are for {len(cfg.mean)} channel(s) and the "
                         f"images have {c}: {'averaged' if c == 1 else 'repeated'} to "
                         f"{_rounded(mean)} and {_rounded(std)}")
    digest.update(repr((cfg.normalize, [round(v, 6) for v in mean],
                        [round(v, 6) for v in std])).encode())
    scale = _target_scale(stored.labels["train"]) if task == "regress" and cfg.standardize \
        else None
    if scale is not None:
        stored.labels = {name: (lab - scale[0]) / scale[1] for name, lab in stored.labels.items()}
    splits = {name: Split(name, store, stored.labels[name], num_classes=k,
                          input_shape=input_shape, mean=mean, std=std, pipeline=pipeline,
                          device=device, task=task) for name, store in stored.stores.items()}
    empty = [classes[i] for i, n in enumerate(splits["train"].class_counts) if n == 0]
    if empty and task != "regress":
        notes.append(f"no training images for {len(empty)} class(es): "
                     f"{', '.join(empty[:5])}{', ...' if len(empty) > 5 else ''}")
    return Data(
        train=splits["train"], val=splits.get("val"), test=splits.get("test"), classes=classes,
        input_shape=input_shape, image_shape=shape, mean=mean, std=std, source=cfg.source,
        name=src.name, normalize=cfg.normalize, sizing=sizing, storage=stored.storage,
        root=src.root,
        native_shape=native, test_split="official" if official else
        ("held out" if "test" in splits else None),
        skipped=list(getattr(src, "skipped", [])) + stored.skipped, notes=notes,
        split_config={"val_fraction": cfg.val_fraction,
                      "test_fraction": 0.0 if official else cfg.test_fraction,
                      "seed": cfg.split_seed, "limit": cfg.limit, "folds": folds,
                      "fold": cfg.fold if folds else 0},
        fingerprint=digest.hexdigest(), task=task,
        target_mean=scale[0].tolist() if scale is not None else None,
        target_std=scale[1].tolist() if scale is not None else None)


def _target_scale(train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std per regression target over the training split (std 1 where constant)."""
    mean = train.double().mean(0)
    std = train.double().std(0, correction=0) if len(train) > 1 else torch.ones_like(mean)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return mean.float(), std.float()


def _rounded(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def _too_big(name: str, n: int, shape: tuple[int, int, int], budget: int,
             device: torch.device) -> DatasetError:
    per = math.prod(shape)
    fits = max(1, budget // per)
    return DatasetError(
        f"{name} would take {n * per / GiB:.1f} GiB on {device} as {n} uint8 images of "
        f"{shape[0]}×{shape[1]}×{shape[2]}, above the {budget / GiB:.1f} GiB budget: set "
        f"dataset.limit (about {fits} images fit, all splits together) or give the Input a "
        "smaller size")
