"""Graph → ``torch.nn.Module``: one submodule per node at the node id's path, so state_dict keys
are the ids (``layer1.0.conv1.weight``) and torchvision's weights load into presets."""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import torch
from torch import nn

from .. import machine
from ..graph import Graph, Issue, Report, analyze, layers
from ..graph import init as inits
from ..graph.analysis import BYTES_PER_VALUE
from ..graph.table import size
from .modules.batch_instance_norm import BatchInstanceNorm2d
from .modules.layer_scale import LayerScale
from .modules.own_layers import BlurPool2d, BranchSoftmax, GlobalResponseNorm
from .modules.std_conv import StdConv2d
from .modules.weight_init import initialise


class GraphBuildError(ValueError):
    """The graph has errors; ``issues`` are the analysis' errors."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        shown = "; ".join(f"{i.node + ': ' if i.node else ''}{i.message}" for i in issues[:3])
        more = f" (and {len(issues) - 3} more)" if len(issues) > 3 else ""
        super().__init__(f"the graph cannot be built: {shown}{more}")


class TooLargeError(GraphBuildError):
    """The model would need more memory than this machine has (found before allocating)."""

    def __init__(self, message: str) -> None:
        ValueError.__init__(self, message)  # the reason alone: the graph itself is valid
        self.issues = [Issue(None, message, "error")]


class Add(nn.Module):
    """Element-wise sum of the inputs (a residual connection)."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Mul(nn.Module):
    """Element-wise product of the inputs, broadcasting (squeeze-and-excitation)."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Concat(nn.Module):
    """Joins the inputs along ``dim`` in port order."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class ChannelAffine(nn.Module):
    """y = x·scale + shift per channel (axis 1), or with one number for all channels. The
    constants are non-persistent buffers: they follow the module to its device but are no
    weights, so the state_dict has no key for them (torchvision's transform_input)."""

    def __init__(self, scale: float | list[float] = 1.0, shift: float | list[float] = 0.0
                 ) -> None:
        super().__init__()
        for name, value in (("scale", scale), ("shift", shift)):
            constant = torch.tensor(value, dtype=torch.float32).reshape(-1)
            self.register_buffer(name, constant, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        view = (1, -1) + (1,) * (x.dim() - 2)
        return x * self.scale.reshape(view) + self.shift.reshape(view)


class Chunk(nn.Module):
    """Piece ``index`` of ``x.chunk(chunks, dim=1)``: a node has one output, so a split is
    one Chunk node per piece (ShuffleNet's halves)."""

    def __init__(self, chunks: int, index: int) -> None:
        super().__init__()
        self.chunks = chunks
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.chunk(self.chunks, 1)[self.index]

    def extra_repr(self) -> str:
        return f"chunks={self.chunks}, index={self.index}"


class Slice(nn.Module):
    """Channels ``start`` to ``end - 1`` (``x[:, start:end]``): one piece of an uneven split
    (MixNet, DPN), which Chunk's even pieces cannot express."""

    def __init__(self, start: int, end: int) -> None:
        super().__init__()
        self.start = start
        self.end = end

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start:self.end]

    def extra_repr(self) -> str:
        return f"start={self.start}, end={self.end}"


class Block(nn.Module):
    """A container for the submodules under one path prefix (``layer1``, ``layer1.0``)."""


_OWN = {"cnnstudio:Add": Add, "cnnstudio:Mul": Mul, "cnnstudio:Concat": Concat,
        "cnnstudio:ChannelAffine": ChannelAffine, "cnnstudio:Chunk": Chunk,
        "cnnstudio:Slice": Slice, "cnnstudio:LayerScale": LayerScale,
        "cnnstudio:StdConv2d": StdConv2d, "cnnstudio:GlobalResponseNorm": GlobalResponseNorm,
        "cnnstudio:BranchSoftmax": BranchSoftmax, "cnnstudio:BlurPool2d": BlurPool2d,
        "cnnstudio:BatchInstanceNorm2d": BatchInstanceNorm2d}

# One step of the forward pass: (module or None, input slots, output slot, slots to free,
# node id).
Step = tuple[nn.Module | None, tuple[int, ...], int, tuple[int, ...], str]


class Clock(Protocol):
    """Told when each node's step starts and ends (engine/profile times nodes with it)."""

    def start(self) -> None: ...

    def stop(self, node_id: str) -> None: ...


class GraphModule(nn.Module):
    """Runs a graph. Submodules live at the node ids' paths; ``forward`` walks the nodes in
    topological order, freeing each value after its last use. Outputs marked training-only
    (auxiliary classifiers) are computed and returned in training mode only."""

    def __init__(self, graph: Graph, report: Report, seed: int) -> None:
        super().__init__()
        self.input_shape = tuple(report.input_shape or ())
        self.output_ids = list(report.output_ids)
        order = list(report.nodes)
        modules: dict[str, nn.Module] = {}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for nid in order:
                module = _make(graph, report, nid)
                if module is not None:
                    _register(self, nid, module)
                    modules[nid] = module
                    if graph.nodes[nid].frozen:
                        module.requires_grad_(False)
        initialise(modules, inits.plan(graph, order), seed)
        aux = {nid for nid in self.output_ids
               if graph.nodes[nid].type == "Output"
               and graph.nodes[nid].params.get("training_only", False)}
        self._train_plan = _plan(graph, order, modules, self.output_ids)
        main = [o for o in self.output_ids if o not in aux]
        self._eval_plan = _plan(graph, order, modules, main)
        self._n_train_out = len(self.output_ids)
        self._n_eval_out = len(main)

    def forward(self, x: torch.Tensor, clock: Clock | None = None) -> Any:
        """The network's output; ``clock`` (profiling) hears each node's start and end."""
        steps, input_slot, out_slots, size = self._train_plan if self.training \
            else self._eval_plan
        values: list[Any] = [None] * size
        values[input_slot] = x
        for module, ins, out, free, nid in steps:
            if clock is not None:
                clock.start()
            if module is None:  # Output nodes pass their input on
                values[out] = values[ins[0]]
            else:
                values[out] = module(*[values[i] for i in ins])
            if clock is not None:
                clock.stop(nid)
            for i in free:
                values[i] = None
        if len(out_slots) == 1:
            return values[out_slots[0]]
        return tuple(values[i] for i in out_slots)


def _make(graph: Graph, report: Report, nid: str) -> nn.Module | None:
    node = graph.nodes[nid]
    spec = layers.get(node.type)
    if spec.torch_class is None:
        return None
    rep = report.nodes[nid]
    kwargs = spec.torch_kwargs(rep._resolved or {}, rep.in_shapes)
    path = spec.torch_class_for(kwargs)
    assert path is not None
    if path in _OWN:
        return _OWN[path](**kwargs)
    module_name, _, class_name = path.rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**kwargs)


def _register(root: nn.Module, path: str, module: nn.Module) -> None:
    *parents, leaf = path.split(".")
    holder = root
    for part in parents:
        child = holder._modules.get(part)
        if child is None:
            child = Block()
            holder.add_module(part, child)
        holder = child
    if getattr(module, "parameter_at_id", False):
        module.attach(holder, leaf)  # its parameter's key is the node id (layer_scale.py)
        return
    holder.add_module(leaf, module)


def _plan(graph: Graph, order: list[str], modules: dict[str, nn.Module],
          outputs: list[str]) -> tuple[list[Step], int, list[int], int]:
    """The steps that compute ``outputs``, skipping nodes they do not need."""
    inputs = graph.input_map()
    needed = graph.upstream(outputs)
    live = [nid for nid in order if nid in needed]
    slot = {nid: i for i, nid in enumerate(live)}
    last_use: dict[str, int] = {}
    for step, nid in enumerate(live):
        for src in inputs[nid]:
            last_use[src] = step
    keep = set(outputs)
    frees: dict[int, list[int]] = {}
    for nid, step in last_use.items():
        if nid not in keep:
            frees.setdefault(step, []).append(slot[nid])
    input_slot = next(slot[n] for n in live if graph.nodes[n].type == "Input")
    steps: list[Step] = []
    for step, nid in enumerate(live):
        if graph.nodes[nid].type == "Input":
            continue
        steps.append((modules.get(nid), tuple(slot[s] for s in inputs[nid]), slot[nid],
                      tuple(frees.get(step, ())), nid))
    return steps, input_slot, [slot[o] for o in outputs], len(live)


def to_module(graph: Graph, seed: int = 0) -> GraphModule:
    """Build ``graph`` as a module with weights drawn from ``seed`` (the same seed gives the
    same weights). Raises GraphBuildError with the analysis' errors for an invalid graph, and
    TooLargeError, before allocating, for one whose weights and one sample's values do not
    fit in this machine's memory (torch would fail after minutes of swapping, or be killed)."""
    report = analyze(graph)
    if not report.ok:
        raise GraphBuildError(report.errors)
    check_memory(graph, report)
    return GraphModule(graph, report, seed)


def check_memory(graph: Graph, report: Report | None = None, *, batch: int = 1,
                 copies: int = 1) -> None:
    """Raise TooLargeError when ``copies`` of the weights and the values of a forward pass at
    ``batch`` (those alive at once, as GraphModule frees them) need more memory than this
    machine has free. An estimate from the analysis in float32: a lower bound of what torch
    takes, so what it refuses cannot fit."""
    report = report or analyze(graph)
    weights = copies * (report.total_params + report.buffers) * BYTES_PER_VALUE
    values = batch * inference_peak(graph, report)
    total, free = machine_memory()
    room = free if free is not None else total
    if room is None or weights + values <= room:
        return
    has = f"{size(room)} free" + (f" of {size(total)}" if total and total != room else "")
    if weights > room:
        raise TooLargeError(f"the model would need {size(weights)} for its weights; this "
                            f"machine has {has}")
    samples = "one sample" if batch == 1 else f"a batch of {batch}"
    held = "" if copies == 1 else f" for {copies} copies"
    raise TooLargeError(f"the model would need {size(weights + values)} to run {samples} "
                        f"(weights {size(weights)}{held}, layer outputs {size(values)}); this "
                        f"machine has {has}")


def inference_peak(graph: Graph, report: Report) -> int:
    """Bytes of the layer outputs alive at once while one sample runs forward: each value is
    kept until its last use (as GraphModule's plan frees them); the most over all steps."""
    inputs = graph.input_map()
    order = list(report.nodes)
    last_use: dict[str, int] = {}
    for step, nid in enumerate(order):
        for src in inputs[nid]:
            last_use[src] = step
    freed_at: dict[int, list[str]] = {}
    for nid, step in last_use.items():
        freed_at.setdefault(step, []).append(nid)
    live = peak = 0
    for step, nid in enumerate(order):
        live += report.nodes[nid].memory
        peak = max(peak, live)
        live -= sum(report.nodes[src].memory for src in freed_at.get(step, ()))
    return peak


def machine_memory() -> tuple[int | None, int | None]:
    """(total, available) RAM in bytes (None where unknown)."""
    return machine.memory()
