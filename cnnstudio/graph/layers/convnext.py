"""ConvNeXt's layer types: axis permutation, LayerNorm over the channels of a feature map, and a
learned per-channel scale (layer scale) whose parameter is the node itself, and ConvNeXt V2's
Global Response Normalization."""

from __future__ import annotations

from typing import Any

from .norm import EPS
from .registry import register
from .spec import WHOLE, LayerError, LayerSpec, Out, Param, Shape, _shape, need_rank


@register
class Permute(LayerSpec):
    type = "Permute"
    category = "Reshape"
    help = (
        "Reorders the sample's axes: [1, 2, 0] turns [C, H, W] into [H, W, C] so that Linear "
        "and LayerNorm act on the channels of each position (ConvNeXt's block), and [2, 0, 1] "
        "turns it back. The values are unchanged."
    )
    params = (
        Param("dims", "shape", [1, 2, 0], min=0,
              help="The new order of the sample's axes (0 is the first axis after the batch), "
              "a permutation such as [1, 2, 0]."),
    )
    torch_class = "torchvision.ops.misc.Permute"

    def check(self, p: dict[str, Any]) -> list[str]:
        dims = list(p["dims"])
        if sorted(dims) != list(range(len(dims))):
            return [f"dims {dims} must be a permutation of {list(range(len(dims)))}, each axis "
                    "once"]
        return []

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        shape = ins[0]
        dims = list(p["dims"])
        if len(dims) != len(shape):
            raise LayerError(f"dims {dims} name {len(dims)} axes, but the input "
                             f"{_shape(shape)} has {len(shape)}: give one entry per axis")
        return Out(tuple(shape[d] for d in dims))

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        return {"output_shape": f"axes {list(p['dims'])} of {_shape(ins[0])} → "
                                f"{_shape(out.shape)}",
                "params": "0 (reordering only)"}

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        return {"dims": [0, *(d + 1 for d in p["dims"])]}  # torch counts the batch as 0


@register
class LayerNorm2d(LayerSpec):
    type = "LayerNorm2d"
    category = "Normalization"
    help = (
        "LayerNorm over the channels of each position of a [C, H, W] map (torchvision's "
        "ConvNeXt LayerNorm2d): every pixel's C values are normalised on their own, then "
        "scaled and shifted per channel."
    )
    params = (
        Param("eps", "float", 1e-6, min=0, exclusive_min=True,
              help=EPS.help + " ConvNeXt uses 1e-6."),
        Param("elementwise_affine", "bool", True,
              help="Learn a scale (and shift) per channel."),
        Param("bias", "bool", True, help="Learn the shift too."),
    )
    torch_class = "torchvision.models.convnext.LayerNorm2d"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        c = need_rank(ins, (3,), "use LayerNorm on other shapes")[0]
        params = c * (2 if p["bias"] else 1) if p["elementwise_affine"] else 0
        return Out(ins[0], params)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        c = ins[0][0]
        return {
            "output_shape": f"normalises the {c} channels of each position; the shape stays "
                            f"{_shape(out.shape)}",
            "params": f"{out.params:,} (scale{' and shift' if p['bias'] else ''} per channel)"
                      if out.params else "0 (elementwise_affine is off)",
        }

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        return {"normalized_shape": ins[0][0], **p}


@register
class LayerScale(LayerSpec):
    type = "LayerScale"
    category = "Normalization"
    help = (
        "Multiplies each channel by a learned scale, started small (ConvNeXt's layer scale, "
        "1e-6) so a residual branch begins almost switched off. Its one parameter [C, 1, 1] is "
        "stored under the node's own id (features.1.0.layer_scale), as torchvision keeps it."
    )
    params = (
        Param("init_value", "float", 1e-6,
              help="The scale every channel starts with (torchvision's layer_scale)."),
    )
    torch_class = "cnnstudio:LayerScale"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        c = need_rank(ins, (3,), "it scales the channels of feature maps")[0]
        return Out(ins[0], c)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        return {"output_shape": f"each channel times its scale; the shape stays "
                                f"{_shape(out.shape)}",
                "params": f"C = {out.params:,} (one scale per channel)"}

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        return {"num_channels": ins[0][0], **p}


@register
class GlobalResponseNorm(LayerSpec):
    type = "GlobalResponseNorm"
    category = "Normalization"
    help = (
        "ConvNeXt V2's GRN: each channel's L2 norm over all positions, divided by the mean of "
        "those norms over the channels, rescales the map, x + β + γ·x·N(x), so channels "
        "compete; γ and β (one per channel) start at 0, where the layer passes x on."
    )
    params = (
        Param("eps", "float", 1e-6, min=0,
              help="Added to the mean of the channel norms before dividing."),
        Param("channels_last", "bool", False,
              help="The map is [H, W, C] (ConvNeXt V2's block after Permute), not [C, H, W]."),
    )
    torch_class = "cnnstudio:GlobalResponseNorm"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        shape = need_rank(ins, (3,), "it normalises feature maps")
        c = shape[2] if p["channels_last"] else shape[0]
        # Like the other norms, no MACs are counted; every output depends on every position.
        return Out(shape, 2 * c, 0, 0, WHOLE)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        c = out.params // 2
        return {"output_shape": f"each of the {c} channels rescaled by its global response; "
                                f"the shape stays {_shape(out.shape)}",
                "params": f"2·C = 2·{c} = {out.params:,} (γ and β per channel)"}

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        c = ins[0][2] if p["channels_last"] else ins[0][0]
        return {"num_channels": c, **p}
