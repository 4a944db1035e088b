"""Short texts the canvas draws: a layer's key parameters, shapes and counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...graph import layers


def count(n: int | float) -> str:
    """1234 → '1.2k', 23_500_000 → '23.5M'."""
    n = float(n)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= limit * 0.9995:  # 999,999,999 is '1.0G', not '1000M'
            value = n / limit
            return f"{value:.0f}{suffix}" if value >= 100 else f"{value:.1f}{suffix}"
    return f"{n:.0f}"


BIG = 100_000  # from here on a size is written with an SI suffix (999999999 → '1.0G')


def size(n: Any) -> str:
    """A size as written on a box: exact while short, with an SI suffix when huge."""
    return count(n) if isinstance(n, int) and abs(n) >= BIG else str(n)


def shape_text(shape: Any) -> str:
    if shape is None:
        return "?"
    sep = "," if any(isinstance(s, int) and abs(s) >= BIG for s in shape) else ", "  # room
    return "[" + sep.join(size(s) for s in shape) + "]"


def _pair(value: Any, sep: str = "×") -> str:
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and value[0] == value[1]:
            return f"{value[0]}{sep}{value[0]}"
        return sep.join("–" if v is None else _num(v) for v in value)
    return f"{_num(value)}{sep}{_num(value)}"


def _scalar(value: Any) -> str:
    """A pair parameter as one number when both axes agree."""
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and value[0] == value[1]:
            return _num(value[0])
        return "×".join(_num(v) for v in value)
    return _num(value)


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return size(v)


def _is(value: Any, default: Any) -> bool:
    """Whether a parameter equals its default (a pair [1, 1] equals 1)."""
    if value == default:
        return True
    if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == value[1]:
        return value[0] == default
    return False


def _window(p: dict[str, Any], kernel_first: bool = True) -> list[str]:
    parts = []
    if "kernel_size" in p:
        parts.append(_pair(p["kernel_size"]))
    stride = p.get("stride")
    if stride is not None and not _is(stride, 1) and not (
            "kernel_size" in p and stride == p["kernel_size"] and not kernel_first):
        parts.append("/" + _scalar(stride))
    pad = p.get("padding", 0)
    if isinstance(pad, str):
        parts.append(pad)
    elif not _is(pad, 0):
        parts.append("p" + _scalar(pad))
    if not _is(p.get("dilation", 1), 1):
        parts.append("d" + _scalar(p["dilation"]))
    return parts


def _conv(p: dict[str, Any]) -> str:
    head = f"{_num(p.get('out_channels', '?'))},"
    parts = [head, *_window(p)]
    if not _is(p.get("output_padding", 0), 0):
        parts.append("op" + _scalar(p["output_padding"]))
    if p.get("groups", 1) != 1:
        parts.append(f"g{p['groups']}")
    if p.get("weight_standardization", "off") != "off":
        parts.append("WS" if p["weight_standardization"] == "standard" else "scaled WS")
    return " ".join(parts)


def _pool(p: dict[str, Any]) -> str:
    parts = _window(p, kernel_first=False)
    if p.get("ceil_mode"):
        parts.append("ceil")
    return " ".join(parts)


def _upsample(p: dict[str, Any]) -> str:
    if p.get("size") is not None:
        text = "→ " + _pair(p["size"])
    elif p.get("scale_factor") is not None:
        text = "×" + _scalar(p["scale_factor"])
    else:
        text = ""
    return f"{text} {p.get('mode', 'nearest')}".strip()


_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "Input": lambda p: shape_text(p.get("shape")),
    "Output": lambda p: "training only" if p.get("training_only") else "",
    "Concat": lambda p: f"dim={p.get('dim', 1)}",
    "Chunk": lambda p: f"piece {p.get('index', 0)} of {p.get('chunks', 2)}",
    "Slice": lambda p: f"channels {p.get('start', 0)}:{p.get('end', 1)}",
    "ChannelShuffle": lambda p: f"{p.get('groups', 2)} groups",
    "Conv2d": _conv,
    "ConvTranspose2d": _conv,
    "MaxPool2d": _pool,
    "AvgPool2d": _pool,
    "LPPool2d": lambda p: f"L{_num(p.get('norm_type', 2.0))} " + _pool(p),
    "AdaptiveAvgPool2d": lambda p: "→ " + _pair(p.get("output_size", 1)),
    "AdaptiveMaxPool2d": lambda p: "→ " + _pair(p.get("output_size", 1)),
    "Linear": lambda p: _num(p.get("out_features", "?")) + ("" if p.get("bias", True)
                                                           else " no bias"),
    "Dropout": lambda p: f"p={_num(p.get('p', 0.5))}",
    "Dropout2d": lambda p: f"p={_num(p.get('p', 0.5))}",
    "StochasticDepth": lambda p: f"p={_num(p.get('p', 0.2))} {p.get('mode', 'row')}",
    "LeakyReLU": lambda p: f"slope {_num(p.get('negative_slope', 0.01))}",
    "ELU": lambda p: f"α={_num(p.get('alpha', 1.0))}",
    "GELU": lambda p: "" if p.get("approximate", "none") == "none" else p["approximate"],
    "Softmax": lambda p: f"dim={p.get('dim', 1)}",
    "LogSoftmax": lambda p: f"dim={p.get('dim', 1)}",
    "PReLU": lambda p: f"{p.get('num_parameters', 1)} slope" + (
        "s" if p.get("num_parameters", 1) != 1 else ""),
    "GroupNorm": lambda p: f"{p.get('num_groups', '?')} groups",
    "LayerNorm": lambda p: shape_text(p["normalized_shape"])
    if p.get("normalized_shape") is not None else "",
    "LocalResponseNorm": lambda p: f"size {p.get('size', 5)}",
    "LayerNorm2d": lambda p: "over channels" + ("" if p.get("elementwise_affine", True)
                                                else " no affine"),
    "LayerScale": lambda p: f"×{_num(p.get('init_value', 1e-6))} per channel",
    "Permute": lambda p: "dims " + " ".join(str(d) for d in p.get("dims", [1, 2, 0])),
    "ChannelAffine": lambda p: "x·scale + shift" + (
        " per channel" if any(isinstance(p.get(k), list) for k in ("scale", "shift")) else ""),
    "Flatten": lambda p: "" if (p.get("start_dim", 1), p.get("end_dim", -1)) == (1, -1)
    else f"dims {p.get('start_dim', 1)}…{p.get('end_dim', -1)}",
    "ZeroPad2d": lambda p: "pad " + _num(p.get("padding", 1)) if not isinstance(
        p.get("padding"), list) else "pad " + " ".join(map(_num, p["padding"])),
    "Upsample": _upsample,
    "GlobalResponseNorm": lambda p: "GRN" + (" channels last" if p.get("channels_last") else ""),
    "BranchSoftmax": lambda p: f"over {p.get('branches', 2)} branches" + (
        f", {p['groups']} groups" if p.get("groups", 1) != 1 else ""),
    "BlurPool2d": lambda p: f"{p.get('filt_size', 3)}×{p.get('filt_size', 3)} "
                            f"/{p.get('stride', 2)}",
}


def key_params(type_name: str, params: dict[str, Any]) -> str:
    """The parameters that define a layer, short: Conv2d '64, 3×3 /2 p1', Linear '1000'."""
    fmt = _FORMATS.get(type_name)
    try:
        if fmt is not None:
            return fmt(params)
    except (TypeError, ValueError, KeyError, IndexError):
        pass  # a value the user is still typing: fall back to the raw listing
    spec = layers.find(type_name)
    if spec is None:
        return ""
    shown = [f"{k}={_num(v)}" for k, v in params.items()
             if k in spec.param_map and v != spec.param_map[k].default]
    return " ".join(shown)


def rf_text(rf: Any) -> str:
    if rf is None:
        return ""
    h, w = rf
    return f"RF {h}×{w}"
