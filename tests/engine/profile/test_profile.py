"""Per-node profiling: every node that runs is timed (in forward order, with its MACs), the
whole module and its ONNX file are timed, the forward pass's clock costs nothing when unused."""

from __future__ import annotations

import pytest
import torch

from cnnstudio.engine import to_module
from cnnstudio.engine.profile.layers import profile_graph
from cnnstudio.graph import analyze, presets


def test_every_node_is_timed_in_forward_order_with_its_macs() -> None:
    graph = presets.build("lenet5")
    report = analyze(graph)
    found = profile_graph(graph, batch_size=4, warmup=1, repeats=3)
    timed = [n.node for n in found.nodes]
    runs = [nid for nid in report.nodes if graph.nodes[nid].type != "Input"]
    assert timed == runs
    c3 = next(n for n in found.nodes if n.node == "features.c3")
    assert c3.macs == report.nodes["features.c3"].macs * 4 and c3.gmacs_per_s > 0
    assert all(0 < n.low_ms <= n.median_ms <= n.high_ms for n in found.nodes)
    assert sum(found.share(n) for n in timed) == pytest.approx(1.0)
    assert found.slowest(2)[0].median_ms >= found.slowest(2)[1].median_ms
    assert found.throughput == pytest.approx(4000 / found.model.median_ms)
    assert found.onnx is not None and found.onnx.device == "onnxruntime (cpu)", found.onnx_note
    doc = found.to_dict()
    assert doc["batch_size"] == 4 and len(doc["nodes"]) == len(timed)
    assert doc["onnx"]["samples_per_s"] > 0


def test_a_residual_network_times_its_adds_and_skips_onnx_when_asked() -> None:
    graph = presets.build("resnet18", num_classes=10, input_shape=(3, 32, 32))
    found = profile_graph(graph, warmup=0, repeats=1, onnx=False)
    kinds = {n.type for n in found.nodes}
    assert {"Conv2d", "Add", "Linear"} <= kinds
    assert found.onnx is None and found.onnx_note is None


def test_the_clock_hears_each_step_and_changes_nothing() -> None:
    module = to_module(presets.build("lenet5")).eval()
    heard: list[str] = []

    class Clock:
        def start(self) -> None:
            heard.append("start")

        def stop(self, node_id: str) -> None:
            heard.append(node_id)

    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        plain, clocked = module(x), module(x, Clock())
    assert torch.equal(plain, clocked)
    assert heard[0] == "start" and heard[1] == "features.c1" and heard.count("start") * 2 == \
        len(heard)


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        profile_graph(presets.build("lenet5"), repeats=0)
