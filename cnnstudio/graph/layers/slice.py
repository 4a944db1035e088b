"""A run of channels, ``x[:, start:end]``: a piece of an uneven split (MixNet's mixed kernels,
DPN's dense and residual paths, RexNet's partial shortcut), which Chunk's even pieces cannot
express."""

from __future__ import annotations

from typing import Any

from .registry import register
from .spec import LayerError, LayerSpec, Out, Param, Shape, _shape


@register
class Slice(LayerSpec):
    type = "Slice"
    category = "Structure"
    help = (
        "Channels start to end − 1 of the input (or features of a flat vector): x[:, start:end]. "
        "Splits into pieces of any sizes, one Slice per piece; for even pieces Chunk says "
        "the same in fewer numbers."
    )
    params = (
        Param("start", "int", 0, min=0, help="The first channel passed on, from 0."),
        Param("end", "int", 1, min=1,
              help="One past the last channel passed on; end − start channels come out."),
    )
    torch_class = "cnnstudio:Slice"

    def check(self, p: dict[str, Any]) -> list[str]:
        if p["end"] <= p["start"]:
            return [f"end={p['end']} must be greater than start={p['start']}"]
        return []

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        shape = ins[0]
        if p["end"] > shape[0]:
            raise LayerError(f"end={p['end']} is past the {shape[0]} channels of "
                             f"{_shape(shape)}: use an end of at most {shape[0]}")
        return Out((p["end"] - p["start"], *shape[1:]))

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        return {"output_shape": f"channels {p['start']}…{p['end'] - 1} of {ins[0][0]} → "
                                f"{_shape(out.shape)}",
                "params": "0 (a view of the input)"}
