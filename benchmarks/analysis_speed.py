"""Median time of analyze() on the ResNet-152 preset: a full analysis (nothing cached) and a
re-analysis after changing one parameter, as the editor does on every edit.

    python benchmarks/analysis_speed.py [--repeat N] [--preset NAME]
"""

from __future__ import annotations

import argparse
import statistics
import time

from cnnstudio.graph import analyze, presets


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--preset", default="resnet152")
    args = parser.parse_args()

    graph = presets.build(args.preset)
    nodes = len(graph)

    def full() -> None:
        graph.cache.clear()
        analyze(graph)

    analyze(graph)
    target = next(n.id for n in graph if n.type == "Conv2d" and "layer3" in n.id) \
        if any("layer3" in n.id for n in graph) else next(n.id for n in graph
                                                           if n.type == "Conv2d")
    state = {"out": graph.node(target).params["out_channels"]}

    def edit() -> None:
        state["out"] = state["out"] + 1 if state["out"] < 512 else 64
        graph.set_param(target, "out_channels", state["out"])
        analyze(graph)

    full_ms = median_ms(full, args.repeat)
    edit_ms = median_ms(edit, args.repeat)
    print(f"{args.preset}: {nodes} nodes, {args.repeat} runs each")
    print(f"full analysis (cold cache):          median {full_ms:6.2f} ms")
    print(f"re-analysis after one edit ({target}): median {edit_ms:6.2f} ms")


if __name__ == "__main__":
    main()
