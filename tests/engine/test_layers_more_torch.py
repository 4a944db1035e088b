"""Weight standardisation as a Conv2d option, Global Response Normalization, BranchSoftmax and
BlurPool2d: what each computes, the generated code and the ONNX export (timm's modules
themselves are compared in tests/engine/importers/test_timm_more.py)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from cnnstudio.engine import to_module
from cnnstudio.engine.export.exporter import export_model
from cnnstudio.engine.modules.own_layers import BlurPool2d, BranchSoftmax
from cnnstudio.engine.modules.std_conv import StdConv2d
from cnnstudio.graph import Graph, analyze

from .codegen.test_codegen import assert_same_model, generate, ruff


def _chain(shape: list[int], chain: list[tuple[str, str, dict]]) -> Graph:
    g = Graph()
    g.add_node("Input", "in", {"shape": shape})
    prev = "in"
    for nid, type_name, params in chain:
        g.add_node(type_name, nid, params)
        g.connect(prev, nid)
        prev = nid
    g.add_node("Output", "out")
    g.connect(prev, "out")
    return g


def test_scaled_weight_standardisation_is_the_batch_norm_of_the_weights() -> None:
    """NF-Nets' formulation: F.batch_norm over each filter, with gain · gamma / √fan-in."""
    torch.manual_seed(0)
    conv = StdConv2d(4, 6, 3, weight_standardization="scaled", ws_eps=1e-5, ws_gamma=1.7)
    with torch.no_grad():
        conv.gain.uniform_(0.5, 1.5)
    scale = 1.7 * (4 * 3 * 3) ** -0.5
    want = F.batch_norm(conv.weight.reshape(1, 6, -1), None, None,
                        weight=(conv.gain * scale).view(-1), training=True, momentum=0.0,
                        eps=1e-5).reshape_as(conv.weight)
    torch.testing.assert_close(conv.standardized_weight(), want)
    assert [k for k, _ in conv.named_parameters()] == ["weight", "bias", "gain"]


def test_the_option_counts_the_gains_and_builds_the_engine_convolution() -> None:
    g = _chain([4, 9, 9], [("c", "Conv2d", {"out_channels": 6, "kernel_size": 3,
                                            "weight_standardization": "scaled"})])
    assert analyze(g).total_params == 6 * 4 * 9 + 6 + 6
    module = to_module(g)
    assert isinstance(module.c, StdConv2d) and module.c.gain.shape == (6, 1, 1, 1)
    plain = _chain([4, 9, 9], [("c", "Conv2d", {"out_channels": 6, "kernel_size": 3})])
    assert type(to_module(plain).c) is torch.nn.Conv2d


def test_one_generated_block_serves_convolutions_with_and_without_it(tmp_path: Path) -> None:
    chain = []
    for i, kind in enumerate(["scaled", "off", "standard"]):
        chain += [(f"b{i}.conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1,
                                             "weight_standardization": kind}),
                  (f"b{i}.act", "ReLU", {})]
    graph = _chain([4, 6, 6], chain)
    source, module = generate(graph, tmp_path / "net.py")
    assert "class StdConv2d(nn.Conv2d):" in source
    assert_same_model(graph, module)
    ruff(tmp_path / "net.py")


def test_branch_softmax_weighs_each_channel_across_the_branches() -> None:
    x = torch.randn(2, 12, 1, 1)  # groups 2 × branches 3 × 2 channels
    w = BranchSoftmax(branches=3, groups=2)(x)
    per_branch = w.reshape(2, 3, 4)  # [branches, groups · channels]
    torch.testing.assert_close(per_branch.sum(1), torch.ones(2, 4))
    scores = x.reshape(2, 2, 3, 2)  # [groups, branches, channels]
    torch.testing.assert_close(per_branch[:, 1, :2], torch.softmax(scores[:, 0], 1)[:, 1])


def test_blur_pool_is_the_binomial_filter_with_stride() -> None:
    pool = BlurPool2d(1, filt_size=3, stride=2, pad_mode="constant")
    row = torch.tensor([1.0, 2.0, 1.0]) / 4
    torch.testing.assert_close(pool.filt[0, 0], row[:, None] * row[None, :])
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 16.0
    out = pool(x)
    assert out.shape == (1, 1, 3, 3) and float(out[0, 0, 1, 1]) == 4.0
    assert list(pool.state_dict()) == []  # the filter is fixed, as timm's


def test_the_new_layers_export_to_onnx_and_verify(tmp_path: Path) -> None:
    graph = _chain([4, 9, 9], [
        ("ws", "Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1,
                          "weight_standardization": "scaled", "ws_gamma": 1.7}),
        ("grn", "GlobalResponseNorm", {}), ("blur", "BlurPool2d", {}),
        ("attn", "BranchSoftmax", {"branches": 2, "groups": 2})])
    model = to_module(graph)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-1.0, 1.0)
    result = export_model(model, [4, 9, 9], "onnx", tmp_path / "m.onnx")
    assert result.max_rel <= 1e-4
