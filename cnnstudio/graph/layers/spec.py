"""The shape of a layer specification: parameters, ports and the rules every layer declares.

A spec is the single source of truth for one layer type (DESIGN.md §1.4): the palette, the
inspector, the validator, the module builder and the file format all read it. Specs are plain
Python; "how torch builds it" is declared as a class path plus keyword arguments, so that the
core never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]

MAX_INT = 2**31 - 1
"""The largest integer a layer parameter may be (channels, features, sizes, strides): no
layer needs more, and torch's C++ side overflows (a stack trace) on ints past 64 bits."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""Default of a parameter the user must set (e.g. ``out_channels``)."""


class LayerError(ValueError):
    """A layer cannot work with the inputs or parameters it was given; the message says why."""


@dataclass(frozen=True, slots=True)
class Param:
    """One constructor argument of a layer type.

    kind is one of: ``int``, ``float``, ``bool``, ``choice`` (one of ``choices``), ``pair``
    (an int or ``[h, w]``), ``shape`` (a list of ints), ``pad4`` (an int or
    ``[left, right, top, bottom]``), ``scale`` (a number or ``[h, w]``). ``words`` are strings
    accepted besides the kind (``'same'``); ``nullable`` accepts ``None``; ``none_items`` lets
    a ``pair`` hold ``None`` entries (adaptive pooling keeps that axis).
    """

    name: str
    kind: str
    default: Any = REQUIRED
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    nullable: bool = False
    none_items: bool = False
    exclusive_min: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def check(self, value: Any) -> str | None:
        """Return why ``value`` is not acceptable, or None when it is."""
        if value is None:
            return None if self.nullable else "must be set"
        if isinstance(value, str) and value in self.words:
            return None
        kind = self.kind
        if kind == "bool":
            return None if isinstance(value, bool) else f"must be true or false, not {value!r}"
        if kind == "choice":
            if value in self.choices:
                return None
            return f"must be one of {', '.join(map(repr, self.choices))}, not {value!r}"
        if kind in ("int", "float"):
            return self._check_number(value, integer=kind == "int")
        if kind in ("pair", "scale", "pad4", "shape"):
            integer = kind != "scale"
            if _is_number(value, integer):
                if kind == "shape":
                    return "must be a list of integers, e.g. [1, 28, 28]"
                return self._check_number(value, integer)
            counts = {"pair": (2,), "scale": (2,), "pad4": (4,), "shape": (1, 2, 3)}[kind]
            if not isinstance(value, (list, tuple)) or len(value) not in counts:
                return self._form_message(kind)
            for item in value:
                if item is None and self.none_items:
                    continue
                if not _is_number(item, integer):
                    return self._form_message(kind)
                problem = self._check_number(item, integer)
                if problem:
                    return problem
            return None
        raise AssertionError(f"unknown parameter kind {kind!r}")

    def _form_message(self, kind: str) -> str:
        words = f" or {' or '.join(map(repr, self.words))}" if self.words else ""
        if kind == "pair":
            return f"must be an integer or a pair [h, w] of integers{words}"
        if kind == "scale":
            return "must be a number or a pair [h, w] of numbers"
        if kind == "pad4":
            return "must be an integer or [left, right, top, bottom]"
        return "must be a list of 1 to 3 positive integers, e.g. [3, 224, 224]"

    def _check_number(self, value: Any, integer: bool) -> str | None:
        if not _is_number(value, integer):
            what = "an integer" if integer else "a number"
            words = f" or {' or '.join(map(repr, self.words))}" if self.words else ""
            return f"must be {what}{words}, not {value!r}"
        if value != value:  # NaN
            return "must be a number, not NaN"
        if self.min is not None:
            if self.exclusive_min and value <= self.min:
                return f"must be greater than {_fmt(self.min)} (got {_fmt(value)})"
            if value < self.min:
                return f"must be at least {_fmt(self.min)} (got {_fmt(value)})"
        if self.max is not None and value > self.max:
            return f"must be at most {_fmt(self.max)} (got {_fmt(value)})"
        if integer and abs(value) > MAX_INT:  # past torch's C++ ints long before any memory
            bound = f"at most {MAX_INT:,}" if value > 0 else f"at least {-MAX_INT:,}"
            return f"must be {bound} (got {_digits(value)})"
        return None


def _is_number(value: Any, integer: bool) -> bool:
    if isinstance(value, bool):
        return False
    if integer:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and value not in (float("inf"), float("-inf"))


def _fmt(x: float) -> str:
    if isinstance(x, int):  # not float(x): an int past a float's range would overflow
        return str(x)
    return str(int(x)) if float(x).is_integer() else repr(x)


def _digits(n: int) -> str:
    """A huge integer for a message: as it is up to 20 digits, else its length."""
    digits = len(str(abs(n))) if abs(n).bit_length() < 10_000 else None
    if digits is not None and digits <= 20:
        return str(n)
    return f"a {'negative ' if n < 0 else ''}number of {digits or 'thousands of'} digits"


def pair(value: Any) -> tuple[Any, Any]:
    """An int or a 2-list as an (h, w) tuple."""
    if isinstance(value, (list, tuple)):
        return value[0], value[1]
    return value, value


# A receptive-field rule: how one layer maps (r, j, start) per spatial axis.
# None: the layer keeps the receptive field (pointwise layers, BatchNorm, Flatten ...).
# WHOLE: every output sees the whole input (global pooling, Linear).
# A Window per axis: an (effective kernel, stride, padding-before) sliding window.
WHOLE = "whole"


@dataclass(frozen=True, slots=True)
class Window:
    kernel: float
    stride: float
    pad: float


RFRule = None | str | tuple[Window, Window]


class Out:
    """What a layer does to one sample: its output shape, parameters, buffers, MACs, RF rule."""

    __slots__ = ("shape", "params", "buffers", "macs", "rf", "notes")

    def __init__(
        self,
        shape: Shape,
        params: int = 0,
        buffers: int = 0,
        macs: int = 0,
        rf: RFRule = None,
        notes: list[str] | None = None,
    ) -> None:
        self.shape = shape
        self.params = params
        self.buffers = buffers
        self.macs = macs
        self.rf = rf
        self.notes = notes


class LayerSpec:
    """Base of all layer types. Subclasses set the class attributes and override ``infer``."""

    type: str = ""
    category: str = ""
    help: str = ""
    params: tuple[Param, ...] = ()
    min_inputs: int = 1
    max_inputs: int | None = 1
    ordered_inputs: bool = False
    torch_class: str | None = None
    """Dotted path of the class that builds it (``torch.nn.Conv2d``), or ``cnnstudio:Add`` for
    the engine's own merge modules; None for nodes that build nothing (Input, Output)."""

    def __init__(self) -> None:
        self.param_map: dict[str, Param] = {p.name: p for p in self.params}
        self.defaults: dict[str, Any] = {p.name: p.default for p in self.params}

    # -- parameters --------------------------------------------------------------------------
    def resolve(self, given: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Fill defaults and check every value; return (params, problems). The params are
        shared between calls: read them, never change them."""
        if not given:  # most nodes of a big network (BatchNorm, ReLU) set nothing
            cached = self.__dict__.get("_resolved_defaults")
            if cached is None:
                cached = self._resolve({})
                self._resolved_defaults = cached
            return cached
        return self._resolve(given)

    def _resolve(self, given: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        problems: list[str] = []
        resolved = dict(self.defaults)
        for name, value in given.items():
            spec = self.param_map.get(name)
            if spec is None:
                problems.append(f"unknown parameter {name!r} for {self.type}")
                continue
            resolved[name] = value
        for spec in self.params:
            value = resolved[spec.name]
            if value is REQUIRED:
                problems.append(f"{spec.name} must be set ({spec.help.rstrip('.')})")
                continue
            problem = spec.check(value)
            if problem:
                problems.append(f"{spec.name} {problem}")
        if not problems:
            problems.extend(self.check(resolved))
        return resolved, problems

    def check(self, p: dict[str, Any]) -> list[str]:
        """Checks between parameters that do not depend on the input (override)."""
        return []

    # -- rules -------------------------------------------------------------------------------
    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        """Shape, counts and RF rule for inputs ``ins``; raise LayerError when impossible."""
        raise NotImplementedError

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        """Each number as the formula that produced it, with the values filled in."""
        lines = {"output_shape": f"{_shape(ins[0]) if ins else '–'} → {_shape(out.shape)}"}
        lines["params"] = f"{out.params:,} (this layer has no weights)" if not out.params else \
            f"{out.params:,}"
        return lines

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        """Constructor keyword arguments of ``torch_class``, input sizes filled in."""
        return {k: _tupled(v) for k, v in p.items()}

    def torch_class_for(self, kwargs: dict[str, Any]) -> str | None:
        """The class built with ``kwargs`` (torch_kwargs' result): ``torch_class``, unless an
        option needs another (a Conv2d with weight standardisation)."""
        return self.torch_class


def _tupled(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _shape(shape: Shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def need_rank(ins: list[Shape], ranks: tuple[int, ...], what: str) -> Shape:
    """The single input, which must have one of ``ranks`` dimensions."""
    shape = ins[0]
    if len(shape) not in ranks:
        wanted = " or ".join(_describe_rank(r) for r in ranks)
        raise LayerError(
            f"expects {wanted} input, got {_shape(shape)}; {what}"
        )
    return shape


def _describe_rank(rank: int) -> str:
    return {1: "a flat [F]", 2: "a [C, L]", 3: "an image-like [C, H, W]"}[rank]


def sample_axis(dim: int, shape: Shape) -> int:
    """The per-sample axis of a torch ``dim``, which counts the batch as 0."""
    rank = len(shape) + 1
    if not -rank <= dim < rank:
        raise LayerError(f"dim={dim} is out of range for a {rank}-dimensional batch "
                         f"{['N', *shape]}")
    axis = dim % rank
    if axis == 0:
        raise LayerError(f"dim={dim} is the batch axis: use dim=1 (channels or features)")
    return axis - 1
