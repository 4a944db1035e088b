"""A project in memory: the graph, its dataset and training configuration, the history of its
runs, and its weights (as safetensors bytes, so this module needs no torch)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..graph import Graph, graph_to_dict
from .config import SEED_MAX, ConfigError, DatasetConfig, TrainConfig, mapping, number, text

RUN_STATUSES = ("running", "finished", "stopped", "early_stopped", "failed", "interrupted")


def now() -> str:
    """The current time as an ISO 8601 string (UTC, seconds)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def graph_hash(graph: Graph) -> str:
    """A fingerprint of what the network is (ids, types, parameters, links), not of its
    layout: moving a node on the canvas does not change it."""
    doc = graph_to_dict(graph)
    essence = {
        "nodes": [{k: n.get(k) for k in ("id", "type", "params", "frozen")}
                  for n in doc["nodes"]],
        "edges": doc["edges"],
    }
    text_ = json.dumps(essence, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text_.encode()).hexdigest()[:16]


EPOCH_FIELDS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds",
                "samples_per_s")


@dataclass
class EpochRecord:
    """One epoch's metrics (None where not measured, e.g. no validation split)."""

    epoch: int
    train_loss: float | None = None
    train_acc: float | None = None
    val_loss: float | None = None
    val_acc: float | None = None
    lr: float | None = None
    seconds: float | None = None
    samples_per_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, **{k: getattr(self, k) for k in EPOCH_FIELDS}}

    @classmethod
    def from_dict(cls, data: Any, path: str) -> EpochRecord:
        data = mapping(data, path)
        epoch = number(1, integer=True)(data.get("epoch"), f"{path}.epoch")
        values = {k: _metric(data.get(k), f"{path}.{k}") for k in EPOCH_FIELDS}
        return cls(epoch, **values)


def _metric(value: Any, path: str) -> float | None:
    """A measured number; NaN and infinity are kept (a diverged run records them)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{path}: expected a number or null, found {value!r}")
    try:
        return float(value)
    except OverflowError:  # an integer past a float's range
        raise ConfigError(f"{path}: expected a number or null, found an integer too large "
                          "for one") from None


@dataclass
class Run:
    """One training run: what it trained (graph revision, configuration, dataset, seed) and
    what came out (per-epoch metrics, evaluation, weights)."""

    id: int
    started: str
    graph_revision: int
    graph_hash: str
    seed: int
    training: dict[str, Any]
    dataset: dict[str, Any]
    status: str = "running"
    finished: str | None = None
    message: str | None = None
    device: str | None = None
    epochs: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None
    evaluation: dict[str, Any] | None = None
    weights: str | None = None
    """Archive member holding the run's final weights."""
    best_weights: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("id", "started", "graph_revision", "graph_hash", "seed", "training", "dataset",
             "status", "finished", "message", "device", "epochs", "best_epoch", "evaluation",
             "weights", "best_weights")

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self._KEYS}
        out["epochs"] = [e.to_dict() for e in self.epochs]
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Run:
        data = mapping(data, path)
        for key in ("id", "started", "graph_revision", "graph_hash", "seed", "training",
                    "dataset"):
            if key not in data:
                raise ConfigError(f"{path}.{key}: missing")
        status = data.get("status", "finished")
        if status not in RUN_STATUSES:
            raise ConfigError(f"{path}.status: must be one of {', '.join(RUN_STATUSES)}, "
                              f"found {status!r}")
        epochs = data.get("epochs", [])
        if not isinstance(epochs, list):
            raise ConfigError(f"{path}.epochs: expected a list, found {epochs!r}")
        evaluation = data.get("evaluation")
        if evaluation is not None:
            mapping(evaluation, f"{path}.evaluation")
        return cls(
            id=number(1, integer=True)(data["id"], f"{path}.id"),
            started=text(nullable=False)(data["started"], f"{path}.started"),
            graph_revision=number(0, integer=True)(data["graph_revision"],
                                                   f"{path}.graph_revision"),
            graph_hash=text(nullable=False)(data["graph_hash"], f"{path}.graph_hash"),
            seed=number(0, SEED_MAX, integer=True)(data["seed"], f"{path}.seed"),
            training=mapping(data["training"], f"{path}.training"),
            dataset=mapping(data["dataset"], f"{path}.dataset"),
            status=status,
            finished=text()(data.get("finished"), f"{path}.finished"),
            message=text()(data.get("message"), f"{path}.message"),
            device=text()(data.get("device"), f"{path}.device"),
            epochs=[EpochRecord.from_dict(e, f"{path}.epochs[{i}]")
                    for i, e in enumerate(epochs)],
            best_epoch=number(1, integer=True, nullable=True)(data.get("best_epoch"),
                                                             f"{path}.best_epoch"),
            evaluation=evaluation,
            weights=text()(data.get("weights"), f"{path}.weights"),
            best_weights=text()(data.get("best_weights"), f"{path}.best_weights"),
            extra={k: v for k, v in data.items() if k not in cls._KEYS},
        )


@dataclass
class Checkpoint:
    """What a run needs to continue exactly where it stopped: a JSON state (epoch, step,
    optimizer settings, schedule, RNG seeds ...) and tensors (weights, optimizer moments, RNG
    states) as safetensors bytes."""

    run_id: int
    state: dict[str, Any]
    tensors: bytes

    # What the window, the session and the trainer all read of ``state``, by name: the rest of
    # it (optimizer, schedule, sums ...) is the trainer's own and read only there.
    @property
    def epoch(self) -> int:
        """Epochs done when it was saved."""
        return int(self.state.get("epoch", 0))

    @property
    def step(self) -> int:
        """Steps done in the epoch after those (0: saved at an epoch's end)."""
        return int(self.state.get("step", 0))

    @property
    def config(self) -> dict[str, Any]:
        """The run's training settings (a TrainConfig dict; empty when the state has none)."""
        config = self.state.get("config")
        return config if isinstance(config, dict) else {}

    @config.setter
    def config(self, values: dict[str, Any]) -> None:
        self.state["config"] = values

    @property
    def planned_epochs(self) -> int | None:
        """The epochs the run was set to do, when its settings say."""
        epochs = self.config.get("epochs")
        return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None

    @property
    def history(self) -> list[dict[str, Any]]:
        """The epoch records up to the checkpoint (EpochRecord dicts)."""
        history = self.state.get("history")
        return history if isinstance(history, list) else []

    def where(self, planned: int | None = None) -> str:
        """Where the run stands, in words: "epoch 3 of 10" after a whole epoch, "epoch 4 of
        10, step 7" within one (``planned``: the epochs when the state does not say)."""
        total = self.planned_epochs or planned
        of = f" of {total}" if total else ""
        return f"epoch {self.epoch}{of}" if self.step == 0 else \
            f"epoch {self.epoch + 1}{of}, step {self.step}"


@dataclass
class Project:
    name: str = "Untitled"
    graph: Graph = field(default_factory=Graph)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
    runs: list[Run] = field(default_factory=list)
    weights: dict[str, bytes] = field(default_factory=dict)
    """Archive member name → safetensors bytes (``weights/run-2-last.safetensors``)."""
    current_weights: str | None = None
    """The member whose weights the model currently has (None: untrained)."""
    checkpoint: Checkpoint | None = None
    graph_revision: int = 1
    saved_graph_hash: str | None = None
    created: str = field(default_factory=now)
    modified: str = field(default_factory=now)
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    extra_members: dict[str, bytes] = field(default_factory=dict)
    """Members this version does not know (JSON or safetensors), kept as they were."""
    disk: Any = field(default=None, compare=False, repr=False)
    """What its file was when it was read or last saved (ondisk.DiskState; None: never), so a
    save can tell that another writer changed the file meanwhile."""

    def note_graph_change(self) -> None:
        """Bump the graph revision when the network differs from the one last saved."""
        current = graph_hash(self.graph)
        if self.saved_graph_hash is not None and current != self.saved_graph_hash:
            self.graph_revision += 1
        self.saved_graph_hash = current

    def next_run_id(self) -> int:
        return max((r.id for r in self.runs), default=0) + 1

    def run(self, run_id: int) -> Run:
        for r in self.runs:
            if r.id == run_id:
                return r
        raise KeyError(f"no run {run_id} in this project")
