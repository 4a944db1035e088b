"""``cnnstudio quantize``: a project's model as an int8 ONNX file (onnxruntime's static
quantiser, calibrated on the project's training images), measured against the float32 file on
the validation split (engine/compress/quantize.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..engine.compress.options import CALIBRATE, MAX_CALIBRATE, QAT_BELOW
from .common import CliError, output_path, positive_int, read_project


def add_parser(sub: Any) -> None:
    q = sub.add_parser(
        "quantize", help="write a project's model as an int8 ONNX file and measure it",
        description="Post-training static int8 quantisation with onnxruntime: the model is "
        "exported to ONNX (verified), calibrated on the project's training images, quantised "
        "(int8 weights per output channel, uint8 activations, QDQ), and both files are scored "
        "on the validation split and timed under onnxruntime on this CPU.")
    q.add_argument("project", metavar="PROJECT", help="a .cnnproj project with trained weights")
    q.add_argument("--out", required=True, metavar="FILE", help="the int8 .onnx file to write")
    q.add_argument("--calibrate", metavar="N", type=positive_int, default=CALIBRATE,
                   help=f"training images to calibrate on (default {CALIBRATE})")
    q.add_argument("--weights", metavar="MEMBER",
                   help="which of the project's weights (default: the current ones)")
    q.add_argument("--keep-float", metavar="NODE[,NODE]",
                   help="graph nodes to leave in float32 (the sensitive ones the report names)")
    q.add_argument("--qat-epochs", metavar="N", type=int, default=0,
                   help="when int8 loses more than a point of accuracy, fine-tune N epochs with "
                   "int8 simulated (quantisation-aware) and quantise again (default 0: off)")
    q.add_argument("--data-cache", metavar="DIR", help="folder of downloaded datasets")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def cmd_quantize(args: argparse.Namespace) -> int:
    from ..engine.compress.quantize import QuantizeError, quantize_project

    if args.calibrate > MAX_CALIBRATE:
        raise CliError(f"--calibrate must be at most {MAX_CALIBRATE:,}, not {args.calibrate}")
    out = output_path(args.out)
    source = Path(args.project)
    project = read_project(source)
    if args.weights and args.weights not in project.weights:
        raise CliError(f"--weights: the project has no weights named {args.weights!r}")
    say = (lambda _text: None) if args.json else \
        (lambda text: print(f"{text}…", file=sys.stderr, flush=True))
    try:
        result = quantize_project(project, out, calibrate=args.calibrate,
                                  weights=args.weights, base_dir=source.parent,
                                  cache_dir=args.data_cache, progress=say,
                                  keep_float=_nodes(args.keep_float),
                                  qat_epochs=args.qat_epochs)
    except QuantizeError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(f"wrote {result.path} (int8, {result.calibration} calibration images)")
    print(f"  accuracy on {result.evaluated} validation images: float32 "
          f"{100 * result.fp32_accuracy:.2f} %, int8 {100 * result.int8_accuracy:.2f} % "
          f"({100 * (result.int8_accuracy - result.fp32_accuracy):+.2f} points)")
    print(f"  size: {result.fp32_bytes:,} → {result.int8_bytes:,} bytes "
          f"({result.smaller:.2f}× smaller)")
    print(f"  latency (1 image, onnxruntime CPU, median of 200, in turn): "
          f"{result.fp32.median_ms:.3f} → {result.int8.median_ms:.3f} ms "
          f"({result.faster:.2f}× the float32 speed)")
    if result.ptq_accuracy is not None:
        print(f"  quantisation-aware fine-tuning ({result.qat_epochs} epochs): int8 "
              f"{100 * result.ptq_accuracy:.2f} % → {100 * result.int8_accuracy:.2f} %")
    elif result.fp32_accuracy - result.int8_accuracy > QAT_BELOW and not args.qat_epochs:
        print("  int8 loses more than a point: --qat-epochs 2 fine-tunes with int8 simulated")
    if result.kept_float:
        print(f"  kept in float32: {', '.join(result.kept_float)}")
    worst = result.most_sensitive()
    if worst:
        print("  most sensitive (signal-to-quantisation-noise of the output, lower is worse): "
              + ", ".join(f"{nid} {db:.1f} dB" for nid, db in worst))
        print(f"  to keep them in float32: --keep-float {','.join(n for n, _ in worst)}")
    return 0


def _nodes(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    nodes = tuple(n.strip() for n in text.split(",") if n.strip())
    if not nodes:
        raise CliError("--keep-float: give node ids separated by commas")
    return nodes
