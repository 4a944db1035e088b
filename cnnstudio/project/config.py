"""Dataset and training configuration: plain dataclasses, read from and written to the
project's JSON with checks whose messages name the field (``training.optimizer.lr: ...``).

One place declares every option, its default and its range; the trainer, the dataset code,
the command line and (later) the training panel all read these classes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SEED_MAX = 2**32 - 1
MAX_CLASSES = 100_000
MAX_FOLDS = 20
MAX_LR = 1000
"""A learning rate above this never trains (MoCo's linear probe, among the highest in use,
takes 30); refused when set, not found as a NaN loss after the first epoch."""
MAX_LR_MULTIPLIER = 1000
"""A layer's multiplier of the learning rate (discriminative fine-tuning uses 0.01 to 10); one
above this is a typing slip that would only show as a NaN loss."""


class ConfigError(ValueError):
    """A configuration value that cannot work; the message starts with the field's path."""


Check = Callable[[Any, str], Any]


def _fail(path: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {message}")


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer past a float's range
        return False


def number(lo: float | None = None, hi: float | None = None, *, integer: bool = False,
           nullable: bool = False, above: bool = False) -> Check:
    """A number in [lo, hi] (above: strictly greater than lo)."""

    def check(value: Any, path: str) -> Any:
        if value is None and nullable:
            return None
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or (not integer and not _finite(value)):
            raise _fail(path, f"expected {'an integer' if integer else 'a finite number'}"
                        f"{' or null' if nullable else ''}, found {value!r}")
        if lo is not None and (value <= lo if above else value < lo):
            raise _fail(path, f"must be {'greater than' if above else 'at least'} {lo}, "
                        f"found {value}")
        if hi is not None and value > hi:
            raise _fail(path, f"must be at most {hi}, found {value}")
        return value if integer else float(value)

    return check


def choice(*options: str) -> Check:
    def check(value: Any, path: str) -> Any:
        if value not in options:
            raise _fail(path, f"must be one of {', '.join(map(repr, options))}, found {value!r}")
        return value

    return check


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, f"expected true or false, found {value!r}")
    return value


def text(nullable: bool = True) -> Check:
    def check(value: Any, path: str) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            raise _fail(path, f"expected a string, found {value!r}")
        return value

    return check


def list_of(item: Check, max_len: int = 10_000) -> Check:
    def check(value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise _fail(path, f"expected a list, found {value!r}")
        if len(value) > max_len:
            raise _fail(path, f"at most {max_len} items, found {len(value)}")
        return [item(v, f"{path}[{i}]") for i, v in enumerate(value)]

    return check


def mapping(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, f"expected an object, found {value!r}")
    return value


def _opt(default: Any, check: Check, help_text: str) -> Any:
    """A dataclass field with its check and help."""
    meta = {"check": check, "help": help_text}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def _nested(cls: type, help_text: str) -> Any:
    return field(default_factory=cls, metadata={"nested": cls, "help": help_text})


class Section:
    """A group of options that reads and writes itself as a JSON object."""

    extra: dict[str, Any]

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Any:
        data = mapping(data, path)
        values: dict[str, Any] = {}
        known = set()
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name == "extra":
                continue
            known.add(f.name)
            if f.name not in data:
                continue
            where = f"{path}.{f.name}"
            nested = f.metadata.get("nested")
            if nested is not None:
                values[f.name] = nested.from_dict(data[f.name], where)
            else:
                values[f.name] = f.metadata["check"](data[f.name], where)
        obj = cls(**values)
        obj.extra = {k: v for k, v in data.items() if k not in known}
        obj.validate(path)
        return obj

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.name == "extra":
                continue
            out[f.name] = _plain(getattr(self, f.name))
        out.update(self.extra)
        return out

    def validate(self, path: str) -> None:
        """Checks between fields (override)."""


def _plain(value: Any) -> Any:
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _extra() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


AUGMENTATIONS = (
    "random_crop", "random_resized_crop", "horizontal_flip", "vertical_flip", "rotation",
    "affine", "color_jitter", "gaussian_blur", "gaussian_noise", "random_erasing",
    "randaugment", "autoaugment", "trivialaugment",
)


@dataclass
class Augmentation(Section):
    """One augmentation step: its name and parameters (engine.data.augment.pipeline)."""

    name: str = _opt("horizontal_flip", choice(*AUGMENTATIONS), "Which augmentation.")
    params: dict = _opt({}, lambda v, p: mapping(v, p), "Its parameters.")
    extra: dict = _extra()


def _augmentation(value: Any, path: str) -> Augmentation:
    return Augmentation.from_dict(value, path)


NORMALIZE = ("auto", "none", "imagenet", "custom")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
FITS = ("crop", "pad")
SOURCES = ("digits", "mnist", "fashion_mnist", "kmnist", "cifar10", "cifar100", "svhn",
           "folder", "csv")
TASKS = ("classify", "multilabel", "regress")
TASK_LOSSES = {"multilabel": ("bce",), "regress": ("mse", "mae")}
"""The losses a task trains with (classify: every loss)."""
TASK_SCORES = {"classify": "accuracy", "multilabel": "micro-F1", "regress": "R²"}
"""What the per-epoch "accuracy" (train_acc, val_acc) and an evaluation's ``accuracy`` are
for each task: all higher-is-better; micro-F1 rather than subset accuracy, which stays near 0
for many labels; R² (averaged over the targets) rather than −MAE, which has no fixed scale."""


@dataclass
class DatasetConfig(Section):
    source: str = _opt("digits", choice(*SOURCES),
                       "Where the images come from: a built-in set, a folder, or a CSV.")
    path: str | None = _opt(None, text(),
                            "The image folder or CSV file (folder/csv), or the download cache "
                            "folder for the torchvision sets (empty: the default cache).")
    download: bool = _opt(True, boolean, "Download a torchvision set that is not cached yet.")
    val_fraction: float = _opt(0.2, number(0, 0.9), "Share of the training data held out for "
                               "validation (stratified).")
    test_fraction: float = _opt(0.0, number(0, 0.9), "Share held out for a final test, for "
                                "sources without an official test split.")
    split_seed: int = _opt(0, number(0, SEED_MAX, integer=True),
                           "Seed of the stratified split.")
    folds: int = _opt(0, number(0, MAX_FOLDS, integer=True),
                      f"Cross-validation: 0 (off) holds out val_fraction for validation; 2 to "
                      f"{MAX_FOLDS} deals the non-test data into that many stratified folds, "
                      "one of them the validation split (val_fraction is then not used; 1 is "
                      "refused).")
    fold: int = _opt(0, number(0, MAX_FOLDS - 1, integer=True),
                     "Which fold is the validation split (0 to folds − 1; used when folds is "
                     "2 or more).")
    limit: int | None = _opt(None, number(1, integer=True, nullable=True),
                             "Use at most this many training samples (a quick try).")
    normalize: str = _opt("auto", choice(*NORMALIZE),
                          "Normalise with the training set's mean and std (auto), ImageNet's, "
                          "the mean and std given here (custom: pretrained weights bring "
                          "theirs), or not at all.")
    mean: list = _opt([], list_of(number(), 4), "Per-channel mean for custom normalisation.")
    std: list = _opt([], list_of(number(0, above=True), 4),
                     "Per-channel standard deviation for custom normalisation.")
    resize: int | None = _opt(None, number(1, 16384, integer=True, nullable=True),
                              "Resize the shorter side to this many pixels, then take the "
                              "centre crop of the network's input size (empty: resize "
                              "straight to the input size).")
    fit: str = _opt("crop", choice(*FITS),
                    "How an image of another shape meets the input: crop (stretch to it, or "
                    "with resize the centre crop) or pad (letterbox: scale the whole image to "
                    "fit, keeping its aspect ratio, and pad with black; resize must be empty).")
    interpolation: str = _opt("bilinear", choice(*INTERPOLATIONS), "How images are resized.")
    augment: list = _opt([], list_of(_augmentation, 32), "Augmentations, in order (training "
                         "only).")
    mixup_alpha: float = _opt(0.0, number(0), "Mixup strength α (0: off).")
    cutmix_alpha: float = _opt(0.0, number(0), "CutMix strength α (0: off).")
    task: str = _opt("classify", choice(*TASKS),
                     "What the network learns (CSV only for the last two): one class per image "
                     "(classify), several names per image separated by | or ; (multilabel, "
                     "sigmoid outputs and bce), or one or more numbers per image (regress, "
                     "mse or mae).")
    standardize: bool = _opt(True, boolean, "Regression: train on targets scaled to mean 0 "
                             "and std 1 over the training split (results are shown in the "
                             "original units).")
    class_names: list = _opt([], list_of(text(nullable=False), MAX_CLASSES),
                             "Names of the network's outputs, when the data does not give "
                             "them (ImageNet's for a kept pretrained head).")
    extra: dict = _extra()

    def validate(self, path: str) -> None:
        if self.source in ("folder", "csv") and not self.path:
            raise _fail(f"{path}.path", f"a {self.source} dataset needs a path")
        if self.normalize == "custom" and not (len(self.mean) == len(self.std) in (1, 3)):
            raise _fail(f"{path}.mean", "custom normalisation needs a mean and a std for each "
                        f"channel (1 or 3 values each), found {len(self.mean)} and "
                        f"{len(self.std)}")
        if self.fit == "pad" and self.resize is not None:
            raise _fail(f"{path}.resize", "letterboxing (fit pad) scales the whole image into "
                        "the input; leave resize empty, or choose fit crop")
        if self.folds == 1:
            raise _fail(f"{path}.folds", "cross-validation needs at least 2 folds (0: off)")
        if self.folds >= 2 and self.fold >= self.folds:
            raise _fail(f"{path}.fold", f"must be below folds ({self.folds}), found {self.fold}")
        if self.folds < 2 and self.val_fraction + self.test_fraction >= 1:
            raise _fail(f"{path}.val_fraction", "validation and test together must leave "
                        "training data (their sum must be below 1)")
        if self.task != "classify" and self.source != "csv":
            raise _fail(f"{path}.task", f"{self.task} needs a CSV dataset (source csv); "
                        f"{self.source} gives one class per image")
        if self.task != "classify" and (self.mixup_alpha or self.cutmix_alpha):
            raise _fail(f"{path}.mixup_alpha", f"Mixup and CutMix mix class labels; set both "
                        f"to 0 for a {self.task} task")


OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "radam", "adadelta", "lamb")


@dataclass
class OptimizerConfig(Section):
    name: str = _opt("adam", choice(*OPTIMIZERS), "The optimizer.")
    lr: float = _opt(1e-3, number(0, MAX_LR, above=True), "Learning rate.")
    momentum: float = _opt(0.9, number(0, 1), "Momentum (SGD, RMSprop).")
    nesterov: bool = _opt(False, boolean, "Nesterov momentum (SGD).")
    beta1: float = _opt(0.9, number(0, 1), "Adam's β1 (Adam, AdamW, RAdam, LAMB).")
    beta2: float = _opt(0.999, number(0, 1), "Adam's β2 (Adam, AdamW, RAdam, LAMB).")
    eps: float = _opt(1e-8, number(0, above=True), "Numerical stability term.")
    rho: float = _opt(0.9, number(0, 1), "AdaDelta's decay ρ of its running averages (its "
                      "learning rate scales the step: 1.0 is the paper's AdaDelta).")
    weight_decay: float = _opt(0.0, number(0), "L2 penalty (decoupled in AdamW and LAMB).")
    lookahead_k: int = _opt(0, number(0, 10_000, integer=True),
                            "Lookahead around the optimizer: every k steps the slow weights "
                            "move α of the way to the fast ones and the fast restart from "
                            "them (0: off).")
    lookahead_alpha: float = _opt(0.5, number(0, 1, above=True),
                                  "Lookahead's step α of the slow weights toward the fast.")
    extra: dict = _extra()


SCHEDULES = ("none", "step", "multistep", "exponential", "cosine", "cosine_restarts",
             "plateau", "onecycle", "polynomial", "cyclic")
CYCLE_MODES = ("triangular", "triangular2", "exp_range")


@dataclass
class ScheduleConfig(Section):
    name: str = _opt("none", choice(*SCHEDULES), "How the learning rate changes over time.")
    step_size: int = _opt(10, number(1, integer=True), "Epochs between decays (step).")
    milestones: list = _opt([30, 60, 90], list_of(number(1, integer=True), 100),
                            "Epochs at which to decay (multistep).")
    gamma: float = _opt(0.1, number(0, 1, above=True), "Decay factor (step, multistep, "
                        "exponential; cyclic exp_range: of the cycles' height, per epoch).")
    eta_min: float = _opt(0.0, number(0), "Lowest rate (cosine, polynomial, cyclic).")
    power: float = _opt(1.0, number(0, 100, above=True),
                        "Exponent of the polynomial decay to the lowest rate (1: linear).")
    cycle_mode: str = _opt("triangular", choice(*CYCLE_MODES),
                           "Cyclic: every cycle alike (triangular), each half as high as the "
                           "one before (triangular2), or the height shrinking by γ an epoch "
                           "(exp_range).")
    cycle_epochs: float = _opt(2.0, number(0, above=True),
                               "Epochs from the lowest rate to the learning rate (cyclic; a "
                               "cycle takes twice this).")
    t0: int = _opt(10, number(1, integer=True), "Epochs of the first cycle (warm restarts).")
    t_mult: int = _opt(1, number(1, integer=True), "Growth of each next cycle (warm restarts).")
    patience: int = _opt(5, number(0, integer=True), "Epochs without improvement (plateau).")
    factor: float = _opt(0.1, number(0, 1, above=True), "Decay factor (plateau).")
    min_lr: float = _opt(0.0, number(0), "Lowest rate reduce-on-plateau goes down to "
                         "(plateau; a block with a multiplier: that multiple of it).")
    max_lr: float | None = _opt(None, number(0, MAX_LR, above=True, nullable=True),
                                "Peak rate (one-cycle; empty: 10× the learning rate).")
    warmup_epochs: float = _opt(0.0, number(0), "Linear warm-up from 0 over this many epochs.")
    extra: dict = _extra()


LOSSES = ("cross_entropy", "bce", "focal", "mse", "mae", "hinge")


@dataclass
class LossConfig(Section):
    name: str = _opt("cross_entropy", choice(*LOSSES), "The loss function.")
    label_smoothing: float = _opt(0.0, number(0, 1), "Label smoothing (cross-entropy).")
    class_weights: Any = _opt(None, lambda v, p: _class_weights(v, p),
                              "Per-class weights: a list, 'balanced', or empty.")
    focal_gamma: float = _opt(2.0, number(0), "Focusing parameter γ (focal loss).")
    l1: float = _opt(0.0, number(0), "L1 penalty λ: adds λ·Σ|w| over the trainable weights "
                     "of convolutions and fully connected layers (not biases or normalisation) "
                     "to the training loss (0: off).")
    extra: dict = _extra()


def _class_weights(value: Any, path: str) -> Any:
    if value is None or value == "balanced":
        return value
    return list_of(number(0), MAX_CLASSES)(value, path)


@dataclass
class UnfreezeStep(Section):
    epoch: int = _opt(1, number(1, integer=True), "The epoch at whose start to unfreeze.")
    nodes: list = _opt([], list_of(text(nullable=False)), "Node or block ids to unfreeze "
                       "(layers frozen in the network train from this epoch on).")
    extra: dict = _extra()


@dataclass
class TransferConfig(Section):
    weights: str | None = _opt(None, text(), "Pretrained weights (.safetensors or .pth) to load "
                               "into the nodes whose names and shapes match.")
    lr_multipliers: dict = _opt({}, lambda v, p: _multipliers(v, p),
                                "Learning-rate multiplier per node or block id.")
    unfreeze: list = _opt([], list_of(lambda v, p: UnfreezeStep.from_dict(v, p), 100),
                          "Gradual unfreezing: which frozen layers start training at which "
                          "epoch (what is frozen at the start is the network's Frozen flags).")
    extra: dict = _extra()

    def validate(self, path: str) -> None:
        if "freeze" in self.extra:  # format 1's setting, which the migration folds away
            raise _fail(f"{path}.freeze", "no longer a setting: freeze layers in the network "
                        "itself (Edit ▸ Freeze selection, or `cnnstudio new "
                        "--freeze-backbone`)")


@dataclass
class DistillConfig(Section):
    teacher: str | None = _opt(None, text(), "A trained project (.cnnproj) whose current weights "
                               "teach this network (knowledge distillation; empty: off), or "
                               "pretrained:PRESET[:WEIGHTS] for torchvision's pretrained weights "
                               "of the same classes. A relative path starts at this project's "
                               "folder.")
    temperature: float = _opt(4.0, number(0, above=True), "Softens both networks' outputs: "
                              "higher shows more of how the teacher ranks the wrong classes.")
    alpha: float = _opt(0.5, number(0, 1), "The teacher's share of the loss (the labels' share "
                        "is 1 − α).")
    extra: dict = _extra()


def _multipliers(value: Any, path: str) -> dict[str, float]:
    value = mapping(value, path)
    return {k: number(0, MAX_LR_MULTIPLIER)(v, f"{path}.{k}") for k, v in value.items()}


@dataclass
class TrainConfig(Section):
    epochs: int = _opt(10, number(1, 100_000, integer=True), "Passes over the training data.")
    batch_size: int = _opt(64, number(1, 1 << 20, integer=True), "Samples per step.")
    seed: int = _opt(0, number(0, SEED_MAX, integer=True),
                     "Seed of weights, data order and augmentation.")
    deterministic: bool = _opt(False, boolean, "Use deterministic algorithms only (slower on "
                               "GPUs).")
    device: str = _opt("auto", choice("auto", "cpu", "cuda", "mps"), "Where to train.")
    amp: bool = _opt(True, boolean, "Mixed precision (CUDA only).")
    channels_last: bool = _opt(True, boolean, "Channels-last memory format (CUDA only).")
    compile: bool = _opt(False, boolean, "torch.compile the model (slow first epoch).")
    grad_clip: float | None = _opt(None, number(0, above=True, nullable=True),
                                   "Clip the gradient norm to this (empty: off).")
    early_stopping: int | None = _opt(None, number(1, integer=True, nullable=True),
                                      "Stop after this many epochs without a better "
                                      "validation loss (empty: off).")
    checkpoint_every: int = _opt(1, number(1, integer=True),
                                 "Save a resumable checkpoint every this many epochs.")
    optimizer: OptimizerConfig = _nested(OptimizerConfig, "The optimizer.")
    schedule: ScheduleConfig = _nested(ScheduleConfig, "The learning-rate schedule.")
    loss: LossConfig = _nested(LossConfig, "The loss.")
    transfer: TransferConfig = _nested(TransferConfig, "Transfer learning.")
    distill: DistillConfig = _nested(DistillConfig, "Knowledge distillation from a teacher.")
    extra: dict = _extra()


def task_problem(task: str, training: TrainConfig) -> str | None:
    """Why the loss cannot train the dataset's ``task`` (one line), or None: checked before
    any data is read."""
    loss = training.loss
    allowed = TASK_LOSSES.get(task)
    if allowed is not None and loss.name not in allowed:
        return (f"training.loss.name: {loss.name} does not fit dataset.task {task}; choose "
                f"{' or '.join(allowed)}")
    if task == "regress" and loss.class_weights is not None:
        return "training.loss.class_weights: a regression has no classes to weigh; leave it empty"
    return None


def classes_problem(task: str, count: int | None, outputs: Any,
                    training: TrainConfig) -> str | None:
    """Why a network with the output shapes ``outputs`` (the analysis') cannot train on a
    dataset of ``count`` classes (labels, regression targets), or None: checked once the
    dataset is listed, before the run is recorded, and by the trainer itself. A classifier may
    have more outputs than classes (they are never a target), never fewer."""
    if count is None:
        return None
    head = list(outputs[0] or ()) if outputs else None
    what = {"multilabel": "labels", "regress": "target values"}.get(task, "classes")
    if head is None:
        short = False
    elif task == "classify":
        short = len(head) == 1 and head[0] < count
    else:
        short = head != [count]
    if short:
        return (f"the network gives {head} outputs per image and the dataset has {count} "
                f"{what}: give the last layer {count} outputs")
    weights = training.loss.class_weights
    if task != "regress" and isinstance(weights, list) and len(weights) != count:
        return (f"training.loss.class_weights: {len(weights)} weights for {count} {what}; give "
                f"one per class, 'balanced', or leave it empty")
    return None


def help_of(cls: type, name: str) -> str:
    """The help line of option ``name`` of a section class."""
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name == name:
            return f.metadata.get("help", "")
    raise KeyError(name)
