"""A module's measured latency: warm-up passes, then timed forward passes on the device, the
median and the spread of them. A sweep's ``latency_ms`` objective reads it; one number per
pass, not a mean, because a noisy shared machine makes the mean drift with its outliers."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

WARMUP = 3
REPEATS = 20


@dataclass(frozen=True)
class Latency:
    """Milliseconds per forward pass of a batch of ``batch_size``."""

    median_ms: float
    low_ms: float
    """The 10th percentile: what the machine gives when nothing else runs."""
    high_ms: float
    """The 90th percentile."""
    batch_size: int
    device: str

    @property
    def per_sample_ms(self) -> float:
        return self.median_ms / self.batch_size


def measure(module: torch.nn.Module, input_shape: tuple[int, ...], device: str | torch.device,
            *, batch_size: int = 1, warmup: int = WARMUP, repeats: int = REPEATS) -> Latency:
    """Time ``module`` (put in eval mode, no gradients) on random inputs of ``[batch_size,
    *input_shape]``; the module is left where it was and in the mode it had."""
    device = torch.device(device)
    if repeats < 1 or warmup < 0 or batch_size < 1:
        raise ValueError("repeats and batch_size must be at least 1, warmup at least 0")
    was_training = module.training
    x = torch.randn(batch_size, *input_shape, device=device)
    times = []
    try:
        module.eval()
        with torch.inference_mode():
            for i in range(warmup + repeats):
                _sync(device)
                start = time.perf_counter()
                module(x)
                _sync(device)
                if i >= warmup:
                    times.append((time.perf_counter() - start) * 1000)
    finally:
        module.train(was_training)
    return of_times(times, batch_size, str(device))


def spread(times: list[float]) -> tuple[float, float, float]:
    """The median, 10th and 90th percentile of measured times."""
    cuts = statistics.quantiles(times, n=10, method="inclusive") if len(times) > 1 else \
        [times[0]] * 9  # inclusive: within the measured times, even for a few passes
    return statistics.median(times), cuts[0], cuts[-1]


def of_times(times: list[float], batch_size: int, device: str) -> Latency:
    """A Latency from the milliseconds of timed passes."""
    return Latency(*spread(times), batch_size, device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
