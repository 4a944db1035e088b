"""Normalisation layers: batch, layer, instance, group and local response normalisation."""

from __future__ import annotations

from math import prod
from typing import Any

from .registry import register
from .spec import REQUIRED, LayerError, LayerSpec, Out, Param, Shape, need_rank

EPS = Param("eps", "float", 1e-5, min=0, exclusive_min=True,
            help="Small constant ε added to the variance for numerical stability.")
MOMENTUM = Param(
    "momentum", "float", 0.1, min=0, max=1, nullable=True,
    help="Weight of the newest batch in the running mean and variance (empty: a plain "
    "cumulative average).",
)
AFFINE = Param("affine", "bool", True,
               help="Learn a scale γ and shift β per channel (y = γ·x̂ + β).")
TRACK = Param(
    "track_running_stats", "bool", True,
    help="Keep running statistics for inference (non-trainable buffers); off uses the batch's "
    "own statistics at test time too.",
)


class _Norm(LayerSpec):
    category = "Normalization"
    ranks: tuple[int, ...] = (3,)
    rank_advice = ""

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        shape = need_rank(ins, self.ranks, self.rank_advice)
        c = shape[0]
        params = 2 * c if p.get("affine") else 0
        buffers = 2 * c + 1 if p.get("track_running_stats") else 0
        return Out(shape, params, buffers)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        c = ins[0][0]
        lines = {"output_shape": f"normalises each of the {c} channels; the shape stays "
                                 f"{list(out.shape)}"}
        lines["params"] = (f"2·C = 2·{c} = {out.params:,} (a scale γ and a shift β per channel)"
                           if out.params else "0 (affine is off)")
        if out.buffers:
            lines["buffers"] = (f"2·{c} + 1 = {out.buffers:,}: running mean and variance per "
                                "channel and a batch counter, updated in training, not trained")
        return lines

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        return {"num_features": ins[0][0], **p}


@register
class BatchNorm2d(_Norm):
    type = "BatchNorm2d"
    help = (
        "Normalises each channel over the mini-batch, then scales and shifts it (γ, β): faster, "
        "more stable training and higher learning rates. Place after a convolution."
    )
    params = (EPS, MOMENTUM, AFFINE, TRACK)
    rank_advice = "use BatchNorm1d after Flatten or Linear"
    torch_class = "torch.nn.BatchNorm2d"


@register
class BatchNorm1d(_Norm):
    type = "BatchNorm1d"
    help = "Batch normalisation of features ([F]) or of channels of a sequence ([C, L])."
    params = (EPS, MOMENTUM, AFFINE, TRACK)
    ranks = (1, 2)
    rank_advice = "use BatchNorm2d on feature maps"
    torch_class = "torch.nn.BatchNorm1d"


@register
class InstanceNorm2d(_Norm):
    type = "InstanceNorm2d"
    help = (
        "Normalises each channel of each sample over its own H×W (style transfer, GANs); "
        "independent of the batch."
    )
    params = (
        EPS, MOMENTUM,
        Param("affine", "bool", False, help=AFFINE.help),
        Param("track_running_stats", "bool", False, help=TRACK.help),
    )
    rank_advice = "instance normalisation needs feature maps"
    torch_class = "torch.nn.InstanceNorm2d"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        out = super().infer(p, ins)
        if ins[0][1] * ins[0][2] == 1:
            raise LayerError("a 1×1 map has one value per channel, so there is nothing to "
                             "normalise over: apply it before the map shrinks to 1×1")
        return out


@register
class GroupNorm(_Norm):
    type = "GroupNorm"
    help = (
        "Normalises groups of channels within each sample; works with small batches where "
        "BatchNorm struggles."
    )
    params = (
        Param("num_groups", "int", REQUIRED, min=1,
              help="Number of channel groups; must divide the channels (1 is LayerNorm-like, "
              "C is InstanceNorm-like)."),
        EPS, AFFINE,
    )
    ranks = (1, 2, 3)
    torch_class = "torch.nn.GroupNorm"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        c = ins[0][0]
        if c % p["num_groups"]:
            raise LayerError(f"num_groups={p['num_groups']} must divide the {c} channels")
        return Out(ins[0], 2 * c if p["affine"] else 0)

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        return {"num_channels": ins[0][0], **p}


@register
class LayerNorm(LayerSpec):
    type = "LayerNorm"
    category = "Normalization"
    help = "Normalises across the features of each sample (the trailing axes), not the batch."
    params = (
        Param("normalized_shape", "shape", None, min=1, nullable=True,
              help="The trailing axes to normalise over; empty means all of the sample's axes."),
        EPS,
        Param("elementwise_affine", "bool", True,
              help="Learn a scale (and shift) per normalised element."),
        Param("bias", "bool", True, help="Learn the shift too."),
    )
    torch_class = "torch.nn.LayerNorm"

    def _normalized(self, p: dict[str, Any], shape: Shape) -> tuple[int, ...]:
        given = p["normalized_shape"]
        if given is None:
            return tuple(shape)
        given = tuple(given)
        if len(given) > len(shape) or tuple(shape[len(shape) - len(given):]) != given:
            raise LayerError(
                f"normalized_shape {list(given)} must equal the trailing axes of the input "
                f"{list(shape)}"
            )
        return given

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        n = prod(self._normalized(p, ins[0]))
        params = n * (2 if p["bias"] else 1) if p["elementwise_affine"] else 0
        return Out(ins[0], params)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        shape = list(self._normalized(p, ins[0]))
        return {
            "output_shape": f"normalises over {shape}; the shape stays {list(out.shape)}",
            "params": f"{out.params:,} (scale{' and shift' if p['bias'] else ''} per element "
                      f"of {shape})" if out.params else "0",
        }

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        return {**p, "normalized_shape": self._normalized(p, ins[0])}


@register
class LocalResponseNorm(LayerSpec):
    type = "LocalResponseNorm"
    category = "Normalization"
    help = (
        "AlexNet's local response normalisation: each activation is divided by the energy of "
        "its neighbours across channels (later replaced by BatchNorm)."
    )
    params = (
        Param("size", "int", 5, min=1, help="Number of neighbouring channels summed over."),
        Param("alpha", "float", 1e-4,
              help="Scale α; torch divides it by size (the AlexNet paper's α = 1e-4 over 5 "
              "channels is alpha = 5e-4 here)."),
        Param("beta", "float", 0.75, help="Exponent β."),
        Param("k", "float", 1.0, help="Additive constant k (AlexNet used 2)."),
    )
    torch_class = "torch.nn.LocalResponseNorm"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        shape = need_rank(ins, (2, 3), "it normalises across channels of feature maps")
        return Out(shape)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        return {"output_shape": f"the shape stays {list(out.shape)}",
                "params": "0 (a fixed function)"}
