"""The seeds' formulas and worked examples, marked the way their teachers would mark them."""

from __future__ import annotations

from typing import Any

import pytest

from cnnstudio.graph import Report, analyze, load_graph, presets


def net(*layers: tuple[str, dict[str, Any]] | str) -> Report:
    """Analyse a chain of layers given as (type, params) or a bare type name."""
    nodes = []
    for i, layer in enumerate(layers):
        type_name, params = (layer, {}) if isinstance(layer, str) else layer
        nodes.append({"id": f"l{i}", "type": type_name, "params": params})
    return analyze(load_graph({"format": "cnnstudio.graph", "version": 1, "nodes": nodes}))


def conv(out: int, k: int, **kw: Any) -> tuple[str, dict[str, Any]]:
    return ("Conv2d", {"out_channels": out, "kernel_size": k, **kw})


def inp(*shape: int) -> tuple[str, dict[str, Any]]:
    return ("Input", {"shape": list(shape)})


class TestExampleProblem1:
    """BRAC slides, example 1: complete the table, name the classes, find Conv2's RF."""

    def report(self, with_pool1: bool = True) -> Report:
        layers = [inp(3, 128, 128), conv(32, 5, padding=2)]
        if with_pool1:
            layers.append(("MaxPool2d", {"kernel_size": 2}))
        layers += [conv(64, 3), ("MaxPool2d", {"kernel_size": 2}), "Flatten",
                   ("Linear", {"out_features": 128}), ("Linear", {"out_features": 4})]
        return net(*layers)

    def test_output_dimensions_and_parameters(self) -> None:
        r = self.report()
        assert r.ok
        table = [(n.shape, n.params) for n in list(r.nodes.values())[1:]]
        assert table == [
            ((32, 128, 128), 2_432),      # (5·5·3 + 1)·32
            ((32, 64, 64), 0),
            ((64, 62, 62), 18_496),       # (3·3·32 + 1)·64
            ((64, 31, 31), 0),
            ((61_504,), 0),               # 31·31·64
            ((128,), 7_872_640),          # (61,504 + 1)·128
            ((4,), 516),                  # (128 + 1)·4
        ]
        assert r.output_shapes == [(4,)]  # four classes

    def test_formulas_are_shown_with_values(self) -> None:
        r = self.report()
        assert r.explain("l1")["output_shape"].startswith("(128 − 5 + 2·2) / 1 + 1 = 128")
        assert r.explain("l1")["params"] == "(5·5·3 + 1)·32 = 2,432"
        assert r.explain("l6")["params"] == "(inputs + 1)·outputs = (61,504 + 1)·128 = 7,872,640"
        assert r.explain("l3")["output_shape"].startswith("(64 − 3 + 2·0) / 1 + 1 = 62")

    def test_receptive_field_of_conv2_with_and_without_pool1(self) -> None:
        hw = (128, 128)
        assert self.report().nodes["l3"].receptive_field(hw) == (10, 10)
        assert self.report(with_pool1=False).nodes["l2"].receptive_field(hw) == (7, 7)
        explained = self.report().explain("l3")["receptive_field"]
        assert explained.startswith("r = r_in + (F − 1)·j_in = 6 + (3 − 1)·2 = 10")


@pytest.mark.parametrize("size, k, p, s, out", [
    (32, 5, 0, 1, 28),   # no padding
    (32, 3, 1, 1, 32),   # same padding
    (32, 3, 1, 2, 16),   # stride 2 halves
    (227, 11, 0, 4, 55),  # AlexNet's first layer
])
def test_output_size_formula(size: int, k: int, p: int, s: int, out: int) -> None:
    r = net(inp(3, size, size), conv(8, k, padding=p, stride=s))
    assert r.nodes["l1"].shape == (8, out, out)


def test_floor_is_shown_when_the_stride_does_not_divide() -> None:
    r = net(inp(3, 32, 32), conv(8, 3, padding=1, stride=2))
    assert r.explain("l1")["output_shape"].startswith("⌊(32 − 3 + 2·1) / 2⌋ + 1 = 16")


@pytest.mark.parametrize("layers, params", [
    ((inp(3, 32, 32), conv(64, 3)), 1_792),                        # (3·3·3·64) + 64
    ((inp(1024), ("Linear", {"out_features": 512})), 524_800),     # 1024·512 + 512
    ((inp(128), ("Linear", {"out_features": 64})), 8_256),         # (128 + 1)·64
    ((inp(256, 56, 56), conv(64, 1, bias=False)), 16_384),         # 1×1·256·64
    ((inp(1, 28, 28), conv(100, 3)), 1_000),                       # 900 + 100 bias
    ((inp(784), ("Linear", {"out_features": 100})), 78_500),       # 784·100 weights + bias
    ((inp(192, 28, 28), conv(128, 5, bias=False)), 614_400),       # GoogLeNet without 1×1
])
def test_parameter_formulas(layers, params: int) -> None:
    assert net(*layers).total_params == params


def test_batchnorm_has_two_parameters_per_channel_and_two_buffers() -> None:
    r = net(inp(64, 8, 8), ("BatchNorm2d", {}))
    bn = r.nodes["l1"]
    assert (bn.params, bn.trainable_params, bn.buffers) == (128, 128, 2 * 64 + 1)
    r = net(inp(64), ("BatchNorm1d", {}))
    assert r.total_params == 128


def test_googlenet_bottleneck_saves_47_percent() -> None:
    direct = net(inp(192, 28, 28), conv(128, 5, padding=2, bias=False)).total_params
    bottleneck = net(inp(192, 28, 28), conv(96, 1, bias=False),
                     conv(128, 5, padding=2, bias=False)).total_params
    assert (direct, bottleneck) == (614_400, 18_432 + 307_200)
    assert round(100 * (1 - bottleneck / direct)) == 47


def test_stacked_3x3_convolutions_grow_the_receptive_field_by_two() -> None:
    r = net(inp(8, 32, 32), conv(8, 3, padding=1), conv(8, 3, padding=1),
            conv(8, 3, padding=1))
    assert [r.nodes[f"l{i}"].receptive_field((32, 32)) for i in (1, 2, 3)] == \
        [(3, 3), (5, 5), (7, 7)]
    three = net(inp(64, 8, 8), conv(64, 3, bias=False), conv(64, 3, bias=False),
                conv(64, 3, bias=False)).total_params
    one = net(inp(64, 8, 8), conv(64, 7, bias=False)).total_params
    assert (three, one) == (27 * 64 * 64, 49 * 64 * 64)  # 45% fewer


def test_dilated_3x3_sees_5x5_with_nine_weights() -> None:
    r = net(inp(1, 16, 16), conv(1, 3, dilation=2, bias=False))
    assert r.nodes["l1"].receptive_field((16, 16)) == (5, 5)
    assert r.total_params == 9


def test_pooling_doubles_the_jump_of_later_layers() -> None:
    r = net(inp(1, 16, 16), conv(1, 3), ("MaxPool2d", {"kernel_size": 2}), conv(1, 3))
    hw = (16, 16)
    assert [r.nodes[f"l{i}"].receptive_field(hw) for i in (1, 2, 3)] == \
        [(3, 3), (4, 4), (8, 8)]


def test_pooling_output_and_no_parameters() -> None:
    r = net(inp(3, 4, 4), ("MaxPool2d", {"kernel_size": 2}))
    assert r.nodes["l1"].shape == (3, 2, 2) and r.total_params == 0
    r = net(inp(96, 55, 55), ("MaxPool2d", {"kernel_size": 3, "stride": 2}))
    assert r.nodes["l1"].shape == (96, 27, 27)  # AlexNet's overlapping pooling


def test_strided_and_transposed_convolutions() -> None:
    r = net(inp(64, 32, 32), conv(128, 3, stride=2, padding=1))
    assert r.nodes["l1"].shape == (128, 16, 16)
    r = net(inp(512, 7, 7), ("ConvTranspose2d", {"out_channels": 256, "kernel_size": 2,
                                                  "stride": 2}))
    assert r.nodes["l1"].shape == (256, 14, 14)


def test_connections_per_neuron_are_the_macs_per_output() -> None:
    # cs231n: a 3×3 filter on a [16×16×20] volume has 3·3·20 = 180 connections per neuron.
    r = net(inp(20, 16, 16), conv(1, 3))
    node = r.nodes["l1"]
    assert node.macs // (node.shape[1] * node.shape[2]) == 180


def test_an_rgb_224_image_holds_150528_values() -> None:
    r = net(inp(3, 224, 224))
    assert r.explain("l0")["output_shape"] == "[3, 224, 224]: 3·224·224 = 150,528 values per sample"


def test_lenet5_as_the_seeds_describe_it() -> None:
    r = analyze(presets.build("lenet5"))
    shapes = [n.shape for n in r.nodes.values() if n.type in ("Conv2d", "AvgPool2d")]
    assert shapes == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1)]
    assert r.total_params == 61_706  # "about 60,000 parameters"
    assert {n.type for n in r.nodes.values()} >= {"Tanh", "AvgPool2d"}


@pytest.mark.parametrize("name, millions", [
    ("resnet18", 11.7), ("resnet34", 21.8), ("resnet50", 25.6), ("resnet101", 44.5),
    ("resnet152", 60.2),
])
def test_resnet_parameter_counts(name: str, millions: float) -> None:
    assert round(analyze(presets.build(name)).total_params / 1e6, 1) == millions


def test_resnet50_stages_and_cost() -> None:
    r = analyze(presets.build("resnet50"))
    stage_out = [r.nodes[f"layer{i}.{n}.relu3"].shape for i, n in ((1, 2), (2, 3), (3, 5), (4, 2))]
    assert stage_out == [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
    assert r.total_params == 25_557_032
    assert f"{r.macs / 1e9:.2f}" == "4.09"
    assert r.output_shapes == [(1000,)]
