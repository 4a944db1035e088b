"""Randomly generated graphs: the analysis agrees with torch on every node.

For each graph, torch runs the layers one by one with the real tensor shapes. Where the
analysis says a graph is valid, torch must run it and every node's shape, the parameter and
buffer counts and the MACs (torch's FLOP counter ÷ 2) must equal the analysis'. Where torch
fails at a node, the analysis must report an error there (or before it).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import torch
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from cnnstudio.engine import to_module
from cnnstudio.engine.build import _OWN
from cnnstudio.graph import Graph, analyze, dumps_graph, layers

ACTIVATIONS = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "GELU", "SiLU", "Hardswish",
               "Hardsigmoid", "Mish", "Sigmoid", "Tanh", "Softplus", "Identity"]
MERGES = ["Add", "Concat", "Mul"]
# Where the analysis is stricter than torch on purpose: Add and Mul refuse shapes torch would
# broadcast, and layers refuse tensors torch would take as "unbatched" (reading the batch axis
# as channels), which is never what a per-sample graph means.
STRICTER = ("expects ", "inputs have different shapes", "do not broadcast",
            "same number of axes", "is the batch axis", "would merge the batch axis")

small = st.integers


@st.composite
def layer(draw) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from([
        "Conv2d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "LPPool2d",
        "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "BatchNorm2d", "InstanceNorm2d", "GroupNorm",
        "LayerNorm", "LocalResponseNorm", "Activation", "PReLU", "Softmax", "Flatten",
        "Linear", "BatchNorm1d", "Dropout", "Dropout2d", "ZeroPad2d", "Upsample", "Merge",
        "Permute", "LayerNorm2d", "LayerScale", "GlobalResponseNorm", "BranchSoftmax",
        "BlurPool2d",
        "ChannelShuffle", "Chunk",
    ]))
    pair = st.one_of(small(1, 4), st.lists(small(1, 4), min_size=2, max_size=2))
    p: dict[str, Any] = {}
    if kind == "Conv2d":
        p = {"out_channels": draw(small(1, 6)), "kernel_size": draw(pair),
             "stride": draw(small(1, 3)), "dilation": draw(small(1, 2)),
             "groups": draw(small(1, 3)), "bias": draw(st.booleans()),
             "padding": draw(st.one_of(small(0, 3), st.just("same"), st.just("valid"))),
             "padding_mode": draw(st.sampled_from(["zeros", "reflect", "replicate",
                                                   "circular"])),
             "weight_standardization": draw(st.sampled_from(["off", "standard", "scaled"]))}
        if p["padding"] == "same":
            p["stride"] = 1
    elif kind == "ConvTranspose2d":
        p = {"out_channels": draw(small(1, 6)), "kernel_size": draw(pair),
             "stride": draw(small(1, 3)), "padding": draw(small(0, 2)),
             "output_padding": draw(small(0, 1)), "dilation": draw(small(1, 2)),
             "groups": draw(small(1, 2))}
    elif kind in ("MaxPool2d", "AvgPool2d", "LPPool2d"):
        p = {"kernel_size": draw(pair), "stride": draw(st.one_of(st.none(), small(1, 3))),
             "ceil_mode": draw(st.booleans())}
        if kind != "LPPool2d":
            p["padding"] = draw(small(0, 2))
        if kind == "MaxPool2d":
            p["dilation"] = draw(small(1, 2))
        if kind == "AvgPool2d":
            p["count_include_pad"] = draw(st.booleans())
        if kind == "LPPool2d":
            p["norm_type"] = draw(st.sampled_from([1.0, 2.0, 3.0]))
    elif kind.startswith("Adaptive"):
        p = {"output_size": draw(st.one_of(small(1, 4), st.lists(
            st.one_of(small(1, 4), st.none()), min_size=2, max_size=2)))}
    elif kind in ("BatchNorm2d", "InstanceNorm2d", "BatchNorm1d"):
        p = {"affine": draw(st.booleans()), "track_running_stats": draw(st.booleans())}
    elif kind == "GroupNorm":
        p = {"num_groups": draw(small(1, 4))}
    elif kind == "LocalResponseNorm":
        p = {"size": draw(small(1, 5))}
    elif kind == "Activation":
        kind = draw(st.sampled_from(ACTIVATIONS))
    elif kind == "PReLU":
        p = {"num_parameters": draw(small(1, 4))}
    elif kind == "Softmax":
        p = {"dim": draw(small(-2, 3))}
    elif kind == "Flatten":
        p = {"start_dim": draw(small(1, 2))}
    elif kind == "Linear":
        p = {"out_features": draw(small(1, 8)), "bias": draw(st.booleans())}
    elif kind == "ZeroPad2d":
        p = {"padding": draw(st.one_of(small(0, 2), st.lists(small(-1, 2), min_size=4,
                                                             max_size=4)))}
    elif kind == "Upsample":
        mode = draw(st.sampled_from(["nearest", "nearest-exact", "bilinear", "bicubic"]))
        p = {"mode": mode}
        if draw(st.booleans()):
            p["scale_factor"] = draw(st.sampled_from([1, 2, 1.5, [2, 1]]))
        else:
            p["size"] = draw(pair)
        if mode in ("bilinear", "bicubic") and draw(st.booleans()):
            p["align_corners"] = draw(st.booleans())
    elif kind == "Merge":
        kind = draw(st.sampled_from(MERGES))
    elif kind == "ChannelShuffle":
        p = {"groups": draw(small(1, 3))}
    elif kind == "Chunk":
        p = {"chunks": draw(small(1, 4)), "index": draw(small(0, 3))}
    elif kind == "Permute":
        p = {"dims": draw(st.sampled_from([[1, 2, 0], [2, 0, 1], [0, 2, 1], [1, 0], [0]]))}
    elif kind == "LayerNorm2d":
        p = {"elementwise_affine": draw(st.booleans()), "bias": draw(st.booleans())}
    elif kind == "LayerScale":
        p = {"init_value": draw(st.sampled_from([1e-6, 0.5]))}
    elif kind == "GlobalResponseNorm":
        p = {"channels_last": draw(st.booleans())}
    elif kind == "BranchSoftmax":
        p = {"branches": draw(small(1, 3)), "groups": draw(small(1, 2))}
    elif kind == "BlurPool2d":
        p = {"filt_size": draw(small(2, 5)), "stride": draw(small(1, 3)),
             "pad_mode": draw(st.sampled_from(["reflect", "constant", "replicate", "circular"]))}
    return kind, p


@st.composite
def graphs(draw) -> Graph:
    g = Graph()
    shape = draw(st.one_of(
        st.tuples(small(1, 4), small(1, 20), small(1, 20)).map(list),
        st.tuples(small(1, 12)).map(list)))
    g.add_node("Input", "in", {"shape": shape})
    ids = ["in"]
    for i in range(draw(small(1, 7))):
        kind, params = draw(layer())
        nid = f"n{i}"
        g.add_node(kind, nid, params)
        g.connect(ids[-1], nid)
        if kind in MERGES:
            other = draw(st.sampled_from(ids[:-1] or ids))
            if other != ids[-1]:
                g.connect(other, nid)
        ids.append(nid)
    return g


def run_in_torch(g: Graph) -> tuple[dict[str, tuple], str | None]:
    """Run the graph layer by layer in torch (training and eval mode); return the shapes and
    the first node torch refuses."""
    values: dict[str, torch.Tensor] = {}
    shapes: dict[str, tuple] = {}
    torch.manual_seed(0)
    for nid in g.topological_order():
        node = g.nodes[nid]
        spec = layers.get(node.type)
        resolved, problems = spec.resolve(node.params)
        try:
            if node.type == "Input":
                if problems:
                    raise ValueError(problems)
                values[nid] = torch.randn(2, *resolved["shape"])
            else:
                ins = [values[s] for s in g.inputs(nid)]
                if len(ins) < spec.min_inputs:
                    raise ValueError("too few inputs")
                kwargs = spec.torch_kwargs(resolved, [tuple(t.shape[1:]) for t in ins])
                path = spec.torch_class_for(kwargs)
                if path in _OWN:
                    module = _OWN[path](**kwargs)
                else:
                    mod_name, _, cls_name = path.rpartition(".")
                    module = getattr(importlib.import_module(mod_name), cls_name)(**kwargs)
                with torch.no_grad():
                    module.train()(*ins)  # some layers only fail in training
                    out = module.eval()(*ins)
                if out.numel() == 0 or not all(d > 0 for d in out.shape):
                    raise ValueError("empty output")
                values[nid] = out
        except Exception as exc:  # torch refused: that is the finding
            note(f"torch fails at {nid}: {exc}")
            return shapes, nid
        shapes[nid] = tuple(values[nid].shape[1:])
    return shapes, None


# CNNSTUDIO_EXAMPLES=5000 runs a deeper search than CI's.
EXAMPLES = int(os.environ.get("CNNSTUDIO_EXAMPLES", "300"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_analysis_agrees_with_torch(g: Graph) -> None:
    note(dumps_graph(g))
    report = analyze(g)
    torch_shapes, torch_failed_at = run_in_torch(g)
    order = g.topological_order()
    error_nodes = [i.node for i in report.errors]
    if torch_failed_at is None:
        extra = [i for i in report.errors if not any(s in i.message for s in STRICTER)]
        assert not extra, (extra, torch_shapes)
    else:
        assert error_nodes, f"torch fails at {torch_failed_at} but the analysis is happy"
        first = min(order.index(n) for n in error_nodes if n is not None)
        assert first <= order.index(torch_failed_at), (report.errors, torch_failed_at)
    for nid, shape in torch_shapes.items():
        if report.nodes[nid].shape is not None:
            assert report.nodes[nid].shape == shape, nid
    if report.ok:
        module = to_module(g).eval()
        assert report.total_params == sum(p.numel() for p in module.parameters())
        assert report.buffers == sum(b.numel() for b in module.buffers())
        x = torch.randn(2, *report.input_shape)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            module(x)
        assert counter.get_total_flops() // 2 == 2 * report.macs
