"""Where a network's time goes: each node's measured time on a device (the forward pass walked
node by node, the device waited for around each node), the whole module's latency and
throughput without that waiting, and the same network as an exported ONNX file under
onnxruntime. Warm-up passes first, then repeats; medians with the 10th–90th percentile spread,
so a shared machine's noise shows instead of moving the figure.

Per-node times add waiting at each node (a GPU's queue is drained each time), so their sum is
somewhat above the whole pass: the shares say where the time goes, the whole-model figure how
long a pass takes."""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ...graph import Graph, analyze
from ..build import GraphModule, to_module
from .latency import REPEATS, WARMUP, Latency, measure, of_times, spread


@dataclass(frozen=True)
class NodeTime:
    """One node's time per pass, in milliseconds, and the multiply-accumulates it does."""

    node: str
    type: str
    median_ms: float
    low_ms: float
    high_ms: float
    macs: int
    """For the whole batch."""

    @property
    def gmacs_per_s(self) -> float | None:
        """Its arithmetic speed: low against the others' means memory-bound (or overhead)."""
        return self.macs / self.median_ms / 1e6 if self.median_ms > 0 and self.macs else None

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "type": self.type, "median_ms": self.median_ms,
                "low_ms": self.low_ms, "high_ms": self.high_ms, "macs": self.macs,
                "gmacs_per_s": self.gmacs_per_s}


@dataclass
class Profile:
    device: str
    batch_size: int
    input_shape: tuple[int, ...]
    model: Latency
    """The whole module, no per-node waiting."""
    nodes: list[NodeTime] = field(default_factory=list)
    """In the order the forward pass runs them."""
    onnx: Latency | None = None
    onnx_note: str | None = None
    """Why there is no ONNX figure (onnxruntime missing, an export refused ...)."""

    @property
    def throughput(self) -> float:
        """Samples per second of the whole module at this batch size."""
        return self.batch_size * 1000 / self.model.median_ms

    @property
    def node_total_ms(self) -> float:
        return sum(n.median_ms for n in self.nodes)

    def share(self, node: str) -> float:
        """The node's part of the summed node times (0..1)."""
        total = self.node_total_ms
        found = next((n for n in self.nodes if n.node == node), None)
        return found.median_ms / total if found is not None and total > 0 else 0.0

    def slowest(self, count: int = 5) -> list[NodeTime]:
        return sorted(self.nodes, key=lambda n: -n.median_ms)[:count]

    def to_dict(self) -> dict[str, Any]:
        def latency(found: Latency | None) -> dict[str, Any] | None:
            return None if found is None else {
                "median_ms": found.median_ms, "low_ms": found.low_ms, "high_ms": found.high_ms,
                "per_sample_ms": found.per_sample_ms,
                "samples_per_s": found.batch_size * 1000 / found.median_ms}

        return {"device": self.device, "batch_size": self.batch_size,
                "input_shape": list(self.input_shape), "model": latency(self.model),
                "onnx": latency(self.onnx), "onnx_note": self.onnx_note,
                "node_total_ms": self.node_total_ms,
                "nodes": [n.to_dict() for n in self.nodes]}


class _Clock:
    """Per-node times of the passes (``GraphModule.forward``'s clock)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.times: dict[str, list[float]] = defaultdict(list)
        self.recording = False
        self._t0 = 0.0

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def start(self) -> None:
        self._sync()
        self._t0 = time.perf_counter()

    def stop(self, node_id: str) -> None:
        self._sync()
        if self.recording:
            self.times[node_id].append((time.perf_counter() - self._t0) * 1000)


def profile_graph(graph: Graph, *, device: str | torch.device = "cpu", batch_size: int = 1,
                  warmup: int = WARMUP, repeats: int = REPEATS, onnx: bool = True,
                  weights: dict[str, torch.Tensor] | None = None) -> Profile:
    """Measure ``graph`` (with ``weights`` when given; random ones do as well for time) on
    ``device`` at ``batch_size``. ValueError for a graph that cannot be built or bad counts."""
    if repeats < 1 or warmup < 0 or batch_size < 1:
        raise ValueError("repeats and the batch size must be at least 1, warm-up at least 0")
    report = analyze(graph)
    device = torch.device(device)
    module = to_module(graph)  # GraphBuildError (a ValueError) for a graph with errors
    if weights:
        module.load_state_dict(weights, strict=False)
    module.to(device).eval()
    shape = tuple(report.input_shape or ())
    model = measure(module, shape, device, batch_size=batch_size, warmup=warmup,
                    repeats=repeats)
    profile = Profile(str(device), batch_size, shape, model,
                      _node_times(module, graph, report, shape, device, batch_size, warmup,
                                  repeats))
    if onnx:
        profile.onnx, profile.onnx_note = _onnx_latency(module, shape, device, batch_size,
                                                         warmup, repeats)
    return profile


def _node_times(module: GraphModule, graph: Graph, report: Any, shape: tuple[int, ...],
                device: torch.device, batch_size: int, warmup: int,
                repeats: int) -> list[NodeTime]:
    clock = _Clock(device)
    x = torch.randn(batch_size, *shape, device=device)
    with torch.inference_mode():
        for i in range(warmup + repeats):
            clock.recording = i >= warmup
            module(x, clock)
    out = []
    for nid, times in clock.times.items():
        node = report.nodes.get(nid)
        out.append(NodeTime(nid, graph.nodes[nid].type, *spread(times),
                            (node.macs if node else 0) * batch_size))
    return out


def _onnx_latency(module: torch.nn.Module, shape: tuple[int, ...], device: torch.device,
                  batch_size: int, warmup: int, repeats: int
                  ) -> tuple[Latency | None, str | None]:
    """The module exported to ONNX and timed under onnxruntime (CPU, or CUDA when the device
    is and onnxruntime has it); (None, why) when it cannot be."""
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:
        return None, "onnxruntime is not installed (pip install onnxruntime)"
    providers = ["CPUExecutionProvider"]
    if device.type == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            return None, "this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)"
        providers.insert(0, "CUDAExecutionProvider")
    from ..export.exporter import ExportError, export_model

    x = torch.randn(batch_size, *shape)
    with tempfile.TemporaryDirectory(prefix="cnnstudio-profile-") as folder:
        path = Path(folder) / "model.onnx"
        try:  # the file a user exports, verified against the module as every export is
            export_model(module, shape, "onnx", path)
        except ExportError as exc:
            return None, f"the ONNX export failed: {str(exc).splitlines()[0][:200]}"
        finally:
            module.to(device).eval()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=providers)
        feed = {session.get_inputs()[0].name: np.ascontiguousarray(x.numpy())}
        times = []
        for i in range(warmup + repeats):
            start = time.perf_counter()
            session.run(None, feed)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000)
    where = "cuda" if providers[0].startswith("CUDA") else "cpu"
    return of_times(times, batch_size, f"onnxruntime ({where})"), None
