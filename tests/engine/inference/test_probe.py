"""Looking inside a model: activations by hooks, first-layer filters, Grad-CAM, the receptive
field of one unit, and grids of maps."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnstudio.engine import checkpoint
from cnnstudio.engine.build import to_module
from cnnstudio.engine.inference import probe as ins
from cnnstudio.engine.inference.model import (
    InferenceError,
    model_from_state,
    project_data,
    project_model,
)
from cnnstudio.graph import analyze, graph_from_dict
from cnnstudio.project import load_project

LENET = Path(__file__).resolve().parents[3] / "projects" / "lenet5-digits.cnnproj"


def chain(*nodes: tuple, shape=(1, 16, 16)):
    return graph_from_dict({
        "format": "cnnstudio.graph", "version": 1,
        "nodes": [{"id": "input", "type": "Input", "params": {"shape": list(shape)}}]
        + [{"id": i, "type": t, "params": p} for i, t, p in nodes]})


@functools.lru_cache(maxsize=1)
def trained_lenet(epochs: int = 2):
    """The example LeNet-5 trained a few epochs on digits with a plain loop (about a second):
    (project with the weights stored as current, data, model in eval mode)."""
    project = load_project(LENET)
    data = project_data(project)
    model = project_model(project).train()
    x = data.train.normalize(data.train.images(torch.arange(len(data.train))))
    y = data.train.labels
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 64):
            b = order[i:i + 64]
            loss = torch.nn.functional.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    project.weights["weights/test.safetensors"] = checkpoint.to_bytes(model.state_dict())
    project.current_weights = "weights/test.safetensors"
    return project, data, model


@pytest.fixture(scope="module")
def lenet():
    return trained_lenet()


def val_batch(data, n):
    images = data.val.images(torch.arange(n))
    return images, data.val.normalize(images)


def test_hooks_give_what_a_manual_forward_of_the_prefix_gives(lenet):
    project, data, model = lenet
    _, x = val_batch(data, 4)
    order = [n for n in analyze(project.graph).nodes if n != "input"]
    wanted = ["features.c1", "features.s2", "features.c3_act", "flatten", "classifier.output"]
    got = ins.activations(model, x, wanted)
    value = x
    with torch.no_grad():
        for nid in order:
            value = model.get_submodule(nid)(value)
            if nid in wanted:
                assert torch.equal(got[nid], value), nid
    assert got["features.c3_act"].shape == (4, 16, 10, 10)
    assert torch.equal(got["classifier.output"], model(x))


def test_input_and_output_nodes_resolve_through_the_graph():
    g = chain(("conv", "Conv2d", {"out_channels": 2, "kernel_size": 3}), ("relu", "ReLU", {}),
              ("out", "Output", {}))
    model = to_module(g).eval()
    x = torch.randn(1, 1, 16, 16)
    got = ins.activations(model, x, ["input", "out", "relu"], g)
    assert torch.equal(got["input"], x)
    assert torch.equal(got["out"], model(x))
    assert torch.equal(got["out"], got["relu"])
    with pytest.raises(InferenceError, match="not a layer"):
        ins.activations(model, x, ["nope"], g)
    with pytest.raises(InferenceError):
        ins.activations(model, x, ["out"])  # no graph: an Output has no module


def test_filters_are_patches_in_0_1_grey_rgb_or_first_channel(lenet):
    project, _, model = lenet
    f = ins.filters(model, project.graph)
    assert f.shape == (6, 5, 5, 3)
    assert f.min() == 0 and f.max() == 1
    assert np.array_equal(f[..., 0], f[..., 2])  # grey
    w = model.get_submodule("features.c1").weight.detach()[:, 0]
    for k in range(6):  # the brightest pixel of a patch is its largest weight
        assert np.unravel_index(f[k, ..., 0].argmax(), (5, 5)) == \
            np.unravel_index(int(w[k].argmax()), (5, 5))
        assert f[k].min() == 0 and f[k].max() == 1  # each stretched to its own range

    rgb = chain(("c", "Conv2d", {"out_channels": 4, "kernel_size": 3}), shape=(3, 8, 8))
    f = ins.filters(to_module(rgb), rgb)
    assert f.shape == (4, 3, 3, 3) and not np.array_equal(f[..., 0], f[..., 1])
    two = chain(("c", "Conv2d", {"out_channels": 4, "kernel_size": 3}), shape=(2, 8, 8))
    m = to_module(two)
    f = ins.filters(m, two, per_filter=False)
    w = m.c.weight.detach()[:, 0]
    expected = (w - w.min()) / (w.max() - w.min())
    assert np.allclose(f[..., 1], expected.numpy(), atol=1e-6)
    flat = chain(("fl", "Flatten", {}), ("fc", "Linear", {"out_features": 2}))
    with pytest.raises(InferenceError, match="no Conv2d"):
        ins.filters(to_module(flat), flat)


def test_default_nodes():
    project = load_project(LENET)
    assert ins.first_conv(project.graph) == "features.c1"
    assert ins.cam_node(project.graph) == "features.c3_act"  # the 10×10 map before pooling


def test_grad_cam_matches_its_definition_and_follows_the_class(lenet):
    project, data, model = lenet
    _, x = val_batch(data, 1)
    heat, logits = ins.grad_cam(model, x, "features.c3_act")
    assert heat.shape == (32, 32) and heat.min() >= 0 and heat.max() == pytest.approx(1)
    assert torch.allclose(logits, model(x)[0].detach(), atol=1e-5)
    # by hand: prefix up to c3_act, gradient of the class score, weighted sum of the maps
    order = [n for n in analyze(project.graph).nodes if n != "input"]
    cut = order.index("features.c3_act") + 1
    a = x
    for nid in order[:cut]:
        a = model.get_submodule(nid)(a)
    a = a.detach().requires_grad_(True)
    out = a
    for nid in order[cut:]:
        out = model.get_submodule(nid)(out)
    k = int(out.argmax())
    (g,) = torch.autograd.grad(out[0, k], a)
    cam = (g.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True).relu()
    cam = torch.nn.functional.interpolate(cam, size=(32, 32), mode="bilinear")[0, 0]
    assert np.allclose(heat, (cam / cam.max()).detach().numpy(), atol=1e-5)
    other = (k + 1) % 10
    heat_other, _ = ins.grad_cam(model, x, "features.c3_act", other)
    assert not np.allclose(heat, heat_other, atol=0.05)
    with pytest.raises(InferenceError, match="no spatial output"):
        ins.grad_cam(model, x, "classifier.f6")


def test_grad_cam_concentrates_on_the_digit_not_on_the_blank_canvas():
    """A LeNet-5 with ReLU and max-pooling trained on digits drawn 16×16 at random places of a
    blank 32×32 canvas: its Grad-CAM is hot on the digit and cold on the blank canvas. (The
    example's tanh LeNet-5 sees full-frame digits and uses the blank background as evidence
    too, so its maps are spread out; ReLU maps are what Grad-CAM is made for.)"""
    project = load_project(LENET)
    graph = project.graph
    for node in graph.nodes.values():
        node.type = {"Tanh": "ReLU", "AvgPool2d": "MaxPool2d"}.get(node.type, node.type)
    data = trained_lenet()[1]
    gen = torch.Generator().manual_seed(0)

    def placed(split, n):
        small = torch.nn.functional.interpolate(split.images(torch.arange(n)).float(),
                                                size=(16, 16), mode="area")
        canvas = torch.zeros(n, 1, 32, 32)
        where = torch.randint(0, 17, (n, 2), generator=gen)
        for i, (r, c) in enumerate(where.tolist()):
            canvas[i, :, r:r + 16, c:c + 16] = small[i]
        return split.normalize(canvas.round().to(torch.uint8)), where

    x, _ = placed(data.train, len(data.train))
    y = data.train.labels
    model = model_from_state(graph, None).train()
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(6):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 64):
            b = order[i:i + 64]
            loss = torch.nn.functional.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    xv, where = placed(data.val, 40)
    inside, outside = [], []
    for i in range(len(xv)):
        heat, _ = ins.grad_cam(model, xv[i:i + 1], ins.cam_node(graph))
        r, c = where[i].tolist()
        digit = np.zeros((32, 32), dtype=bool)
        digit[r:r + 16, c:c + 16] = True
        inside.append(heat[digit].mean())
        outside.append(heat[~digit].mean())
    inside, outside = np.array(inside), np.array(outside)
    assert inside.mean() > 2 * outside.mean()
    assert (inside > outside).mean() >= 0.8


def support(model, order, x_shape, node, row, col):
    """Bounding box of the input pixels that reach unit (row, col), found by its gradient with
    every weight set to 1 (so no path cancels another)."""
    x = torch.zeros(x_shape, requires_grad=True)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
    value = x
    for nid in order[:order.index(node) + 1]:
        value = model.get_submodule(nid)(value)
    (g,) = torch.autograd.grad(value[0, 0, row, col], x)
    rows, cols = torch.nonzero(g[0, 0], as_tuple=True)
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


def test_unit_region_is_the_receptive_field_and_clips_at_the_borders():
    g = chain(("c1", "Conv2d", {"out_channels": 1, "kernel_size": 3, "padding": 1}),
              ("c2", "Conv2d", {"out_channels": 1, "kernel_size": 3, "stride": 2}),
              ("p", "AvgPool2d", {"kernel_size": 2}),
              ("c3", "Conv2d", {"out_channels": 1, "kernel_size": 3, "dilation": 2,
                                "padding": 2}), shape=(1, 23, 23))
    report = analyze(g)
    model = to_module(g)
    order = [n for n in report.nodes if n != "input"]
    for node in order:
        _, h, w = report.nodes[node].shape
        rf = report.nodes[node].receptive_field(report.input_hw)
        for row, col in {(0, 0), (h // 2, w // 2), (h - 1, w - 1), (0, w - 1)}:
            region = ins.unit_region(report, node, (row, col))
            seen = support(model, order, (1, 1, 23, 23), node, row, col)
            if node != "c3" or (row, col) == (h // 2, w // 2):
                assert region == seen, (node, row, col)
            else:  # c3's border units also see p's padding, and p dropped c2's last unit
                assert region[:2] <= seen[:2] and region[2:] >= seen[2:], (node, row, col)
        top, left, bottom, right = ins.unit_region(g, node, (h // 2, w // 2))
        if node != "c3":  # interior units see the whole field
            assert (bottom - top, right - left) == rf
    # c3's field is wider than the input: clipped to it, and unclipped it runs past it
    assert report.nodes["c3"].receptive_field(report.input_hw) == (23, 23)
    assert ins.unit_region(report, "c3", (0, 0)) == (0, 0, 14, 14)  # centre 2.5, r 23
    assert ins.unit_region(report, "c3", (0, 0), clip=False) == (-9, -9, 14, 14)
    assert ins.unit_region(report, "c1", (0, 0)) == (0, 0, 2, 2)
    with pytest.raises(InferenceError, match="outside"):
        ins.unit_region(report, "c1", (23, 0))
    whole = chain(("c", "Conv2d", {"out_channels": 2, "kernel_size": 3}), ("f", "Flatten", {}),
                  ("fc", "Linear", {"out_features": 3}))
    assert ins.unit_region(whole, "fc", (0, 0)) == (0, 0, 16, 16)


def test_map_grid_tiles_each_map_in_its_own_range_and_cells_map_back():
    act = torch.arange(6 * 4 * 5, dtype=torch.float32).reshape(6, 4, 5) * torch.tensor(
        [1, -1, 2, 0, 3, 1]).view(6, 1, 1)
    grid = ins.map_grid(act)
    rows, cols = ins.grid_layout(6, 4, 5)
    assert (rows, cols) == (2, 3)
    assert grid.shape == (rows * 5 - 1, cols * 6 - 1)
    assert np.isnan(grid[4]).all() and np.isnan(grid[:, 5]).all()  # gaps
    for c in range(6):
        r, k = divmod(c, cols)
        tile = grid[r * 5:r * 5 + 4, k * 6:k * 6 + 5]
        if c == 3:
            assert (tile == 0).all()  # a constant map
        else:
            assert tile.min() == 0 and tile.max() == 1
        assert ins.grid_cell(6, 4, 5, r * 5 + 2, k * 6 + 3) == (c, 2, 3)
    assert ins.grid_cell(6, 4, 5, 4, 0) is None  # the gap row
    assert ins.map_grid(act, max_maps=4).shape == (2 * 5 - 1, 2 * 6 - 1)
    vec = ins.map_grid(torch.arange(10.0))
    assert vec.shape == (3, 4) and np.isnan(vec.flat[10:]).all() and vec.flat[9] == 1
    assert ins.map_grid(torch.ones(120, 1, 1)).shape == (11, 11)


def test_look_puts_it_all_together(lenet):
    project, data, model = lenet
    images, x = val_batch(data, 1)
    look = ins.look(model, project.graph, x, None)
    assert look.node == "features.c1" and look.node_shape == (6, 28, 28)
    assert look.maps_shown == 6 and look.grid.shape == (2 * 29 - 1, 3 * 29 - 1)
    assert look.filters.shape == (6, 5, 5, 3) and look.cam.shape == (32, 32)
    assert abs(look.probs.sum() - 1) < 1e-5 and look.cam_class == int(look.probs.argmax())
    assert np.allclose(look.probs, model(x)[0].softmax(0).detach().numpy(), atol=1e-6)
    rgb = ins.to_rgb(images[0])
    assert rgb.shape == (32, 32, 3) and rgb.dtype == np.uint8
    assert ins.overlay(rgb, look.cam).shape == (32, 32, 3)
    model2, note = ins.model_for(project.graph, None)
    assert "initial random weights" in note
    x2 = ins.probe_input(images[0], (1, 32, 32), None, {"mean": data.mean, "std": data.std})
    assert torch.allclose(x2, x, atol=1e-5)
