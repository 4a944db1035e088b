"""Inception-v3 as torchvision builds it, analysed without torch: parameter count, shapes at
299×299, the training-only auxiliary classifier, the smallest inputs, transform_input as a
ChannelAffine node, and the torchvision init family; the ChannelAffine layer's own rules."""

from __future__ import annotations

import pytest

from cnnstudio.graph import Graph, analyze, init, layers, presets
from cnnstudio.graph.presets.googlenet import TRANSFORM_INPUT

TORCHVISION_PARAMS = 27_161_264  # Inception_V3_Weights.IMAGENET1K_V1.meta["num_params"]
AUX_PARAMS = 768 * 128 + 2 * 128 + 128 * 768 * 25 + 2 * 768 + 768 * 1000 + 1000  # conv, BN γβ


def test_parameters_and_shapes_at_299() -> None:
    report = analyze(presets.build("inception_v3"))
    assert report.ok, report.errors
    assert report.total_params == TORCHVISION_PARAMS
    shapes = {
        "Conv2d_1a_3x3.relu": (32, 149, 149), "Conv2d_2b_3x3.relu": (64, 147, 147),
        "maxpool1": (64, 73, 73), "Conv2d_4a_3x3.relu": (192, 71, 71),
        "maxpool2": (192, 35, 35), "Mixed_5b.cat": (256, 35, 35), "Mixed_5d.cat": (288, 35, 35),
        "Mixed_6a.cat": (768, 17, 17), "Mixed_6e.cat": (768, 17, 17),
        "Mixed_7a.cat": (1280, 8, 8), "Mixed_7b.branch3x3_2cat": (768, 8, 8),
        "Mixed_7c.cat": (2048, 8, 8), "avgpool": (2048, 1, 1), "fc": (1000,),
        "AuxLogits.pool": (768, 5, 5), "AuxLogits.conv1.relu": (768, 1, 1),
        "AuxLogits.fc": (1000,),
    }
    for nid, shape in shapes.items():
        assert report.nodes[nid].shape == shape, nid
    conv = report.nodes["Mixed_6b.branch7x7_2.conv"]
    assert conv.params == 128 * 128 * 7  # the factorised 1×7 convolution, no bias


def test_the_auxiliary_classifier_is_training_only() -> None:
    graph = presets.build("inception_v3")
    report = analyze(graph)
    assert report.output_ids == ["output", "AuxLogits.output"]
    assert graph.nodes["AuxLogits.output"].params == {"training_only": True}
    aux = [nid for nid in report.nodes if nid.startswith("AuxLogits.")]
    assert aux and all(report.nodes[nid].training_only for nid in aux)
    assert not report.nodes["Mixed_6e.cat"].training_only
    assert sum(report.nodes[nid].params for nid in aux) == AUX_PARAMS
    plain = analyze(presets.build("inception_v3", aux_logits=False))
    assert plain.total_params == TORCHVISION_PARAMS - AUX_PARAMS
    assert plain.macs == report.macs  # the training-only head is not counted
    assert plain.output_ids == ["fc"]


def test_smallest_inputs() -> None:
    """torchvision's min_size is 75×75 (evaluation); the auxiliary head needs 17×17 at
    Mixed_6e, which only 299×299 gives."""
    def ok(side: int, aux: bool) -> bool:
        return analyze(presets.build("inception_v3", input_shape=(3, side, side),
                                     aux_logits=aux)).ok

    assert ok(75, False) and not ok(74, False)
    assert ok(299, True) and not ok(298, True) and not ok(75, True)


@pytest.mark.parametrize("name", ["inception_v3", "googlenet"])
def test_transform_input_is_a_channel_affine_after_the_input(name: str) -> None:
    plain = analyze(presets.build(name))
    graph = presets.build(name, transform_input=True)
    report = analyze(graph)
    assert report.ok, report.errors
    node = graph.nodes["transform_input"]
    assert node.type == "ChannelAffine" and node.params == TRANSFORM_INPUT
    assert graph.inputs("transform_input") == ["input"]
    first = "Conv2d_1a_3x3.conv" if name == "inception_v3" else "conv1.conv"
    assert graph.inputs(first) == ["transform_input"]
    assert (report.total_params, report.macs) == (plain.total_params, plain.macs)
    assert report.buffers == plain.buffers + 6  # its constants, not weights
    scale, shift = TRANSFORM_INPUT["scale"], TRANSFORM_INPUT["shift"]
    assert scale == pytest.approx([0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5])
    assert shift == pytest.approx([(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5,
                                   (0.406 - 0.5) / 0.5])


def test_torchvision_init_family_follows_inception3() -> None:
    """Inception3's loop: trunc_normal(std 0.1) for conv and Linear, InceptionAux's fc 0.001
    (its conv1.stddev sits on the BasicConv2d, which the loop never reads), BN 1/0."""
    graph = presets.build("inception_v3")
    assert graph.metadata["init"] == {"scheme": "torchvision", "family": "inception"}
    plan = init.plan(graph)
    assert plan["Conv2d_1a_3x3.conv"] == [init.Draw("weight", "trunc_normal", 0.1)]
    assert plan["AuxLogits.conv1.conv"] == [init.Draw("weight", "trunc_normal", 0.1)]
    assert plan["fc"] == [init.Draw("weight", "trunc_normal", 0.1)]
    assert plan["AuxLogits.fc"] == [init.Draw("weight", "trunc_normal", 0.001)]
    assert plan["Mixed_5b.branch1x1.bn"] == [init.Draw("weight", "constant", 1.0),
                                             init.Draw("bias", "constant", 0.0)]
    assert "0.001" in init.formula(graph.metadata["init"])


# -- the ChannelAffine layer -------------------------------------------------------------------
def _affine(shape: list[int], **params: object) -> Graph:
    g = Graph()
    g.add_node("Input", "input", {"shape": shape})
    g.add_node("ChannelAffine", "affine", params)
    g.connect("input", "affine")
    return g


@pytest.mark.parametrize("shape, params, buffers", [
    ([3, 5, 5], {"scale": [1.0, 2.0, 3.0], "shift": [0.0, 0.5, 1.0]}, 6),
    ([4, 5, 5], {"scale": 2.0}, 2),
    ([6], {"shift": [1.0] * 6}, 7),
])
def test_channel_affine_keeps_the_shape_and_has_no_weights(shape, params, buffers) -> None:
    report = analyze(_affine(shape, **params))
    assert report.ok, report.errors
    node = report.nodes["affine"]
    assert node.shape == tuple(shape)
    assert (node.params, node.buffers, node.macs) == (0, buffers, 0)
    assert node.rf == report.nodes["input"].rf  # pointwise: the receptive field stays


def test_channel_affine_refuses_a_wrong_count_or_a_bad_value() -> None:
    report = analyze(_affine([4, 5, 5], scale=[1.0, 2.0, 3.0]))
    assert not report.ok
    assert "scale has 3 values for 4 channels" in report.errors[0].message
    spec = layers.get("ChannelAffine")
    assert spec.resolve({"shift": []})[1] == [
        "shift must be a number or a list of numbers, one per channel"]
    assert spec.resolve({"scale": [1.0, "x"]})[1] == ["scale must be a number, not 'x'"]
    assert spec.resolve({"scale": float("nan")})[1] == ["scale must be a number, not NaN"]
