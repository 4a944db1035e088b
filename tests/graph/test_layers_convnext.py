"""ConvNeXt's layer types (Permute, LayerNorm2d, LayerScale): shape rules, parameter counts,
errors, the receptive field through a channels-last MLP, and the ConvNeXt presets' numbers."""

from __future__ import annotations

import pytest

from cnnstudio.graph import Graph, analyze, init, layers, presets
from cnnstudio.graph.layers import LayerError


def infer(type_name: str, params: dict, *shapes: tuple[int, ...]):
    spec = layers.get(type_name)
    resolved, problems = spec.resolve(params)
    assert not problems, problems
    return spec.infer(resolved, list(shapes))


def problems(type_name: str, params: dict) -> list[str]:
    return layers.get(type_name).resolve(params)[1]


def test_permute_reorders_the_sample_axes() -> None:
    out = infer("Permute", {"dims": [1, 2, 0]}, (96, 56, 28))
    assert out.shape == (56, 28, 96)
    assert (out.params, out.macs, out.buffers) == (0, 0, 0)
    assert infer("Permute", {"dims": [2, 0, 1]}, (56, 28, 96)).shape == (96, 56, 28)
    assert infer("Permute", {"dims": [1, 0]}, (3, 7)).shape == (7, 3)
    assert infer("Permute", {}, (3, 4, 5)).shape == (4, 5, 3)  # channels last by default


def test_permute_torch_dims_count_the_batch() -> None:
    spec = layers.get("Permute")
    assert spec.torch_kwargs({"dims": [1, 2, 0]}, [(3, 4, 5)]) == {"dims": [0, 2, 3, 1]}


@pytest.mark.parametrize("dims, fragment", [
    ([1, 1, 0], "must be a permutation of [0, 1, 2]"),
    ([1, 2, 3], "must be a permutation of [0, 1, 2]"),
    ([-1, 0], "at least 0"),
])
def test_permute_refuses_what_is_no_permutation(dims, fragment) -> None:
    assert any(fragment in p for p in problems("Permute", {"dims": dims}))


def test_permute_needs_one_entry_per_axis() -> None:
    with pytest.raises(LayerError, match=r"dims \[1, 0\] name 2 axes, but the input"):
        infer("Permute", {"dims": [1, 0]}, (3, 4, 5))


def test_layer_norm_2d_counts_a_scale_and_shift_per_channel() -> None:
    out = infer("LayerNorm2d", {}, (96, 56, 56))
    assert out.shape == (96, 56, 56) and out.params == 192 and out.buffers == 0
    assert infer("LayerNorm2d", {"bias": False}, (96, 7, 7)).params == 96
    assert infer("LayerNorm2d", {"elementwise_affine": False}, (96, 7, 7)).params == 0
    assert layers.get("LayerNorm2d").torch_kwargs({"eps": 1e-6, "elementwise_affine": True,
                                                   "bias": True}, [(96, 7, 7)]) == {
        "normalized_shape": 96, "eps": 1e-6, "elementwise_affine": True, "bias": True}
    with pytest.raises(LayerError, match="image-like"):
        infer("LayerNorm2d", {}, (96,))
    assert problems("LayerNorm2d", {"eps": 0}) == ["eps must be greater than 0 (got 0)"]


def test_layer_scale_has_one_parameter_per_channel() -> None:
    out = infer("LayerScale", {"init_value": 1e-6}, (768, 7, 7))
    assert out.shape == (768, 7, 7) and out.params == 768 and out.macs == 0
    assert layers.get("LayerScale").torch_kwargs({"init_value": 0.5}, [(8, 2, 2)]) == {
        "num_channels": 8, "init_value": 0.5}
    with pytest.raises(LayerError, match="scales the channels of feature maps"):
        infer("LayerScale", {}, (10,))


def chain(shape: list[int], *steps: tuple[str, dict]) -> Graph:
    g = Graph()
    g.add_node("Input", "input", {"shape": shape})
    prev = "input"
    for i, (type_name, params) in enumerate(steps):
        g.add_node(type_name, f"n{i}", params)
        g.connect(prev, f"n{i}")
        prev = f"n{i}"
    return g


MLP = (("Conv2d", {"out_channels": 8, "kernel_size": 7, "padding": 3, "groups": 8}),
       ("Permute", {"dims": [1, 2, 0]}), ("LayerNorm", {"normalized_shape": [8]}),
       ("Linear", {"out_features": 32}), ("GELU", {}), ("Linear", {"out_features": 8}),
       ("Permute", {"dims": [2, 0, 1]}), ("LayerScale", {}))


def test_receptive_field_follows_h_and_w_through_a_channels_last_mlp() -> None:
    g = chain([8, 16, 20], *MLP, ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}))
    report = analyze(g)
    assert report.ok, report.errors
    nodes = report.nodes
    assert nodes["n1"].shape == (16, 20, 8) and nodes["n6"].shape == (8, 16, 20)
    # the Linears over the channels see what the 7×7 depthwise convolution saw, no more
    for nid in ("n1", "n2", "n3", "n5", "n6", "n7"):
        assert nodes[nid].receptive_field((16, 20)) == (7, 7), nid
    assert nodes["n8"].receptive_field((16, 20)) == (9, 9)
    # acting on the channels of each position, the Linears are meant: no advice to flatten
    assert not report.warnings


def test_receptive_field_follows_an_axis_left_at_the_front() -> None:
    """[C, H, W] → [W, C, H]: a pooling window over the last two axes widens H only."""
    g = chain([4, 12, 12], ("Permute", {"dims": [2, 0, 1]}),
              ("MaxPool2d", {"kernel_size": [1, 3], "stride": 1, "padding": [0, 1]}),
              ("Permute", {"dims": [1, 2, 0]}))
    report = analyze(g)
    assert report.ok, report.errors
    assert report.nodes["n1"].shape == (12, 4, 12)
    assert report.nodes["n2"].receptive_field((12, 12)) == (3, 1)  # H grew, W did not
    assert report.nodes["n2"].shape == (4, 12, 12)


def test_a_convolution_over_a_moved_spatial_axis_has_no_receptive_field() -> None:
    """It takes that axis as its channels and mixes all of it: the analysis cannot say."""
    g = chain([4, 6, 6], ("Permute", {"dims": [1, 2, 0]}),
              ("Conv2d", {"out_channels": 2, "kernel_size": 1}))
    report = analyze(g)
    assert report.ok, report.errors
    assert report.nodes["n0"].receptive_field((6, 6)) == (1, 1)
    assert report.nodes["n1"].rf is None


def test_linear_on_an_unpermuted_map_still_gets_its_note() -> None:
    report = analyze(chain([4, 6, 6], ("Linear", {"out_features": 3})))
    assert any("acts on the last axis only" in w.message for w in report.warnings)


@pytest.mark.parametrize("name, blocks", [("convnext_tiny", 18), ("convnext_small", 36),
                                          ("convnext_base", 36), ("convnext_large", 36)])
def test_convnext_presets(name: str, blocks: int) -> None:
    graph = presets.build(name, num_classes=10, input_shape=(3, 64, 64))
    report = analyze(graph)
    assert report.ok, report.errors
    assert not report.warnings
    scales = [n for n in graph if n.type == "LayerScale"]
    assert len(scales) == blocks
    assert scales[0].id == "features.1.0.layer_scale"
    assert report.output_shapes == [(10,)]
    assert report.nodes["features.0.0"].shape[1:] == (16, 16)  # the 4×4 patchify stem
    spec = layers.get("StochasticDepth")
    depth = [spec.resolve(n.params)[0]["p"] for n in graph if n.type == "StochasticDepth"]
    top = presets.get(name).options()["stochastic_depth_prob"]
    assert depth[0] == 0.0 and depth[-1] == pytest.approx(top)
    assert depth == sorted(depth)


def test_convnext_options() -> None:
    graph = presets.build("convnext_tiny", stochastic_depth_prob=0.0, layer_scale=0.5)
    assert {n.params.get("p") for n in graph if n.type == "StochasticDepth"} == {0.0}
    assert {n.params.get("init_value") for n in graph if n.type == "LayerScale"} == {0.5}


def test_convnext_init_follows_torchvisions_builder() -> None:
    graph = presets.build("convnext_tiny")
    plan = init.plan(graph)
    trunc = [init.Draw("weight", "trunc_normal", 0.02), init.Draw("bias", "constant", 0.0)]
    assert plan["features.0.0"] == trunc
    assert plan["features.1.0.block.3"] == trunc
    assert plan["classifier.2"] == trunc
    assert "features.0.1" not in plan and "features.1.0.block.2" not in plan  # LayerNorms
    assert "convnext" in init.formula({"scheme": "torchvision", "family": "convnext"})
