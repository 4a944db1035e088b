"""What a sweep costs on the digits example: the training throughput of a trial against a plain
``cnnstudio train`` run of the same configuration (issue: a trial keeps ≥ 95 % of its
samples/s), and trials per hour with 1 and 2 worker processes.

    python benchmarks/sweep_speed.py [--epochs 3] [--repeats 3] [--threads N]
                                     [--trials 8] [--sweep-epochs 5]

Throughput: the example's own settings, trained by a plain Session (what ``cnnstudio train``
runs) and as a trial of a study whose space pins the same settings; runs alternate and the
medians of the per-epoch samples/s are compared. Trials per hour: ``run_sweep`` over the
example's default space (random sampler, --sweep-epochs per trial) with --jobs 1, then 2, each
in a fresh folder, timed from start to the last trial saved (the workers' start, a few seconds
of imports each, included).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from cnnstudio.engine.sweep.runner import run_sweep
from cnnstudio.engine.training.session import Session
from cnnstudio.engine.training.trainer import EpochEnd
from cnnstudio.project import load_project, save_project
from cnnstudio.project.sweep import Dimension, SweepSpace, store_space

EXAMPLE = Path(__file__).resolve().parents[1] / "projects" / "lenet5-digits.cnnproj"


def copy_example(folder: Path, name: str, epochs: int) -> Path:
    path = folder / f"{name}.cnnproj"
    shutil.copy(EXAMPLE, path)
    project = load_project(path)
    project.training.epochs = epochs
    project.training.device = "cpu"
    save_project(project, path)
    return path


def plain_rates(path: Path) -> list[float]:
    session = Session(load_project(path), None, base_dir=path.parent)
    return [e.record.samples_per_s for e in session.events() if isinstance(e, EpochEnd)]


def trial_rates(path: Path, study: str) -> list[float]:
    project = load_project(path)
    lr = project.training.optimizer.lr  # a space that pins the example's own settings
    store_space(project, SweepSpace([Dimension("optimizer.lr", "choice", choices=[lr])],
                                    sampler="random", pruner="none"))
    save_project(project, path)
    run_sweep(path, 1, study_name=study)
    run = load_project(path).runs[-1]
    return [e.samples_per_s for e in run.epochs]


def trials_per_hour(folder: Path, jobs: int, trials: int, epochs: int) -> float:
    path = copy_example(folder, f"jobs{jobs}", epochs)
    start = time.perf_counter()
    run_sweep(path, trials, jobs=jobs, sampler="random")
    return trials / (time.perf_counter() - start) * 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each run")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--trials", type=int, default=8, help="trials of each sweep timed")
    parser.add_argument("--sweep-epochs", type=int, default=5, help="epochs of each trial "
                        "of the timed sweeps (default: the example's own 5)")
    parser.add_argument("--threads", type=int, help="torch threads of this process (default: "
                        "torch's choice; workers of --jobs 2 take half the cores each)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = copy_example(folder, "speed", args.epochs)
        plain_rates(path)  # warm up: imports, the dataset, the allocator
        plain, trial = [], []
        for i in range(args.repeats):
            plain += plain_rates(path)
            trial += trial_rates(path, f"speed-{i}")
        p, t = statistics.median(plain), statistics.median(trial)
        print(f"plain Session run:  {p:10,.0f} samples/s (median of {len(plain)} epochs)")
        print(f"a sweep's trial:    {t:10,.0f} samples/s (median of {len(trial)} epochs)")
        print(f"trial / plain:      {t / p:10.3f}")
        for jobs in (1, 2):
            rate = trials_per_hour(folder, jobs, args.trials, args.sweep_epochs)
            print(f"trials per hour, {jobs} job{'s' if jobs > 1 else ' '}: {rate:8,.0f} "
                  f"({args.trials} trials of {args.sweep_epochs} epochs, default space, "
                  "median pruner, worker start-up included)")


if __name__ == "__main__":
    main()
