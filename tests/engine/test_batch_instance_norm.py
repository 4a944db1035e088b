"""Batch-Instance Normalization: BatchNorm at ρ = 1, InstanceNorm at ρ = 0, the gate clipped to
[0, 1] in training, its parameters counted, exported to ONNX (verified) and to Python."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from cnnstudio.cli.main import main
from cnnstudio.engine import to_module
from cnnstudio.engine.modules.batch_instance_norm import BatchInstanceNorm2d
from cnnstudio.graph import analyze, graph_from_dict
from tests.engine.codegen.test_codegen import assert_same_model, generate, ruff


def graph(params: dict | None = None):
    nodes = [{"id": "input", "type": "Input", "params": {"shape": [3, 12, 12]}},
             {"id": "conv", "type": "Conv2d", "params": {"out_channels": 8, "kernel_size": 3}},
             {"id": "bin", "type": "BatchInstanceNorm2d", "params": params or {}},
             {"id": "relu", "type": "ReLU"},
             {"id": "pool", "type": "AdaptiveAvgPool2d", "params": {"output_size": 1}},
             {"id": "flat", "type": "Flatten"},
             {"id": "fc", "type": "Linear", "params": {"out_features": 4}},
             {"id": "out", "type": "Output"}]
    edges = [[a["id"], b["id"]] for a, b in zip(nodes, nodes[1:])]
    return {"format": "cnnstudio.graph", "version": 1, "nodes": nodes, "edges": edges}


@pytest.mark.parametrize("training", [True, False])
def test_rho_one_is_batch_norm_and_zero_is_instance_norm(training):
    x = torch.randn(6, 5, 7, 7) * 3 + 1
    bin_, bn = BatchInstanceNorm2d(5), nn.BatchNorm2d(5)
    inorm = nn.InstanceNorm2d(5)
    with torch.no_grad():
        for m in (bin_, bn):
            m.weight.uniform_(0.5, 2)
            m.bias.uniform_(-1, 1)
    bn.load_state_dict({k: v for k, v in bin_.state_dict().items() if k != "rho"})
    if not training:  # running statistics from a few batches first
        for _ in range(3):
            batch = torch.randn(6, 5, 7, 7) * 2
            bin_(batch), bn(batch)
        bin_.eval(), bn.eval()
    assert torch.allclose(bin_(x), bn(x), atol=1e-5)
    with torch.no_grad():
        bin_.rho.zero_()
    affine = bin_.weight.view(1, -1, 1, 1), bin_.bias.view(1, -1, 1, 1)
    assert torch.allclose(bin_(x), inorm(x) * affine[0] + affine[1], atol=1e-5)


def test_the_gate_is_clipped_to_zero_one_in_training():
    m = BatchInstanceNorm2d(3)
    with torch.no_grad():
        m.rho.copy_(torch.tensor([-0.5, 0.3, 1.7]))
    x = torch.randn(4, 3, 5, 5)
    m.eval()
    assert m(x).shape == x.shape and m.rho[0] == -0.5  # evaluation leaves the weights alone
    m.train()
    m(x)
    assert m.rho.tolist() == pytest.approx([0.0, 0.3, 1.0])


def test_parameters_are_counted():
    report = analyze(graph_from_dict(graph()))
    assert report.ok, report.errors
    node = report.nodes["bin"]
    assert node.params == 3 * 8 and node.buffers == 2 * 8 + 1
    module = to_module(graph_from_dict(graph())).get_submodule("bin")
    assert sum(p.numel() for p in module.parameters()) == node.params
    plain = analyze(graph_from_dict(graph({"affine": False, "track_running_stats": False})))
    assert plain.nodes["bin"].params == 8 and plain.nodes["bin"].buffers == 0


def test_exported_to_onnx_and_verified(tmp_path, capsys):
    path = tmp_path / "bin.json"
    path.write_text(json.dumps(graph({"rho_init": 0.5})), encoding="utf-8")
    code = main(["export", str(path), "--format", "onnx", "--out", str(tmp_path / "bin.onnx")])
    out = capsys.readouterr().out
    assert code == 0 and "verified at batch 1 and 3" in out and (tmp_path / "bin.onnx").is_file()


def test_python_export_carries_the_class(tmp_path):
    g = graph_from_dict(graph({"rho_init": 0.25, "momentum": None}))
    source, module = generate(g, tmp_path / "bin_net.py")
    assert "class BatchInstanceNorm2d(nn.Module):" in source and "rho_init=0.25" in source
    assert_same_model(g, module, training=True)
    ruff(tmp_path / "bin_net.py")
