"""Every preset, built as a module, agrees with the analysis; torchvision-named presets equal
torchvision's models (keys, shapes, weights loading strictly, outputs)."""

from __future__ import annotations

import pytest
import torch

from cnnstudio.engine import to_module
from cnnstudio.graph import analyze, presets

ALL = presets.names()
TORCHVISION = [p.name for p in presets.all_presets() if p.torchvision]


def small_input(name: str) -> tuple[int, ...]:
    """The preset's input shape shrunk to at most 64×64 to keep the test quick, unless the
    network cannot take so small an input (the paper AlexNet needs 67×67)."""
    shape = tuple(presets.get(name).options()["input_shape"])
    small = (shape[0], min(shape[1], 64), min(shape[2], 64))
    return small if analyze(presets.build(name, input_shape=small)).ok else shape


def node_shapes(module: torch.nn.Module, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = []
    for path, sub in module.named_modules():
        if path and not list(sub.children()):
            hooks.append(sub.register_forward_hook(
                lambda _m, _i, out, path=path: shapes.__setitem__(path, tuple(out.shape[1:]))))
    with torch.no_grad():
        module(x)
    for h in hooks:
        h.remove()
    return shapes


@pytest.mark.parametrize("name", ALL)
def test_analysis_equals_built_module(name: str) -> None:
    shape = small_input(name)
    graph = presets.build(name, input_shape=shape)
    report = analyze(graph)
    assert report.ok, report.errors
    module = to_module(graph, seed=0).eval()
    assert report.total_params == sum(p.numel() for p in module.parameters())
    assert report.trainable_params == sum(p.numel() for p in module.parameters()
                                          if p.requires_grad)
    assert report.buffers == sum(b.numel() for b in module.buffers())
    actual = node_shapes(module, torch.randn(2, *shape))
    assert actual, "no layer ran"
    for nid, got in actual.items():
        assert report.nodes[nid].shape == got, nid


@pytest.mark.parametrize("name", ALL)
def test_full_size_preset_is_valid(name: str) -> None:
    report = analyze(presets.build(name))
    assert report.ok, report.errors
    assert report.total_params > 0 and report.macs > 0


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_presets_equal_torchvision(name: str) -> None:
    import torchvision

    shape = small_input(name)
    ours = to_module(presets.build(name, input_shape=shape), seed=0)
    # init_weights: torchvision's own init (silences its warning about a future default)
    kwargs = {"init_weights": True} if name in ("googlenet", "inception_v3") else {}
    theirs = getattr(torchvision.models, name)(**kwargs)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert set(ours_sd) == set(theirs_sd)
    assert {k: v.shape for k, v in ours_sd.items()} == {k: v.shape for k, v in theirs_sd.items()}
    ours.load_state_dict(theirs_sd, strict=True)
    ours.eval()
    theirs.eval()
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = theirs(x)
        got = ours(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
