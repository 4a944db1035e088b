"""``analyze(graph)``: what every layer does to one sample, and what is wrong (DESIGN.md §4).

Per node: output shape, parameters (trainable, frozen), buffers, MACs, receptive field per
axis, activation memory; totals; errors and warnings that name their node and say what to do.
Results of a node are cached against its revision and input shapes, so re-analysing after one
edit only recomputes what the edit can change.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, isfinite, prod
from typing import Any

from . import init as inits
from . import layers
from .layers.spec import WHOLE, LayerError, Out, Shape, Window
from .model import Graph, GraphError

BYTES_PER_VALUE = 4  # float32
MAX_LAYER_VALUES = 2**32
"""The most values one layer's output (per sample) or weights may hold: 17.2 GB in float32.
Past it a graph is no network any machine trains; refused here, it is a message, not an
allocator's failure or a C++ overflow in torch."""

# Per-axis receptive-field state: (r, j, start), r the field size, j the jump (distance in
# input pixels between neighbouring outputs), start the centre of the first output's field.
Axis = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Issue:
    node: str | None
    message: str
    severity: str  # "error" | "warning"

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "message": self.message}

    def __str__(self) -> str:
        where = f"{self.node}: " if self.node else ""
        return f"{self.severity}: {where}{self.message}"


class NodeReport:
    """What one node does to a sample. ``shape`` is None when it cannot be computed."""

    __slots__ = (
        "id", "type", "in_shapes", "shape", "params", "trainable_params", "buffers", "macs",
        "rf", "memory", "errors", "warnings", "sources", "training_only", "_resolved", "_out",
    )

    def __init__(self, node_id: str, type_name: str) -> None:
        self.id = node_id
        self.type = type_name
        self.in_shapes: list[Shape] = []
        self.shape: Shape | None = None
        self.params = 0
        self.trainable_params = 0
        self.buffers = 0
        self.macs = 0
        self.rf: tuple[Axis, Axis] | str | None = None
        self.memory = 0
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.sources: list[str] = []
        self.training_only = False
        """Only feeds outputs used in training (an auxiliary classifier)."""
        self._resolved: dict[str, Any] | None = None
        self._out: Out | None = None

    @property
    def ok(self) -> bool:
        return self.shape is not None and not self.errors

    @property
    def frozen_params(self) -> int:
        return self.params - self.trainable_params

    @property
    def receptive_field_whole(self) -> bool:
        return self.rf == WHOLE

    def receptive_field(self, input_hw: tuple[int, int] | None) -> tuple[int, int] | None:
        """[h, w] in input pixels; the whole input's size where every pixel is seen."""
        if self.rf is None:
            return None
        if self.rf == WHOLE:
            return input_hw
        (rh, _, _), (rw, _, _) = self.rf  # type: ignore[misc]
        if not (isfinite(rh) and isfinite(rw)):  # strides past a float's range (a hostile file)
            return None
        return ceil(rh - 1e-9), ceil(rw - 1e-9)


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """Training memory for a batch: weights, gradients, optimizer state and activations."""

    batch_size: int
    optimizer: str
    weights: int
    gradients: int
    optimizer_state: int
    buffers: int
    activations: int
    inputs: int

    @property
    def total(self) -> int:
        return (self.weights + self.gradients + self.optimizer_state + self.buffers
                + self.activations + self.inputs)

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size, "optimizer": self.optimizer, "weights": self.weights,
            "gradients": self.gradients, "optimizer_state": self.optimizer_state,
            "buffers": self.buffers, "activations": self.activations, "inputs": self.inputs,
            "total": self.total,
        }


# The training-memory estimate's optimizers (the summary's choices, `summary --optimizer`):
# the state each keeps per trainable value, in values (Adam: two moments), and its label.
OPTIMIZER_STATE = {"sgd": 0, "sgd_momentum": 1, "nesterov": 1, "rmsprop": 1, "adagrad": 1,
                   "adam": 2, "adamw": 2, "radam": 2, "adadelta": 2, "lamb": 2}
OPTIMIZER_LABELS = {
    "sgd": "SGD", "sgd_momentum": "SGD with momentum", "nesterov": "SGD, Nesterov",
    "rmsprop": "RMSprop", "adagrad": "Adagrad", "adam": "Adam", "adamw": "AdamW",
    "radam": "RAdam", "adadelta": "AdaDelta", "lamb": "LAMB",
}


def memory_optimizer(name: str, momentum: float = 0.0, nesterov: bool = False) -> str:
    """The estimate's optimizer for a training configuration's: SGD keeps a momentum buffer
    only when momentum is on."""
    if name == "sgd" and momentum > 0:
        return "nesterov" if nesterov else "sgd_momentum"
    return name


# Layers whose output is a view of their input: no new activation memory.
_VIEWS = frozenset({"Output", "Identity", "Flatten", "Chunk", "Slice", "Permute"})


class Report:
    """The analysis of a graph. ``nodes`` is in topological order."""

    def __init__(self) -> None:
        self.nodes: dict[str, NodeReport] = {}
        self.issues: list[Issue] = []
        self.input_id: str | None = None
        self.output_ids: list[str] = []

    # -- totals --------------------------------------------------------------------------------
    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.nodes.values())

    @property
    def trainable_params(self) -> int:
        return sum(n.trainable_params for n in self.nodes.values())

    @property
    def buffers(self) -> int:
        return sum(n.buffers for n in self.nodes.values())

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one inference (auxiliary training heads left out)."""
        return sum(n.macs for n in self.nodes.values() if not n.training_only)

    @property
    def activation_memory(self) -> int:
        """Bytes of all layer outputs for one sample (what training keeps for backward)."""
        return sum(n.memory for n in self.nodes.values())

    @property
    def input_shape(self) -> Shape | None:
        return self.nodes[self.input_id].shape if self.input_id else None

    @property
    def output_shapes(self) -> list[Shape | None]:
        return [self.nodes[o].shape for o in self.output_ids]

    @property
    def input_hw(self) -> tuple[int, int] | None:
        shape = self.input_shape
        return (shape[1], shape[2]) if shape is not None and len(shape) == 3 else None

    def training_memory(self, batch_size: int = 32, optimizer: str = "adam", *,
                        lookahead: bool = False) -> MemoryEstimate:
        """Estimate of the memory one training step needs (float32, no mixed precision);
        ``lookahead`` adds Lookahead's slow copy of the trainable weights to the state."""
        if optimizer not in OPTIMIZER_STATE:
            raise ValueError(f"unknown optimizer {optimizer!r}; one of "
                             f"{', '.join(OPTIMIZER_STATE)}")
        b = BYTES_PER_VALUE
        trainable = self.trainable_params
        shape = self.input_shape
        return MemoryEstimate(
            batch_size=batch_size,
            optimizer=optimizer,
            weights=self.total_params * b,
            gradients=trainable * b,
            optimizer_state=(OPTIMIZER_STATE[optimizer] + lookahead) * trainable * b,
            buffers=self.buffers * b,
            activations=batch_size * (self.activation_memory
                                      - (self.nodes[self.input_id].memory if self.input_id else 0)),
            inputs=batch_size * (prod(shape) * b if shape else 0),
        )

    # -- explanations --------------------------------------------------------------------------
    def explain(self, node_id: str) -> dict[str, str]:
        """Each of the node's numbers as the formula that produced it, values filled in."""
        report = self.nodes[node_id]
        if report._out is None or report._resolved is None:
            return {"output_shape": "not computed: " + ("; ".join(report.errors)
                                                        or "an input before it has an error")}
        spec = layers.get(report.type)
        lines = spec.explain(report._resolved, report.in_shapes, report._out)
        lines.setdefault("macs", f"{report.macs:,}" if report.macs else
                         "0 (only convolutions and fully connected layers count)")
        lines["receptive_field"] = self._explain_rf(report)
        lines["memory"] = (f"{'·'.join(map(str, report.shape or ()))} values × "
                           f"{BYTES_PER_VALUE} bytes = {report.memory:,} bytes per sample"
                           if report.memory else "0 (a view of its input)")
        return lines

    def _explain_rf(self, report: NodeReport) -> str:
        if report.rf is None:
            return "not spatial"
        if report.rf == WHOLE:
            return "the whole input (every output depends on every input pixel)"
        rule = report._out.rf if report._out else None
        (rh, jh, _), (rw, jw, _) = report.rf  # type: ignore[misc]
        size = f"{_num(rh)}×{_num(rw)} input pixels"
        if len(report.sources) > 1:
            src = self._widest_source(report)
            return f"{size}: the widest field among its inputs ({src.id if src else '–'})"
        if rule is None or rule == WHOLE or not report.in_shapes:
            return f"{size} (unchanged: this layer works pixel by pixel)"
        src = self._widest_source(report)
        if src is None or not isinstance(src.rf, tuple):
            return size
        (r0, j0, _), _ = src.rf
        wh = rule[0]  # type: ignore[index]
        return (f"r = r_in + (F − 1)·j_in = {_num(r0)} + ({_num(wh.kernel)} − 1)·{_num(j0)} = "
                f"{_num(rh)}; jump j = j_in·S = {_num(j0)}·{_num(wh.stride)} = {_num(jh)}"
                + ("" if (rh, jh) == (rw, jw) else f" (H); W: {_num(rw)}, jump {_num(jw)}")
                + f" → {size}")

    def _widest_source(self, report: NodeReport) -> NodeReport | None:
        best = None
        for src in report.sources:
            cand = self.nodes[src]
            if isinstance(cand.rf, tuple) and (
                best is None or cand.rf[0][0] + cand.rf[1][0] > best.rf[0][0] + best.rf[1][0]
            ):
                best = cand
        return best

    # -- export --------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The ``summary --json`` object of DESIGN.md §3.3."""
        hw = self.input_hw
        nodes = []
        for n in self.nodes.values():
            rf = n.receptive_field(hw)
            nodes.append({
                "id": n.id, "type": n.type,
                "output_shape": list(n.shape) if n.shape is not None else None,
                "params": n.params, "trainable_params": n.trainable_params,
                "buffers": n.buffers,
                "receptive_field": list(rf) if rf is not None else None,
                "receptive_field_whole": n.receptive_field_whole,
                "macs": n.macs, "memory": n.memory, "training_only": n.training_only,
            })
        shape = self.input_shape
        return {
            "input_shape": list(shape) if shape is not None else None,
            "output_shapes": [list(s) if s is not None else None for s in self.output_shapes],
            "nodes": nodes,
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "buffers": self.buffers,
            "macs": self.macs,
            "activation_memory": self.activation_memory,
            "errors": [i.to_json() for i in self.errors],
            "warnings": [i.to_json() for i in self.warnings],
        }


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.3g}"


_INPUT_AXIS: Axis = (1.0, 1.0, 0.5)


def analyze(graph: Graph) -> Report:
    """Analyse ``graph`` for one sample; never raises for a bad graph (issues say what is
    wrong). Uses and refreshes the graph's cache of per-node results."""
    report = Report()
    issues = report.issues
    try:
        order = graph.topological_order()
    except GraphError as exc:
        issues.append(Issue(None, str(exc), "error"))
        return report
    cache: dict[str, tuple] = graph.cache.setdefault("analysis", {})
    stale = set(cache) - set(order) if len(cache) > len(order) else ()
    for nid in stale:
        del cache[nid]
    inputs = graph.input_map()
    nodes = graph.nodes
    reports = report.nodes
    get_spec = layers.get
    moved: dict[str, tuple[int, int]] = {}  # where a Permute put H and W (not axes 1, 2)

    for nid in order:
        node = nodes[nid]
        spec = get_spec(node.type)
        rep = NodeReport(nid, node.type)
        reports[nid] = rep
        srcs = inputs[nid]
        rep.sources = list(srcs)
        if node.type == "Input":
            if report.input_id is None:
                report.input_id = nid
            else:
                rep.errors.append(f"only one Input is supported; {report.input_id} is the "
                                  "first: delete this one or join the two with a Concat")
                continue
        entry = cache.get(nid)
        if entry is None or entry[0] != node.rev:
            resolved, problems = spec.resolve(node.params)
            entry = (node.rev, resolved, problems, None, None)
            cache[nid] = entry
        _, resolved, problems, cached_ins, cached_out = entry
        if problems:
            rep.errors.extend(problems)
            continue
        n_in = len(srcs)
        if n_in < spec.min_inputs:
            if n_in == 0:
                rep.errors.append(
                    f"{nid} has no input: link it from the layer before it, or delete it")
            else:
                rep.errors.append(f"{node.type} needs at least {spec.min_inputs} inputs "
                                  f"(it has {n_in}); link another branch into it")
            continue
        ins = []
        for src in srcs:
            shape = reports[src].shape
            if shape is None:
                break
            ins.append(shape)
        else:
            ins_key = tuple(ins)
            if cached_ins == ins_key and cached_out is not None:
                out = cached_out
            else:
                try:
                    out = spec.infer(resolved, ins)
                except LayerError as exc:
                    out = exc
                except ArithmeticError:  # sizes past a float's range (a hostile file)
                    out = LayerError("its sizes are too large to compute: use smaller "
                                     "parameters or a smaller input")
                cache[nid] = (node.rev, resolved, problems, ins_key, out)
            if isinstance(out, LayerError):
                message = str(out)
                if n_in > 1:
                    message += f" (inputs from {', '.join(srcs)})"
                rep.errors.append(message)
                continue
            too_large = _too_large(node.type, out)
            if too_large:
                rep.errors.append(too_large)
                continue
            rep.in_shapes = ins
            rep._resolved = resolved
            rep._out = out
            rep.shape = out.shape
            rep.params = out.params
            rep.trainable_params = 0 if node.frozen else out.params
            rep.buffers = out.buffers
            rep.macs = out.macs
            rep.memory = 0 if node.type in _VIEWS else prod(out.shape) * BYTES_PER_VALUE
            if out.notes and not (node.type == "Linear" and _channels_last(srcs, moved)):
                rep.warnings.extend(out.notes)
            if node.type == "Permute" or (moved and any(s in moved for s in srcs)):
                rep.rf = _moved_receptive_field(rep, spec, out, srcs, reports, moved)
            else:
                rep.rf = _receptive_field(out, srcs, reports)

    _graph_checks(graph, report, order)
    _init_checks(graph, report)
    for nid in order:
        rep = reports[nid]
        for message in rep.errors:
            issues.append(Issue(nid, message, "error"))
        for message in rep.warnings:
            issues.append(Issue(nid, message, "warning"))
    return report


def _too_large(type_name: str, out: Out) -> str | None:
    """Why a layer's output or weights are past ``MAX_LAYER_VALUES``, or None."""
    values = prod(out.shape)
    if values > MAX_LAYER_VALUES:
        what = "a sample" if type_name == "Input" else "its output"
        advice = "a smaller input" if type_name == "Input" else "fewer channels or a smaller input"
        return (f"{what} would hold {_short(values)} values ({_gb(values)} per sample), more "
                f"than the {_LIMIT} one layer may hold: use {advice}")
    if out.params > MAX_LAYER_VALUES:
        return (f"it would have {_short(out.params)} weights ({_gb(out.params)}), more than the "
                f"{_LIMIT} one layer may hold: use fewer channels or features")
    return None


_LIMIT = (f"{MAX_LAYER_VALUES / 1e9:.1f} G values "
          f"({MAX_LAYER_VALUES * BYTES_PER_VALUE / 1e9:.1f} GB)")


def _gb(values: int) -> str:
    whole = values * BYTES_PER_VALUE // 10**9  # an int: no float overflow for a hostile size
    return f"{values * BYTES_PER_VALUE / 1e9:,.1f} GB" if whole < 10**6 else f"{whole:,} GB"


def _receptive_field(out: Out, srcs: list[str], reports: dict[str, NodeReport]) -> Any:
    rule = out.rf
    if not srcs:  # the Input
        return (_INPUT_AXIS, _INPUT_AXIS) if len(out.shape) == 3 else None
    if len(srcs) > 1:
        # A merge sees the widest of its full-size inputs; a broadcast gate ([C, 1, 1] in
        # squeeze-and-excitation) rescales values but does not widen what a unit sees.
        full = [s for s in srcs if reports[s].shape == out.shape]
        srcs = full or srcs
    state = reports[srcs[0]].rf
    for src in srcs[1:]:
        other = reports[src].rf
        if other == WHOLE or state is None:
            state = other
        elif isinstance(other, tuple) and state != WHOLE and \
                other[0][0] + other[1][0] > state[0][0] + state[1][0]:
            state = other
    if rule is None or state is None or state == WHOLE:
        return state
    if rule == WHOLE:
        return WHOLE
    return _grow(state[0], rule[0]), _grow(state[1], rule[1])


def _grow(axis: Axis, window: Window) -> Axis:
    """One spatial axis's (r, j, start) after a sliding window."""
    r, j, start = axis
    return (r + (window.kernel - 1) * j, j * window.stride,
            start + ((window.kernel - 1) / 2 - window.pad) * j)


_SPATIAL = (1, 2)
"""Where H and W sit in a [C, H, W] sample."""


def _channels_last(srcs: list[str], moved: dict[str, tuple[int, int]]) -> bool:
    """The input is a map permuted to [H, W, C]: a Linear on it acts on each position's
    channels (a 1×1 convolution), as meant, so its note about the last axis does not apply."""
    return bool(srcs) and srcs[0] in moved and 2 not in moved[srcs[0]]


def _moved_receptive_field(rep: NodeReport, spec: layers.LayerSpec, out: Out, srcs: list[str],
                           reports: dict[str, NodeReport],
                           moved: dict[str, tuple[int, int]]) -> Any:
    """The receptive field around a Permute (ConvNeXt's [C, H, W] → [H, W, C], Linear over
    the channels, and back), with ``moved`` updated to where H and W are now. A layer's window
    rule speaks of its input's axes 1 and 2, so each applies to the spatial axis found there;
    a spatial axis at axis 0 is what the layer takes for its channels: kept (Linear and
    pooling leave axis 0 alone), except by a convolution, which mixes all of it, so then the
    analysis cannot say (None)."""
    places = {moved.get(s, _SPATIAL) for s in srcs}
    if len(places) > 1:
        return None  # the inputs disagree on where H and W are
    place = places.pop()
    state = _receptive_field(Out(out.shape), srcs, reports)  # the inputs', merged
    rule = out.rf
    if rep.type == "Permute":
        dims = list(rep._resolved["dims"]) if rep._resolved else []
        place = (dims.index(place[0]), dims.index(place[1])) if len(dims) == 3 else _SPATIAL
        rule = None
    if len(out.shape) == 3 and place != _SPATIAL:
        moved[rep.id] = place
    if rule is None or not isinstance(state, tuple):
        return state
    if rule == WHOLE:
        return WHOLE
    if 0 in place and spec.category == "Convolution":
        return None
    windows = {1: rule[0], 2: rule[1]}
    return tuple(_grow(axis, windows[at]) if at in windows else axis
                 for axis, at in zip(state, place))


def _graph_checks(graph: Graph, report: Report, order: list[str]) -> None:
    """Errors and advice that need the whole graph."""
    reports = report.nodes
    nodes = graph.nodes
    if report.input_id is None:
        report.issues.append(Issue(
            None, "the graph has no Input: add one (Structure → Input) with the sample shape, "
            "e.g. [3, 224, 224], and link it to the first layer", "error"))
    # Outputs in the order they were added: that is the order the module returns them in.
    outputs_marked = [nid for nid in nodes if nodes[nid].type == "Output"]
    sinks = [nid for nid in order if not graph.output_map()[nid]]
    if outputs_marked:
        report.output_ids = outputs_marked
        if all(nodes[o].params.get("training_only", False) for o in outputs_marked):
            report.issues.append(Issue(
                None, "every Output is training-only, so the model returns nothing when "
                "evaluated: untick training_only on the main output", "error"))
        _mark_training_only(graph, report)
        for nid in sinks:
            if nodes[nid].type not in ("Output", "Input"):
                reports[nid].warnings.append(
                    f"{nid}'s output is not used: link it to the rest of the model or to an "
                    "Output, or delete it")
    else:
        report.output_ids = [nid for nid in sinks if nodes[nid].type != "Input"]
        if not report.output_ids and report.input_id is not None:
            report.issues.append(Issue(
                None, "the model has no layers yet: add layers after the Input and link them",
                "error"))
        if len(report.output_ids) > 1:  # one warning for the model, not one per loose end
            ends = report.output_ids
            named = ", ".join(ends[:6]) + (f" and {len(ends) - 6} more" if len(ends) > 6 else "")
            report.issues.append(Issue(
                None, f"the model has {len(ends)} loose ends ({named}), so it returns them all: "
                "mark the real outputs with Output nodes, or delete the unused branches",
                "warning"))

    consumers = graph.output_map()
    spatial_after: dict[str, int] = {}
    for nid in reversed(order):
        count = 0
        for dst in consumers[nid]:
            count += spatial_after[dst] + (1 if _slides(reports[dst]) else 0)
        spatial_after[nid] = count

    linear_params = 0
    biggest_linear: NodeReport | None = None
    flattens_a_map = False  # a Linear takes a flattened feature map, not a pooled vector
    has_conv = False
    keeps_bias = _torchvision_origin(graph)
    for nid in order:
        rep = reports[nid]
        if rep.shape is None:
            continue
        node_type = rep.type
        if node_type == "Linear" and not rep.training_only:
            linear_params += rep.params
            if biggest_linear is None or rep.params > biggest_linear.params:
                biggest_linear = rep
            if isinstance(reports[rep.sources[0]].rf, tuple) and len(rep.in_shapes[0]) == 1:
                flattens_a_map = True
        elif node_type in ("Conv2d", "ConvTranspose2d"):
            has_conv = True
            if rep._resolved and rep._resolved["bias"] and not keeps_bias:
                dsts = consumers[nid]
                if len(dsts) == 1 and reports[dsts[0]].type == "BatchNorm2d":
                    c = rep.shape[0]
                    rep.warnings.append(
                        f"its bias is cancelled by the BatchNorm2d after it ({dsts[0]}), which "
                        f"subtracts the mean: set bias=False to save {c} parameters")
        shape = rep.shape
        if len(shape) == 3 and shape[1] == 1 and shape[2] == 1 and rep.in_shapes:
            src_shape = rep.in_shapes[0]
            if len(src_shape) == 3 and src_shape[1] * src_shape[2] > 1 and \
                    rep.rf != WHOLE and spatial_after[nid]:
                rep.warnings.append(
                    f"the feature map shrinks to 1×1 here, yet {spatial_after[nid]} layer(s) "
                    "after it still slide windows over it and see only padding: downsample "
                    "less (fewer poolings or strides) or use a larger input")
        if layers.get(node_type).category == "Pooling" and rep.in_shapes:
            src = rep.sources[0]
            src_shape = rep.in_shapes[0]
            if reports[src].rf == WHOLE and len(src_shape) == 3 and \
                    src_shape[1] == src_shape[2] == 1:
                rep.warnings.append("pooling after global pooling does nothing (the map is "
                                    "already 1×1): delete this layer")
        if node_type == "Softmax" and (nid in report.output_ids or any(
                nodes[d].type == "Output" for d in consumers[nid])):
            rep.warnings.append(
                "the model ends in Softmax, but the cross-entropy loss applies softmax itself: "
                "train on the scores before it (keep Softmax only for deployment)")
    total = report.total_params
    if has_conv and flattens_a_map and biggest_linear is not None and total and \
            linear_params * 2 > total:
        share = 100 * linear_params / total
        biggest_linear.warnings.append(
            f"the fully connected layers hold {share:.0f}% of the parameters "
            f"({_short(linear_params)} of {_short(total)}): global average pooling before the "
            "classifier (as GoogLeNet and ResNet do) would remove most of them")


def _init_checks(graph: Graph, report: Report) -> None:
    """Invalid initialisation schemes (errors), and layers whose weights start at zero."""
    bad = inits.problems(graph)
    for nid, message in bad:
        if nid is None:
            report.issues.append(Issue(None, message, "error"))
        elif nid in report.nodes:
            report.nodes[nid].errors.append(message)
    if bad:
        return
    for nid, rep in report.nodes.items():
        if graph.nodes[nid].type in inits.WEIGHTED and \
                inits.effective(graph, nid)["scheme"] == "zeros":
            rep.warnings.append(
                "its weights start at zero (init: zeros): every unit computes the same output "
                "and gets the same gradient, so the symmetry never breaks and the units never "
                "learn different features; choose another initialisation (e.g. kaiming_normal)")


def _mark_training_only(graph: Graph, report: Report) -> None:
    """Flag the nodes that only feed training-only outputs (auxiliary classifiers)."""
    nodes = graph.nodes
    main = [o for o in report.output_ids if not nodes[o].params.get("training_only", False)]
    if len(main) == len(report.output_ids):
        return
    needed = graph.upstream(main)
    for nid, rep in report.nodes.items():
        rep.training_only = nid not in needed


def _torchvision_origin(graph: Graph) -> bool:
    """Built from a torchvision-compatible preset, whose layout must stay for its weights."""
    origin = graph.metadata.get("origin")
    return isinstance(origin, dict) and origin.get("torchvision") is True


def _slides(rep: NodeReport) -> bool:
    out = rep._out
    if out is None or not isinstance(out.rf, tuple):
        return False
    return out.rf[0].kernel > 1 or out.rf[1].kernel > 1


def _short(n: int) -> str:
    for unit, scale in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale:
            if n >= 10**300:  # past a float's range (a hostile file): whole units
                return f"{n // scale} {unit}"
            return f"{n / scale:.1f} {unit}"
    return str(n)
