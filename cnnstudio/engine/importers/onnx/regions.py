"""Layers that exporters spell as several layer-less operators, recognised by what they compute.

torch.onnx's dynamo exporter decomposes ``adaptive_avg_pool2d`` whose output does not divide
its input (AlexNet or VGG on a small image: 1×1 → 6×6, 2×2 → 7×7) into Transpose → GatherND
→ Transpose → ReduceMean, or, when the windows differ in size, into masked gathers, sums and
a division. Both torch.onnx exporters write GroupNorm as Reshape → InstanceNormalization →
Reshape → Mul → Add, and LocalResponseNorm as squares averaged by a 3-D AveragePool, then
Mul, Add, Pow and Div (the TorchScript one with an ``If`` inside). Matching each spelling node
by node would break with the next one, so the rule here is about meaning: a region of
operators without a layer of their own (``REGION_OPS``) that reads one graph tensor and
constants becomes one layer when running it with onnxruntime on a random tensor gives what
that layer gives: AdaptiveAvgPool2d or AdaptiveMaxPool2d (output size from the region's
output), GroupNorm (groups and epsilon from its InstanceNormalization, the per-channel weights
fitted to the result and taken from the file's constants) or LocalResponseNorm (size, α, β and
k from its AveragePool, Mul, Pow and Add). Only standard operators run, on at most the file's
own input size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .fold import Folded, attributes
from .fuse import Fusion
from .op import weight

REGION_OPS = frozenset({
    "Transpose", "GatherND", "Gather", "GatherElements", "Where", "Add", "Sub", "Mul", "Div",
    "ReduceMean", "ReduceMax", "ReduceSum", "Slice", "Concat", "Unsqueeze", "Squeeze",
    "Reshape", "Expand", "Tile", "Cast", "Max", "Min", "Shape", "Identity", "Equal", "Less",
    "Greater", "GreaterOrEqual", "LessOrEqual", "Not", "And", "Range", "ConstantOfShape",
    "Resize", "If", "Pad", "Pow", "Sqrt", "Neg", "Reciprocal", "InstanceNormalization",
    "AveragePool"})
"""Operators that move, pick, compare or combine values, and the normalising and averaging
ones the patterns above are made of."""

_NORMS = frozenset({"InstanceNormalization", "AveragePool", "Pad", "Pow"})
"""Operators no adaptive pooling is made of (they would make every Pad + AveragePool a
candidate)."""

MAX_PROBE_ELEMENTS = 1 << 22
"""A region is only evaluated on tensors up to this size (16 MB of float32)."""

Shapes = Mapping[str, tuple[int | None, ...]]


@dataclass
class Probe:
    """A region run once: its graph input, the random sample given, what it computed, and the
    nodes a fusion would leave out."""

    x: str
    sample: torch.Tensor
    got: np.ndarray
    absorbed: set[int]


def reads(node: Any) -> list[str]:
    """The values a node reads: its inputs, and for control flow (``If``) also the outer
    values its branches use."""
    found = [i for i in node.input if i]
    for attr in node.attribute:
        for graph in [*([attr.g] if attr.HasField("g") else []), *attr.graphs]:
            inner = {o for n in graph.node for o in n.output}
            inner |= {i.name for i in [*graph.input, *graph.initializer]}
            for n in graph.node:
                found.extend(v for v in reads(n) if v not in inner and v not in found)
    return found


class Regions:
    """Finds the regions in a graph whose nodes, consumers, constants and inferred shapes are
    known."""

    def __init__(self, nodes: list[Any], producer: Mapping[str, int],
                 consumers: Mapping[str, int], consts: Mapping[str, Folded],
                 shapes: Shapes, model: Any, batch: int) -> None:
        self.nodes = nodes
        self.producer = producer
        self.consumers = consumers
        self.consts = consts
        self.shapes = shapes
        self.model = model
        self.batch = batch

    def find(self, needed: set[int], taken: set[int]) -> dict[int, Fusion]:
        """The regions, keyed by their last node. The latest end is tried first, so a region
        is found whole before any part of it; a region that fails because it swallowed another
        one (LocalResponseNorm feeding GroupNorm) is tried again with that one as its input."""
        found: dict[int, Fusion] = {}
        spans: dict[int, set[int]] = {}
        retry = set(needed)
        while retry:
            before = set(taken)
            for end in sorted(retry, reverse=True):
                node = self.nodes[end]
                if end in taken or node.op_type not in REGION_OPS \
                        or node.domain not in ("", "ai.onnx"):
                    continue
                collected = self._collect(end, needed, taken)
                if collected is None:
                    continue
                if len(collected[1]) > 1:
                    fusion = self._cut(end, needed, taken, *collected)
                else:
                    spans[end] = set(collected[0])
                    fusion = self._region(end, *collected)
                if fusion is not None and not (fusion.absorbed & taken):
                    found[end] = fusion
                    taken |= fusion.absorbed | {end}
            fresh = taken - before
            retry = {e for e, span in spans.items() if e not in taken and span & fresh}
        return found

    # -- the region ending at one node ----------------------------------------------------------
    def _collect(self, end: int, needed: set[int], taken: set[int],
                 stop: str | None = None) -> tuple[list[int], set[str]] | None:
        """The region's nodes (in file order) and the graph values it reads (``stop`` counted
        as one, not followed). The sizes of a tensor (``Shape``) are not a value read: the
        dynamo exporter's ``as_strided`` after a mean counts its indices from the batch
        size."""
        members: set[int] = set()
        leaves: set[str] = set()
        stack = [end]
        while stack:
            index = stack.pop()
            if index in members:
                continue
            members.add(index)
            for value in reads(self.nodes[index]):
                if value in self.consts or self._sizes(value) is not None:
                    continue
                source = self.producer.get(value)
                node = self.nodes[source] if source is not None else None
                if value != stop and node is not None and source in needed \
                        and source not in taken and node.op_type in REGION_OPS \
                        and node.domain in ("", "ai.onnx"):
                    stack.append(source)
                else:
                    leaves.add(value)
            if len(members) > 200:
                return None
        return sorted(members), leaves

    def _cut(self, end: int, needed: set[int], taken: set[int], members: list[int],
             leaves: set[str]) -> Fusion | None:
        """A region that reads several graph values (it reached back past its input, through
        a residual Add) tried again from each value all its paths pass through, the nearest
        first: ConvNeXt's mean → as_strided is a pooling of the block's sum."""
        inside = set(members)
        users: dict[int, set[int]] = {i: set() for i in members}
        readers: set[int] = set()
        for i in members:
            for value in reads(self.nodes[i]):
                source = self.producer.get(value)
                if value in leaves:
                    readers.add(i)
                elif source in inside:
                    users[source].add(i)
        passed: dict[int, set[int]] = {end: {end}}  # the members every path from end meets
        for i in sorted(inside - {end}, reverse=True):
            paths = [passed[u] for u in users[i] if u in passed]
            if paths:
                passed[i] = {i} | set.intersection(*paths)
        common = set.intersection(*(passed.get(r, set()) for r in readers)) if readers \
            else set()
        for cut in sorted(common - {end}, reverse=True):
            value = self.nodes[cut].output[0]
            collected = self._collect(end, needed, taken, stop=value)
            if collected is not None and collected[1] == {value}:
                fusion = self._region(end, *collected)
                if fusion is not None:
                    return fusion
        return None

    def _region(self, end: int, members: list[int], leaves: set[str]) -> Fusion | None:
        if len(members) < 2 or len(leaves) != 1:
            return None
        (x,) = leaves
        src = self.shapes.get(x)
        if not src or len(src) < 3 or any(d is None for d in src[1:]) \
                or int(np.prod(src[1:])) * self.batch > MAX_PROBE_ELEMENTS:
            return None
        absorbed = self._absorbable(members, end)
        if absorbed is None:
            return None
        types = Counter(self.nodes[i].op_type for i in members)
        norm = types["InstanceNormalization"] == 1 or (
            types["AveragePool"] == 1 and types["Pow"] == 1)
        if not norm and (types.keys() & _NORMS or len(src) != 4):
            return None
        sample = np.random.default_rng(0).standard_normal((self.batch, *src[1:])) \
            .astype(np.float32)
        got = self._evaluate(members, x, self.nodes[end].output[0], sample)
        if got is None or got.ndim != len(src) or got.shape[:2] != sample.shape[:2]:
            return None
        probe = Probe(x, torch.from_numpy(sample), got, absorbed)
        if not norm:
            return self._adaptive(probe)
        if got.shape != sample.shape:
            return None
        if types["InstanceNormalization"] == 1:
            return self._group_norm(members, probe)
        return self._lrn(members, probe)

    def _absorbable(self, members: list[int], end: int) -> set[int] | None:
        """The members other than ``end``, if nothing outside the region reads them."""
        count: Counter[str] = Counter(v for i in members for v in reads(self.nodes[i]))
        inner = set(members) - {end}
        for index in inner:
            for value in self.nodes[index].output:
                if value and self.consumers.get(value, 0) != count[value]:
                    return None
        return inner

    # -- the layers a region may be -------------------------------------------------------------
    def _adaptive(self, probe: Probe) -> Fusion | None:
        size = list(probe.got.shape[2:])
        if size == list(probe.sample.shape[2:]):  # a pooling of nothing: an identity region
            return None
        for type_name, pool in (("AdaptiveAvgPool2d", F.adaptive_avg_pool2d),
                                ("AdaptiveMaxPool2d", F.adaptive_max_pool2d)):
            if np.allclose(probe.got, pool(probe.sample, size).numpy(), rtol=1e-5, atol=1e-6):
                return Fusion(type_name, probe.x, probe.absorbed, {"output_size": size})
        return None

    def _group_norm(self, members: list[int], probe: Probe) -> Fusion | None:
        norm = next(self.nodes[i] for i in members
                    if self.nodes[i].op_type == "InstanceNormalization")
        scale = self.consts.get(norm.input[1]) if len(norm.input) > 1 else None
        groups = int(scale.values[0].size) if scale is not None else 0
        if groups < 1 or probe.got.shape[1] % groups:
            return None
        eps = float(attributes(norm).get("epsilon", 1e-5))
        normed = F.group_norm(probe.sample.double(), groups, eps=eps).numpy()
        w, b = _per_channel_fit(normed, probe.got.astype(np.float64))
        w, b = self._exact(members, "Mul", w), self._exact(members, "Add", b)
        fitted = normed * _channels(w, normed.ndim) + _channels(b, normed.ndim)
        if not np.allclose(probe.got, fitted, rtol=1e-4, atol=1e-5):
            return None
        params: dict[str, Any] = {"num_groups": groups, "eps": eps}
        if np.array_equal(w, np.ones_like(w)) and not b.any():
            return Fusion("GroupNorm", probe.x, probe.absorbed, {**params, "affine": False})
        return Fusion("GroupNorm", probe.x, probe.absorbed, params,
                      {"weight": weight(w), "bias": weight(b)})

    def _exact(self, members: list[int], op_type: str, fitted: np.ndarray) -> np.ndarray:
        """The file's own per-channel constant of an ``op_type`` node in the region when the
        fit found it (so the weights are the file's, bit for bit), else the fit rounded."""
        for i in members:
            node = self.nodes[i]
            for value in node.input if node.op_type == op_type else ():
                folded = self.consts.get(value)
                if folded is not None and folded.values[0].size == fitted.size:
                    exact = folded.values[0].reshape(-1).astype(np.float64)
                    if np.allclose(exact, fitted, rtol=1e-4, atol=1e-5):
                        return exact
        snapped = fitted.astype(np.float32).astype(np.float64)
        return np.where(np.isclose(snapped, 1.0, rtol=0, atol=1e-6), 1.0,
                        np.where(np.abs(snapped) < 1e-6, 0.0, snapped))

    def _lrn(self, members: list[int], probe: Probe) -> Fusion | None:
        pool = next(self.nodes[i] for i in members if self.nodes[i].op_type == "AveragePool")
        kernel = [int(k) for k in attributes(pool).get("kernel_shape", [])]
        if len(kernel) != 3 or kernel[1:] != [1, 1]:
            return None
        alpha, k, beta = (self._scalar(members, t) for t in ("Mul", "Add", "Pow"))
        if alpha is None or k is None or beta is None:
            return None
        params = {"size": kernel[0], "alpha": alpha, "beta": beta, "k": k}
        want = F.local_response_norm(probe.sample, **params).numpy()
        if not np.allclose(probe.got, want, rtol=1e-4, atol=1e-5):
            return None
        return Fusion("LocalResponseNorm", probe.x, probe.absorbed, params)

    def _scalar(self, members: list[int], op_type: str) -> float | None:
        """The one float scalar constant the region's ``op_type`` nodes use, if one."""
        found = {float(self.consts[v].values[0].reshape(-1)[0])
                 for i in members if self.nodes[i].op_type == op_type
                 for v in self.nodes[i].input
                 if v in self.consts and self.consts[v].values[0].size == 1
                 and self.consts[v].values[0].dtype.kind == "f"}
        return float(str(np.float32(found.pop()))) if len(found) == 1 else None

    # -- running a region -----------------------------------------------------------------------
    def _sizes(self, value: str) -> np.ndarray | None:
        """What ``value`` holds if a ``Shape`` node computes it from a tensor whose sizes are
        known (the batch taken as the probe's)."""
        index = self.producer.get(value)
        node = self.nodes[index] if index is not None else None
        if node is None or node.op_type != "Shape" or node.domain not in ("", "ai.onnx"):
            return None
        shape = self.shapes.get(node.input[0])
        if not shape or any(d is None for d in shape[1:]):
            return None
        attrs = attributes(node)
        sizes = np.asarray([self.batch, *shape[1:]], dtype=np.int64)
        return sizes[attrs.get("start", 0):attrs.get("end")]

    def _evaluate(self, members: list[int], x: str, out: str,
                  sample: np.ndarray) -> np.ndarray | None:
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        nodes = [self.nodes[i] for i in members]
        used = {v for n in nodes for v in reads(n) if v in self.consts}
        sizes = {v: self._sizes(v) for n in nodes for v in reads(n) if v not in self.consts}
        try:
            inits = [numpy_helper.from_array(self.consts[v].value, v) for v in sorted(used)]
            inits += [numpy_helper.from_array(a, v) for v, a in sizes.items() if a is not None]
            graph = helper.make_graph(
                nodes, "region",
                [helper.make_tensor_value_info(x, TensorProto.FLOAT, list(sample.shape))],
                [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
            model = helper.make_model(graph, opset_imports=list(self.model.opset_import),
                                      ir_version=self.model.ir_version)
            options = ort.SessionOptions()
            options.log_severity_level = 4
            session = ort.InferenceSession(model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
            result = session.run([out], {x: sample})[0]
        except Exception:  # not a region that runs on its own
            return None
        return np.asarray(result, dtype=np.float32)


def _channels(values: np.ndarray, ndim: int) -> np.ndarray:
    """Per-channel values shaped to broadcast over [N, C, ...]."""
    return values.reshape((1, -1) + (1,) * (ndim - 2))


def _per_channel_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The w, b per channel that make y ≈ x·w + b (least squares over batch and positions)."""
    axes = (0, *range(2, x.ndim))
    mx, my = x.mean(axis=axes, keepdims=True), y.mean(axis=axes, keepdims=True)
    w = ((x - mx) * (y - my)).sum(axis=axes) / np.maximum(((x - mx) ** 2).sum(axis=axes),
                                                          1e-30)
    b = my.reshape(-1) - w.reshape(-1) * mx.reshape(-1)
    return w.reshape(-1), b
