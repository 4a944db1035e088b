"""analyze(): the errors that stop a build, the advice, branches, memory and caching."""

from __future__ import annotations

from typing import Any

import pytest

from cnnstudio.graph import Graph, analyze, presets

from .test_seeds import conv, inp, net


def messages(report, severity: str = "error") -> list[tuple[str | None, str]]:
    return [(i.node, i.message) for i in report.issues if i.severity == severity]


def residual(shortcut_channels: int | None) -> Graph:
    """x → conv(64) → add(x or a projection of x)."""
    g = Graph()
    g.add_node("Input", "in", {"shape": [32, 16, 16]})
    g.add_node("Conv2d", "conv", {"out_channels": 64, "kernel_size": 3, "padding": 1})
    g.connect("in", "conv")
    short = "in"
    if shortcut_channels:
        g.add_node("Conv2d", "proj", {"out_channels": shortcut_channels, "kernel_size": 1})
        g.connect("in", "proj")
        short = "proj"
    g.add_node("Add", "add")
    g.connect("conv", "add")
    g.connect(short, "add")
    return g


def test_shape_mismatch_at_add_names_the_node_and_the_fix() -> None:
    report = analyze(residual(None))
    [(node, message)] = messages(report)
    assert node == "add"
    assert "[64, 16, 16], [32, 16, 16]" in message and "1×1 Conv2d" in message
    assert "(inputs from conv, in)" in message
    assert analyze(residual(64)).ok


def test_spatial_size_below_one_is_an_error() -> None:
    report = net(inp(3, 8, 8), ("MaxPool2d", {"kernel_size": 2}), ("MaxPool2d",
                 {"kernel_size": 2}), ("MaxPool2d", {"kernel_size": 2}),
                 ("MaxPool2d", {"kernel_size": 2}))
    [(node, message)] = messages(report)
    assert node == "l4" and "below 1" in message
    report = net(inp(3, 4, 4), conv(8, 5))
    assert "does not fit in the input of size 4" in messages(report)[0][1]


def test_missing_input_unreachable_nodes_and_bad_values() -> None:
    g = Graph()
    g.add_node("Conv2d", "c", {"out_channels": 8, "kernel_size": 3})
    report = analyze(g)
    assert any(node is None and "no Input" in m for node, m in messages(report))
    assert ("c", "c has no input: link it from the layer before it, or delete it") in \
        messages(report)
    report = net(inp(3, 8, 8), conv(0, 3))
    assert messages(report) == [("l1", "out_channels must be at least 1 (got 0)")]
    report = net(inp(3, 8, 8), ("Conv2d", {"kernel_size": 3}))
    assert messages(report)[0][1].startswith("out_channels must be set")


def test_groups_must_divide_channels() -> None:
    report = net(inp(6, 8, 8), conv(8, 3, groups=4))
    assert "groups=4 must divide the 6 input channels" in messages(report)[0][1]
    assert net(inp(6, 8, 8), conv(6, 3, groups=6)).ok  # depthwise


def test_conv_bias_before_batchnorm_is_flagged() -> None:
    report = net(inp(3, 8, 8), conv(16, 3), ("BatchNorm2d", {}))
    [(node, message)] = messages(report, "warning")
    assert node == "l1" and "set bias=False to save 16 parameters" in message
    assert not messages(net(inp(3, 8, 8), conv(16, 3, bias=False), ("BatchNorm2d", {})),
                        "warning")


def test_heavy_fully_connected_head_is_flagged_on_its_largest_layer() -> None:
    report = analyze(presets.build("vgg16"))
    [(node, message)] = [w for w in messages(report, "warning") if "fully connected" in w[1]]
    assert node == "classifier.0" and "89%" in message
    report = net(inp(1, 28, 28), conv(8, 3), "Flatten", ("Linear", {"out_features": 10}))
    [(node, message)] = messages(report, "warning")
    assert node == "l3" and "global average pooling" in message


def test_early_1x1_map_and_pooling_after_global_pooling_are_flagged() -> None:
    report = net(inp(3, 8, 8), conv(8, 3, stride=8), conv(8, 3, padding=1), "Flatten")
    assert ("l1", "the feature map shrinks to 1×1 here, yet 1 layer(s) after it still slide "
            "windows over it and see only padding: downsample less (fewer poolings or "
            "strides) or use a larger input") in messages(report, "warning")
    report = net(inp(3, 8, 8), ("AdaptiveAvgPool2d", {"output_size": 1}),
                 ("MaxPool2d", {"kernel_size": 1}))
    assert any(node == "l2" and "after global pooling" in m
               for node, m in messages(report, "warning"))


def test_unseen_rows_are_flagged_only_when_real_pixels_are_lost() -> None:
    report = net(inp(3, 7, 7), ("MaxPool2d", {"kernel_size": 2}))
    [(node, message)] = messages(report, "warning")
    assert "the last row and the last column of the 7×7 input are never seen" in message
    # ResNet's stem: (224 − 7 + 2·3)/2 is not whole, but only padding is dropped.
    assert not messages(net(inp(3, 224, 224), conv(8, 7, stride=2, padding=3)), "warning")


def test_dead_branch_and_softmax_output_are_flagged() -> None:
    g = Graph()
    g.add_node("Input", "in", {"shape": [4]})
    g.add_node("Linear", "fc", {"out_features": 3})
    g.add_node("Softmax", "sm")
    g.add_node("Output", "out")
    g.add_node("ReLU", "dangling")
    for a, b in (("in", "fc"), ("fc", "sm"), ("sm", "out"), ("in", "dangling")):
        g.connect(a, b)
    warnings = dict(messages(analyze(g), "warning"))
    assert "not used" in warnings["dangling"]
    assert "cross-entropy" in warnings["sm"]


def test_receptive_field_takes_the_widest_branch_and_global_pool_sees_everything() -> None:
    g = residual(64)
    g.add_node("AdaptiveAvgPool2d", "gap")
    g.connect("add", "gap")
    report = analyze(g)
    assert report.nodes["add"].receptive_field((16, 16)) == (3, 3)  # 3×3 beats 1×1
    assert report.nodes["gap"].receptive_field_whole
    assert report.to_json()["nodes"][-1]["receptive_field"] == [16, 16]


def test_resnet_receptive_fields_match_the_known_values() -> None:
    # Published theoretical receptive fields at the last convolution.
    report = analyze(presets.build("resnet18"))
    assert report.nodes["layer4.1.relu2"].receptive_field((224, 224)) == (435, 435)
    report = analyze(presets.build("resnet50"))
    assert report.nodes["layer4.2.relu3"].receptive_field((224, 224)) == (427, 427)


def test_frozen_nodes_count_as_non_trainable() -> None:
    g = residual(64)
    g.set_node_attrs("conv", frozen=True)
    report = analyze(g)
    assert report.trainable_params == report.nodes["proj"].params
    assert report.total_params == report.nodes["proj"].params + report.nodes["conv"].params


def test_training_memory_estimate_adds_up() -> None:
    report = net(inp(3, 32, 32), conv(16, 3, padding=1), "Flatten",
                 ("Linear", {"out_features": 10}))
    params = report.total_params
    mem = report.training_memory(batch_size=8, optimizer="adam")
    assert (mem.weights, mem.gradients, mem.optimizer_state) == (4 * params, 4 * params,
                                                                 8 * params)
    assert mem.inputs == 8 * 3 * 32 * 32 * 4
    assert mem.activations == 8 * 4 * (16 * 32 * 32 + 10)  # Flatten is a view
    assert mem.total == sum(v for k, v in mem.to_json().items()
                            if k not in ("batch_size", "optimizer", "total"))
    sgd = report.training_memory(batch_size=8, optimizer="sgd")
    assert sgd.optimizer_state == 0 and sgd.total < mem.total
    slow = report.training_memory(batch_size=8, optimizer="adam", lookahead=True)
    assert slow.optimizer_state == 12 * params  # Lookahead's slow weights: one copy more
    with pytest.raises(ValueError, match="unknown optimizer"):
        report.training_memory(optimizer="lion")


def test_every_training_optimizer_has_an_estimate_and_a_label() -> None:
    """The summary panel, the device settings and ``cnnstudio summary`` all read these."""
    from cnnstudio.graph.analysis import OPTIMIZER_LABELS, OPTIMIZER_STATE, memory_optimizer
    from cnnstudio.project.config import OPTIMIZERS

    assert set(OPTIMIZER_LABELS) == set(OPTIMIZER_STATE)
    for name in OPTIMIZERS:
        assert memory_optimizer(name) in OPTIMIZER_STATE
    assert memory_optimizer("sgd") == "sgd"
    assert memory_optimizer("sgd", momentum=0.9) == "sgd_momentum"
    assert memory_optimizer("sgd", momentum=0.9, nesterov=True) == "nesterov"
    assert memory_optimizer("adam", momentum=0.9) == "adam"
    report = net(inp(3, 8, 8), conv(4, 3))
    assert (report.training_memory(optimizer="sgd_momentum").optimizer_state
            == 4 * report.trainable_params)


def test_cached_reanalysis_follows_every_edit() -> None:
    g = presets.build("resnet18")
    first = analyze(g)
    g.set_param("layer1.0.conv1", "out_channels", 32)
    second = analyze(g)
    assert second.nodes["layer1.0.conv1"].params == 32 * 64 * 9
    # conv1 and conv2 each lose 32·64·9 weights, bn1 loses 2·32.
    assert second.total_params == first.total_params - 2 * 32 * 64 * 9 - 64
    assert second.nodes["layer1.0.bn1"].params == 64  # 2·32 follows the new input
    g.set_param("layer1.0.conv1", "out_channels", 64)
    assert analyze(g).total_params == first.total_params
    g.set_param("input", "shape", [3, 64, 64])
    assert analyze(g).nodes["fc"].shape == (1000,)
    assert analyze(g).nodes["layer4.1.relu2"].shape == (512, 2, 2)


def test_report_json_has_the_contract_keys() -> None:
    doc = analyze(presets.build("lenet5")).to_json()
    assert {"input_shape", "nodes", "total_params", "trainable_params", "macs", "errors",
            "warnings"} <= set(doc)
    assert {"id", "type", "output_shape", "params", "trainable_params", "receptive_field",
            "macs"} <= set(doc["nodes"][1])


def _every_param_explained(name: str) -> dict[str, Any]:
    report = analyze(presets.build(name))
    return {nid: report.explain(nid) for nid in report.nodes}


def test_every_node_of_every_preset_explains_itself() -> None:
    for name in presets.names():
        for nid, lines in _every_param_explained(name).items():
            assert {"output_shape", "params", "macs", "receptive_field", "memory"} <= set(lines)
            assert all(isinstance(v, str) and v for v in lines.values()), (name, nid)


def test_a_model_must_return_something_in_evaluation() -> None:
    g = Graph()
    g.add_node("Input", "in", {"shape": [4]})
    assert any("no layers yet" in m for _, m in messages(analyze(g)))
    g.add_node("Linear", "fc", {"out_features": 2})
    g.add_node("Output", "aux", {"training_only": True})
    g.connect("in", "fc")
    g.connect("fc", "aux")
    assert any("every Output is training-only" in m for _, m in messages(analyze(g)))
    g.set_param("aux", "training_only", False)
    assert analyze(g).ok
