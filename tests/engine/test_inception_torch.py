"""Inception-v3 and GoogLeNet with torchvision's transform_input, built by the engine: equal to
torchvision's models (evaluation and, with the auxiliary heads, training mode), trained one
step, initialised as torchvision's builder does, started from pretrained weights with the
transform the weights imply; and the ChannelAffine layer exported and written as code."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from cnnstudio.engine import checkpoint as ckpt
from cnnstudio.engine import pretrained, to_module
from cnnstudio.engine.codegen.model import load_generated, model_source
from cnnstudio.engine.exchange import pretrained_project
from cnnstudio.engine.export.exporter import export_model
from cnnstudio.engine.importers.modules import from_torchvision, import_module
from cnnstudio.engine.training.losses import AUX_WEIGHT, training_loss
from cnnstudio.graph import Graph, analyze, presets
from cnnstudio.graph.presets.googlenet import TRANSFORM_INPUT

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def _torchvision(name: str, **kwargs: object) -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None, init_weights=False, **kwargs)


def _calibrated(model: nn.Module, side: int) -> nn.Module:
    """BatchNorm statistics measured on random batches, as training would set them: at their
    initial values the activations fade and the output would not depend on the input."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, side, side, generator=torch.Generator().manual_seed(5)))
    return model.eval()


def _ours(name: str, source: nn.Module, **options: object) -> nn.Module:
    """The preset with ``source``'s weights (every key, strictly)."""
    graph = presets.build(name, **options)
    graph.metadata["init"] = {"scheme": "default"}  # quicker to draw; replaced anyway
    model = to_module(graph, seed=1)
    model.load_state_dict(source.state_dict(), strict=True)
    return model


def _no_dropout(model: nn.Module, training: bool) -> nn.Module:
    """``training`` mode with dropout off: its draws would differ by call order."""
    model.train(training)
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.eval()
    return model


def _x(batch: int, side: int) -> torch.Tensor:
    return torch.randn(batch, 3, side, side, generator=torch.Generator().manual_seed(2))


# -- equal to torchvision ------------------------------------------------------------------------
def test_inception_v3_with_transform_input_equals_torchvision_at_75() -> None:
    """Evaluation at torchvision's min_size, 75×75 (the auxiliary head needs 299×299)."""
    theirs = _calibrated(_torchvision("inception_v3", aux_logits=False, transform_input=True),
                         75)
    ours = _ours("inception_v3", theirs, aux_logits=False, transform_input=True,
                 input_shape=(3, 75, 75)).eval()
    plain = _ours("inception_v3", theirs, aux_logits=False, input_shape=(3, 75, 75)).eval()
    x = _x(2, 75)
    with torch.no_grad():
        expected, got, untransformed = theirs(x), ours(x), plain(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(expected[0], expected[1], rtol=1e-2, atol=1e-3)  # input matters
    assert not torch.allclose(untransformed, expected, rtol=1e-2, atol=1e-3)


def test_inception_v3_trains_like_torchvision() -> None:
    """Training mode returns (logits, aux) as torchvision's InceptionOutputs does; the engine's
    training loss adds the auxiliary head's in, and one step moves both heads (299×299: the
    auxiliary head's smallest input)."""
    theirs = _no_dropout(_torchvision("inception_v3", num_classes=5, transform_input=True), True)
    ours = _no_dropout(_ours("inception_v3", theirs, num_classes=5, transform_input=True), True)
    x, target = _x(2, 299), torch.tensor([1, 3])
    with torch.no_grad():
        expected = theirs(x)
    out = ours(x)
    assert isinstance(out, tuple) and len(out) == 2
    torch.testing.assert_close(out[0], expected.logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out[1], expected.aux_logits, rtol=1e-4, atol=1e-5)
    loss, logits = training_loss(out, target, nn.functional.cross_entropy, AUX_WEIGHT)
    assert logits is out[0] and logits.shape == (2, 5)
    torch.testing.assert_close(loss, nn.functional.cross_entropy(out[0], target)
                               + AUX_WEIGHT * nn.functional.cross_entropy(out[1], target))
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    optimizer = torch.optim.SGD(ours.parameters(), lr=0.01)
    loss.backward()
    optimizer.step()
    after = ours.state_dict()
    for key in ("fc.weight", "AuxLogits.fc.weight", "Conv2d_1a_3x3.conv.weight"):
        assert not torch.equal(before[key], after[key]), key
    with torch.no_grad():
        assert ours.eval()(x).shape == (2, 5)  # evaluation: the logits alone


def test_googlenet_with_transform_input_equals_torchvision() -> None:
    theirs = _calibrated(_torchvision("googlenet", transform_input=True), 64)
    ours = _ours("googlenet", theirs, transform_input=True, input_shape=(3, 64, 64))
    x = _x(2, 64)
    for training in (False, True):
        with torch.no_grad():
            expected = _no_dropout(theirs, training)(x)
            got = _no_dropout(ours, training)(x)
        expected = tuple(expected) if training else (expected,)
        got = got if training else (got,)
        assert len(got) == len(expected) == (3 if training else 1)
        for a, b in zip(got, expected):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
            assert not torch.allclose(b[0], b[1], rtol=1e-2, atol=1e-3)  # the input matters


# -- initialisation --------------------------------------------------------------------------------
def test_torchvision_init_draws_what_inception3_draws() -> None:
    model = to_module(presets.build("inception_v3"), seed=0)
    weights = dict(model.named_parameters())
    assert weights["Mixed_7b.branch3x3dbl_1.conv.weight"].std().item() == \
        pytest.approx(0.1, rel=0.02)
    assert weights["fc.weight"].std().item() == pytest.approx(0.1, rel=0.02)
    assert weights["AuxLogits.fc.weight"].std().item() == pytest.approx(0.001, rel=0.02)
    assert weights["AuxLogits.conv1.conv.weight"].std().item() == pytest.approx(0.1, rel=0.02)
    assert torch.equal(weights["Mixed_5b.branch_pool.bn.weight"], torch.ones(32))
    assert torch.equal(weights["Mixed_5b.branch_pool.bn.bias"], torch.zeros(32))


# -- ChannelAffine: module, code, export ---------------------------------------------------------
def _affine_net() -> Graph:
    g = Graph()
    g.add_node("Input", "input", {"shape": [3, 8, 8]})
    g.add_node("ChannelAffine", "norm", {"scale": [0.5, 2.0, -1.0], "shift": [0.1, 0.0, 3.0]})
    g.add_node("ChannelAffine", "gain", {"scale": 1.5})
    g.add_node("Conv2d", "conv", {"out_channels": 4, "kernel_size": 3})
    g.add_node("Flatten", "flatten")
    g.add_node("Linear", "fc", {"out_features": 3})
    for a, b in [("input", "norm"), ("norm", "gain"), ("gain", "conv"), ("conv", "flatten"),
                 ("flatten", "fc")]:
        g.connect(a, b)
    return g


def test_channel_affine_computes_x_scale_plus_shift_and_saves_nothing() -> None:
    model = to_module(_affine_net())
    x = _x(2, 8)
    scale = torch.tensor([0.5, 2.0, -1.0]).reshape(1, 3, 1, 1)
    shift = torch.tensor([0.1, 0.0, 3.0]).reshape(1, 3, 1, 1)
    torch.testing.assert_close(model.norm(x), x * scale + shift, rtol=0, atol=0)
    torch.testing.assert_close(model.gain(x), x * 1.5, rtol=0, atol=0)
    assert sorted(model.state_dict()) == ["conv.bias", "conv.weight", "fc.bias", "fc.weight"]
    assert analyze(_affine_net()).buffers == sum(b.numel() for b in model.buffers()) == 8
    assert model.double().norm(x.double()).dtype == torch.float64  # constants follow the module


def test_channel_affine_is_written_as_code_and_exported(tmp_path: Path) -> None:
    graph = _affine_net()
    source = model_source(graph)
    assert "class ChannelAffine(nn.Module):" in source and "cnnstudio" not in source
    path = tmp_path / "net.py"
    path.write_text(source, encoding="utf-8")
    generated = load_generated(path).build_model()
    reference = to_module(graph, seed=3).eval()
    generated.load_state_dict(reference.state_dict(), strict=True)
    x = _x(2, 8)
    with torch.no_grad():
        torch.testing.assert_close(generated.eval()(x), reference(x), rtol=0, atol=0)
    for fmt, suffix in (("onnx", ".onnx"), ("python", ".py")):
        result = export_model(reference, (3, 8, 8), fmt, tmp_path / f"m{suffix}", graph=graph)
        assert result.max_rel <= 1e-4 and not result.warnings, fmt


# -- where torchvision's weights imply transform_input -------------------------------------------
@pytest.fixture
def offline(tmp_path, monkeypatch) -> None:
    """TORCH_HOME in the test's folder and no network."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def refuse(url: str, timeout: float) -> None:
        raise AssertionError(f"no download in tests: {url}")

    monkeypatch.setattr(pretrained, "_urlopen", refuse)


def test_pretrained_googlenet_is_built_with_transform_input(offline) -> None:
    """torchvision's builder sets transform_input=True with its weights, whose preprocessing is
    ImageNet's mean and std: the preset is built so, and computes what torchvision's does."""
    assert pretrained.implied_options("googlenet") == {"transform_input": True}
    assert pretrained.implied_options("inception_v3") == {"transform_input": True}
    assert pretrained.implied_options("resnet18") == {}
    source = _calibrated(_torchvision("googlenet", transform_input=True), 64)
    info = pretrained.resolve("googlenet")
    path = pretrained.cached_file(info)
    path.parent.mkdir(parents=True)
    torch.save(source.state_dict(), path)
    project = pretrained_project("googlenet", input_shape=[3, 64, 64])
    assert project.graph.nodes["transform_input"].type == "ChannelAffine"
    assert project.dataset.mean == IMAGENET_MEAN and project.dataset.std == IMAGENET_STD
    model = to_module(project.graph)
    model.load_state_dict(ckpt.from_bytes(project.weights[project.current_weights]))
    x = _x(2, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), source(x), rtol=1e-4, atol=1e-5)
    fresh_head = pretrained_project("googlenet", classes=4, input_shape=[3, 64, 64])
    assert fresh_head.graph.nodes["transform_input"].type == "ChannelAffine"
    # `cnnstudio import torchvision:googlenet --weights DEFAULT` builds torchvision's model
    # as its builder would with those weights: with the transform.
    imported = from_torchvision("googlenet", weights="DEFAULT", input_shape=[3, 64, 64])
    assert imported.graph.nodes["transform_input"].type == "ChannelAffine"
    again = to_module(imported.graph)
    again.load_state_dict(imported.state, strict=True)
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(x), source(x), rtol=1e-4, atol=1e-5)


def test_imported_transform_input_becomes_a_channel_affine() -> None:
    source = _calibrated(_torchvision("googlenet", transform_input=True, aux_logits=False), 64)
    imported = import_module(source, [3, 64, 64], "googlenet")
    node = imported.graph.nodes["transform_input"]
    assert node.type == "ChannelAffine" and node.params == TRANSFORM_INPUT
    assert set(imported.state) == set(source.state_dict())  # no extra tensors
    assert source.transform_input  # the module is left as it was
    model = to_module(imported.graph)
    model.load_state_dict(imported.state, strict=True)
    x = _x(2, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), source(x), rtol=1e-4, atol=1e-5)
