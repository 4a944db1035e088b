"""How long each example project trains on this machine's CPU, for its configured epochs: the
figures the welcome page shows (cnnstudio/app/welcome.py TRAIN_TIMES).

    python benchmarks/example_train_times.py [--steps 6]

Offline examples (the digits) are trained for real with ``cnnstudio train --device cpu`` on a
copy, and their epochs' ``seconds`` summed. The download-backed ones (MNIST, CIFAR-10) cannot
be fetched everywhere, so their training step (forward, loss, backward, the configured
optimizer's step) is timed on random images of the project's input shape and batch size and
multiplied by the batches of the set's training split (and a forward pass per validation batch)
× epochs. Prints one line per example and, last, the table to paste into welcome.py.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from cnnstudio.engine import to_module
from cnnstudio.project import load_project
from cnnstudio.project.examples import examples

TRAIN_SPLIT = {"mnist": 60_000, "fashion_mnist": 60_000, "kmnist": 60_000, "cifar10": 50_000,
               "cifar100": 50_000, "svhn": 73_257}
"""Images in each torchvision set's training split (the validation share is taken from it)."""


def trained(path: Path) -> float:
    """Seconds of training, summed over the epochs of a real ``cnnstudio train`` on the CPU."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        shutil.copy(path, copy)
        log = Path(tmp) / "log.jsonl"
        subprocess.run([sys.executable, "-m", "cnnstudio", "train", str(copy), "--device", "cpu",
                        "--log-json", str(log)], check=True, stdout=subprocess.DEVNULL)
        events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return sum(e["seconds"] for e in events if e.get("event") == "epoch_end")


def extrapolated(path: Path, steps: int) -> float:
    """Seconds for the configured epochs, from ``steps`` timed training steps on random data."""
    project = load_project(path)
    cfg, data = project.training, project.dataset
    model = to_module(project.graph, seed=0)
    shape = next(n.params["shape"] for n in project.graph if n.type == "Input")
    classes = project.graph.metadata.get("origin", {}).get("options", {}).get("num_classes", 10)
    x = torch.randn(cfg.batch_size, *shape)
    y = torch.randint(0, classes, (cfg.batch_size,))
    opt_cfg = cfg.optimizer
    if opt_cfg.name == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=opt_cfg.lr, momentum=opt_cfg.momentum, nesterov=opt_cfg.nesterov,
            weight_decay=opt_cfg.weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=opt_cfg.lr)

    def step() -> None:
        out = model(x)
        loss = F.cross_entropy(out[0] if isinstance(out, tuple) else out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    step()  # warm-up: first-call allocations
    start = time.perf_counter()
    for _ in range(steps):
        step()
    per_step = (time.perf_counter() - start) / steps
    model.eval()
    with torch.no_grad():
        model(x)
        start = time.perf_counter()
        for _ in range(steps):
            model(x)
        per_eval = (time.perf_counter() - start) / steps
    total = TRAIN_SPLIT[data.source]
    val = int(total * data.val_fraction)
    train_batches = math.ceil((total - val) / cfg.batch_size)
    val_batches = math.ceil(val / cfg.batch_size)
    return cfg.epochs * (train_batches * per_step + val_batches * per_eval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="timed steps per download-backed "
                        "example")
    args = parser.parse_args()
    table = {}
    for path, name, _ in examples():
        source = load_project(path).dataset.source
        how = "trained" if source not in TRAIN_SPLIT else "extrapolated"
        seconds = trained(path) if how == "trained" else extrapolated(path, args.steps)
        table[path.name] = round(seconds)
        print(f"{name:40s} {seconds:9.1f} s  ({how}, {torch.get_num_threads()} CPU threads)",
              flush=True)
    print(f"\nMEASURED = {datetime.date.today().isoformat()!r}, "
          f"{torch.get_num_threads()} CPU threads")
    print("TRAIN_TIMES = " + json.dumps(table, indent=4))


if __name__ == "__main__":
    main()
