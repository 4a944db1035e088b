"""The verified exporter: every format really written, loaded back and compared at batch 1 and
3 on the example projects and a preset of each family; failures leave no file behind.

The CI runs every format on the example projects, the cheap weight formats on every preset
below, and each heavy format (ONNX, TorchScript, .pt2) on a few presets chosen so that every
family meets one of them. CNNSTUDIO_FULL_SWEEP=1 runs every (preset, format) pair;
benchmarks/export_all.py runs all 47 presets."""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from cnnstudio.engine import to_module
from cnnstudio.engine.export import formats as export_formats
from cnnstudio.engine.export.exporter import (
    FORMATS,
    ExportError,
    compare,
    export_model,
    float32_rounding,
    format_for_path,
)
from cnnstudio.engine.export.verify import sample_input
from cnnstudio.engine.inference.model import project_model
from cnnstudio.graph import analyze, presets
from cnnstudio.project import load_project

FULL = os.environ.get("CNNSTUDIO_FULL_SWEEP") == "1"
PROJECTS_DIR = Path(__file__).resolve().parents[3] / "projects"
PROJECTS = sorted(p.stem for p in PROJECTS_DIR.glob("*.cnnproj"))
PRESETS = ["lenet5", "simple_cnn", "gap_cnn", "alexnet", "vgg11_bn", "googlenet", "resnet18",
           "se_resnet18", "densenet121", "mobilenet_v2", "mobilenet_v3_small",
           "efficientnet_b0", "squeezenet1_1"]
HEAVY = ("onnx", "torchscript", "pt2")
WEIGHTS = ("safetensors", "pth")
# Which heavy format each preset meets in the CI: every family once, every format several
# times (VGG's 100 M-parameter classifier makes its heavy exports the slowest; they run in the
# full sweep and the benchmark).
CI_HEAVY = {
    "lenet5": ("onnx", "torchscript", "pt2"),
    "gap_cnn": ("pt2",),
    "alexnet": ("torchscript",),
    "googlenet": ("onnx",),
    "se_resnet18": ("onnx",),
    "densenet121": ("torchscript",),
    "mobilenet_v2": ("pt2",),
    "mobilenet_v3_small": ("onnx",),
    "efficientnet_b0": ("torchscript",),
    "squeezenet1_1": ("pt2",),
}


def _cases() -> list[tuple[str, str]]:
    cases = [(f"project:{name}", fmt) for name in PROJECTS
             for fmt in (*HEAVY, *WEIGHTS)]
    for name in PRESETS:
        heavy = HEAVY if FULL else CI_HEAVY.get(name, ())
        cases += [(f"preset:{name}", fmt) for fmt in (*heavy, *WEIGHTS)]
    return cases


def small_shape(name: str) -> tuple[int, ...]:
    """3×64×64 where the preset accepts it (the grey-image presets keep their channels)."""
    channels = presets.get(name).options()["input_shape"][0]
    return (channels, 64, 64)


def calibrated(model: nn.Module, shape: tuple[int, ...]) -> nn.Module:
    """BatchNorm statistics measured on random batches, as training would set them. At
    initialisation (mean 0, variance 1) the activations of deep networks such as EfficientNet
    vanish and the output ignores the input, which would make the comparison prove little."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return unit_variance(model, shape)
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches
    model.train()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(8, *shape, generator=gen))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return model.eval()


def unit_variance(model: nn.Module, shape: tuple[int, ...]) -> nn.Module:
    """Each convolution and linear layer scaled so that its output has unit spread on random
    input (LSUV initialisation): without batch norm, SqueezeNet's activations otherwise fade
    to its last bias and the output ignores the input."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(8, *shape, generator=gen)
    model.eval()
    with torch.no_grad():
        for layer in [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]:
            seen: list[torch.Tensor] = []
            hook = layer.register_forward_hook(lambda _m, _i, out, seen=seen: seen.append(out))
            model(x)
            hook.remove()
            spread = float(seen[0].std())
            if spread > 0:
                layer.weight.div_(spread)
    return model


@functools.lru_cache(maxsize=2)
def source(key: str):
    """(model, input shape, graph) of ``project:NAME`` or ``preset:NAME`` (cached: the cases
    of one source run one after the other)."""
    kind, name = key.split(":")
    if kind == "project":
        project = load_project(PROJECTS_DIR / f"{name}.cnnproj")
        graph = project.graph
        model = project_model(project)
    else:
        graph = presets.build(name, input_shape=small_shape(name), num_classes=10)
        model = to_module(graph, seed=1).eval()
    report = analyze(graph)
    assert report.ok, report.errors
    shape = tuple(report.input_shape)
    return calibrated(model, shape), shape, graph


@pytest.mark.parametrize("key, fmt", _cases())
def test_export_verifies(key: str, fmt: str, tmp_path: Path) -> None:
    model, shape, graph = source(key)
    target = tmp_path / f"model{FORMATS[fmt].suffix}"
    result = export_model(model, shape, fmt, target, graph=graph)
    assert result.paths == [target]
    assert target.is_file() and target.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
    assert result.batches == (1, 3)
    # within rtol; plain-56 (56 layers without a shortcut) within the float32 rounding allowance
    deep = key == "project:plain56-digits" and result.rounding is not None
    assert (result.max_rel <= 1e-4 or deep) and result.max_abs >= 0
    assert result.opset == (18 if fmt == "onnx" else None)
    if fmt in WEIGHTS:
        assert result.max_abs == 0.0
    assert not result.warnings  # the outputs depend on the input: the check means something
    assert not model.training


# -- the numbers are real: recompute them from the files ---------------------------------------
@pytest.fixture(scope="module")
def small():
    graph = presets.build("simple_cnn", num_classes=10)
    return to_module(graph, seed=3).eval(), (1, 28, 28), graph


def _reload(fmt: str, path: Path, graph) -> object:
    if fmt == "onnx":
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x.numpy()})[0]
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated
            return torch.jit.load(str(path))
    if fmt == "pt2":
        return torch.export.load(str(path)).module()
    state = load_file(str(path)) if fmt == "safetensors" else torch.load(path, weights_only=True)
    fresh = to_module(graph, seed=99)
    fresh.load_state_dict(state, strict=True)
    return fresh.eval()


@pytest.mark.parametrize("fmt", [*HEAVY, *WEIGHTS])
def test_reported_differences_are_the_files_differences(fmt, small, tmp_path) -> None:
    model, shape, graph = small
    result = export_model(model, shape, fmt, tmp_path / f"m{FORMATS[fmt].suffix}", graph=graph)
    run = _reload(fmt, result.paths[0], graph)
    found = []
    with torch.no_grad():
        for batch in (1, 3):
            x = sample_input(shape, batch)
            found.append(compare(model(x), run(x)))
        other = torch.randn(5, *shape)  # and at a batch size the exporter never saw
        assert compare(model(other), run(other))[1] <= 1e-4
    assert result.max_abs == max(a for a, _ in found)
    assert result.max_rel == max(r for _, r in found)
    assert result.seconds > 0
    assert FORMATS[fmt].label.split()[0] in result.summary()
    assert "verified at batch 1 and 3" in result.summary()


def test_onnx_batch_axis_is_symbolic_and_runs_any_batch(small, tmp_path) -> None:
    model, shape, graph = small
    result = export_model(model, shape, "onnx", tmp_path / "m.onnx", opset=20)
    assert result.opset == 20 and "opset 20" in result.summary()
    session = ort.InferenceSession(str(result.paths[0]), providers=["CPUExecutionProvider"])
    batch_dim = session.get_inputs()[0].shape[0]
    assert isinstance(batch_dim, str)
    x = torch.randn(7, *shape)
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert got.shape == (7, 10)
    with torch.no_grad():
        assert compare(model(x), got)[1] <= 1e-4


def test_fixed_batch_export_verifies_at_batch_one_only(small, tmp_path) -> None:
    model, shape, _ = small
    result = export_model(model, shape, "onnx", tmp_path / "m.onnx", dynamic_batch=False)
    assert result.batches == (1,)
    assert "verified at batch 1 with" in result.summary()
    session = ort.InferenceSession(str(result.paths[0]), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[0] == 1


# -- failures leave nothing behind -------------------------------------------------------------
def _perturbing(fmt: str, monkeypatch, scale: float = 1e-2) -> None:
    write, load = export_formats.STEPS[fmt]

    def load_perturbed(job, paths):
        run = load(job, paths)
        return lambda x: run(x) + scale * torch.ones(())

    monkeypatch.setitem(export_formats.STEPS, fmt, (write, load_perturbed))


@pytest.mark.parametrize("fmt", ["torchscript", "safetensors"])
def test_a_mismatch_fails_and_leaves_no_file(fmt, small, tmp_path, monkeypatch) -> None:
    model, shape, graph = small
    _perturbing(fmt, monkeypatch)
    target = tmp_path / f"m{FORMATS[fmt].suffix}"
    with pytest.raises(ExportError) as info:
        export_model(model, shape, fmt, target, graph=graph)
    message = str(info.value)
    assert "does not match the model" in message and "> rtol 0.0001" in message
    assert "\n" not in message
    assert "max abs" in info.value.report and "> rtol" in info.value.report
    assert list(tmp_path.iterdir()) == []


def test_a_mismatch_below_the_tolerance_passes_with_its_numbers(small, tmp_path,
                                                                 monkeypatch) -> None:
    model, shape, graph = small
    _perturbing("pth", monkeypatch, scale=1e-6)
    result = export_model(model, shape, "pth", tmp_path / "m.pth", graph=graph)
    assert result.max_abs == pytest.approx(1e-6, rel=0.05)  # float32 rounding of the sum
    assert 0 < result.max_rel <= 1e-4


def test_a_difference_within_float32_rounding_passes_and_says_so(small, tmp_path,
                                                                  monkeypatch) -> None:
    """Deep float32 networks differ from their own float64 evaluation by more than rtol; a
    file as near as 4× that is accepted, and the summary says why."""
    model, shape, graph = small
    inputs = {b: sample_input(shape, b) for b in (1, 3)}
    with torch.no_grad():
        expected = {b: model(x) for b, x in inputs.items()}
    rounding = float32_rounding(model, inputs, expected, tuple(shape))
    assert 0 < rounding < 1e-5
    scale = min(float(out.abs().max()) for out in expected.values())
    _perturbing("pth", monkeypatch, scale=2 * rounding * scale)
    result = export_model(model, shape, "pth", tmp_path / "m.pth", graph=graph,
                          rtol=rounding / 2)
    assert rounding / 2 < result.max_rel <= 4 * rounding
    assert result.rounding == pytest.approx(rounding)
    assert "within float32 rounding" in result.summary()
    _perturbing("pth", monkeypatch, scale=10 * rounding * scale)  # beyond: refused
    with pytest.raises(ExportError, match="does not match the model"):
        export_model(model, shape, "pth", tmp_path / "n.pth", graph=graph, rtol=rounding / 2)


def test_an_existing_file_survives_a_failed_export(small, tmp_path, monkeypatch) -> None:
    model, shape, graph = small
    target = tmp_path / "m.pt2"
    target.write_bytes(b"the previous export")
    _perturbing("pt2", monkeypatch)
    with pytest.raises(ExportError):
        export_model(model, shape, "pt2", target, graph=graph)
    assert target.read_bytes() == b"the previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt2"]


def test_an_existing_file_is_replaced_keeping_its_permissions(small, tmp_path) -> None:
    model, shape, _ = small
    target = tmp_path / "m.pth"
    target.write_bytes(b"old")
    target.chmod(0o640)
    export_model(model, shape, "pth", target)
    assert torch.load(target, weights_only=True).keys() == model.state_dict().keys()
    assert target.stat().st_mode & 0o777 == 0o640


def test_wrong_weights_in_the_file_are_caught(small, tmp_path, monkeypatch) -> None:
    model, shape, graph = small

    def write_changed(job):
        state = {k: v.clone() for k, v in job.model.state_dict().items()}
        state["classifier.fc1.weight"][0, 0] += 1
        torch.save(state, job.target)
        return [job.target]

    monkeypatch.setitem(export_formats.STEPS, "pth",
                        (write_changed, export_formats.STEPS["pth"][1]))
    with pytest.raises(ExportError, match="the values of classifier.fc1.weight differ"):
        export_model(model, shape, "pth", tmp_path / "m.pth", graph=graph)
    assert list(tmp_path.iterdir()) == []


class DataDependent(nn.Module):
    """Control flow on a tensor's value: neither torch.export nor torch.onnx can capture it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x * 2
        return x.nonzero().float()


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_an_export_that_fails_says_why_and_keeps_the_report(fmt, tmp_path) -> None:
    with pytest.raises(ExportError) as info:
        export_model(DataDependent(), [4], fmt, tmp_path / f"m{FORMATS[fmt].suffix}")
    message = str(info.value)
    assert message.startswith(f"the {FORMATS[fmt].label} export failed: ")
    assert "\n" not in message and "\x1b" not in message
    assert "Traceback" in info.value.report or "Error Report" in info.value.report
    if fmt == "onnx":
        assert "PyTorch ONNX Conversion Error Report" in info.value.report
        assert "[torch.onnx] Obtain model graph" in info.value.report
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("opset", [17, 99, 0])
def test_an_unsupported_opset_is_refused(opset, small, tmp_path) -> None:
    model, shape, _ = small
    with pytest.raises(ExportError, match=rf"ONNX opset {opset} is not supported; choose 18 to"):
        export_model(model, shape, "onnx", tmp_path / "m.onnx", opset=opset)
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_are_one_line_errors(small, tmp_path) -> None:
    model, shape, _ = small
    with pytest.raises(ExportError, match="unknown export format 'tflite'; choose one of onnx"):
        export_model(model, shape, "tflite", tmp_path / "m.tflite")
    with pytest.raises(ExportError, match="input shape must be"):
        export_model(model, [1, 0, 28], "pth", tmp_path / "m.pth")
    with pytest.raises(ExportError, match="does not run on an input of shape \\[3, 28, 28\\]"):
        export_model(model, [3, 28, 28], "pth", tmp_path / "m.pth")
    with pytest.raises(ExportError, match="rtol must be a positive number"):
        export_model(model, shape, "pth", tmp_path / "m.pth", rtol=0)
    with pytest.raises(ExportError, match="needs the model's graph"):
        export_model(model, shape, "python", tmp_path / "m.py")
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_and_folder_as_target(small, tmp_path) -> None:
    model, shape, _ = small
    with pytest.raises(ExportError) as info:
        export_model(model, shape, "onnx", tmp_path / "nope" / "m.onnx")
    assert str(info.value) == (f"cannot export to {tmp_path / 'nope' / 'm.onnx'}: the folder "
                               f"{tmp_path / 'nope'} does not exist; choose another folder")
    (tmp_path / "m.pth").mkdir()
    with pytest.raises(ExportError, match="that is a folder; choose a file name"):
        export_model(model, shape, "pth", tmp_path / "m.pth")
    assert [p.name for p in tmp_path.iterdir()] == ["m.pth"]


def test_a_read_only_folder(small, tmp_path, monkeypatch) -> None:
    model, shape, _ = small
    folder = tmp_path / "locked"
    folder.mkdir()
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        folder.chmod(0o555)
    else:  # root may write anywhere: refuse the staging folder the way the OS would
        import tempfile

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    try:
        with pytest.raises(ExportError, match="permission denied; choose another folder"):
            export_model(model, shape, "safetensors", folder / "m.safetensors")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


# -- model handling ----------------------------------------------------------------------------
class TwoHeads(nn.Module):
    """Returns a tuple, as GoogLeNet does with its auxiliary classifiers."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.a(h), self.b(h)


@pytest.mark.parametrize("fmt", [*HEAVY, *WEIGHTS])
def test_tuple_outputs_and_modes_restored(fmt, tmp_path) -> None:
    model = TwoHeads()
    model.train()
    model.body[1].eval()  # a frozen BatchNorm inside a training model keeps its own mode
    rng = torch.get_rng_state()
    result = export_model(model, [3, 8, 8], fmt, tmp_path / f"m{FORMATS[fmt].suffix}")
    assert result.max_rel <= 1e-4
    assert model.training and model.a.training and not model.body[1].training
    assert torch.equal(torch.get_rng_state(), rng)  # the inputs come from their own generator
    assert model.body[1].num_batches_tracked.item() == 0  # no forward pass ran in training mode
    if fmt == "onnx":
        session = ort.InferenceSession(str(result.paths[0]), providers=["CPUExecutionProvider"])
        assert [o.name for o in session.get_outputs()] == ["output_0", "output_1"]


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encode = nn.Linear(6, 6, bias=False)
        self.decode = nn.Linear(6, 6, bias=False)
        self.decode.weight = self.encode.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(torch.relu(self.encode(x)))


@pytest.mark.parametrize("fmt", WEIGHTS)
def test_shared_tensors_are_written_and_reloaded(fmt, tmp_path) -> None:
    result = export_model(Tied(), [6], fmt, tmp_path / f"m{FORMATS[fmt].suffix}")
    assert result.max_abs == 0.0


def test_an_output_that_ignores_the_input_is_flagged(tmp_path) -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    with torch.no_grad():
        model[1].weight.zero_()
    result = export_model(model, [3, 2, 2], "pt2", tmp_path / "m.pt2")
    assert result.max_abs == 0.0
    assert result.warnings and "barely depends on the input" in result.summary()


def test_progress_reports_each_stage(small, tmp_path) -> None:
    model, shape, graph = small
    seen: list[tuple[float, str]] = []
    export_model(model, shape, "torchscript", tmp_path / "m.pt", graph=graph,
                 progress=lambda f, text: seen.append((f, text)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    texts = " | ".join(t for _, t in seen)
    for stage in ("exporting", "checking", "verifying at batch 1", "verifying at batch 3",
                  "done"):
        assert stage in texts


def test_exporter_chatter_is_captured_not_printed(small, tmp_path, capfd) -> None:
    model, shape, _ = small
    result = export_model(model, shape, "onnx", tmp_path / "m.onnx")
    printed = capfd.readouterr()
    assert "[torch.onnx]" not in printed.out + printed.err
    assert "[torch.onnx] Obtain model graph" in result.log
    result = export_model(model, shape, "torchscript", tmp_path / "m.pt")
    printed = capfd.readouterr()
    assert "deprecated" not in printed.out + printed.err
    assert "FutureWarning" in result.log


def test_python_source_and_weights(tmp_path) -> None:
    """Against codegen's contract: model_source(graph) writes build_model(); the weights go
    into a .safetensors beside the .py."""
    graph = presets.build("resnet18", input_shape=(3, 32, 32), num_classes=10)
    model = to_module(graph, seed=5).eval()
    target = tmp_path / "net.py"
    result = export_model(model, [3, 32, 32], "python", target, graph=graph)
    assert result.paths == [target, tmp_path / "net.safetensors"]
    assert result.max_rel <= 1e-4 and result.batches == (1, 3)
    assert "def build_model" in target.read_text(encoding="utf-8")
    assert load_file(str(tmp_path / "net.safetensors")).keys() == model.state_dict().keys()
    with pytest.raises(ExportError, match="needs a .py name"):
        export_model(model, [3, 32, 32], "python", tmp_path / "net.txt", graph=graph)


# -- compare -----------------------------------------------------------------------------------
def test_compare_definitions() -> None:
    a = torch.tensor([[1.0, -4.0], [0.5, 2.0]])
    assert compare(a, a.clone()) == (0.0, 0.0)
    b = a.clone()
    b[1, 0] += 0.02
    max_abs, max_rel = compare(a, b)
    assert max_abs == pytest.approx(0.02) and max_rel == pytest.approx(0.02 / 4.0)
    # tuples, numpy arrays, the worst output counts
    assert compare((a, a * 10), [a.numpy(), (a * 10).numpy() + 1]) == (1.0, pytest.approx(0.025))
    # an all-zero output is compared on a tiny absolute scale, not divided by zero
    assert compare(torch.zeros(3), torch.zeros(3)) == (0.0, 0.0)
    assert compare(torch.zeros(3), torch.full((3,), 1e-6))[1] == pytest.approx(1.0)
    # NaN agrees with NaN only; equal infinities agree
    nan = torch.tensor([float("nan"), float("inf"), 1.0])
    assert compare(nan, nan.clone()) == (0.0, 0.0)
    assert compare(nan, torch.tensor([0.0, float("inf"), 1.0]))[0] == float("inf")
    with pytest.raises(ExportError, match="returns 1 output"):
        compare((a, a), a)
    with pytest.raises(ExportError, match="shape"):
        compare(a, a.reshape(4))
    assert compare(torch.ones(2), np.ones(2, dtype=np.float32)) == (0.0, 0.0)


def test_format_table() -> None:
    assert set(FORMATS) == {"onnx", "torchscript", "pt2", "safetensors", "pth", "python"}
    assert [f.name for f in FORMATS.values() if f.legacy] == ["torchscript"]
    assert "legacy" in FORMATS["torchscript"].label
    assert format_for_path("a/b.onnx") == "onnx" and format_for_path("m.pt") == "torchscript"
    assert format_for_path("m.bin") is None
