"""Post-training int8 quantisation of a project's model with onnxruntime's quantiser: the model
exported to ONNX (verified like every export), calibrated on training images, quantised
statically (QDQ, int8 weights per output channel, uint8 activations), and measured against the
float32 file on the validation split: accuracy, file size, latency under onnxruntime.

Why onnxruntime's quantiser rather than torch.ao's PT2E flow: its int8 file runs wherever
onnxruntime runs (the deployment target of the ONNX export users already have), its x86 int8
kernels are fast without a compiler, and the file is checked and timed by the same runtime
that will run it; PT2E's int8 model needs torch.compile (inductor) to be fast on a CPU, which
a 2-core laptop compiles for minutes."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...graph import analyze
from ..export.exporter import ExportError, export_model
from ..inference.model import project_data, project_model
from ..profile.latency import Latency, of_times
from .options import CALIBRATE, MAX_QAT_EPOCHS, QAT_BELOW, WORST

SCOPES = "pkg.torch.onnx.name_scopes"
"""The exporter's note on each ONNX node: the module path (our graph's node id) it came from."""
SENSITIVITY_IMAGES = 64
BATCH = 64
LATENCY_REPEATS = 200


class QuantizeError(ValueError):
    """A model or a target that cannot be quantised as asked (one line, for the user)."""


@dataclass(frozen=True)
class QuantizeResult:
    path: Path
    fp32_accuracy: float
    int8_accuracy: float
    fp32_bytes: int
    int8_bytes: int
    fp32: Latency
    int8: Latency
    calibration: int
    """Training images used to calibrate."""
    evaluated: int
    """Validation images both files were scored on."""
    sensitivity: dict[str, float] = field(default_factory=dict)
    """Graph node → the signal-to-quantisation-noise ratio (dB) of its output in the int8 model
    against the float32 one (onnxruntime's qdq_loss_debug, on validation images), for the
    nodes whose output is quantised: the lowest are where int8 hurts most."""
    kept_float: tuple[str, ...] = ()
    """Graph nodes left in float32 (``keep_float``)."""
    ptq_accuracy: float | None = None
    """int8 accuracy of plain post-training quantisation, when quantisation-aware
    fine-tuning ran after it (None: it did not run)."""
    qat_epochs: int = 0
    """Epochs of quantisation-aware fine-tuning that ran (0: none)."""

    def most_sensitive(self, count: int = WORST) -> list[tuple[str, float]]:
        return sorted(self.sensitivity.items(), key=lambda kv: kv[1])[:count]

    @property
    def smaller(self) -> float:
        return self.fp32_bytes / self.int8_bytes

    @property
    def faster(self) -> float:
        return self.fp32.median_ms / self.int8.median_ms

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "fp32_accuracy": self.fp32_accuracy,
                "int8_accuracy": self.int8_accuracy, "fp32_bytes": self.fp32_bytes,
                "int8_bytes": self.int8_bytes, "fp32_ms": self.fp32.median_ms,
                "int8_ms": self.int8.median_ms, "fp32_ms_spread": [self.fp32.low_ms,
                                                                  self.fp32.high_ms],
                "int8_ms_spread": [self.int8.low_ms, self.int8.high_ms],
                "smaller": self.smaller, "faster": self.faster,
                "calibration_images": self.calibration, "validation_images": self.evaluated,
                "sensitivity_db": self.sensitivity, "kept_float": list(self.kept_float),
                "ptq_int8_accuracy": self.ptq_accuracy, "qat_epochs": self.qat_epochs}


Progress = Callable[[str], None]


def quantize_project(project: Any, out: str | Path, *, calibrate: int = CALIBRATE,
                     weights: str | None = None, base_dir: str | Path | None = None,
                     cache_dir: str | Path | None = None, keep_float: tuple[str, ...] = (),
                     qat_epochs: int = 0, qat_below: float = QAT_BELOW,
                     progress: Progress | None = None) -> QuantizeResult:
    """Write ``project``'s model as an int8 ONNX file at ``out`` and measure it against the
    float32 one; the graph nodes in ``keep_float`` stay in float32. When int8 loses more than
    ``qat_below`` of accuracy and ``qat_epochs`` is given, the weights are fine-tuned that many
    epochs with int8 simulated and quantised again (kept where they score better).
    QuantizeError for bad input (checked before any work where it can be)."""
    say = progress or (lambda _text: None)
    out = Path(out)
    _check_out(out)
    if calibrate < 1:
        raise QuantizeError(f"--calibrate must be at least 1, not {calibrate}")
    if not 0 <= qat_epochs <= MAX_QAT_EPOCHS:
        raise QuantizeError(f"--qat-epochs must be from 0 to {MAX_QAT_EPOCHS}, not "
                            f"{qat_epochs}")
    unknown = [n for n in keep_float if n not in project.graph]
    if unknown:
        raise QuantizeError(f"--keep-float: no node {unknown[0]!r} in the graph")
    if not (weights or project.current_weights):
        raise QuantizeError("the project has no trained weights: train it first (a model of "
                            "random weights has nothing to keep)")
    shape = tuple(analyze(project.graph).input_shape or ())
    try:
        model = project_model(project, weights)
        say("loading the data")
        data = project_data(project, base_dir=base_dir, cache_dir=cache_dir)
    except ValueError as exc:  # InferenceError: weights that do not fit, data not cached
        raise QuantizeError(str(exc)) from None
    if data.val is None:
        raise QuantizeError("the dataset has no validation split to compare the two models "
                            "on: set its validation fraction above 0")
    with tempfile.TemporaryDirectory(prefix=".cnnstudio-quantize-", dir=out.parent) as work:
        fp32 = Path(work) / "fp32.onnx"
        say("exporting the float32 model")
        _export(model, shape, fp32)
        say(f"calibrating on {min(calibrate, len(data.train))} training images")
        source, int8, seen = _quantized(fp32, Path(work), "ptq", data, calibrate, keep_float)
        say("scoring both on the validation split")
        fp32_acc, n = _accuracy(fp32, data.val, data.task)
        int8_acc, _ = _accuracy(int8, data.val, data.task)
        ptq_acc = None
        if qat_epochs and fp32_acc - int8_acc > qat_below:
            say(f"int8 loses {100 * (fp32_acc - int8_acc):.2f} points: fine-tuning "
                f"{qat_epochs} epochs with int8 simulated")
            tuned = _finetuned(project, model, data, qat_epochs, say)
            qat_fp32 = Path(work) / "qat-fp32.onnx"
            _export(tuned, shape, qat_fp32)
            qat_source, qat_int8, _ = _quantized(qat_fp32, Path(work), "qat", data, calibrate,
                                                 keep_float)
            qat_acc, _ = _accuracy(qat_int8, data.val, data.task)
            say(f"int8 after fine-tuning: {100 * qat_acc:.2f} % (before {100 * int8_acc:.2f} %)")
            ptq_acc = int8_acc
            if qat_acc > int8_acc:  # the fine-tuned weights only where they quantise better
                source, int8, int8_acc = qat_source, qat_int8, qat_acc
        say("measuring each layer's quantisation noise")
        sensitivity = _sensitivity(source, int8, _scopes(source), data.val, Path(work))
        say("timing both")
        first = next(_inputs(data.val, 1))
        fp32_ms, int8_ms = _latencies([fp32, int8], first)
        sizes = fp32.stat().st_size, int8.stat().st_size
        _publish(int8, out)
    return QuantizeResult(out, fp32_acc, int8_acc, *sizes, fp32_ms, int8_ms, seen, n,
                          sensitivity, tuple(keep_float), ptq_acc,
                          qat_epochs if ptq_acc is not None else 0)


def _export(model: torch.nn.Module, shape: tuple[int, ...], path: Path) -> None:
    try:
        export_model(model, shape, "onnx", path)
    except ExportError as exc:
        raise QuantizeError(f"the float32 export failed: {exc}") from None


def _quantized(fp32: Path, work: Path, name: str, data: Any, calibrate: int,
               keep_float: tuple[str, ...]) -> tuple[Path, Path, int]:
    """``fp32`` quantised statically: the pre-processed float file it was made from (its
    nodes carry the graph's ids), the checked int8 file, and the images calibrated on."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    source = _preprocessed(fp32, work / f"{name}-pre.onnx")
    int8 = work / f"{name}-int8.onnx"
    reader = _Reader(_inputs(data.train, calibrate))
    excluded = [node for node, (nid, _) in _scopes(source).items() if nid in keep_float]
    quantize_static(str(source), str(int8), reader, quant_format=QuantFormat.QDQ,
                    per_channel=True, weight_type=QuantType.QInt8,
                    activation_type=QuantType.QUInt8, calibrate_method=CalibrationMethod.MinMax,
                    nodes_to_exclude=excluded)
    _check(int8)
    return source, int8, reader.seen


def _finetuned(project: Any, model: torch.nn.Module, data: Any, epochs: int,
               say: Progress) -> torch.nn.Module:
    """A copy of ``model`` after quantisation-aware fine-tuning on the project's data."""
    from ..inference.model import model_from_state
    from ..training.trainer import TrainingError
    from .aware import finetune_int8

    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        tuned, _ = finetune_int8(project.graph, project.training, data, state, epochs, say)
    except TrainingError as exc:
        raise QuantizeError(str(exc)) from None
    return model_from_state(project.graph, tuned)


def _check_out(out: Path) -> None:
    if out.suffix.lower() != ".onnx":
        raise QuantizeError(f"--out must be an .onnx file, not {out.name!r}")
    if out.is_dir():
        raise QuantizeError(f"--out {out} is a folder; choose a file name")
    if not out.parent.is_dir():
        raise QuantizeError(f"--out {out}: the folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK):
        raise QuantizeError(f"--out {out}: the folder {out.parent} is not writable")


def _preprocessed(fp32: Path, target: Path) -> Path:
    """onnxruntime's recommended pre-processing (shape inference, graph optimisation) before
    quantising; the file as it is when that step cannot run on it."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        quant_pre_process(str(fp32), str(target), skip_symbolic_shape=True)
    except Exception:  # noqa: BLE001 - an optional step; quantising still works without it
        return fp32
    return target


def _inputs(split: Any, count: int) -> Iterator[np.ndarray]:
    """The split's first ``count`` images, normalised as the model takes them, in batches."""
    left = count
    for x, _y in split.batches(min(BATCH, count), shuffle=False, seed=0, epoch=0):
        if left <= 0:
            return
        yield np.ascontiguousarray(x[:left].cpu().numpy(), dtype=np.float32)
        left -= len(x)


class _Reader:
    """onnxruntime's calibration data reader over the training images."""

    def __init__(self, batches: Iterator[np.ndarray]) -> None:
        self.batches = batches
        self.name: str | None = None
        self.seen = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        if batch is None:
            return None
        self.seen += len(batch)
        return {self.name or "input": batch}

    def set_input(self, name: str) -> None:
        self.name = name

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:  # collect_activations iterates
        while (feed := self.get_next()) is not None:
            yield feed


def _scopes(path: Path) -> dict[str, tuple[str, list[str]]]:
    """ONNX node name → (the graph node it was exported from, the tensors it makes); nodes
    without the exporter's note are left out."""
    import ast

    import onnx

    found = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        note = next((p.value for p in node.metadata_props if p.key == SCOPES), None)
        try:
            scopes = ast.literal_eval(note) if note else []
        except (ValueError, SyntaxError):
            continue
        if len(scopes) >= 2 and isinstance(scopes[1], str) and scopes[1]:
            found[node.name] = (scopes[1], list(node.output))
    return found


def _sensitivity(fp32: Path, int8: Path, scopes: dict[str, tuple[str, list[str]]],
                 split: Any, work: Path) -> dict[str, float]:
    """Graph node → SQNR (dB) of its output in the int8 model against the float32 model,
    where its output is quantised (onnxruntime's qdq_loss_debug on validation images)."""
    from onnxruntime.quantization import qdq_loss_debug as debug

    # tensor → the graph node whose ONNX node makes it
    outputs = {tensor: nid for nid, made in scopes.values() for tensor in made}
    seen = {}
    for name, path in (("float", fp32), ("int8", int8)):
        augmented = work / f"{name}-augmented.onnx"
        debug.modify_model_output_intermediate_tensors(str(path), str(augmented))
        seen[name] = debug.collect_activations(str(augmented),
                                               _Reader(_inputs(split, SENSITIVITY_IMAGES)))
    errors = debug.compute_activation_error(
        debug.create_activation_matching(seen["int8"], seen["float"]))
    found: dict[str, float] = {}
    for tensor, error in errors.items():
        nid = outputs.get(tensor)
        value = error.get("xmodel_err")
        if nid is not None and value is not None and np.isfinite(value):
            found[nid] = min(float(value), found.get(nid, float("inf")))
    return found


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _check(path: Path) -> None:
    """The int8 file passes onnx's checker and loads in onnxruntime."""
    import onnx

    try:
        onnx.checker.check_model(str(path))
        _session(path)
    except Exception as exc:  # noqa: BLE001 - the checker's and runtime's errors differ
        raise QuantizeError(f"the int8 file does not load: {str(exc).splitlines()[0]}"
                            ) from None


def _accuracy(path: Path, split: Any, task: str) -> tuple[float, int]:
    """The file's validation accuracy (the task's score for multi-label or regression
    targets) under onnxruntime, and the images scored."""
    from ..training.evaluate import task_score

    session = _session(path)
    name = session.get_inputs()[0].name
    outs, labels = [], []
    for x, y in split.batches(BATCH, shuffle=False, seed=0, epoch=0):
        outs.append(torch.from_numpy(
            session.run(None, {name: np.ascontiguousarray(x.cpu().numpy())})[0]))
        labels.append(y.cpu())
    return task_score(task, torch.cat(outs), torch.cat(labels)), sum(len(y) for y in labels)


def _latencies(paths: list[Path], batch: np.ndarray, warmup: int = 10) -> list[Latency]:
    """Milliseconds per one-image pass of each file under onnxruntime on the CPU, the files'
    passes taken in turn, so a busy moment of the machine weighs on all of them alike."""
    sessions = [_session(p) for p in paths]
    feeds = [{s.get_inputs()[0].name: batch[:1]} for s in sessions]
    times: list[list[float]] = [[] for _ in paths]
    for i in range(warmup + LATENCY_REPEATS):
        for session, feed, kept in zip(sessions, feeds, times):
            start = time.perf_counter()
            session.run(None, feed)
            if i >= warmup:
                kept.append((time.perf_counter() - start) * 1000)
    return [of_times(t, 1, "onnxruntime (cpu)") for t in times]


def _publish(made: Path, out: Path) -> None:
    """``made`` in place of ``out`` in one step (a reader never sees half a file)."""
    try:
        os.replace(made, out)
    except OSError as exc:
        raise QuantizeError(f"cannot write {out}: {exc.strerror or exc}") from None
