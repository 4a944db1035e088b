"""Each export format's two steps: write the file(s) into the staging folder, and load them
back the way a user would (checking what can be checked on the file itself), giving a
callable that the verification runs at other batch sizes.

``STEPS[fmt] = (write, load)``; ``write(job)`` returns the written paths, ``load(job, paths)``
returns a runner ``x -> outputs``. Both run with the exporters' chatter captured."""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .verify import ExportError, one_line

Runner = Callable[[torch.Tensor], Any]

MIN_OPSET = 18
"""torch.onnx's exporter writes opset 18 and converts upwards; below 18 it silently keeps 18."""
EXTERNAL_DATA_BYTES = 1_800_000_000
"""Above this many bytes of weights an ONNX file keeps them in a ``.data`` file beside it
(a single protobuf cannot exceed 2 GB)."""

_LOGGERS = ("torch", "onnxscript", "onnx_ir", "onnx")


@dataclass
class Job:
    """What the steps need: the model (evaluation mode, on the CPU), the example batch it is
    traced/exported with, the staged target (final file name, staging folder)."""

    model: nn.Module
    example: torch.Tensor
    target: Path
    graph: Any = None
    opset: int = MIN_OPSET
    dynamic: bool = True
    output_names: list[str] = field(default_factory=lambda: ["output"])
    log: list[str] = field(default_factory=list)

    @property
    def state(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()


def onnx_opsets() -> range:
    """The opsets torch.onnx can write here: 18 up to what the installed onnx knows."""
    import onnx

    return range(MIN_OPSET, onnx.defs.onnx_opset_version() + 1)


class _Collect(logging.Handler):
    def __init__(self, sink: io.StringIO) -> None:
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.write(f"{record.levelname}: {record.getMessage()}\n")


@contextlib.contextmanager
def captured(log: list[str]) -> Iterator[None]:
    """Collect what the exporters print, log and warn into ``log`` instead of the terminal
    (torch.onnx prints its progress, torch.jit warns that it is deprecated on every call).
    Redirecting stdout/stderr is process-wide: other threads' prints meanwhile land here too."""
    sink = io.StringIO()
    handler = _Collect(sink)
    saved = []
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate))
        logger.addHandler(handler)
        logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught, \
                contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("always")
            yield
    finally:
        for logger, propagate in saved:
            logger.removeHandler(handler)
            logger.propagate = propagate
        seen: set[str] = set()
        for w in caught:
            text = f"{w.category.__name__}: {w.message}"
            if text not in seen:
                seen.add(text)
                sink.write(text + "\n")
        if sink.getvalue().strip():
            log.append(sink.getvalue().rstrip())


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state_dict as contiguous CPU tensors that share no memory (safetensors refuses
    tensors sharing storage, as tied weights do)."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in model.state_dict().items():
        t = value.detach().to("cpu").contiguous()
        ptr = t.untyped_storage().data_ptr() if t.numel() else None
        if ptr is not None and ptr in seen:
            t = t.clone()
        elif ptr is not None:
            seen.add(ptr)
        out[key] = t
    return out


def same_weights(expected: dict[str, torch.Tensor], got: Any, what: str) -> None:
    """Every key, shape, dtype and value (bit for bit) equal, else an ExportError."""
    if not isinstance(got, dict) or not all(isinstance(v, torch.Tensor) for v in got.values()):
        raise ExportError(f"{what} does not hold a dictionary of tensors")
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if missing or extra:
        raise ExportError(f"{what} has other keys than the model: missing "
                          f"{missing[:3] or 'none'}, unexpected {extra[:3] or 'none'}")
    for key, a in expected.items():
        b = got[key]
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ExportError(f"{what}: {key} is {b.dtype} {tuple(b.shape)}, the model's "
                              f"{a.dtype} {tuple(a.shape)}")
        if not _bitwise_equal(a, b):
            raise ExportError(f"{what}: the values of {key} differ from the model's")


def _bitwise_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    a = a.detach().to("cpu").contiguous().reshape(-1)
    b = b.detach().to("cpu").contiguous().reshape(-1)
    if a.numel() == 0:
        return True
    return torch.equal(a.view(torch.uint8), b.view(torch.uint8))


def _batch_dims(job: Job) -> tuple[dict[int, Any], ...] | None:
    if not job.dynamic:
        return None
    return ({0: torch.export.Dim("batch", min=1)},)


def _load_state(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> nn.Module:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        raise ExportError(f"{what} does not load strictly: {lines[1] if len(lines) > 1 else ''}",
                          report=str(exc)) from None
    return module.eval()


def _fresh(job: Job) -> nn.Module:
    """A new module to load weights into: built from the graph when there is one (proving the
    file fits the graph), else a copy of the model."""
    if job.graph is not None:
        from ..build import to_module

        return to_module(job.graph)
    return copy.deepcopy(job.model)


# -- ONNX ------------------------------------------------------------------------------------
def write_onnx(job: Job) -> list[Path]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cnnstudio-onnx-") as artifacts:
        try:
            program = torch.onnx.export(
                job.model, (job.example,), None, dynamo=True, opset_version=job.opset,
                dynamic_shapes=_batch_dims(job), input_names=["input"],
                output_names=job.output_names, report=True, artifacts_dir=artifacts)
        except Exception as exc:
            reports = "\n\n".join(p.read_text(encoding="utf-8", errors="replace")
                                  for p in sorted(Path(artifacts).glob("*.md")))
            raise ExportError(f"torch.onnx could not export the model: {one_line(exc)}",
                              report=reports or str(exc)) from exc
    big = sum(t.numel() * t.element_size() for t in job.state.values()) > EXTERNAL_DATA_BYTES
    program.save(job.target, external_data=big)
    data = job.target.with_name(job.target.name + ".data")
    return [job.target, data] if data.exists() else [job.target]


def load_onnx(job: Job, paths: list[Path]) -> Runner:
    import onnx
    import onnxruntime as ort

    path = str(paths[0])
    try:
        onnx.checker.check_model(path)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"onnx.checker rejects the file: {one_line(exc)}",
                          report=str(exc)) from None
    proto = onnx.load(path, load_external_data=False)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset != job.opset:
        raise ExportError(f"the exporter wrote opset {opset}, not the {job.opset} asked for "
                          f"(it cannot convert this model); choose opset {MIN_OPSET}")
    batch = proto.graph.input[0].type.tensor_type.shape.dim[0]
    if job.dynamic and not batch.dim_param:
        raise ExportError(f"the batch dimension of the ONNX input is fixed at {batch.dim_value}"
                          " instead of free")
    del proto
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ExportError(f"onnxruntime cannot load the file: {one_line(exc)}",
                          report=str(exc)) from None
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x.numpy()})


# -- TorchScript -----------------------------------------------------------------------------
def write_torchscript(job: Job) -> list[Path]:
    # check_trace would run the model twice more; the verification below does it properly,
    # at batch sizes other than the traced one.
    traced = torch.jit.trace(job.model, (job.example,), check_trace=False)
    torch.jit.save(traced, str(job.target))
    return [job.target]


def load_torchscript(job: Job, paths: list[Path]) -> Runner:
    loaded = torch.jit.load(str(paths[0]), map_location="cpu")
    return loaded.eval()


# -- torch.export (.pt2) ---------------------------------------------------------------------
def write_pt2(job: Job) -> list[Path]:
    program = torch.export.export(job.model, (job.example,), dynamic_shapes=_batch_dims(job))
    torch.export.save(program, str(job.target))
    return [job.target]


def load_pt2(job: Job, paths: list[Path]) -> Runner:
    return torch.export.load(str(paths[0])).module()


# -- weights only ----------------------------------------------------------------------------
def write_safetensors(job: Job) -> list[Path]:
    from safetensors.torch import save_file

    save_file(weights(job.model), str(job.target), metadata={"format": "pt"})
    return [job.target]


def load_safetensors(job: Job, paths: list[Path]) -> Runner:
    from safetensors.torch import load_file

    loaded = load_file(str(paths[0]))
    same_weights(job.state, loaded, paths[0].name)
    return _load_state(_fresh(job), loaded, paths[0].name)


def write_pth(job: Job) -> list[Path]:
    state = job.model.state_dict()
    for key, value in state.items():
        state[key] = value.detach().to("cpu")
    torch.save(state, str(job.target))
    return [job.target]


def load_pth(job: Job, paths: list[Path]) -> Runner:
    loaded = torch.load(str(paths[0]), map_location="cpu", weights_only=True)
    same_weights(job.state, loaded, paths[0].name)
    return _load_state(_fresh(job), loaded, paths[0].name)


# -- Python source + safetensors -------------------------------------------------------------
def write_python(job: Job) -> list[Path]:
    from safetensors.torch import save_file

    from ..codegen.model import model_source

    job.target.write_text(model_source(job.graph), encoding="utf-8")
    data = job.target.with_suffix(".safetensors")
    save_file(weights(job.model), str(data), metadata={"format": "pt"})
    return [job.target, data]


def load_python(job: Job, paths: list[Path]) -> Runner:
    from safetensors.torch import load_file

    from ..codegen.model import load_generated

    model = load_generated(paths[0]).build_model()
    if not isinstance(model, nn.Module):
        raise ExportError(f"build_model() in {paths[0].name} returned a "
                          f"{type(model).__name__}, not a module")
    loaded = load_file(str(paths[1]))
    same_weights(job.state, loaded, paths[1].name)
    return _load_state(model, loaded, f"{paths[1].name} into the generated model")


STEPS: dict[str, tuple[Callable[[Job], list[Path]], Callable[[Job, list[Path]], Runner]]] = {
    "onnx": (write_onnx, load_onnx),
    "torchscript": (write_torchscript, load_torchscript),
    "pt2": (write_pt2, load_pt2),
    "safetensors": (write_safetensors, load_safetensors),
    "pth": (write_pth, load_pth),
    "python": (write_python, load_python),
}
