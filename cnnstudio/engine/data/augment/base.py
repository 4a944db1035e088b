"""The pieces every augmentation step is made of: ``Draw`` (one batch's randomness),
``Params`` (reading a step's parameters, with messages that name the step and the parameter)
and ``Step`` (the base class; ``p`` is the chance per sample). See ``augment`` for the steps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import DatasetError


class Draw:
    """The randomness of one batch: ``rng`` (numpy) for per-sample parameters, ``gen`` (torch,
    on ``device``) for per-pixel values."""

    def __init__(self, seed: int, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.rng = np.random.default_rng(seed)
        try:
            self.gen = torch.Generator(device=self.device)
        except RuntimeError:  # a backend without its own generators: draw on the CPU
            self.gen = torch.Generator()
        self.gen.manual_seed(seed & 0x7FFF_FFFF_FFFF_FFFF)

    def tensor(self, values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(values, dtype=np.float32), device=self.device)

    def uniform(self, lo: float, hi: float, n: int) -> torch.Tensor:
        return self.tensor(self.rng.uniform(lo, hi, n))

    def randn(self, shape: Sequence[int]) -> torch.Tensor:
        return torch.randn(tuple(shape), generator=self.gen, device=self.gen.device) \
            .to(self.device)

    def rand(self, shape: Sequence[int]) -> torch.Tensor:
        return torch.rand(tuple(shape), generator=self.gen, device=self.gen.device) \
            .to(self.device)


class Params:
    """Reads one augmentation's parameters; every complaint names the augmentation and the
    parameter."""

    def __init__(self, name: str, given: dict[str, Any], known: Iterable[str]) -> None:
        self.name = name
        self.given = dict(given or {})
        known = list(known)
        for key in self.given:
            if key not in known:
                raise DatasetError(f"augmentation {name}: unknown parameter {key!r} (it takes "
                                   f"{', '.join(known)})")

    def fail(self, key: str, message: str) -> DatasetError:
        return DatasetError(f"augmentation {self.name}: {key} {message}, found "
                            f"{self.given.get(key)!r}")

    def number(self, key: str, default: float, lo: float | None = None,
               hi: float | None = None, integer: bool = False) -> Any:
        v = self.given.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v \
                or (integer and int(v) != v):
            raise self.fail(key, "must be " + ("an integer" if integer else "a number"))
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.fail(key, f"must be in [{lo if lo is not None else '-inf'}, "
                                 f"{hi if hi is not None else 'inf'}]")
        return int(v) if integer else float(v)

    def boolean(self, key: str, default: bool) -> bool:
        v = self.given.get(key, default)
        if not isinstance(v, bool):
            raise self.fail(key, "must be true or false")
        return v

    def choice(self, key: str, default: str, options: Sequence[str]) -> str:
        v = self.given.get(key, default)
        if v not in options:
            raise self.fail(key, f"must be one of {', '.join(options)}")
        return v

    def numbers(self, key: str, default: Any, sizes: Sequence[int], lo: float | None = None,
                hi: float | None = None) -> list[float]:
        """A number or a list of numbers, of one of the given lengths (1 = a plain number)."""
        v = self.given.get(key, default)
        items = v if isinstance(v, (list, tuple)) else [v]
        if len(items) not in sizes or any(
                isinstance(i, bool) or not isinstance(i, (int, float)) or i != i for i in items):
            shapes = " or ".join("a number" if s == 1 else f"a list of {s} numbers"
                                 for s in sizes)
            raise self.fail(key, f"must be {shapes}")
        if any((lo is not None and i < lo) or (hi is not None and i > hi) for i in items):
            raise self.fail(key, f"must be within [{lo if lo is not None else '-inf'}, "
                                 f"{hi if hi is not None else 'inf'}]")
        return [float(i) for i in items]

    def interval(self, key: str, default: Any, *, around: float | None = None,
                 lo: float | None = None, hi: float | None = None) -> tuple[float, float]:
        """[min, max]; a single number v means [around - v, around + v] (clipped at ``lo``)
        when ``around`` is given, else the fixed value v."""
        items = self.numbers(key, default, (1, 2), None, None)
        if len(items) == 1:
            v = items[0]
            if around is not None:
                if v < 0:
                    raise self.fail(key, "must not be negative")
                a, b = around - v, around + v
                a = a if lo is None else max(lo, a)
            else:
                a = b = v
        else:
            a, b = items
        if a > b:
            raise self.fail(key, "must be [min, max] with min <= max")
        if (lo is not None and a < lo) or (hi is not None and b > hi):
            raise self.fail(key, f"must be within [{lo if lo is not None else '-inf'}, "
                                 f"{hi if hi is not None else 'inf'}]")
        return a, b

    def fill(self, key: str = "fill", default: Any = 0.0,
             allow_random: bool = False) -> list[float] | str:
        v = self.given.get(key, default)
        if allow_random and v == "random":
            return "random"
        try:
            return self.numbers(key, default, (1, 3), 0.0, 1.0)
        except DatasetError:
            raise self.fail(key, "must be a value in [0, 1] (0 black, 1 white) or one per "
                                 "channel" + (', or "random"' if allow_random else "")) from None


class Step:
    """One augmentation. ``defaults_p`` is the default chance per sample."""

    name = ""
    default_p = 1.0
    params: tuple[str, ...] = ()

    def __init__(self, given: dict[str, Any]) -> None:
        self.args = Params(self.name, given, (*self.params, "p"))
        self.p = self.args.number("p", self.default_p, 0.0, 1.0)
        self.shape: tuple[int, int, int] = (0, 0, 0)
        self.setup(self.args)

    def setup(self, a: Params) -> None:
        pass

    def bind(self, shape: tuple[int, int, int]) -> None:
        """Checks the parameters against the image shape ``(C, H, W)``."""
        self.shape = shape

    def __call__(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        n = x.shape[0]
        if self.p >= 1.0:
            return self.apply(x, draw)
        chosen = np.flatnonzero(draw.rng.random(n) < self.p)
        if len(chosen) == 0:
            return x
        if len(chosen) == n:
            return self.apply(x, draw)
        idx = torch.as_tensor(chosen, device=x.device)
        out = x.clone()
        out[idx] = self.apply(x[idx], draw)
        return out

    def apply(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        raise NotImplementedError


def fill_tensor(fill: list[float], c: int, like: torch.Tensor) -> torch.Tensor:
    values = fill * c if len(fill) == 1 else fill
    if len(values) != c:
        values = [sum(values) / len(values)] * c
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, c, 1, 1)
