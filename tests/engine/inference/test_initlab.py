"""The initialisation lab's figures: zeros keep every unit alike and starve the hidden layers of
gradient, a small σ makes the signal vanish through depth, Xavier keeps a tanh stack's spread
and He a ReLU stack's; and one batch of the project's data, or noise when there is none."""

from __future__ import annotations

import pytest
import torch

from cnnstudio.engine.inference import initlab
from cnnstudio.graph import presets
from cnnstudio.graph.presets.builder import Builder
from cnnstudio.project.config import DatasetConfig

WIDTH, DEPTH = 256, 12


def stack(activation: str, depth: int = DEPTH, width: int = WIDTH):
    """A plain MLP-like stack: depth × [Linear → activation], then 10 scores."""
    b = Builder((width,))
    x = b.input
    for i in range(depth):
        x = b.add("Linear", f"fc{i}", x, out_features=width)
        x = b.add(activation, f"act{i}", x)
    b.add("Linear", "scores", x, out_features=10)
    return b.graph


def noise(width: int = WIDTH, n: int = 128) -> initlab.LabInput:
    x = torch.randn(n, width, generator=torch.Generator().manual_seed(1))
    return initlab.LabInput(x, None, "noise")


def run(graph, name: str, **params) -> initlab.SchemeRun:
    return initlab.run_scheme(graph, {"scheme": name, **params}, noise(),
                              initlab.probe_nodes(graph))


def stds(r: initlab.SchemeRun) -> list[float]:
    return [s.act_std for s in r.layers[:-1]]  # the activations, the scores left out


@pytest.fixture(scope="module")
def tanh():
    return stack("Tanh")


@pytest.fixture(scope="module")
def relu():
    return stack("ReLU")


def test_the_lab_follows_each_activation_then_the_scores(tanh):
    assert initlab.probe_nodes(tanh) == [f"act{i}" for i in range(DEPTH)] + ["scores"]
    names = [s["scheme"] for s in initlab.lab_schemes(0.05)]
    assert names == ["zeros", "normal", "xavier_normal", "kaiming_normal", "lecun_normal",
                     "orthogonal"]
    assert initlab.lab_schemes(0.05)[1]["std"] == 0.05
    assert initlab.label(initlab.lab_schemes(0.05)[1]) == "Normal σ=0.05"


def test_zeros_make_every_unit_alike_and_no_gradient_reaches_the_hidden_layers(tanh):
    r = run(tanh, "zeros")
    assert len(r.layers) == DEPTH + 1
    for s in r.layers:
        assert s.act_mean == 0 and s.act_std == 0 and s.spread == 0  # symmetry
    for s in r.layers[:-1]:
        assert s.grad_mean == 0 and s.grad_std == 0
    scores = r.layers[-1]
    assert scores.grad_std > 0  # the loss still pulls on the scores ...
    assert r.loss == pytest.approx(torch.log(torch.tensor(10.0)).item(), rel=1e-5)  # uniform
    # ... and every histogram is one spike at 0
    assert all(sum(s.counts) == s.counts[len(s.counts) // 2] for s in r.layers)


def test_a_small_sigma_collapses_a_tanh_stack_while_xavier_keeps_it(tanh):
    small = stds(run(tanh, "normal", std=0.01))
    xavier = stds(run(tanh, "xavier_normal"))
    # N(0, 0.01²) with 256 inputs: each layer multiplies the std by about 0.01·√256 = 0.16
    assert small[-1] / small[0] < 1e-8
    ratios = [b / a for a, b in zip(small, small[1:])]
    assert all(0.12 < q < 0.2 for q in ratios)
    # Xavier: tanh's own squashing only, the spread stays within a factor of 3
    assert 0.3 < xavier[-1] / xavier[0] < 1.0
    assert min(xavier) > 0.15
    # its gradients neither vanish nor explode through depth either
    grads = [s.grad_std for s in run(tanh, "xavier_normal").layers[:-1]]
    assert 0.2 < grads[0] / grads[-1] < 5


def test_he_keeps_a_relu_stack_stable_where_xavier_halves_it_layer_by_layer(relu):
    he = stds(run(relu, "kaiming_normal"))
    xavier = stds(run(relu, "xavier_normal"))
    assert 0.5 < he[-1] / he[0] < 2.0
    # Xavier's variance 1/fan on ReLU: half the signal's power is cut at each layer
    assert xavier[-1] / xavier[0] == pytest.approx(2 ** (-(DEPTH - 1) / 2), rel=0.5)
    assert run(relu, "kaiming_normal").layers[0].spread > 0  # random draws break symmetry


def test_run_lab_runs_every_scheme_in_order_and_stops_when_asked(relu):
    said = []
    schemes = initlab.lab_schemes()
    runs = initlab.run_lab(relu, schemes, noise(), progress=lambda f, t: said.append((f, t)))
    assert [r.init["scheme"] for r in runs] == [s["scheme"] for s in schemes]
    assert [f for f, _t in said] == pytest.approx([i / 6 for i in range(6)])
    assert said[2][1].startswith("Xavier/Glorot normal")
    calls = []
    stopped = initlab.run_lab(relu, schemes, noise(), stop=lambda: len(calls.append(1) or calls)
                              > 2)
    assert len(stopped) == 2
    h = runs[3].layers[0]
    assert len(h.edges) == initlab.BINS + 1 and sum(h.counts) == 128 * WIDTH
    assert h.edges[0] == pytest.approx(0.0)  # ReLU: nothing below 0


def test_node_overrides_give_way_to_the_scheme_and_the_graph_is_not_changed(relu):
    graph = relu.copy()
    graph.set_node_init("fc0", {"scheme": "zeros"})
    r = initlab.run_scheme(graph, {"scheme": "kaiming_normal"}, noise(), ["act0"])
    assert r.layers[0].act_std > 0.5
    assert graph.nodes["fc0"].extra["init"] == {"scheme": "zeros"}
    assert "init" not in graph.metadata


def test_a_batchnorm_network_barely_cares_lenet_runs_with_its_data():
    graph = presets.build("lenet5")
    batch = initlab.lab_input(graph, DatasetConfig(source="digits"), batch_size=8)
    assert batch.labels is not None and batch.x.shape == (8, 1, 32, 32)
    assert batch.source.startswith("one training batch of digits")
    runs = initlab.run_lab(graph, initlab.lab_schemes(), batch)
    assert len(runs) == 6 and all(len(r.layers) == 5 for r in runs)
    assert runs[1].layers[-2].act_std < 1e-3 < runs[3].layers[-2].act_std


def test_without_data_the_lab_feeds_noise(tmp_path):
    graph = presets.build("simple_cnn")
    missing = DatasetConfig(source="folder", path=str(tmp_path / "nowhere"))
    batch = initlab.lab_input(graph, missing, batch_size=4, seed=3)
    assert batch.labels is None and batch.x.shape == (4, 1, 28, 28)
    assert batch.source.startswith("random normal input, 4 samples (no data:")
    assert abs(float(batch.x.std()) - 1.0) < 0.1
    r = initlab.run_scheme(graph, {"scheme": "kaiming_normal"}, batch,
                           initlab.probe_nodes(graph))
    assert r.layers[-1].node_id == "classifier.fc2" and r.layers[-1].grad_std > 0
