"""Every layer type, built by torch from its spec, agrees with the spec (parametrised over the
catalogue: a new type without an example here fails the first test)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from cnnstudio.engine import to_module
from cnnstudio.graph import Graph, analyze, layers

IMG = (4, 9, 9)
# type: (params, input shapes)
EXAMPLES: dict[str, tuple[dict[str, Any], list[tuple[int, ...]]]] = {
    "Conv2d": ({"out_channels": 6, "kernel_size": 3, "stride": 2, "groups": 2,
                "dilation": 2, "padding": 1}, [IMG]),
    "ConvTranspose2d": ({"out_channels": 6, "kernel_size": 4, "stride": 2, "padding": 1,
                         "output_padding": 1}, [IMG]),
    "MaxPool2d": ({"kernel_size": 3, "stride": 2, "ceil_mode": True}, [IMG]),
    "AvgPool2d": ({"kernel_size": 2, "padding": 1, "count_include_pad": False}, [IMG]),
    "LPPool2d": ({"norm_type": 2.0, "kernel_size": 2}, [IMG]),
    "AdaptiveAvgPool2d": ({"output_size": [4, None]}, [IMG]),
    "AdaptiveMaxPool2d": ({"output_size": 2}, [IMG]),
    "BatchNorm2d": ({}, [IMG]),
    "BatchNorm1d": ({"momentum": None}, [(5,)]),
    "InstanceNorm2d": ({"affine": True, "track_running_stats": True}, [IMG]),
    "BatchInstanceNorm2d": ({"rho_init": 0.5}, [IMG]),
    "GroupNorm": ({"num_groups": 2}, [IMG]),
    "LayerNorm": ({"normalized_shape": [9, 9]}, [IMG]),
    "LocalResponseNorm": ({"size": 3}, [IMG]),
    "ChannelAffine": ({"scale": [0.5, 2.0, 1.0, -1.0], "shift": 0.25}, [IMG]),
    "Linear": ({"out_features": 7}, [(5,)]),
    "Flatten": ({"start_dim": 2}, [IMG]),
    "Dropout": ({"p": 0.3}, [IMG]),
    "Dropout2d": ({}, [IMG]),
    "StochasticDepth": ({"p": 0.1}, [IMG]),
    "Identity": ({}, [IMG]),
    "ZeroPad2d": ({"padding": [1, 0, 2, -1]}, [IMG]),
    "Upsample": ({"scale_factor": 2, "mode": "bilinear", "align_corners": False}, [IMG]),
    "PReLU": ({"num_parameters": 4}, [IMG]),
    "Softmax": ({"dim": 1}, [IMG]),
    "LogSoftmax": ({"dim": -1}, [IMG]),
    "Add": ({}, [IMG, IMG, IMG]),
    "Mul": ({}, [IMG, (4, 1, 1)]),
    "Concat": ({"dim": 1}, [IMG, (2, 9, 9)]),
    "Chunk": ({"chunks": 3, "index": 1}, [IMG]),
    "Slice": ({"start": 1, "end": 3}, [IMG]),
    "ChannelShuffle": ({"groups": 2}, [IMG]),
    "Permute": ({"dims": [2, 0, 1]}, [IMG]),
    "LayerNorm2d": ({"eps": 1e-5, "bias": False}, [IMG]),
    "LayerScale": ({"init_value": 0.5}, [IMG]),
    "GlobalResponseNorm": ({"eps": 1e-5}, [IMG]),
    "BranchSoftmax": ({"branches": 2, "groups": 2}, [IMG]),
    "BlurPool2d": ({"filt_size": 4, "stride": 2, "pad_mode": "constant"}, [IMG]),
    "Input": ({"shape": list(IMG)}, []),
    "Output": ({}, [IMG]),
    **{name: ({}, [IMG]) for name in ("ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "GELU",
                                      "SiLU", "Hardswish", "Hardsigmoid", "Mish", "Sigmoid",
                                      "Tanh", "Softplus")},
}


def test_every_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(layers.names())


def graph_for(name: str) -> Graph:
    params, in_shapes = EXAMPLES[name]
    g = Graph()
    if name == "Input":
        g.add_node("Input", "x", params)
        g.add_node("Output", "out")
        g.connect("x", "out")
        return g
    g.add_node("Input", "in", {"shape": list(IMG)})
    srcs = []
    for i, shape in enumerate(in_shapes):
        # Reach each input shape from the image with a layer that makes it exactly.
        src = f"src{i}"
        if shape == IMG:
            g.add_node("Identity", src)
        elif len(shape) == 1:
            g.add_node("Linear", src, {"out_features": shape[0]})
            g.add_node("Flatten", f"flat{i}")
            g.connect("in", f"flat{i}")
            g.connect(f"flat{i}", src)
            srcs.append(src)
            continue
        elif shape[1:] == (1, 1):
            g.add_node("AdaptiveAvgPool2d", src, {"output_size": 1})
        else:
            g.add_node("Conv2d", src, {"out_channels": shape[0], "kernel_size": 1})
        g.connect("in", src)
        srcs.append(src)
    g.add_node(name, "layer", params)
    for src in srcs:
        g.connect(src, "layer")
    return g


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_layer_built_by_torch_matches_its_spec(name: str) -> None:
    g = graph_for(name)
    report = analyze(g)
    assert report.ok, report.errors
    module = to_module(g)
    for mode in ("train", "eval"):
        getattr(module, mode)()
        x = torch.randn(3, *report.input_shape)
        with torch.no_grad():
            out = module(x)
        last = "x" if name == "Input" else "layer"
        assert tuple(out.shape[1:]) == report.nodes[last].shape
    if name not in ("Input", "Output"):
        # A LayerScale's parameter is its node (key "layer"), not a submodule's: the model's.
        sub = module if name == "LayerScale" else module.get_submodule("layer")
        assert report.nodes["layer"].params == sum(p.numel() for p in sub.parameters())
        assert report.nodes["layer"].buffers == sum(b.numel() for b in sub.buffers())
