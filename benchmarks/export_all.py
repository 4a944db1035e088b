"""Export every preset in every format and verify each file: one row per (preset, format) with
the seconds, the largest absolute and relative differences and OK/FAIL, then a tally.

    python benchmarks/export_all.py                       # all presets, all formats
    python benchmarks/export_all.py --only resnet18 vgg11 --formats onnx pt2
    python benchmarks/export_all.py --input 3,96,96 --classes 10

Each preset is built at ``--input`` (default 3,64,64) when its graph accepts that size, else
at its own input size (the row says which). The ``python`` format runs only when
``cnnstudio.engine.codegen.model`` exists. Exit status 1 when any row fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnnstudio.engine import to_module  # noqa: E402
from cnnstudio.engine.export.exporter import FORMATS, ExportError, export_model  # noqa: E402
from cnnstudio.graph import analyze, presets  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these presets only")
    parser.add_argument("--formats", nargs="+", choices=list(FORMATS), metavar="FMT",
                        help=f"these formats only ({', '.join(FORMATS)})")
    parser.add_argument("--input", default="3,64,64", metavar="C,H,W",
                        help="input size to build the presets at (default 3,64,64)")
    parser.add_argument("--classes", type=int, metavar="N",
                        help="number of classes (default: each preset's own)")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    parser.add_argument("--rtol", type=float, default=1e-4, help="tolerance (default 1e-4)")
    return parser.parse_args(argv)


def preset_graph(name: str, shape: tuple[int, ...], classes: int | None):
    """The preset at ``shape`` when its graph accepts it, else at its own input size."""
    options = {} if classes is None else {"num_classes": classes}
    graph = presets.build(name, input_shape=shape, **options)
    if analyze(graph).ok:
        return graph, shape, ""
    graph = presets.build(name, **options)
    own = tuple(analyze(graph).input_shape)
    return graph, own, f"(own input {','.join(map(str, own))})"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shape = tuple(int(d) for d in args.input.split(","))
    names = args.only or presets.names()
    has_codegen = importlib.util.find_spec("cnnstudio.engine.codegen.model") is not None
    formats = args.formats or [f for f in FORMATS if f != "python" or has_codegen]
    if "python" not in formats and not args.formats:
        print("(python format skipped: cnnstudio.engine.codegen.model does not exist yet)")
    print(f"{'preset':<20} {'format':<12} {'seconds':>8} {'max_abs':>10} {'max_rel':>10}  result")
    tally = {"OK": 0, "FAIL": 0}
    failures: list[str] = []
    total = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cnnstudio-export-bench-") as folder:
        for name in names:
            try:
                graph, used, note = preset_graph(name, shape, args.classes)
                model = to_module(graph).eval()
            except Exception as exc:  # noqa: BLE001 - a preset that does not build is a row
                for fmt in formats:
                    tally["FAIL"] += 1
                    failures.append(f"{name} {fmt}: cannot build: {exc}")
                print(f"{name:<20} {'-':<12} {'-':>8} {'-':>10} {'-':>10}  FAIL cannot build: "
                      f"{exc}", flush=True)
                continue
            for fmt in formats:
                target = Path(folder) / f"{name}{FORMATS[fmt].suffix}"
                start = time.perf_counter()
                try:
                    result = export_model(model, used, fmt, target, graph=graph,
                                          opset=args.opset, rtol=args.rtol)
                except ExportError as exc:
                    seconds = time.perf_counter() - start
                    tally["FAIL"] += 1
                    failures.append(f"{name} {fmt}: {exc}")
                    print(f"{name:<20} {fmt:<12} {seconds:>8.2f} {'-':>10} {'-':>10}  FAIL "
                          f"{exc} {note}", flush=True)
                    continue
                tally["OK"] += 1
                print(f"{name:<20} {fmt:<12} {result.seconds:>8.2f} {result.max_abs:>10.2e} "
                      f"{result.max_rel:>10.2e}  OK {note}".rstrip(), flush=True)
                for p in result.paths:
                    p.unlink(missing_ok=True)
            del model
    print(f"\n{tally['OK']} OK, {tally['FAIL']} FAIL of {tally['OK'] + tally['FAIL']} exports "
          f"({len(names)} presets × {len(formats)} formats) in "
          f"{time.perf_counter() - total:.0f} s")
    for line in failures:
        print(f"  FAIL {line}")
    return 1 if tally["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
