"""A project's search space for sweeps: which settings a sweep varies and over what values, the
sampler, the pruner, the objectives and the number of trials. Plain JSON in the project
(``project.extra["sweep"]``), no code; the engine (engine/sweep) turns it into an Optuna study.

A dimension's target is one of
  ``optimizer.lr``, ``batch_size`` ...   a training option, by the path ``with_options`` takes;
  ``dataset.mixup_alpha`` ...            a dataset option (``dataset.`` + its path);
  ``node:<id>.<param>``                  a node's parameter (``node:features.c1.out_channels``);
  ``node:<id>.type``                     an activation node's type, among the activation types;
  ``preset.<option>``                    an option of the preset the graph was made from (a
                                         MobileNet's ``width_mult``, a dropout rate): the graph
                                         is built again with it, which needs a graph not edited
                                         since it was made.
  ``block:<stage>.repeat``               a stage's number of blocks (``block:layer2.repeat``):
                                         trailing blocks dropped or the last one copied.
Options inside lists (an augmentation step's parameters) have no path and cannot be swept.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from ..graph import Graph, GraphError, layers
from ..graph.model import Node, RemovedNode
from ..graph.repeat import set_block_count, stages
from .config import ConfigError, mapping, number
from .options import with_options

KEY = "sweep"
"""Where the space lives in ``Project.extra`` (a top-level key of project.json)."""
SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("none", "median", "hyperband")
LATENCY = "latency_ms"
OBJECTIVES = {"val_acc": "maximize", "params": "minimize", "macs": "minimize",
              LATENCY: "minimize"}
"""What a trial can be judged by, and which way is better: the validation accuracy of its last
epoch, the network's parameter count, its multiply-accumulates per sample, the trained model's
measured milliseconds per forward pass of one sample on the trial's device (median of 20)."""
KINDS = ("float", "int", "choice")
NODE = "node:"
DATASET = "dataset."
PRESET = "preset."
BLOCK = "block:"
REPEAT = ".repeat"
ACTIVATION = "Activation"
MAX_TRIALS = 100_000


@dataclass
class Dimension:
    """One setting the sweep varies: a range of numbers (``float``/``int``, optionally on a
    log scale or in steps) or a list of choices."""

    target: str
    kind: str = "float"
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"target": self.target, "kind": "choice", "choices": list(self.choices)}
        out = {"target": self.target, "kind": self.kind, "low": self.low, "high": self.high,
               "log": self.log}
        if self.step is not None:
            out["step"] = self.step
        return out

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Dimension:
        data = mapping(data, path)
        target = data.get("target")
        if not isinstance(target, str) or not target:
            raise ConfigError(f"{path}.target: expected an option path or node:<id>.<param>, "
                              f"found {target!r}")
        kind = data.get("kind", "float")
        if kind not in KINDS:
            raise ConfigError(f"{path}.kind: must be one of {', '.join(KINDS)}, found {kind!r}")
        if kind == "choice":
            choices = data.get("choices")
            if not isinstance(choices, list) or not choices:
                raise ConfigError(f"{path}.choices: expected a non-empty list, found "
                                  f"{choices!r}")
            if any(not isinstance(c, (str, int, float, bool)) and c is not None
                   for c in choices):
                raise ConfigError(f"{path}.choices: each choice must be a string, a number, "
                                  "true/false or null")
            if len({repr(c) for c in choices}) != len(choices):
                raise ConfigError(f"{path}.choices: a choice is listed twice")
            return cls(target, "choice", choices=list(choices))
        integer = kind == "int"
        low = number(integer=integer)(data.get("low"), f"{path}.low")
        high = number(integer=integer)(data.get("high"), f"{path}.high")
        log = data.get("log", False)
        if not isinstance(log, bool):
            raise ConfigError(f"{path}.log: expected true or false, found {log!r}")
        step = number(0, integer=integer, nullable=True, above=True)(data.get("step"),
                                                                     f"{path}.step")
        if low > high:
            raise ConfigError(f"{path}: low ({low}) must not be above high ({high})")
        if log and low <= 0:
            raise ConfigError(f"{path}: a log range needs low above 0, found {low}")
        if log and step is not None and not (integer and step == 1):
            raise ConfigError(f"{path}: a log range cannot have a step")
        return cls(target, kind, low, high, step, log)

    def grid(self) -> list:
        """Every value the dimension can take, for the grid sampler; ConfigError for a
        continuous range (it has no finite grid)."""
        if self.kind == "choice":
            return list(self.choices)
        if self.step is None and self.kind == "float":
            raise ConfigError(f"{self.target}: the grid sampler needs a step or a list of "
                              "choices for a float range")
        step = self.step or 1
        count = int(math.floor((self.high - self.low) / step + 1e-9)) + 1
        values = [self.low + i * step for i in range(count)]
        return [int(v) for v in values] if self.kind == "int" else values

    def holds(self, value: Any) -> bool:
        """Whether ``value`` is one of the dimension's values."""
        if self.kind == "choice":
            return any(type(value) is type(c) and value == c for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (self.kind == "int" and not isinstance(value, int)):
            return False
        if not self.low <= value <= self.high:
            return False
        return self.step is None or abs(round((value - self.low) / self.step) * self.step
                                        + self.low - value) < 1e-9

    def samples(self) -> list:
        """Values that stand for the whole domain when checking it against the project."""
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]


@dataclass
class SweepSpace:
    """The search space and how to search it."""

    dimensions: list[Dimension] = field(default_factory=list)
    sampler: str = "tpe"
    pruner: str = "median"
    objectives: list[str] = field(default_factory=lambda: ["val_acc"])
    trials: int = 20

    def to_dict(self) -> dict[str, Any]:
        return {"dimensions": [d.to_dict() for d in self.dimensions], "sampler": self.sampler,
                "pruner": self.pruner, "objectives": list(self.objectives),
                "trials": self.trials}

    @classmethod
    def from_dict(cls, data: Any, path: str = KEY) -> SweepSpace:
        data = mapping(data, path)
        dims = data.get("dimensions", [])
        if not isinstance(dims, list):
            raise ConfigError(f"{path}.dimensions: expected a list, found {dims!r}")
        dimensions = [Dimension.from_dict(d, f"{path}.dimensions[{i}]")
                      for i, d in enumerate(dims)]
        seen: set[str] = set()
        for i, d in enumerate(dimensions):
            if d.target in seen:
                raise ConfigError(f"{path}.dimensions[{i}]: {d.target} is swept twice")
            seen.add(d.target)
        sampler = data.get("sampler", "tpe")
        if sampler not in SAMPLERS:
            raise ConfigError(f"{path}.sampler: must be one of {', '.join(SAMPLERS)}, found "
                              f"{sampler!r}")
        pruner = data.get("pruner", "median")
        if pruner not in PRUNERS:
            raise ConfigError(f"{path}.pruner: must be one of {', '.join(PRUNERS)}, found "
                              f"{pruner!r}")
        objectives = data.get("objectives", ["val_acc"])
        if not isinstance(objectives, list) or not objectives or \
                any(o not in OBJECTIVES for o in objectives) or \
                len(set(objectives)) != len(objectives):
            raise ConfigError(f"{path}.objectives: a list of distinct names among "
                              f"{', '.join(OBJECTIVES)}, found {objectives!r}")
        trials = number(1, MAX_TRIALS, integer=True)(data.get("trials", 20), f"{path}.trials")
        space = cls(dimensions, sampler, pruner, list(objectives), trials)
        if sampler == "grid":
            for d in dimensions:
                d.grid()
        return space

    @property
    def directions(self) -> list[str]:
        """``maximize``/``minimize`` for each objective, in order."""
        return [OBJECTIVES[o] for o in self.objectives]


def store_space(project: Any, space: SweepSpace) -> None:
    """Keep ``space`` in the project (checked first: ConfigError when it does not fit)."""
    check_space(space, project)
    project.extra[KEY] = space.to_dict()


def check_space(space: SweepSpace, project: Any) -> None:
    """ConfigError (one line, naming the dimension) for a target the project does not have or
    a value it refuses."""
    for i, dim in enumerate(space.dimensions):
        where = f"{KEY}.dimensions[{i}] ({dim.target})"
        try:
            for value in dim.samples():
                apply_values(trial_copy(project), {dim.target: value})
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def apply_values(project: Any, values: dict[str, Any]) -> None:
    """Set each ``{target: value}`` on ``project`` in place: options through ``with_options``
    (the rule the command line and the window use), graph parameters through the graph's
    methods. ConfigError for an unknown target or a refused option value (a graph that does not
    work is the analysis's to say)."""
    training: dict[str, Any] = {}
    dataset: dict[str, Any] = {}
    options = {t[len(PRESET):]: v for t, v in values.items() if t.startswith(PRESET)}
    if options:  # first: the nodes of the graph built again are the ones the others set
        project.graph = rebuilt(project.graph, options)
    for target, value in values.items():  # next: a node target may name a node of a new block
        if target.startswith(BLOCK):
            _set_repeat(project.graph, target, value)
    for target, value in values.items():
        if target.startswith((PRESET, BLOCK)):
            continue
        if target.startswith(NODE):
            _set_node(project.graph, target, value)
        elif target.startswith(DATASET):
            dataset[target[len(DATASET):]] = value
        else:
            training[target] = value
    if training:
        doc = with_options("training", project.training.to_dict(), training)
        project.training = type(project.training).from_dict(doc, "training")
    if dataset:
        doc = with_options("dataset", project.dataset.to_dict(), dataset)
        project.dataset = type(project.dataset).from_dict(doc, "dataset")


def current_values(project: Any, space: SweepSpace) -> dict[str, Any]:
    """The project's own value of each dimension whose domain holds it: a sweep's first trial
    tries the project as it is, so the best trial is at least as good as where it started."""
    values = {}
    for d in space.dimensions:
        value = own_value(project, d.target)
        if d.holds(value):
            values[d.target] = value
    return values


def preset_origin(graph: Graph) -> tuple[str, dict[str, Any]] | None:
    """The preset a graph was made from and its options (None: not made from one)."""
    origin = graph.metadata.get("origin")
    if not isinstance(origin, dict) or not isinstance(origin.get("preset"), str) or \
            not isinstance(origin.get("options"), dict):
        return None
    return origin["preset"], dict(origin["options"])


def rebuilt(graph: Graph, changes: dict[str, Any]) -> Graph:
    """``graph``'s preset built again with ``changes`` to its options; ConfigError when the
    graph was not made from a preset, was edited since (the edits would be lost), or the
    preset refuses an option."""
    from ..graph import presets
    from .model import graph_hash

    found = preset_origin(graph)
    if found is None:
        raise ConfigError(f"{PRESET}{next(iter(changes))}: the graph was not made from a "
                          "preset")
    name, options = found
    try:
        if graph_hash(presets.build(name, **options)) != graph_hash(graph):
            raise ConfigError(f"{PRESET}{next(iter(changes))}: the graph was edited since it "
                              f"was made from the preset {name}, and building it again would "
                              "lose the edits; sweep its layers' parameters instead")
        return presets.build(name, **{**options, **changes})
    except (presets.PresetError, GraphError, TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{PRESET}{next(iter(changes))}: {exc}") from None


def own_value(project: Any, target: str) -> Any:
    """The project's value of ``target`` now (None when it has none)."""
    if target.startswith(PRESET):
        found = preset_origin(project.graph)
        return found[1].get(target[len(PRESET):]) if found else None
    if target.startswith(BLOCK):
        stage = _stage(target)
        return stages(project.graph).get(stage) if stage else None
    if target.startswith(NODE):
        node_id, _, param = target[len(NODE):].rpartition(".")
        if node_id not in project.graph:
            return None
        node = project.graph.node(node_id)
        if param == "type":
            return node.type
        spec = node.spec.param_map.get(param)
        return node.params.get(param, spec.default if spec is not None else None)
    doc, path = (project.dataset.to_dict(), target[len(DATASET):]) \
        if target.startswith(DATASET) else (project.training.to_dict(), target)
    for part in path.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


def _stage(target: str) -> str | None:
    """The stage a ``block:<stage>.repeat`` target names (None: not such a target)."""
    stage = target[len(BLOCK):-len(REPEAT)] if target.endswith(REPEAT) else ""
    return stage or None


def _set_repeat(graph: Graph, target: str, value: Any) -> None:
    stage = _stage(target)
    if stage is None:
        raise ConfigError(f"{target}: expected block:<stage>.repeat, e.g. block:layer1.repeat")
    try:  # GraphError for a group that is not a stage, or a count below 1
        set_block_count(graph, stage, value)
    except GraphError as exc:
        raise ConfigError(f"{target}: {exc}") from None


def _set_node(graph: Graph, target: str, value: Any) -> None:
    node_id, _, param = target[len(NODE):].rpartition(".")
    if not node_id or node_id not in graph:
        raise ConfigError(f"{target}: no node {node_id!r} in the graph")
    node = graph.node(node_id)
    if param == "type":
        _set_activation(graph, node, value, target)
        return
    try:
        graph.set_param(node_id, param, value)
    except GraphError as exc:
        raise ConfigError(f"{target}: {exc}") from None


def _set_activation(graph: Graph, node: Node, type_name: Any, target: str) -> None:
    """Swap an activation node for one of another activation type (its own parameters take
    their defaults), keeping its id, name, place and links."""
    if node.spec.category != ACTIVATION:
        raise ConfigError(f"{target}: only an activation's type can be swept; {node.id} is a "
                          f"{node.type}")
    if not isinstance(type_name, str) or type_name not in layers.names() or \
            layers.get(type_name).category != ACTIVATION:
        raise ConfigError(f"{target}: {type_name!r} is not an activation type")
    if type_name == node.type:
        return
    removed = graph.remove_node(node.id)
    swapped = Node(node.id, type_name, {}, node.name, node.position, node.group, node.frozen)
    graph.restore_node(RemovedNode(swapped, removed.in_edges, removed.out_edges,
                                   removed.index))


def trial_copy(project: Any) -> Any:
    """A copy of what ``apply_values`` changes (graph, dataset, training), without the runs and
    weights, which a trial neither needs nor may change."""
    return type(project)(name=project.name, graph=project.graph.copy(),
                         dataset=copy.deepcopy(project.dataset),
                         training=copy.deepcopy(project.training),
                         graph_revision=project.graph_revision,
                         saved_graph_hash=project.saved_graph_hash,
                         description=project.description)


def run_ids(runs: list[Any], study_name: str) -> dict[int, int]:
    """Trial number → the project's run id, for the runs the sweep recorded in the project
    (``run.extra["sweep"]``)."""
    ids = {}
    for run in runs:
        mark = run.extra.get("sweep")
        if isinstance(mark, dict) and mark.get("study") == study_name:
            ids[mark.get("trial")] = run.id
    return ids
