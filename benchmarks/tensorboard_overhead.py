"""What `--tensorboard` costs a run: the digits example trained with and without a
TensorBoardLog, alternately, on the same data and device; the median samples/s over the epochs
after the first (what `cnnstudio train` prints), the wall time of the whole run (which also
holds the one-off graph trace and the predictions at the end), and their ratios; then the
seconds spent inside the log itself, by event, which a busy machine's noise does not blur.

    python benchmarks/tensorboard_overhead.py [--epochs N] [--repeat R] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from cnnstudio.engine.inference.model import project_data
from cnnstudio.engine.training.session import Session
from cnnstudio.engine.training.tblog import TensorBoardLog, logged
from cnnstudio.project import load_project

EXAMPLE = Path(__file__).resolve().parents[1] / "projects" / "lenet5-digits.cnnproj"


class TimedLog(TensorBoardLog):
    """A TensorBoardLog that adds up the seconds spent in ``feed`` for each kind of event."""

    spent: dict[str, float] = {}

    def feed(self, event: object) -> None:
        start = time.perf_counter()
        super().feed(event)
        kind = event.event
        self.spent[kind] = self.spent.get(kind, 0.0) + time.perf_counter() - start


def one_run(data: object, epochs: int, device: str, folder: Path | None
            ) -> tuple[list[float], float]:
    """(samples/s of each epoch, seconds of the whole run)."""
    project = load_project(EXAMPLE)
    project.training.epochs, project.training.device = epochs, device
    session = Session(project, None, data=data)
    log = TimedLog(folder, project, session=session) if folder is not None else None
    start = time.perf_counter()
    rates = [e.record.samples_per_s for e in logged(session.events(), log)
             if e.event == "epoch_end"]
    return rates, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    project = load_project(EXAMPLE)
    data = project_data(project, device=args.device)
    results: dict[str, tuple[list[float], list[float]]] = {"plain": ([], []),
                                                          "tensorboard": ([], [])}
    with tempfile.TemporaryDirectory() as tmp:
        one_run(data, 1, args.device, None)  # warm up (first-call costs of torch)
        for i in range(args.repeat):
            for name in ("plain", "tensorboard"):
                folder = Path(tmp) / f"r{i}" if name == "tensorboard" else None
                rates, seconds = one_run(data, args.epochs, args.device, folder)
                results[name][0].extend(rates[1:])
                results[name][1].append(seconds)
    print(f"digits example (LeNet-5, batch {project.training.batch_size}), {args.epochs} "
          f"epochs × {args.repeat} runs each, device {args.device}")
    med = {name: (statistics.median(r), statistics.median(s))
           for name, (r, s) in results.items()}
    for name, (rate, seconds) in med.items():
        print(f"{name:12s} median {rate:9,.0f} samples/s   run {seconds:6.2f} s")
    print(f"ratio with/without: samples/s {med['tensorboard'][0] / med['plain'][0]:.3f}, "
          f"run time {med['tensorboard'][1] / med['plain'][1]:.3f}")
    runs = sum(1 for _ in results["tensorboard"][1])
    total = sum(results["tensorboard"][1])
    print(f"inside the log, per run ({runs} runs): "
          + ", ".join(f"{k} {v / runs * 1000:.0f} ms" for k, v in TimedLog.spent.items()
                      if v / runs >= 0.0005)
          + f"; in all {sum(TimedLog.spent.values()) / total:.2%} of the run time")


if __name__ == "__main__":
    main()
