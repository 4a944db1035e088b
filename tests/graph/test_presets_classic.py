"""The classic presets (AlexNet, VGG, SqueezeNet, the seeds' simple CNNs) against the numbers the
seeds and torchvision give, through the analysis alone (no torch)."""

from __future__ import annotations

import pytest

from cnnstudio.graph import Graph, analyze, presets


def _of_type(graph: Graph, type_name: str) -> list[str]:
    return [n.id for n in graph.nodes.values() if n.type == type_name]


def _param(graph: Graph, node_id: str, name: str):
    """A node's parameter value, its spec's default where the file leaves it out."""
    node = graph.node(node_id)
    return {**node.spec.defaults, **node.params}[name]


def _params(report, ids: list[str]) -> int:
    return sum(report.nodes[i].params for i in ids)


# -- AlexNet ------------------------------------------------------------------------------------

def test_alexnet_paper_layer_shapes_follow_the_seeds() -> None:
    report = analyze(presets.build("alexnet_paper"))
    assert report.ok, report.errors
    shapes = {nid: n.shape for nid, n in report.nodes.items()}
    assert shapes["input"] == (3, 227, 227)
    assert shapes["features.conv1"] == (96, 55, 55)
    assert shapes["features.pool1"] == (96, 27, 27)
    assert shapes["features.conv2"] == (256, 27, 27)
    assert shapes["features.pool2"] == (256, 13, 13)
    assert shapes["features.conv3"] == (384, 13, 13)
    assert shapes["features.conv4"] == (384, 13, 13)
    assert shapes["features.conv5"] == (256, 13, 13)
    assert shapes["features.pool5"] == (256, 6, 6)
    assert shapes["flatten"] == (9216,)
    assert shapes["classifier.fc6"] == shapes["classifier.fc7"] == (4096,)
    assert report.output_shapes == [(1000,)]


def test_alexnet_paper_has_lrn_after_the_first_two_convolutions() -> None:
    graph = presets.build("alexnet_paper")
    assert _of_type(graph, "LocalResponseNorm") == ["features.norm1", "features.norm2"]
    for norm in ("features.norm1", "features.norm2"):
        assert [_param(graph, norm, k) for k in ("size", "alpha", "beta", "k")] == [
            5, 5e-4, 0.75, 2]  # the paper's α = 1e-4 (torch divides by size); k = 2
    assert len(_of_type(graph, "Conv2d")) == 5 and len(_of_type(graph, "Linear")) == 3
    assert [_param(graph, d, "p") for d in _of_type(graph, "Dropout")] == [0.5, 0.5]


def test_alexnet_paper_parameters() -> None:
    graph = presets.build("alexnet_paper")
    report = analyze(graph)
    # conv (11·11·3 + 1)·96 + (5·5·96 + 1)·256 + (3·3·256 + 1)·384 + (3·3·384 + 1)·384
    # + (3·3·384 + 1)·256 = 3,747,200; FC (9216 + 1)·4096 + (4096 + 1)·4096 + (4096 + 1)·1000
    # = 58,631,144 (the seeds' "FC layers: 58.6 million").
    assert _params(report, _of_type(graph, "Conv2d")) == 3_747_200
    assert _params(report, _of_type(graph, "Linear")) == 58_631_144
    assert report.total_params == 62_378_344
    assert round(report.total_params / 1e6, 1) == 62.4


def test_alexnet_paper_split_gpus_halves_the_grouped_weights() -> None:
    full = analyze(presets.build("alexnet_paper"))
    graph = presets.build("alexnet_paper", split_gpus=True)
    split = analyze(graph)
    assert split.ok, split.errors
    assert split.total_params < full.total_params
    # conv2, conv4 and conv5 see only their own GPU's half of the input channels.
    halved = (5 * 5 * 96 * 256 + 3 * 3 * 384 * 384 + 3 * 3 * 384 * 256) // 2
    assert full.total_params - split.total_params == halved
    assert split.total_params == 60_965_224
    # The seeds' "Conv layers: 2.3 million" is the two-GPU network.
    assert round(_params(split, _of_type(graph, "Conv2d")) / 1e6, 1) == 2.3
    assert split.nodes["features.conv3"].params == full.nodes["features.conv3"].params
    for nid in ("features.conv2", "features.conv4", "features.conv5", "features.pool5"):
        assert split.nodes[nid].shape == full.nodes[nid].shape


def test_torchvision_alexnet_count() -> None:
    report = analyze(presets.build("alexnet"))
    assert report.ok, report.errors
    assert report.total_params == 61_100_840
    assert report.nodes["avgpool"].shape == (256, 6, 6)
    assert report.nodes["flatten"].shape == (9216,)


# -- VGG ----------------------------------------------------------------------------------------

def test_vgg16_blocks_follow_the_seeds() -> None:
    report = analyze(presets.build("vgg16"))
    assert report.ok, report.errors
    pools = [nid for nid, n in report.nodes.items() if n.type == "MaxPool2d"]
    assert [report.nodes[p].shape for p in pools] == [
        (64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7)]
    assert report.nodes["flatten"].shape == (25088,)


def test_vgg16_fully_connected_layers_hold_most_parameters() -> None:
    graph = presets.build("vgg16")
    report = analyze(graph)
    fc = _params(report, _of_type(graph, "Linear"))
    assert fc == 123_642_856
    assert report.total_params == 138_357_544
    assert round(fc / 1e6, 1) == 123.6 and round(report.total_params / 1e6, 1) == 138.4
    # The analysis points at it and suggests global average pooling.
    assert any("fully connected layers hold 89%" in str(w) for w in report.warnings)


@pytest.mark.parametrize("name, convs, params", [
    ("vgg11", 8, 132_863_336), ("vgg13", 10, 133_047_848), ("vgg16", 13, 138_357_544),
    ("vgg19", 16, 143_667_240),
])
def test_vgg_depths(name: str, convs: int, params: int) -> None:
    graph = presets.build(name)
    assert len(_of_type(graph, "Conv2d")) == convs
    assert len(_of_type(graph, "Linear")) == 3
    assert convs + 3 == int(name[3:])  # VGG-n counts its weight layers
    assert analyze(graph).total_params == params


def test_vgg_bn_adds_a_batchnorm_per_convolution() -> None:
    plain = presets.build("vgg19")
    graph = presets.build("vgg19_bn")
    report = analyze(graph)
    assert len(_of_type(graph, "BatchNorm2d")) == len(_of_type(graph, "Conv2d")) == 16
    assert report.total_params == analyze(plain).total_params + 2 * 5504 == 143_678_248
    assert report.buffers == 2 * 5504 + 16


# -- SqueezeNet ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, params", [
    ("squeezenet1_0", 1_248_424), ("squeezenet1_1", 1_235_496)])
def test_squeezenet(name: str, params: int) -> None:
    graph = presets.build(name)
    report = analyze(graph)
    assert report.ok, report.errors
    assert report.total_params == params
    assert not _of_type(graph, "Linear")  # a 1×1 convolution + global pooling classifies
    assert len(_of_type(graph, "Concat")) == 8  # one per Fire module
    assert report.output_shapes == [(1000,)]
    last = report.nodes["features.12.concat"]
    assert last.shape[0] == 512


# -- The seeds' simple CNNs ---------------------------------------------------------------------

def test_simple_cnn_follows_the_digit_example() -> None:
    report = analyze(presets.build("simple_cnn"))
    assert report.ok, report.errors
    shapes = {nid: n.shape for nid, n in report.nodes.items()}
    assert shapes["input"] == (1, 28, 28)
    assert shapes["block1.conv"] == (32, 28, 28)
    assert shapes["block1.pool"] == (32, 14, 14)
    assert shapes["block2.conv"] == (64, 14, 14)
    assert shapes["block2.pool"] == (64, 7, 7)
    assert shapes["flatten"] == (3136,)
    assert shapes["classifier.fc1"] == (128,)
    assert report.output_shapes == [(10,)]
    # (9 + 1)·32 + (9·32 + 1)·64 + (3136 + 1)·128 + (128 + 1)·10
    assert report.total_params == 421_642


def test_simple_cnn_options() -> None:
    graph = presets.build("simple_cnn")
    assert not _of_type(graph, "Dropout")
    graph = presets.build("simple_cnn", dropout=0.5)
    assert _of_type(graph, "Dropout") == ["classifier.dropout"]
    assert graph.inputs("classifier.fc2") == ["classifier.dropout"]
    report = analyze(presets.build("simple_cnn", channels=(16, 32, 64), input_shape=(3, 32, 32)))
    assert report.ok, report.errors
    assert report.nodes["flatten"].shape == (64 * 4 * 4,)


def test_gap_cnn_follows_the_seeds() -> None:
    graph = presets.build("gap_cnn")
    report = analyze(graph)
    assert report.ok, report.errors
    assert report.input_shape == (3, 224, 224)
    assert len(_of_type(graph, "Conv2d")) == 3 and len(_of_type(graph, "Linear")) == 2
    assert report.nodes["block3.conv"].shape == (128, 56, 56)
    assert report.nodes["gap"].shape == (128, 1, 1)
    assert report.nodes["flatten"].shape == (128,)
    assert report.output_shapes == [(10,)]
    assert not _of_type(graph, "Softmax")  # the loss applies it
    assert _of_type(graph, "Dropout")
    assert not report.warnings
    assert report.total_params == 111_050


def test_gap_cnn_batch_norm() -> None:
    graph = presets.build("gap_cnn", batch_norm=True)
    report = analyze(graph)
    assert report.ok, report.errors
    assert _of_type(graph, "BatchNorm2d") == ["block1.bn", "block2.bn", "block3.bn"]
    for conv in _of_type(graph, "Conv2d"):
        assert _param(graph, conv, "bias") is False
        assert graph.outputs(conv)[0].endswith(".bn")
    assert not report.warnings  # no bias cancelled by a BatchNorm
    # each BN adds 2·C parameters, each conv loses its C biases
    assert report.total_params == analyze(presets.build("gap_cnn")).total_params + 32 + 64 + 128
