"""The trainer's training throughput against a minimal hand-written PyTorch loop on the same
model, data and batch size, printed as a ratio (issue: the trainer keeps ≥ 97 %).

    python benchmarks/train_overhead.py [--preset lenet5] [--batch-size 64] [--epochs 3]

The hand-written loop is the fastest plain loop: the training images already normalised as one
float tensor on the device, a random permutation per epoch, forward, cross-entropy, backward,
step. The trainer runs the whole way users run it (its data path, metrics, schedule, events).
Both train from the same initial weights; runs alternate, and the medians are compared.
On a GPU (--device cuda) it also compares the device-resident data path with a DataLoader.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from cnnstudio.engine import to_module
from cnnstudio.engine.data.load import load_data
from cnnstudio.engine.training.trainer import EpochEnd, Trainer, pick_device
from cnnstudio.graph import presets
from cnnstudio.project import DatasetConfig, TrainConfig


def hand_loop(model, x, y, batch_size: int, epochs: int, device) -> list[float]:
    """Samples per second of each epoch of the plainest training loop."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    rates = []
    n = len(y)
    for epoch in range(epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch)).to(device)
        start = time.perf_counter()
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(n / (time.perf_counter() - start))
    return rates


def trainer_rates(graph, data, batch_size: int, epochs: int, device: str) -> list[float]:
    config = TrainConfig.from_dict({"epochs": epochs, "batch_size": batch_size,
                                    "device": device, "optimizer": {"name": "adam",
                                                                    "lr": 1e-3}}, "training")
    trainer = Trainer(graph, config, data)
    return [e.record.samples_per_s for e in trainer.run() if isinstance(e, EpochEnd)]


def dataloader_loop(model, x, y, batch_size: int, epochs: int, device) -> list[float]:
    """The same loop fed by a DataLoader from CPU tensors (the usual PyTorch way)."""
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x.cpu(), y.cpu()),
                                         batch_size=batch_size, shuffle=True,
                                         pin_memory=device.type == "cuda")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(len(y) / (time.perf_counter() - start))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="lenet5")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    device = pick_device(args.device)
    graph = presets.build(args.preset, num_classes=10)
    shape = presets.get(args.preset).options()["input_shape"]
    data = load_data(DatasetConfig(source="digits", val_fraction=0.2), shape, device)
    split = data.train
    x = torch.cat([xb for xb, _ in split.batches(4096, shuffle=False, seed=0, epoch=0)])
    y = split.labels.to(device)
    hand, ours, loader = [], [], []
    for _ in range(args.rounds):
        model = to_module(graph, seed=0).to(device)
        hand += hand_loop(model, x, y, args.batch_size, args.epochs, device)[1:]
        ours += trainer_rates(graph, data, args.batch_size, args.epochs, args.device)[1:]
        if device.type == "cuda":
            model = to_module(graph, seed=0).to(device)
            loader += dataloader_loop(model, x, y, args.batch_size, args.epochs, device)[1:]
    h, t = statistics.median(hand), statistics.median(ours)
    print(f"{args.preset} on digits ({len(y):,} training images, {list(data.input_shape)}), "
          f"batch {args.batch_size}, {device}, {args.rounds} rounds × {args.epochs - 1} "
          "timed epochs")
    print(f"hand-written loop: median {h:9,.0f} samples/s")
    print(f"trainer:           median {t:9,.0f} samples/s   ratio {t / h:.3f}")
    if loader:
        d = statistics.median(loader)
        print(f"DataLoader loop:   median {d:9,.0f} samples/s   device-resident speed-up "
              f"{h / d:.2f}×")


if __name__ == "__main__":
    main()
