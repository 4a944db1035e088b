"""to_module: submodules at the ids' paths, seeded weights, refusal of bad graphs, modes."""

from __future__ import annotations

import pytest
import torch

from cnnstudio.engine import GraphBuildError, to_module
from cnnstudio.graph import Graph, load_graph, presets


def small_net() -> Graph:
    return load_graph({
        "format": "cnnstudio.graph", "version": 1,
        "nodes": [
            {"id": "input", "type": "Input", "params": {"shape": [1, 8, 8]}},
            {"id": "features.conv", "type": "Conv2d",
             "params": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
            {"id": "features.relu", "type": "ReLU"},
            {"id": "flatten", "type": "Flatten"},
            {"id": "drop", "type": "Dropout", "params": {"p": 0.5}},
            {"id": "fc", "type": "Linear", "params": {"out_features": 3}},
        ],
    })


def test_submodules_sit_at_the_node_ids() -> None:
    module = to_module(small_net())
    assert list(module.state_dict()) == ["features.conv.weight", "features.conv.bias",
                                         "fc.weight", "fc.bias"]
    assert isinstance(module.get_submodule("features.conv"), torch.nn.Conv2d)
    assert module(torch.randn(5, 1, 8, 8)).shape == (5, 3)


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    a, b, c = (to_module(small_net(), seed=s) for s in (0, 0, 1))
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key])
    assert not torch.equal(a.state_dict()["fc.weight"], c.state_dict()["fc.weight"])
    state = torch.random.get_rng_state()
    to_module(small_net(), seed=3)
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is untouched


def test_eval_and_train_behave_as_torch() -> None:
    module = to_module(small_net())
    x = torch.randn(4, 1, 8, 8)
    module.eval()
    with torch.no_grad():
        assert torch.equal(module(x), module(x))  # dropout is off
    module.train()
    torch.manual_seed(0)
    with torch.no_grad():
        assert not torch.equal(module(x), module(x))


def test_invalid_graph_is_refused_with_the_analysis_errors() -> None:
    g = small_net()
    g.set_param("features.conv", "kernel_size", 20)
    with pytest.raises(GraphBuildError, match="features.conv: the 20-wide window") as info:
        to_module(g)
    assert info.value.issues[0].node == "features.conv"


def test_frozen_nodes_do_not_train() -> None:
    g = small_net()
    g.set_node_attrs("features.conv", frozen=True)
    module = to_module(g)
    frozen = {name for name, p in module.named_parameters() if not p.requires_grad}
    assert frozen == {"features.conv.weight", "features.conv.bias"}


def test_training_only_outputs_are_returned_in_training_mode_only() -> None:
    g = small_net()
    g.add_node("Output", "main")
    g.connect("fc", "main")
    g.add_node("Linear", "aux_fc", {"out_features": 2})
    g.connect("flatten", "aux_fc")
    g.add_node("Output", "aux", {"training_only": True})
    g.connect("aux_fc", "aux")
    module = to_module(g)
    x = torch.randn(2, 1, 8, 8)
    main, aux = module.train()(x)
    assert main.shape == (2, 3) and aux.shape == (2, 2)
    assert module.eval()(x).shape == (2, 3)


def test_concat_keeps_port_order_and_mul_broadcasts() -> None:
    g = Graph()
    g.add_node("Input", "in", {"shape": [2, 4, 4]})
    g.add_node("Conv2d", "a", {"out_channels": 3, "kernel_size": 1})
    g.add_node("AdaptiveAvgPool2d", "gate", {"output_size": 1})
    g.add_node("Mul", "scaled")
    g.add_node("Concat", "cat")
    for src, dst in (("in", "a"), ("in", "gate"), ("in", "scaled"), ("gate", "scaled"),
                     ("a", "cat"), ("scaled", "cat")):
        g.connect(src, dst)
    module = to_module(g).eval()
    x = torch.randn(1, 2, 4, 4)
    out = module(x)
    assert out.shape == (1, 5, 4, 4)
    torch.testing.assert_close(out[:, 3:], x * x.mean(dim=(2, 3), keepdim=True))
    torch.testing.assert_close(out[:, :3], module.get_submodule("a")(x))


def test_resnet_preset_trains_one_step() -> None:
    module = to_module(presets.build("resnet18", num_classes=4, input_shape=(3, 32, 32)))
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    loss = torch.nn.functional.cross_entropy(module(x), y)
    loss.backward()
    opt.step()
    assert all(p.grad is not None for p in module.parameters())
