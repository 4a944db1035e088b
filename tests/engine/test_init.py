"""``to_module`` applies the initialisation schemes: each one's weights against its formula
(std and mean within a tolerance), seeds, torch's default kept bit for bit, and the torchvision
scheme against torchvision's own builders."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision

from cnnstudio.engine.build import to_module
from cnnstudio.graph import graph_from_dict, presets

CONV_FAN_IN, CONV_FAN_OUT = 64 * 9, 128 * 9
LINEAR_FAN_IN, LINEAR_FAN_OUT = 1024, 512
SQRT2, SQRT3 = math.sqrt(2), math.sqrt(3)


def two_layers(init: dict | None = None) -> dict:
    """Conv2d 64→128 3×3 and Linear 1024→512, side by side, with ``init`` as the default."""
    doc = {"format": "cnnstudio.graph", "version": 1, "nodes": [
        {"id": "input", "type": "Input", "params": {"shape": [64, 2, 2]}},
        {"id": "conv", "type": "Conv2d", "params": {"out_channels": 128, "kernel_size": 3,
                                                    "padding": 1}},
        {"id": "flat", "type": "Flatten"},
        {"id": "wide", "type": "Linear", "params": {"out_features": 1024}},
        {"id": "fc", "type": "Linear", "params": {"out_features": 512}},
        {"id": "bn", "type": "BatchNorm1d"},
    ]}
    if init is not None:
        doc["metadata"] = {"init": init}
    return doc


def weights(init: dict | None, seed: int = 0) -> dict[str, torch.Tensor]:
    model = to_module(graph_from_dict(two_layers(init)), seed)
    return {k: v.detach() for k, v in model.state_dict().items()}


# (scheme, conv weight std, linear weight std, bound of a uniform draw or None)
def _fan_std(gain: float, fan: float) -> float:
    return gain / math.sqrt(fan)


CASES = [
    ({"scheme": "normal"}, 0.01, 0.01, None),
    ({"scheme": "normal", "std": 0.2}, 0.2, 0.2, None),
    ({"scheme": "uniform"}, 0.05 / SQRT3, 0.05 / SQRT3, (0.05, 0.05)),
    ({"scheme": "uniform", "a": 0.3}, 0.3 / SQRT3, 0.3 / SQRT3, (0.3, 0.3)),
    ({"scheme": "kaiming_normal"}, _fan_std(SQRT2, CONV_FAN_IN), _fan_std(SQRT2, LINEAR_FAN_IN),
     None),
    ({"scheme": "kaiming_normal", "mode": "fan_out"}, _fan_std(SQRT2, CONV_FAN_OUT),
     _fan_std(SQRT2, LINEAR_FAN_OUT), None),
    ({"scheme": "kaiming_normal", "nonlinearity": "tanh"}, _fan_std(5 / 3, CONV_FAN_IN),
     _fan_std(5 / 3, LINEAR_FAN_IN), None),
    ({"scheme": "kaiming_uniform"}, _fan_std(SQRT2, CONV_FAN_IN),
     _fan_std(SQRT2, LINEAR_FAN_IN),
     (SQRT2 * math.sqrt(3 / CONV_FAN_IN), SQRT2 * math.sqrt(3 / LINEAR_FAN_IN))),
    ({"scheme": "kaiming_uniform", "mode": "fan_out"}, _fan_std(SQRT2, CONV_FAN_OUT),
     _fan_std(SQRT2, LINEAR_FAN_OUT), None),
    ({"scheme": "xavier_normal"}, math.sqrt(2 / (CONV_FAN_IN + CONV_FAN_OUT)),
     math.sqrt(2 / (LINEAR_FAN_IN + LINEAR_FAN_OUT)), None),
    ({"scheme": "xavier_normal", "gain": 2.0}, 2 * math.sqrt(2 / (CONV_FAN_IN + CONV_FAN_OUT)),
     2 * math.sqrt(2 / (LINEAR_FAN_IN + LINEAR_FAN_OUT)), None),
    ({"scheme": "xavier_uniform"}, math.sqrt(6 / (CONV_FAN_IN + CONV_FAN_OUT)) / SQRT3,
     math.sqrt(6 / (LINEAR_FAN_IN + LINEAR_FAN_OUT)) / SQRT3,
     (math.sqrt(6 / (CONV_FAN_IN + CONV_FAN_OUT)),
      math.sqrt(6 / (LINEAR_FAN_IN + LINEAR_FAN_OUT)))),
    ({"scheme": "lecun_normal"}, 1 / math.sqrt(CONV_FAN_IN), 1 / math.sqrt(LINEAR_FAN_IN), None),
]


@pytest.mark.parametrize("init, conv_std, linear_std, bounds", CASES,
                         ids=[str(c[0]) for c in CASES])
def test_each_scheme_draws_its_formula(init, conv_std, linear_std, bounds):
    w = weights(init)
    for key, std in (("conv.weight", conv_std), ("fc.weight", linear_std)):
        tensor = w[key]
        assert tensor.std().item() == pytest.approx(std, rel=0.03), key
        assert abs(tensor.mean().item()) < 0.03 * std, key
    if bounds is not None:
        assert w["conv.weight"].abs().max().item() <= bounds[0]
        assert w["fc.weight"].abs().max().item() <= bounds[1]
        assert w["conv.weight"].abs().max().item() > 0.99 * bounds[0]  # the whole range used
    assert torch.count_nonzero(w["conv.bias"]) == 0 and torch.count_nonzero(w["fc.bias"]) == 0
    assert torch.all(w["bn.weight"] == 1) and torch.count_nonzero(w["bn.bias"]) == 0


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal_rows_are_orthonormal_times_the_gain(gain):
    w = weights({"scheme": "orthogonal", "gain": gain})
    for key in ("conv.weight", "fc.weight"):
        flat = w[key].reshape(w[key].shape[0], -1)
        eye = torch.eye(flat.shape[0])
        assert torch.allclose(flat @ flat.T, gain**2 * eye, atol=1e-4), key


def test_zeros_are_all_zero():
    w = weights({"scheme": "zeros"})
    for key in ("conv.weight", "conv.bias", "fc.weight", "fc.bias", "wide.weight"):
        assert torch.count_nonzero(w[key]) == 0, key


def test_default_is_bit_identical_to_no_scheme_and_to_torchs_init():
    plain = weights(None, seed=3)
    explicit = weights({"scheme": "default"}, seed=3)
    assert plain.keys() == explicit.keys()
    assert all(torch.equal(plain[k], explicit[k]) for k in plain)
    # torch's own reset_parameters: Kaiming uniform with a=√5, i.e. std = 1/√(3·fan_in)
    assert plain["conv.weight"].std().item() == pytest.approx(
        1 / math.sqrt(3 * CONV_FAN_IN), rel=0.03)
    assert torch.count_nonzero(plain["conv.bias"]) > 0
    # the same seed drawn through the global generator, as before schemes existed
    torch.manual_seed(3)
    conv = torch.nn.Conv2d(64, 128, 3, padding=1)
    assert torch.equal(conv.weight.detach(), plain["conv.weight"])


def test_same_seed_same_weights_other_seed_other_weights():
    init = {"scheme": "kaiming_normal"}
    a, b, c = weights(init, 1), weights(init, 1), weights(init, 2)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv.weight"], c["conv.weight"])
    assert not torch.equal(a["fc.weight"], c["fc.weight"])


def test_a_node_override_beats_the_graph_default():
    graph = graph_from_dict(two_layers({"scheme": "normal", "std": 0.5}))
    graph.set_node_init("fc", {"scheme": "zeros"})
    graph.set_node_init("conv", {"scheme": "default"})
    model = to_module(graph, 0)
    assert torch.count_nonzero(model.fc.weight) == 0
    assert model.wide.weight.std().item() == pytest.approx(0.5, rel=0.03)
    assert model.conv.weight.std().item() == pytest.approx(1 / math.sqrt(3 * CONV_FAN_IN),
                                                           rel=0.03)


def _by_layer(model: torch.nn.Module) -> dict[str, tuple[str, torch.Tensor]]:
    return {f"{name}.{p}": (type(m).__name__, getattr(m, p).detach())
            for name, m in model.named_modules()
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d))
            for p in ("weight", "bias") if getattr(m, p, None) is not None}


def _compare_with_torchvision(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    a, b = _by_layer(ours), _by_layer(theirs)
    assert a.keys() == b.keys()
    for key, (kind, tensor) in a.items():
        other = b[key][1]
        if kind == "BatchNorm2d" or torch.count_nonzero(other) == 0:
            assert torch.equal(tensor, other), key  # constants: γ=1, β=0, zero biases
        elif tensor.numel() > 1000:
            assert tensor.std().item() == pytest.approx(other.std().item(), rel=0.06), key
        else:  # a small bias drawn by torch's default: same bound
            bound = other.abs().max().item()
            assert tensor.abs().max().item() <= bound * 1.5, key


def test_torchvision_scheme_matches_resnet18s_builder():
    ours = to_module(presets.build("resnet18"), 0)
    torch.manual_seed(0)
    _compare_with_torchvision(ours, torchvision.models.resnet18())
    ours.load_state_dict(torchvision.models.resnet18().state_dict())  # keys still line up


def test_zero_init_residual_as_torchvision_does_it():
    graph = presets.build("resnet18")
    graph.set_init({"scheme": "torchvision", "family": "resnet", "zero_init_residual": True})
    ours = to_module(graph, 0)
    theirs = torchvision.models.resnet18(zero_init_residual=True)
    _compare_with_torchvision(ours, theirs)
    assert torch.count_nonzero(ours.get_submodule("layer2.0.bn2").weight) == 0
    assert torch.all(ours.get_submodule("layer2.0.downsample.1").weight == 1)


def test_torchvision_scheme_matches_vgg11s_builder():
    ours = to_module(presets.build("vgg11"), 0)
    theirs = torchvision.models.vgg11()
    _compare_with_torchvision(ours, theirs)
    classifier = ours.get_submodule("classifier.6")
    assert classifier.weight.std().item() == pytest.approx(0.01, rel=0.03)
    assert torch.count_nonzero(classifier.bias) == 0


def test_torchvision_scheme_matches_efficientnets_linear():
    ours = to_module(presets.build("efficientnet_b0"), 0)
    fc = ours.get_submodule("classifier.1")
    bound = 1 / math.sqrt(fc.out_features)
    assert fc.weight.abs().max().item() <= bound
    assert fc.weight.std().item() == pytest.approx(bound / SQRT3, rel=0.03)
    _compare_with_torchvision(ours, torchvision.models.efficientnet_b0())
