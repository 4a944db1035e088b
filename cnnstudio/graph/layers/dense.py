"""Fully connected layers, reshaping, resizing and regularisation."""

from __future__ import annotations

from math import floor, prod
from typing import Any

from .registry import register
from .spec import (
    REQUIRED,
    WHOLE,
    LayerError,
    LayerSpec,
    Out,
    Param,
    Shape,
    Window,
    need_rank,
    pair,
)


@register
class Linear(LayerSpec):
    type = "Linear"
    category = "Linear"
    help = (
        "Fully connected (dense) layer: every output is connected to every input, "
        "y = Wx + b, with (inputs + 1)·outputs parameters; the classifier's decision maker."
    )
    params = (
        Param("out_features", "int", REQUIRED, min=1,
              help="Number of output neurons (the number of classes for the last layer)."),
        Param("bias", "bool", True, help="One learnable bias per output neuron."),
    )
    torch_class = "torch.nn.Linear"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        shape = ins[0]
        n_in, n_out = shape[-1], p["out_features"]
        lead = shape[:-1]
        params = n_in * n_out + (n_out if p["bias"] else 0)
        notes = None
        rf: Any = WHOLE
        if lead:
            notes = [f"Linear acts on the last axis only (size {n_in}) of {list(shape)}; add a "
                     "Flatten before it to connect every value"]
            rf = (Window(1.0, 1.0, 0.0), Window(float(n_in), 1.0, 0.0)) if len(shape) == 3 \
                else WHOLE
        return Out(lead + (n_out,), params, 0, prod(lead) * n_in * n_out, rf, notes)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        n_in, n_out = ins[0][-1], p["out_features"]
        params = (f"(inputs + 1)·outputs = ({n_in:,} + 1)·{n_out:,} = {out.params:,}"
                  if p["bias"] else f"inputs·outputs = {n_in:,}·{n_out:,} = {out.params:,}")
        return {
            "output_shape": f"out_features = {n_out}",
            "params": params,
            "macs": f"{n_in:,}·{n_out:,} = {out.macs:,}" if len(ins[0]) == 1
            else f"{prod(ins[0][:-1]):,} rows × {n_in:,}·{n_out:,} = {out.macs:,}",
        }

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        return {"in_features": ins[0][-1], **p}


@register
class Flatten(LayerSpec):
    type = "Flatten"
    category = "Reshape"
    help = (
        "Lines a feature map up into one long vector (7×7×512 → 25,088) so fully connected "
        "layers can take it; the values are unchanged."
    )
    params = (
        Param("start_dim", "int", 1, help="First axis to merge, counting the batch as 0."),
        Param("end_dim", "int", -1, help="Last axis to merge (−1: the last)."),
    )
    torch_class = "torch.nn.Flatten"

    def _span(self, p: dict[str, Any], shape: Shape) -> tuple[int, int]:
        rank = len(shape) + 1
        for name in ("start_dim", "end_dim"):
            if not -rank <= p[name] < rank:
                raise LayerError(f"{name}={p[name]} is out of range for a {rank}-dimensional "
                                 f"batch {['N', *shape]}")
        start, end = p["start_dim"] % rank, p["end_dim"] % rank
        if start == 0:
            raise LayerError("start_dim=0 would merge the batch axis: use start_dim=1")
        if start > end:
            raise LayerError(f"start_dim ({p['start_dim']}) comes after end_dim ({p['end_dim']})")
        return start - 1, end - 1

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        shape = ins[0]
        a, b = self._span(p, shape)
        return Out(shape[:a] + (prod(shape[a:b + 1]),) + shape[b + 1:])

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        a, b = self._span(p, ins[0])
        merged = ins[0][a:b + 1]
        return {"output_shape": f"{'×'.join(map(str, merged))} = {prod(merged):,} values in a "
                                f"row → {list(out.shape)}",
                "params": "0 (reshaping only)"}


class _Dropout(LayerSpec):
    category = "Regularization"
    params = (Param("p", "float", 0.5, min=0, max=1,
                    help="Probability of zeroing each element in training (0.5 for fully "
                    "connected layers, lower for convolutions); nothing is dropped at test time."),)

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        return Out(ins[0])

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        return {"output_shape": f"the shape stays {list(out.shape)} (identity at test time)",
                "params": "0"}


@register
class Dropout(_Dropout):
    type = "Dropout"
    help = (
        "Randomly zeroes a fraction p of the activations during training and scales the rest "
        "by 1/(1 − p), so neurons cannot co-adapt; a strong regulariser for dense layers."
    )
    torch_class = "torch.nn.Dropout"


@register
class Dropout2d(_Dropout):
    type = "Dropout2d"
    help = "Drops whole feature maps (channels) at random during training; for convolutions."
    torch_class = "torch.nn.Dropout2d"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        return Out(need_rank(ins, (3,), "use Dropout on flat features"))


@register
class StochasticDepth(_Dropout):
    type = "StochasticDepth"
    help = (
        "Drops a whole residual branch at random during training (torchvision.ops); "
        "EfficientNet's regulariser. Place it on the branch just before the Add."
    )
    params = (
        Param("p", "float", 0.2, min=0, max=1, help="Probability of dropping the branch."),
        Param("mode", "choice", "row", choices=("row", "batch"),
              help="'row' drops per sample, 'batch' the whole batch at once."),
    )
    torch_class = "torchvision.ops.StochasticDepth"


@register
class Identity(LayerSpec):
    type = "Identity"
    category = "Structure"
    help = "Passes its input through unchanged: a placeholder, or a named tap point."
    torch_class = "torch.nn.Identity"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        return Out(ins[0])


@register
class ZeroPad2d(LayerSpec):
    type = "ZeroPad2d"
    category = "Reshape"
    help = "Adds rows and columns of zeros around the feature map (negative values crop)."
    params = (
        Param("padding", "pad4", 1,
              help="One number for every side, or [left, right, top, bottom]."),
    )
    torch_class = "torch.nn.ZeroPad2d"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        c, h, w = need_rank(ins, (3,), "pad feature maps")
        pad = p["padding"]
        left, right, top, bottom = pad if isinstance(pad, (list, tuple)) else (pad,) * 4
        ho, wo = h + top + bottom, w + left + right
        if ho < 1 or wo < 1:
            raise LayerError(f"cropping leaves {ho}×{wo}: crop less")
        return Out((c, ho, wo), rf=(Window(1.0, 1.0, float(top)), Window(1.0, 1.0, float(left))))


@register
class Upsample(LayerSpec):
    type = "Upsample"
    category = "Reshape"
    help = "Enlarges feature maps by interpolation (nearest, bilinear, bicubic); no weights."
    params = (
        Param("size", "pair", None, min=1, nullable=True,
              help="Target H×W (give this or scale_factor)."),
        Param("scale_factor", "scale", None, min=0, exclusive_min=True, nullable=True,
              help="Multiplier of H and W, e.g. 2 (give this or size)."),
        Param("mode", "choice", "nearest",
              choices=("nearest", "nearest-exact", "bilinear", "bicubic"),
              help="Interpolation: nearest copies pixels, bilinear/bicubic blend neighbours."),
        Param("align_corners", "bool", None, nullable=True,
              help="bilinear/bicubic only: align the corner pixels of input and output."),
    )
    torch_class = "torch.nn.Upsample"

    def check(self, p: dict[str, Any]) -> list[str]:
        problems = []
        if (p["size"] is None) == (p["scale_factor"] is None):
            problems.append("give exactly one of size and scale_factor")
        if p["align_corners"] is not None and p["mode"] not in ("bilinear", "bicubic"):
            problems.append("align_corners applies to bilinear and bicubic modes only; leave it "
                            "empty")
        return problems

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        c, h, w = need_rank(ins, (3,), "upsample feature maps")
        if p["size"] is not None:
            ho, wo = pair(p["size"])
            fh, fw = ho / h, wo / w
        else:
            fh, fw = (float(x) for x in pair(p["scale_factor"]))
            ho, wo = floor(h * fh), floor(w * fw)
        if ho < 1 or wo < 1:
            raise LayerError(f"the output would be {ho}×{wo}: use a larger scale_factor")
        taps = {"nearest": 1, "nearest-exact": 1, "bilinear": 2, "bicubic": 4}[p["mode"]]
        pad = (taps - 1) / 2
        return Out((c, ho, wo), rf=(Window(taps, 1 / fh, pad), Window(taps, 1 / fw, pad)))

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        kwargs = super().torch_kwargs(p, ins)
        if kwargs["scale_factor"] is not None:
            sf = kwargs["scale_factor"]
            kwargs["scale_factor"] = tuple(float(x) for x in sf) if isinstance(sf, tuple) \
                else float(sf)
        return kwargs

