"""``cnnstudio profile``: where a network's time goes on this machine: each node's measured time
next to its MACs, the whole module's latency and throughput, and the exported ONNX file's under
onnxruntime (engine/profile)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import CliError, load_target, parse_shape, positive_int

MAX_REPEATS = 10_000


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "profile", help="measure a network's latency per layer, as a module and as ONNX",
        description="Run the network on random inputs and measure it: each node's time per "
        "pass next to its MACs (low GMAC/s against the others: memory-bound or overhead), the "
        "whole module's latency and throughput, and the exported ONNX file's under "
        "onnxruntime. Warm-up passes first, then --repeats timed ones: medians with the "
        "10th-90th percentile spread.")
    p.add_argument("target", metavar="TARGET",
                   help="a preset name, a graph JSON file or a .cnnproj project")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda", "mps"),
                   help="where to run it (default cpu)")
    p.add_argument("--batch-size", metavar="B", type=positive_int, default=1,
                   help="samples per pass (default 1)")
    p.add_argument("--repeats", metavar="N", type=positive_int, default=20,
                   help="timed passes (default 20)")
    p.add_argument("--warmup", metavar="N", type=int, default=3,
                   help="passes before timing (default 3)")
    p.add_argument("--no-onnx", action="store_true", help="skip the ONNX measurement")
    p.add_argument("--input", metavar="C,H,W", help="per-sample input shape, e.g. 3,224,224")
    p.add_argument("--classes", metavar="N", type=positive_int,
                   help="number of classes of the classifier")
    p.add_argument("--top", metavar="K", type=positive_int,
                   help="list only the K slowest nodes")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def cmd_profile(args: argparse.Namespace) -> int:
    from ..engine.profile.layers import profile_graph
    from ..engine.training.trainer import TrainingError, pick_device
    from ..graph import analyze

    if args.repeats > MAX_REPEATS:
        raise CliError(f"--repeats must be at most {MAX_REPEATS}, not {args.repeats}")
    if not 0 <= args.warmup <= MAX_REPEATS:
        raise CliError(f"--warmup must be from 0 to {MAX_REPEATS}, not {args.warmup}")
    shape = parse_shape(args.input) if args.input else None
    graph, source = load_target(args.target, shape, args.classes)
    report = analyze(graph)
    if not report.ok:
        first = report.errors[0]
        raise CliError(f"the graph has errors ({first.node}: {first.message}); "
                       "`cnnstudio summary` lists them", code=1)
    try:
        device = pick_device(args.device)
    except TrainingError as exc:
        raise CliError(str(exc).replace("training.device", "--device")) from None
    profile = profile_graph(graph, device=device, batch_size=args.batch_size,
                            warmup=args.warmup, repeats=args.repeats, onnx=not args.no_onnx)
    if args.json:
        print(json.dumps({"source": source, **profile.to_dict()}))
        return 0
    print(text(profile, source, args.top))
    return 0


def text(profile: Any, source: str, top: int | None = None) -> str:
    """The profile as the terminal shows it."""
    def latency(found: Any) -> str:
        rate = found.batch_size * 1000 / found.median_ms
        return (f"{found.median_ms:.3f} ms per pass ({found.low_ms:.3f}–{found.high_ms:.3f}), "
                f"{rate:,.0f} samples/s")

    lines = [f"{source} on {profile.device}, batch {profile.batch_size}, input "
             f"{list(profile.input_shape)}",
             f"  module (PyTorch):   {latency(profile.model)}"]
    if profile.onnx is not None:
        ratio = profile.model.median_ms / profile.onnx.median_ms
        lines.append(f"  ONNX, {profile.onnx.device}: {latency(profile.onnx)}; "
                     f"{ratio:.2f}× the module's speed")
    elif profile.onnx_note:
        lines.append(f"  ONNX: not measured: {profile.onnx_note}")
    nodes = profile.slowest(top) if top else profile.nodes
    width = max([len(n.node) for n in nodes] + [4])
    kinds = max([len(n.type) for n in nodes] + [4])
    lines += ["", f"  {'node':<{width}}  {'type':<{kinds}}  {'ms':>8}  {'share':>6}  "
              f"{'MACs':>14}  {'GMAC/s':>7}"]
    for n in nodes:
        speed = f"{n.gmacs_per_s:7.2f}" if n.gmacs_per_s is not None else f"{'—':>7}"
        lines.append(f"  {n.node:<{width}}  {n.type:<{kinds}}  {n.median_ms:8.3f}  "
                     f"{100 * profile.share(n.node):5.1f}%  {n.macs:>14,}  {speed}")
    lines.append(f"\n  node times sum to {profile.node_total_ms:.3f} ms (each node is waited "
                 "for: the shares say where the time goes, the module's figure how long a "
                 "pass takes)")
    return "\n".join(lines)
