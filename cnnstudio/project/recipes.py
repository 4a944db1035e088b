"""Training recipes: settings changes worked out from a graph, for the window's buttons and the
command line alike. ``three_phase`` is the seeds' progressive fine-tuning: train the head with
the backbone frozen at 1e-3, unfreeze the upper blocks at 1e-4, unfreeze everything at 1e-5
with the lower layers at 0.1× the rate.

The engine has one base learning rate, so the phases' rates are a multistep schedule
(γ = 0.1 at the phase boundaries) and the lower layers' 0.1× is a learning-rate multiplier;
the frozen backbone is the graph's own Frozen flags (what the canvas shows and the analysis
counts) and the phases' unfreezing are ``transfer.unfreeze`` steps at the epochs where the
rate drops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..graph import Graph, GraphError, analyze
from ..graph.edits import classifier_node, members_of
from .config import TrainConfig
from .model import Project
from .options import with_options

BASE_LR = 1e-3
DECAY = 0.1  # from one phase's rate to the next's
LOWER_MULTIPLIER = 0.1

THREE_PHASE_HELP = (
    "The seeds' three-phase fine-tuning, over the run's epochs split in thirds: (1) the head "
    "trains with the backbone frozen at 1e-3; (2) the upper blocks unfreeze at 1e-4; (3) "
    "everything unfreezes at 1e-5, the lower layers at 0.1× that. Sets the learning rate "
    "to 1e-3, the schedule to decay ×0.1 at the phase boundaries (no warm-up), freezes the "
    "backbone in the network, and sets the unfreezing steps and a 0.1 multiplier on the lower "
    "layers.")


class RecipeError(ValueError):
    """A recipe that does not fit the graph or the settings; the message says why."""


@dataclass(frozen=True)
class Parts:
    """A network cut for fine-tuning: the head, the upper and lower backbone ids (blocks or
    nodes, in order)."""

    head: str
    upper: list[str]
    lower: list[str]


def _top(graph: Graph, nid: str) -> str | None:
    """The outermost block a node belongs to (None for a loose node)."""
    group = graph.nodes[nid].group
    while group is not None and graph.groups[group].parent is not None:
        group = graph.groups[group].parent
    return group


def _child_of(graph: Graph, nid: str, block: str) -> str:
    """The block directly inside ``block`` holding ``nid``, or ``nid`` itself if loose in it."""
    group, below = graph.nodes[nid].group, nid
    while group is not None and group != block:
        group, below = graph.groups[group].parent, group
    return below


def _units(graph: Graph, weighted: list[str], head: str, inside: str | None = None
           ) -> list[tuple[list[str], bool]]:
    """The backbone's units in order, each (ids, is a block): the top-level blocks (or the
    blocks directly inside ``inside``) and the loose layers with weights. The head's own block
    is not one unit (freezing it would freeze the head): its other layers are one unit."""
    head_block = _top(graph, head) if inside is None else None
    units: dict[str, tuple[list[str], bool]] = {}
    for nid in weighted:
        if nid == head:
            continue
        block = _top(graph, nid) if inside is None else _child_of(graph, nid, inside)
        if block is not None and block == head_block:
            units.setdefault("\0head", ([], True))[0].append(nid)
        elif block is None or block == nid:
            units[nid] = ([nid], False)
        else:
            units.setdefault(block, ([block], True))
    return list(units.values())


def fine_tuning_parts(graph: Graph) -> Parts:
    """The head (the classifier), the upper backbone (the last block and the loose layers after
    it; without blocks, the last layer with weights) and the rest, the lower backbone. Only
    layers that feed the head count (an auxiliary classifier is a head of its own)."""
    try:
        head = classifier_node(graph)
    except GraphError as exc:  # no single classifier
        raise RecipeError(str(exc)) from None
    report = analyze(graph)
    feeding = graph.upstream([head])
    weighted = [nid for nid in graph.topological_order()
                if nid in feeding and nid in report.nodes and report.nodes[nid].params]
    units = _units(graph, weighted, head)
    while len(units) == 1 and units[0][1] and len(units[0][0]) == 1:
        inner = _units(graph, weighted, head, inside=units[0][0][0])  # one block: look inside
        if len(inner) < 2:
            break
        units = inner
    if not units:
        raise RecipeError(f"nothing to fine-tune: the network has no layers with weights "
                          f"before its head {head!r}")
    blocks = [i for i, (_, is_block) in enumerate(units) if is_block]
    cut = blocks[-1] if blocks else len(units) - 1
    return Parts(head, [i for ids, _ in units[cut:] for i in ids],
                 [i for ids, _ in units[:cut] for i in ids])


def phase_lengths(epochs: int) -> tuple[int, int, int]:
    """The run's epochs in three phases as even as can be, the earlier ones longer."""
    if epochs < 3:
        raise RecipeError(f"the three-phase recipe needs at least 3 epochs, the run has "
                          f"{epochs}: raise the epochs first")
    base, extra = divmod(epochs, 3)
    return base + (extra > 0), base + (extra > 1), base


@dataclass(frozen=True)
class Recipe:
    """What a recipe changes: training settings ({dotted path: value}) and the graph's Frozen
    flags ({node id: frozen}), with a line per phase saying what the run will do."""

    settings: dict[str, Any]
    frozen: dict[str, bool]
    text: str


def three_phase(graph: Graph, epochs: int) -> Recipe:
    """The three-phase recipe for a run of ``epochs`` epochs: the backbone frozen, the head
    trainable; raises RecipeError when the graph or the epochs do not allow it."""
    parts = fine_tuning_parts(graph)
    first, second, _ = phase_lengths(epochs)
    # A milestone m lowers the rate from 0-based epoch m on, i.e. at the start of epoch m + 1,
    # where the unfreezing step of that epoch also applies.
    milestones = [first, first + second]
    steps = [{"epoch": first + 1, "nodes": parts.upper}]
    if parts.lower:
        steps.append({"epoch": first + second + 1, "nodes": parts.lower})
    settings = {
        "optimizer.lr": BASE_LR,
        "schedule.name": "multistep",
        "schedule.milestones": milestones,
        "schedule.gamma": DECAY,
        "schedule.warmup_epochs": 0.0,
        "transfer.unfreeze": steps,
        "transfer.lr_multipliers": {i: LOWER_MULTIPLIER for i in parts.lower},
    }
    report = analyze(graph)
    weighted = {nid for nid, rep in report.nodes.items() if rep.params}
    backbone = set().union(*(members_of(graph, i) for i in parts.lower + parts.upper))
    frozen = {nid: nid in backbone for nid in sorted(weighted & (backbone | {parts.head}))}
    return Recipe(settings, frozen, _describe(steps, milestones, epochs))


RECIPES = {"three-phase": three_phase}
"""The recipes by the name the command line's ``--recipe`` takes."""


def apply(project: Project, recipe: Recipe) -> None:
    """Make ``recipe``'s changes to ``project`` (the command line's way; the window makes the
    same changes as one undoable edit)."""
    values = with_options("training", project.training.to_dict(), recipe.settings)
    project.training = TrainConfig.from_dict(values, "training")
    for nid, frozen in recipe.frozen.items():
        if project.graph.nodes[nid].frozen != frozen:
            project.graph.set_node_attrs(nid, frozen=frozen)


def _describe(steps: list[dict[str, Any]], milestones: list[int], epochs: int) -> str:
    """What the recipe does, phase by phase, in one line per phase."""
    a, b = milestones
    upper = ", ".join(steps[0]["nodes"])
    rates = [_rate(BASE_LR * DECAY ** k) for k in range(3)]
    lowest = _rate(BASE_LR * DECAY ** 2 * LOWER_MULTIPLIER)
    lower = f"the lower layers at {LOWER_MULTIPLIER:g}× ({lowest})" if len(steps) > 1 \
        else "no lower layers"
    return (f"Phase 1, epochs 1–{a}: the head at {rates[0]}, the rest frozen.\n"
            f"Phase 2, epochs {a + 1}–{b}: {upper} unfreeze, at {rates[1]}.\n"
            f"Phase 3, epochs {b + 1}–{epochs}: all unfreeze, at {rates[2]}; {lower}.")


def _rate(lr: float) -> str:
    return f"{lr:.0e}".replace("e-0", "e-")


def frozen_ids(graph: Graph) -> list[str]:
    """The frozen layers with weights named with the fewest ids, in network order: a block
    whose layers with weights are all frozen by its (outermost such) id, else the layer's;
    what the Transfer section shows and its next unfreezing step proposes."""
    report = analyze(graph)
    weighted = [nid for nid in graph.topological_order()
                if nid in report.nodes and report.nodes[nid].params]
    frozen = {nid for nid in weighted if graph.nodes[nid].frozen}
    whole: dict[str, bool] = {}  # block id → all its layers with weights frozen
    out: list[str] = []
    for nid in weighted:
        if nid not in frozen:
            continue
        name, group = nid, graph.nodes[nid].group
        while group is not None:
            if group not in whole:
                whole[group] = all(m in frozen for m in graph.group_members(group)
                                   if report.nodes.get(m) and report.nodes[m].params)
            if whole[group]:
                name = group
            group = graph.groups[group].parent
        if name not in out:
            out.append(name)
    return out


def unknown_ids(graph: Graph, ids: list[str]) -> list[str]:
    """The ids that name no node, no block and no node prefix of ``graph`` (the engine's
    ``resolve_ids`` would refuse them when the run starts)."""
    return [i for i in ids if not members_of(graph, i)]
