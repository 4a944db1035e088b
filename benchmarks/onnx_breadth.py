"""ONNX files from elsewhere import back as editable graphs: every torchvision preset, exported
by CNN Studio's own ONNX export (torch.onnx's dynamo exporter, opset 18) and by
``torch.onnx.export(..., dynamo=False)`` (the TorchScript exporter most user files come from),
imported with ``from_onnx``, built and compared with the original module.

    python benchmarks/onnx_breadth.py                           # every torchvision preset
    python benchmarks/onnx_breadth.py --only alexnet vgg11_bn --exporters torchscript
    python benchmarks/onnx_breadth.py --max-params 200e6        # leave out the largest

One row per (model, exporter): the input size used, whether the file imported, the largest
absolute difference from the module and that relative to its largest output, and why it failed.
Each model runs at the small input the preset tests use (at most 64×64); the TorchScript
exporter refuses adaptive pooling that does not divide its input, so when it cannot export a
model at that size the row uses the preset's own input size instead (the row says so).
BatchNorm statistics are calibrated on a random batch first: at torchvision's initial
statistics deep networks return near-zero outputs (EfficientNet-B0: 4e-14) that any file would
match; ConvNeXt's layer scales (1e-6 at first, which leaves each block's branch out of the
output) are drawn from [0.2, 1). Outputs are equal when their largest difference is within 1e-4
of the module's largest output magnitude, the tolerance issue 20 sets for timm
(benchmarks/timm_import.py uses the same): the exporters fold BatchNorm into the convolutions
in float32, which alone moves ResNet-50's calibrated logits (largest 2.2) by 1.3e-5 even when
the rest runs in float64, and by 1.2e-4 in float32 (onnxruntime on the file itself, before any
import). The last lines are ``onnx (ours): N/M equal`` and ``onnx (torchscript): N/M equal``
(to the module), each after a line counting the imports equal to what onnxruntime computes from
the file and one counting those equal or within 4 times the module's own float32 rounding (its
float32 output against its float64 output), the bound the export's verification uses.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnnstudio.engine import to_module  # noqa: E402
from cnnstudio.engine.export.exporter import ROUNDING_FACTOR, export_model  # noqa: E402
from cnnstudio.engine.importers.onnx.reader import from_onnx  # noqa: E402
from cnnstudio.graph import analyze, presets  # noqa: E402

RELATIVE = 1e-4
EXPORTERS = ("ours", "torchscript")
Shape = tuple[int, ...]


@dataclass
class Row:
    model: str
    exporter: str
    shape: Shape
    imported: bool = False
    max_abs: float | None = None
    relative: float | None = None
    reason: str = ""
    seconds: float = 0.0
    within_rounding: bool = False
    """Not equal, but within ROUNDING_FACTOR times the module's own float32 rounding: what the
    export's verification accepts (engine/export/exporter.py)."""
    faithful: bool = False
    """The imported graph computes what onnxruntime computes from the file (within the same
    tolerance): all an importer can do when the file itself is off from the module."""

    @property
    def equal(self) -> bool:
        return self.imported and not self.reason

    def line(self) -> str:
        size = "x".join(map(str, self.shape[1:]))
        diff = "-" if self.max_abs is None else f"{self.max_abs:.2e}"
        rel = "-" if self.relative is None else f"{self.relative:.1e}"
        return (f"{self.model:<20} {self.exporter:<12} {size:>8} "
                f"{'yes' if self.imported else 'no':<4} {diff:>9} {rel:>8} {self.seconds:6.1f}s  "
                f"{self.reason or 'equal'}")


def small_input(name: str) -> Shape:
    """The preset's input shrunk to at most 64×64 unless the network cannot take that (as in
    tests/engine/test_presets_torch.py)."""
    shape = tuple(presets.get(name).options()["input_shape"])
    small = (shape[0], min(shape[1], 64), min(shape[2], 64))
    return small if analyze(presets.build(name, input_shape=small)).ok else shape


CALIBRATION_BATCH = 32
"""Random images the BatchNorm statistics are measured on (4 left the deepest networks'
statistics so noisy that their logits grew to 1e4 and float32 rounding alone broke rtol 1e-4)."""


def calibrated(model: nn.Module, shape: Shape) -> nn.Module:
    """BatchNorm statistics measured on a random batch, so deep random networks do not
    return a near-constant output and the comparison means something; left in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        torch.manual_seed(1)
        model(torch.randn(CALIBRATION_BATCH, *shape))
    for m in norms:
        m.momentum = 0.1
    return model.eval()


def visible_layer_scales(model: nn.Module) -> nn.Module:
    """ConvNeXt's layer scales drawn from [0.2, 1): at their initial 1e-6 every block adds
    almost nothing to its input, so a file that got the blocks wrong would still match."""
    with torch.no_grad():
        for key, param in model.named_parameters():
            if key.rpartition(".")[2] == "layer_scale":
                param.uniform_(0.2, 1.0)
    return model


def reference(name: str, shape: Shape, classes: int) -> nn.Module:
    """torchvision's own model, its layer scales made visible and its BatchNorm statistics
    calibrated."""
    kwargs = {"init_weights": True} if name in ("googlenet", "inception_v3") else {}
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None, num_classes=classes, **kwargs)
    return calibrated(visible_layer_scales(model), shape)


def export_ours(name: str, model: nn.Module, shape: Shape, path: Path, classes: int) -> None:
    """The preset's own module (torchvision's weights loaded strictly) through engine/export."""
    graph = presets.build(name, input_shape=list(shape), num_classes=classes)
    ours = to_module(graph, seed=0)
    ours.load_state_dict(model.state_dict(), strict=True)
    export_model(ours.eval(), list(shape), "onnx", path, graph=graph)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """stdout and stderr silenced at the file descriptors: on failure the TorchScript
    exporter prints its whole IR graph from C++, which would bury the table."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def export_torchscript(opset: int) -> Callable[[str, nn.Module, Shape, Path, int], None]:
    def export(name: str, model: nn.Module, shape: Shape, path: Path, classes: int) -> None:
        with warnings.catch_warnings(), quiet():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.randn(2, *shape),), str(path), dynamo=False,
                              opset_version=opset)
    return export


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 240 else text[:237] + "..."


def check(path: Path, model: nn.Module, shape: Shape, row: Row) -> None:
    """Import ``path``, build it, load its weights strictly and compare with ``model``."""
    try:
        imported = from_onnx(path)
        module = to_module(imported.graph)
        module.load_state_dict(imported.state, strict=True)
    except Exception as exc:
        row.reason = f"import: {one_line(exc)}"
        return
    row.imported = True
    torch.manual_seed(2)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        got, want = module.eval()(x), model(x)
    if got.shape != want.shape:
        row.reason = f"output shape {list(got.shape)} != {list(want.shape)}"
        return
    row.max_abs = float((got - want).abs().max())
    row.relative = row.max_abs / max(float(want.abs().max()), 1e-12)
    file_out = onnxruntime_out(path, x)
    row.faithful = close(got, file_out)
    if not close(got, want):
        rounding = float32_error(model, x)
        row.within_rounding = row.max_abs <= ROUNDING_FACTOR * rounding
        file_diff = (file_out - want).abs()
        beyond = "" if close(file_out, want) else ", also beyond the tolerance"
        row.reason = (f"outputs differ (onnxruntime on the file itself: "
                      f"{float(file_diff.max()):.2e}{beyond}; the import "
                      f"{'equals' if row.faithful else 'differs from'} onnxruntime's; "
                      f"float32 alone moves the module by {rounding:.2e})")


def float32_error(model: nn.Module, x: torch.Tensor) -> float:
    """How far the module's own float32 output is from its float64 output: the noise floor no
    file or import computed in float32 can be expected to beat."""
    import copy

    wide = copy.deepcopy(model).double()
    with torch.no_grad():
        return float((model(x).double() - wide(x.double())).abs().max())


def close(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Equal within ``RELATIVE`` of ``want``'s largest magnitude."""
    scale = max(float(want.abs().max()), 1e-12)
    return float((got - want).abs().max()) <= RELATIVE * scale


def onnxruntime_out(path: Path, x: torch.Tensor) -> torch.Tensor:
    """What onnxruntime computes from the file itself."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])


def run_one(name: str, exporter: str, folder: Path, *, opset: int = 17,
            classes: int = 1000) -> Row:
    """Export, import back and compare one preset; ``folder`` is emptied afterwards."""
    started = time.perf_counter()
    write = export_ours if exporter == "ours" else export_torchscript(opset)
    own = tuple(presets.get(name).options()["input_shape"])
    shapes = [small_input(name)]
    if exporter == "torchscript" and shapes[0] != own:
        shapes.append(own)
    path = folder / f"{name}-{exporter}.onnx"
    row = Row(name, exporter, shapes[0])
    for shape in shapes:
        row = Row(name, exporter, shape)
        model = reference(name, shape, classes)
        try:
            write(name, model, shape, path, classes)
        except Exception as exc:
            row.reason = f"export: {one_line(exc)}"
            continue
        check(path, model, shape, row)
        break
    for leftover in folder.iterdir():
        leftover.unlink()
    row.seconds = time.perf_counter() - started
    return row


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these presets only")
    parser.add_argument("--exporters", nargs="+", choices=EXPORTERS, default=list(EXPORTERS))
    parser.add_argument("--opset", type=int, default=17,
                        help="opset of the TorchScript export (default 17)")
    parser.add_argument("--max-params", type=float, metavar="N",
                        help="leave out presets with more parameters than this")
    return parser.parse_args(argv)


def chosen(args: argparse.Namespace) -> list[str]:
    names = args.only or [p.name for p in presets.all_presets() if p.torchvision]
    if args.max_params:
        names = [n for n in names if analyze(presets.build(n)).total_params <= args.max_params]
    return names


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.disable(logging.WARNING)  # torch.onnx's progress lines would hide the table
    torch.set_grad_enabled(True)
    rows: list[Row] = []
    print(f"{'model':<20} {'exporter':<12} {'input':>8} {'imp':<4} {'max abs':>9} {'relative':>8} "
          f"{'time':>7}  result")
    with tempfile.TemporaryDirectory(prefix="onnx-breadth-") as tmp:
        for name in chosen(args):
            for exporter in args.exporters:
                row = run_one(name, exporter, Path(tmp), opset=args.opset)
                rows.append(row)
                print(row.line(), flush=True)
    for exporter in args.exporters:
        mine = [r for r in rows if r.exporter == exporter]
        print(f"onnx ({exporter}): {sum(r.faithful for r in mine)}/{len(mine)} equal to "
              "onnxruntime on the file")
        print(f"onnx ({exporter}): {sum(r.equal or r.within_rounding for r in mine)}/"
              f"{len(mine)} equal or within {ROUNDING_FACTOR:g}x the module's own float32 "
              "rounding")
        print(f"onnx ({exporter}): {sum(r.equal for r in mine)}/{len(mine)} equal")
    return 0 if all(r.equal for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
