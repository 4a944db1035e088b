"""Weight-initialisation schemes in the graph: vocabulary, validation, edits with inverses, the
file format (round trip, old files), the torchvision rules per family and the zeros warning."""

from __future__ import annotations

import json
import math
import re

import pytest

from cnnstudio.graph import (
    GraphError,
    analyze,
    dumps_graph,
    graph_from_dict,
    graph_to_dict,
    presets,
)
from cnnstudio.graph import init as inits
from cnnstudio.graph.jsonformat import loads_graph

SEEDS_SCHEMES = ("default", "torchvision", "zeros", "normal", "uniform", "xavier_normal",
                 "xavier_uniform", "kaiming_normal", "kaiming_uniform", "lecun_normal",
                 "orthogonal")


def small() -> dict:
    return {"format": "cnnstudio.graph", "version": 1, "nodes": [
        {"id": "input", "type": "Input", "params": {"shape": [3, 8, 8]}},
        {"id": "conv", "type": "Conv2d", "params": {"out_channels": 4, "kernel_size": 3}},
        {"id": "bn", "type": "BatchNorm2d"},
        {"id": "relu", "type": "ReLU"},
        {"id": "flat", "type": "Flatten"},
        {"id": "fc", "type": "Linear", "params": {"out_features": 2}},
    ]}


def test_the_vocabulary_holds_every_scheme_with_its_parameters():
    assert tuple(inits.SCHEMES) == SEEDS_SCHEMES
    assert [p.name for p in inits.SCHEMES["normal"].params] == ["std"]
    assert inits.SCHEMES["normal"].params[0].default == 0.01
    assert inits.SCHEMES["uniform"].params[0].default == 0.05
    assert [p.name for p in inits.SCHEMES["kaiming_normal"].params] == ["mode", "nonlinearity"]
    assert [p.name for p in inits.SCHEMES["orthogonal"].params] == ["gain"]
    assert inits.values({"scheme": "kaiming_uniform"}) == {"mode": "fan_in",
                                                           "nonlinearity": "relu"}


@pytest.mark.parametrize("value, message", [
    ({"scheme": "he"}, "unknown scheme 'he'"),
    ({"scheme": "xavier"}, "did you mean 'xavier_normal'?"),
    ({"scheme": "normal", "std": -1}, "normal std must be a positive number, not -1"),
    ({"scheme": "normal", "std": True}, "must be a positive number"),
    ({"scheme": "uniform", "a": float("nan")}, "uniform a must be a positive number"),
    ({"scheme": "kaiming_normal", "mode": "fan_mid"}, "'fan_in', 'fan_out', not 'fan_mid'"),
    ({"scheme": "xavier_uniform", "std": 0.1}, "xavier_uniform has no parameter 'std'; it "
                                               "takes gain"),
    ({"scheme": "zeros", "gain": 1}, "it takes no parameters"),
    ({"scheme": "torchvision", "family": "vgg", "zero_init_residual": True},
     "zero_init_residual is torchvision's option for the resnet family only"),
    ({"scheme": "torchvision", "family": "lenet"}, "family must be one of"),
    (3, "expected an object"),
])
def test_bad_schemes_are_refused_with_a_message(value, message):
    with pytest.raises(inits.InitError, match="^where: ") as info:
        inits.check(value, "where")
    assert message in str(info.value)


def test_a_bare_name_and_numbers_are_normalised():
    assert inits.check("lecun_normal") == {"scheme": "lecun_normal"}
    assert inits.check({"scheme": "normal", "std": 1}) == {"scheme": "normal", "std": 1.0}


def test_graph_default_edit_and_its_inverse():
    graph = graph_from_dict(small())
    events = []
    graph.events.changed.connect(lambda: events.append(1))
    assert inits.graph_default(graph) == {"scheme": "default"}
    old = graph.set_init({"scheme": "xavier_uniform", "gain": 2})
    assert old is None and events == [1]
    assert graph.metadata["init"] == {"scheme": "xavier_uniform", "gain": 2.0}
    assert graph.set_init(old) == {"scheme": "xavier_uniform", "gain": 2.0}
    assert "init" not in graph.metadata and graph == graph_from_dict(small())
    with pytest.raises(GraphError, match="unknown scheme"):
        graph.set_init({"scheme": "nope"})
    assert "init" not in graph.metadata


def test_node_override_edit_and_its_inverse():
    graph = graph_from_dict(small())
    graph.set_init({"scheme": "normal"})
    seen = []
    graph.events.node_changed.connect(lambda node, what: seen.append((node.id, what)))
    assert inits.effective(graph, "fc") == {"scheme": "normal"}
    old = graph.set_node_init("fc", {"scheme": "orthogonal"})
    assert old is None and seen == [("fc", "init")]
    assert inits.effective(graph, "fc") == {"scheme": "orthogonal"}
    assert inits.effective(graph, "conv") == {"scheme": "normal"}
    assert graph.set_node_init("fc", old) == {"scheme": "orthogonal"}
    assert "init" not in graph.nodes["fc"].extra
    with pytest.raises(GraphError, match="relu is a ReLU: it has no weights"):
        graph.set_node_init("relu", {"scheme": "zeros"})
    with pytest.raises(GraphError, match="fc's init: normal std"):
        graph.set_node_init("fc", {"scheme": "normal", "std": 0})


def test_schemes_round_trip_through_the_file_format():
    graph = graph_from_dict(small())
    graph.set_init({"scheme": "kaiming_normal", "mode": "fan_out"})
    graph.set_node_init("fc", {"scheme": "uniform", "a": 0.2})
    text = dumps_graph(graph)
    assert '"init": {"scheme": "uniform", "a": 0.2}' in text
    again = loads_graph(text)
    assert again == graph
    assert inits.effective(again, "conv") == {"scheme": "kaiming_normal", "mode": "fan_out"}
    assert graph_to_dict(again) == graph_to_dict(graph)


def test_old_files_without_schemes_load_as_torch_default():
    graph = graph_from_dict(small())
    assert "init" not in graph_to_dict(graph).get("metadata", {})
    assert all(inits.effective(graph, n.id) == {"scheme": "default"} for n in graph)
    assert inits.plan(graph) == {}


@pytest.mark.parametrize("where, patch, message", [
    ("metadata.init", {"metadata": {"init": {"scheme": "kaiming"}}}, "unknown scheme"),
    ("nodes[5].init", {"fc": {"scheme": "normal", "std": "big"}}, "must be a positive number"),
    ("nodes[3].init", {"relu": {"scheme": "normal"}}, "a ReLU has no weights to initialise"),
])
def test_bad_schemes_in_a_file_name_their_field(where, patch, message):
    doc = small()
    for key, value in patch.items():
        if key == "metadata":
            doc["metadata"] = value
        else:
            next(n for n in doc["nodes"] if n["id"] == key)["init"] = value
    with pytest.raises(GraphError, match=f"^{re.escape(where)}: ") as info:
        loads_graph(json.dumps(doc))
    assert message in str(info.value)


def test_torchvision_presets_declare_their_builders_init():
    assert presets.build("resnet18").metadata["init"] == {"scheme": "torchvision",
                                                          "family": "resnet"}
    assert presets.build("vgg11").metadata["init"]["family"] == "vgg"
    assert presets.build("efficientnet_b0").metadata["init"]["family"] == "efficientnet"
    assert "init" not in presets.build("lenet5").metadata  # not a torchvision model


def test_explicit_scheme_draws():
    graph = graph_from_dict(small())
    graph.set_init({"scheme": "kaiming_uniform", "mode": "fan_out"})
    plan = inits.plan(graph)
    assert list(plan) == ["conv", "bn", "fc"]
    weight, bias = plan["conv"]
    assert weight == inits.Draw("weight", "uniform_fan", math.sqrt(2) * math.sqrt(3), "fan_out")
    assert bias == inits.Draw("bias", "constant", 0.0)
    assert plan["bn"] == [inits.Draw("weight", "constant", 1.0), inits.Draw("bias", "constant")]
    graph.set_node_init("fc", {"scheme": "default"})
    assert "fc" not in inits.plan(graph)


def test_torchvision_rules_follow_each_family():
    resnet = presets.build("resnet18")
    assert inits.draws(resnet, "conv1") == [inits.Draw("weight", "normal_fan", math.sqrt(2),
                                                       "fan_out")]
    assert inits.draws(resnet, "fc") == []  # torch's default Linear, as torchvision keeps it
    assert inits.draws(resnet, "layer1.0.bn2")[0] == inits.Draw("weight", "constant", 1.0)
    resnet.set_init({"scheme": "torchvision", "family": "resnet", "zero_init_residual": True})
    assert inits.draws(resnet, "layer1.0.bn2")[0] == inits.Draw("weight", "constant", 0.0)
    assert inits.draws(resnet, "layer1.0.bn1")[0] == inits.Draw("weight", "constant", 1.0)
    assert inits.draws(resnet, "layer2.0.downsample.1")[0].scale == 1.0  # the shortcut's BN
    vgg = presets.build("vgg11")
    fc = [nid for nid in vgg.nodes if vgg.nodes[nid].type == "Linear"][0]
    assert inits.draws(vgg, fc) == [inits.Draw("weight", "normal", 0.01),
                                    inits.Draw("bias", "constant")]
    squeeze = presets.build("squeezenet1_0")
    assert inits.draws(squeeze, "classifier.1")[0] == inits.Draw("weight", "normal", 0.01)
    assert inits.draws(squeeze, "features.0")[0].kind == "uniform_fan"
    assert inits.plan(presets.build("alexnet")) == {}  # torchvision's AlexNet sets nothing


def test_zeros_warns_about_symmetry():
    graph = graph_from_dict(small())
    assert not any("symmetry" in w.message for w in analyze(graph).warnings)
    graph.set_node_init("fc", {"scheme": "zeros"})
    warned = [w for w in analyze(graph).warnings if "symmetry" in w.message]
    assert [w.node for w in warned] == ["fc"]
    graph.set_init({"scheme": "zeros"})
    assert {w.node for w in analyze(graph).warnings if "symmetry" in w.message} == {"conv", "fc"}


def test_an_invalid_scheme_set_behind_the_edits_is_an_analysis_error():
    graph = graph_from_dict(small())
    graph.metadata["init"] = {"scheme": "bogus"}
    report = analyze(graph)
    assert not report.ok and "unknown scheme 'bogus'" in report.errors[0].message


def test_describe_and_formula_are_short_lines():
    assert inits.describe({"scheme": "normal", "std": 0.02}) == "Normal (std=0.02)"
    assert inits.describe({"scheme": "torchvision"}) == "Torchvision builder (resnet)"
    assert "residual branch γ=0" in inits.formula({"scheme": "torchvision",
                                                   "zero_init_residual": True})
    assert "N(0, 0.01²)" in inits.formula({"scheme": "torchvision", "family": "vgg"})
