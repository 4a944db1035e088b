"""The seeds' experiments as built modules: the papers' parameter counts in torch, the plain
twins without shortcuts, LeNet-5's C3 connections measured by their gradients, and the code
generator on the new layouts (option A shortcuts, the C3 table)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cnnstudio.engine import to_module
from cnnstudio.graph import analyze, presets
from cnnstudio.project import load_project
from cnnstudio.project.examples import OFFLINE_SOURCES
from tests.engine.codegen.test_codegen import assert_same_model, generate, ruff
from tests.graph.test_presets_seed_experiments import TABLE_I

EXAMPLES = Path(__file__).resolve().parents[2] / "projects"


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name, options, params", [
    ("resnet20", {}, 269_722),
    ("resnet20", {"skip": False}, 269_722),
    ("resnet56", {}, 853_018),
    ("resnet110", {}, 1_727_962),
    ("resnet20", {"shortcut": "B"}, 272_474),
    # torchvision's 11,689,512 less the three projections: 1×1 convolutions and BatchNorms
    ("resnet18", {"skip": False}, 11_689_512 - 172_032 - 2 * (128 + 256 + 512)),
])
def test_built_modules_have_the_papers_parameters(name: str, options: dict,
                                                  params: int) -> None:
    assert _params(to_module(presets.build(name, **options))) == params


def test_option_a_shortcut_passes_the_input_on_with_zero_channels() -> None:
    module = to_module(presets.build("resnet20"), seed=0).eval()
    seen: dict[str, torch.Tensor] = {}
    block = module.layer2.get_submodule("0")
    block.downsample.pad.register_forward_hook(lambda _m, _i, out: seen.__setitem__("pad", out))
    block.conv1.register_forward_hook(lambda _m, ins, _o: seen.__setitem__("in", ins[0]))
    with torch.no_grad():
        module(torch.randn(2, 3, 32, 32))
    x, pad = seen["in"], seen["pad"]
    assert pad.shape == (2, 32, 16, 16)
    torch.testing.assert_close(pad[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(pad[:, 16:]) == 0


def test_plain_and_residual_twins_differ_only_by_the_shortcuts() -> None:
    residual = to_module(presets.build("resnet20"), seed=1)
    plain = to_module(presets.build("resnet20", skip=False), seed=1)
    plain.load_state_dict(residual.state_dict(), strict=True)  # the same weights fit both
    x = torch.randn(2, 3, 32, 32)
    assert not torch.allclose(plain.eval()(x), residual.eval()(x))


def test_c3_table_connections_measured_by_gradients() -> None:
    """Which S2 maps move each C3 map, from the built module's gradients."""
    module = to_module(presets.build("lenet5", c3_table=True), seed=0).eval()
    captured: dict[str, torch.Tensor] = {}

    def s2_hook(_m, _i, out):
        captured["s2"] = out.detach().requires_grad_(True)
        return captured["s2"]

    module.features.s2.register_forward_hook(s2_hook)
    module.features.c3.maps.register_forward_hook(
        lambda _m, _i, out: captured.__setitem__("c3", out))
    module(torch.randn(1, 1, 32, 32))
    rows = TABLE_I.split()
    for c in range(16):
        (grad,) = torch.autograd.grad(captured["c3"][0, c].sum(), captured["s2"],
                                      retain_graph=True)
        seen = {r for r in range(6) if grad[0, r].abs().sum() > 0}
        assert seen == {r for r in range(6) if rows[r][c] == "X"}, c
    c3 = [p for n, p in module.named_parameters() if n.startswith("features.c3.")]
    assert sum(p.numel() for p in c3) == 1_516


@pytest.mark.parametrize("name, options", [
    ("resnet20", {"input_shape": (3, 16, 16)}),
    ("lenet5", {"c3_table": True}),
])
def test_code_generator_writes_the_new_layouts(tmp_path, name: str, options: dict) -> None:
    graph = presets.build(name, **options)
    path = tmp_path / f"{name}.py"
    _, module = generate(graph, path)
    assert_same_model(graph, module)
    ruff(path)


def test_degradation_examples_open_validate_and_differ_only_by_the_shortcuts() -> None:
    plain = load_project(EXAMPLES / "plain56-digits.cnnproj")
    residual = load_project(EXAMPLES / "resnet56-digits.cnnproj")
    for project in (plain, residual):
        report = analyze(project.graph)
        assert report.ok, report.errors
        assert report.total_params == 853_018 - 16 * 2 * 9  # the stem sees 1 channel, not 3
        assert report.input_shape == (1, 8, 8)  # the digits at their own size
        assert project.dataset.source in OFFLINE_SOURCES
    assert not [n for n in plain.graph.nodes.values() if n.type == "Add"]
    assert len([n for n in residual.graph.nodes.values() if n.type == "Add"]) == 27
    assert plain.training.to_dict() == residual.training.to_dict()
    assert plain.dataset.to_dict() == residual.dataset.to_dict()
    to_module(residual.graph).load_state_dict(to_module(plain.graph).state_dict(), strict=True)
