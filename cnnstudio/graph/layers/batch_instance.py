"""Batch-Instance Normalization (Nam & Kim, 2018): a learned per-channel mix of batch and
instance normalisation (the module: engine/modules/batch_instance_norm.py)."""

from __future__ import annotations

from typing import Any

from .norm import AFFINE, EPS, MOMENTUM, TRACK, _Norm
from .registry import register
from .spec import LayerError, Out, Param, Shape


@register
class BatchInstanceNorm2d(_Norm):
    type = "BatchInstanceNorm2d"
    help = (
        "ρ·BatchNorm(x) + (1 − ρ)·InstanceNorm(x), then γ and β: a gate ρ in [0, 1] per channel, "
        "learned, keeps the style (contrast, colour) where it helps and normalises it away "
        "where it does not (Nam & Kim 2018). ρ is clipped to [0, 1] during training."
    )
    params = (
        EPS, MOMENTUM, AFFINE, TRACK,
        Param("rho_init", "float", 1.0, min=0, max=1,
              help="The gate ρ every channel starts at (1: batch normalisation, 0: instance "
              "normalisation)."),
    )
    rank_advice = "batch-instance normalisation needs feature maps"
    torch_class = "cnnstudio:BatchInstanceNorm2d"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        out = super().infer(p, ins)
        if ins[0][1] * ins[0][2] == 1:
            raise LayerError("a 1×1 map has one value per channel, so its instance part has "
                             "nothing to normalise over: apply it before the map shrinks to 1×1")
        return Out(out.shape, out.params + ins[0][0], out.buffers)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        lines = super().explain(p, ins, out)
        c = ins[0][0]
        lines["params"] = (f"{3 if p.get('affine') else 1}·C = {out.params:,} (a gate ρ"
                           + (", a scale γ and a shift β" if p.get("affine") else "")
                           + f" per channel, C = {c})")
        return lines
