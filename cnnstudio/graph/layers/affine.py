"""A constant per-channel affine map, y = x·scale + shift: torchvision's ``transform_input``,
which re-normalises GoogLeNet's and Inception-v3's input for their ported weights."""

from __future__ import annotations

from typing import Any

from .registry import register
from .spec import LayerError, LayerSpec, Out, Param, Shape, need_rank


class _PerChannel(Param):
    """A number for every channel, or one for all. Its kind is ``scale`` so that the inspector
    reads a list of numbers; unlike a scale pair it takes any length."""

    def check(self, value: Any) -> str | None:
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if not items:
            return "must be a number or a list of numbers, one per channel"
        for item in items:
            problem = self._check_number(item, integer=False)
            if problem:
                return problem
        return None


def per_channel(value: Any) -> list[float]:
    """A ``scale`` or ``shift`` value as a list (a single number is one for all channels)."""
    return [float(v) for v in value] if isinstance(value, (list, tuple)) else [float(value)]


@register
class ChannelAffine(LayerSpec):
    type = "ChannelAffine"
    category = "Normalization"
    help = (
        "Scales and shifts each channel by constants, y = x·scale + shift, with nothing to "
        "learn or save: re-normalises the input (torchvision's transform_input for GoogLeNet "
        "and Inception-v3's ported weights)."
    )
    params = (
        _PerChannel("scale", "scale", 1.0,
                    help="Factor per channel (a list, one per channel) or one for all."),
        _PerChannel("shift", "scale", 0.0,
                    help="Added after scaling, per channel (a list) or one for all."),
    )
    torch_class = "cnnstudio:ChannelAffine"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        shape = need_rank(ins, (1, 2, 3), "it scales each channel")
        c = shape[0]
        for name in ("scale", "shift"):
            n = len(per_channel(p[name]))
            if n not in (1, c):
                raise LayerError(f"{name} has {n} values for {c} channels: give one per "
                                 "channel or a single number for all")
        # The constants travel with the module (non-persistent buffers, not in the
        # state_dict); like BatchNorm's per-channel affine, no MACs are counted.
        buffers = len(per_channel(p["scale"])) + len(per_channel(p["shift"]))
        return Out(shape, 0, buffers)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        return {"output_shape": f"each of the {ins[0][0]} channels scaled and shifted; the "
                                f"shape stays {list(out.shape)}",
                "params": "0 (fixed constants)",
                "buffers": f"{out.buffers} constants (scale and shift), kept with the module, "
                           "not saved with the weights"}

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        return {name: _floats(p[name]) for name in ("scale", "shift")}


def _floats(value: Any) -> float | list[float]:
    return [float(v) for v in value] if isinstance(value, (list, tuple)) else float(value)
