"""What sampling the gradient flow costs a run: epoch time with and without the GradientSample
events (4 a epoch, the trainer's default), on LeNet-5 and ResNet-18 on the digits, on the CPU.

    python benchmarks/gradflow_overhead.py [--models lenet5,resnet18] [--epochs 3] [--limit N]

Two measures, each as wall-clock seconds and as the process's CPU seconds (which a busy, shared
machine disturbs less): (1) the trainer's epochs with ``grad_samples=4`` against ``0``, runs
alternating, medians compared (the difference is a few steps' worth, so within the noise);
(2) the cost of one sample itself: a step watched by ``GradientFlow`` (norms, a copy of the
weights, the update's norm, one read-back) against a plain step, alternating, median of many,
which gives the overhead of 4 samples an epoch for any epoch length.

Measured on a shared 2-core machine (load average 4-10, so the epoch differences, -30 % to +20 %,
are noise): one sample costs LeNet-5 about 0.3-0.7 ms more than a plain step and ResNet-18
(11 M parameters, 21 layers) 56-88 ms with one thread (165 ms with two, contended). That is 1-1.5 %
of LeNet's 23-step digits epoch and 3.6-4 % of ResNet-18's 10-step one (--limit 600); the share
falls with the epoch's length (4 samples in a 938-step MNIST epoch: under 0.1 %).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from cnnstudio.engine import to_module
from cnnstudio.engine.data.load import load_data
from cnnstudio.engine.training.gradflow import SAMPLES_PER_EPOCH, GradientFlow
from cnnstudio.engine.training.trainer import EpochEnd, Trainer
from cnnstudio.graph import presets
from cnnstudio.project import DatasetConfig, TrainConfig

SHAPES = {"lenet5": (1, 32, 32), "resnet18": (1, 32, 32)}


def epoch_seconds(graph, data, batch_size: int, epochs: int,
                  samples: int) -> tuple[list[float], list[float]]:
    """Each epoch's training seconds (wall) and the CPU seconds from one epoch's end to the
    next (training, validation, checkpoint: the same work in both runs but the samples)."""
    config = TrainConfig.from_dict({"epochs": epochs, "batch_size": batch_size, "device": "cpu",
                                    "optimizer": {"name": "adam", "lr": 1e-3}}, "training")
    trainer = Trainer(graph, config, data, grad_samples=samples)
    wall, cpu, last = [], [], None
    for event in trainer.run():
        if isinstance(event, EpochEnd):
            now = time.process_time()
            wall.append(event.record.seconds)
            if last is not None:
                cpu.append(now - last)
            last = now
    return wall, cpu


def step_seconds(graph, data, batch_size: int, reps: int) -> dict[str, float]:
    """Median wall and CPU seconds of a plain optimizer step and of a watched one (with its
    read-back): keys plain, watched, plain_cpu, watched_cpu."""
    model = to_module(graph, seed=0)
    flow = GradientFlow(model, graph)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = next(iter(data.train.batches(batch_size, shuffle=False, seed=0, epoch=0)))
    F.cross_entropy(model(x), y).backward()
    times: dict[str, list[float]] = {"plain": [], "watched": [], "plain_cpu": [],
                                     "watched_cpu": []}
    for _ in range(reps):
        start, cpu = time.perf_counter(), time.process_time()
        opt.step()
        times["plain"].append(time.perf_counter() - start)
        times["plain_cpu"].append(time.process_time() - cpu)
        start, cpu = time.perf_counter(), time.process_time()
        watch = flow.watch(opt)
        opt.step()
        watch.sample(1, 1, 1)
        times["watched"].append(time.perf_counter() - start)
        times["watched_cpu"].append(time.process_time() - cpu)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lenet5,resnet18")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reps", type=int, default=40, help="steps timed each way")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch's CPU threads (1 on a busy machine: idle threads spin)")
    parser.add_argument("--limit", type=int, default=None,
                        help="digits images to use (default all 1,797)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"CPU, {torch.get_num_threads()} threads, batch {args.batch_size}, "
          f"{SAMPLES_PER_EPOCH} samples an epoch, Adam")
    for name in args.models.split(","):
        shape = SHAPES[name]
        graph = presets.build(name, num_classes=10, input_shape=shape)
        data = load_data(DatasetConfig(source="digits", val_fraction=0.2, limit=args.limit),
                         shape, torch.device("cpu"))
        steps = data.train.num_batches(args.batch_size)
        runs: dict[int, tuple[list[float], list[float]]] = {0: ([], []),
                                                            SAMPLES_PER_EPOCH: ([], [])}
        for _ in range(args.rounds):
            for samples, (wall, cpu) in runs.items():
                w, c = epoch_seconds(graph, data, args.batch_size, args.epochs, samples)
                wall += w
                cpu += c
        (w_off, c_off), (w_on, c_on) = ([statistics.median(v) for v in runs[k]] for k in runs)
        step = step_seconds(graph, data, args.batch_size, args.reps)
        layers = len(GradientFlow(to_module(graph, seed=0), graph).nodes)
        print(f"{name} {list(shape)}: {len(data.train):,} training images, {steps} steps an "
              f"epoch, {layers} layers sampled")
        print(f"  epoch without samples: median {w_off:7.3f} s wall, {c_off:7.3f} s CPU")
        print(f"  epoch with samples:    median {w_on:7.3f} s wall, {c_on:7.3f} s CPU   "
              f"difference {100 * (w_on / w_off - 1):+.1f} % wall, "
              f"{100 * (c_on / c_off - 1):+.1f} % CPU")
        for kind, epoch in (("", w_off), ("_cpu", c_off)):
            extra = SAMPLES_PER_EPOCH * (step["watched" + kind] - step["plain" + kind])
            print(f"  one step {1000 * step['plain' + kind]:.2f} ms, watched "
                  f"{1000 * step['watched' + kind]:.2f} ms {kind[1:] or 'wall'}: "
                  f"{SAMPLES_PER_EPOCH} samples add {1000 * extra:.1f} ms an epoch = "
                  f"{100 * extra / epoch:.2f} % of this epoch")


if __name__ == "__main__":
    main()
