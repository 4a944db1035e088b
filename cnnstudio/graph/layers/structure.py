"""Graph structure: the input, marked outputs, and the merges (Add, Concat, Mul)."""

from __future__ import annotations

from typing import Any

from .registry import register
from .spec import LayerError, LayerSpec, Out, Param, Shape, _shape, sample_axis


@register
class Input(LayerSpec):
    type = "Input"
    category = "Structure"
    help = (
        "The image (or feature vector) entering the network, per sample: [C, H, W] such as "
        "[3, 224, 224] for RGB or [1, 28, 28] for greyscale digits; the batch is implicit."
    )
    params = (
        Param("shape", "shape", [3, 224, 224], min=1,
              help="Per-sample shape [C, H, W] (or [F] for flat features)."),
    )
    min_inputs = 0
    max_inputs = 0

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        return Out(tuple(p["shape"]))

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        shape = out.shape
        values = "·".join(map(str, shape))
        total = 1
        for d in shape:
            total *= d
        return {"output_shape": f"{_shape(shape)}: {values} = {total:,} values per sample",
                "params": "0"}


@register
class Output(LayerSpec):
    type = "Output"
    category = "Structure"
    help = (
        "Marks a model output. Without any Output node, the layers nothing consumes are the "
        "outputs. An auxiliary output is returned in training only (GoogLeNet's auxiliary "
        "classifiers)."
    )
    params = (
        Param("training_only", "bool", False,
              help="An auxiliary output: returned (and computed) in training mode only."),
    )

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        return Out(ins[0])

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        return {"output_shape": f"the model returns {_shape(out.shape)} per sample",
                "params": "0"}


class _Merge(LayerSpec):
    category = "Structure"
    min_inputs = 2
    max_inputs = None


@register
class Add(_Merge):
    type = "Add"
    help = (
        "Sums its inputs element-wise: the skip connection of a residual block, "
        "H(x) = F(x) + x. All inputs must have the same shape."
    )
    torch_class = "cnnstudio:Add"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        first = ins[0]
        if any(s != first for s in ins[1:]):
            shapes = ", ".join(_shape(s) for s in ins)
            raise LayerError(
                f"inputs have different shapes {shapes}: make them equal, e.g. with a 1×1 "
                "Conv2d (and stride) on the shortcut, as ResNet's projection does"
            )
        return Out(first)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        return {"output_shape": f"{len(ins)} inputs of {_shape(out.shape)} summed element-wise",
                "params": "0"}


@register
class Concat(_Merge):
    type = "Concat"
    help = (
        "Stacks its inputs along one axis (the channels by default), in port order: the "
        "Inception module's branches and DenseNet's dense connections."
    )
    params = (
        Param("dim", "int", 1,
              help="Axis to join along, counting the batch as 0: 1 stacks channels."),
    )
    ordered_inputs = True
    torch_class = "cnnstudio:Concat"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        first = ins[0]
        axis = sample_axis(p["dim"], first)
        for s in ins[1:]:
            if len(s) != len(first) or any(
                a != b for i, (a, b) in enumerate(zip(s, first)) if i != axis
            ):
                shapes = ", ".join(_shape(x) for x in ins)
                raise LayerError(
                    f"inputs {shapes} must agree on every axis but the joined one (axis "
                    f"{p['dim']}): resize or pad the branches to the same H×W"
                )
        total = sum(s[axis] for s in ins)
        return Out(first[:axis] + (total,) + first[axis + 1:])

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        axis = sample_axis(p["dim"], ins[0])
        parts = " + ".join(str(s[axis]) for s in ins)
        return {"output_shape": f"{parts} = {out.shape[axis]} along axis {p['dim']} → "
                                f"{_shape(out.shape)}",
                "params": "0"}


@register
class Mul(_Merge):
    type = "Mul"
    help = (
        "Multiplies its inputs element-wise, broadcasting axes of size 1: squeeze-and-"
        "excitation scales each channel by a learned gate [C, 1, 1]."
    )
    torch_class = "cnnstudio:Mul"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        rank = len(ins[0])
        if any(len(s) != rank for s in ins):
            raise LayerError("inputs must have the same number of axes, e.g. a [C, 1, 1] gate "
                             "and a [C, H, W] map")
        out = []
        for sizes in zip(*ins):
            big = {d for d in sizes if d != 1}
            if len(big) > 1:
                shapes = ", ".join(_shape(s) for s in ins)
                raise LayerError(f"inputs {shapes} do not broadcast: each axis must be equal or "
                                 "1 in all but one input")
            out.append(big.pop() if big else 1)
        return Out(tuple(out))

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        shapes = " × ".join(_shape(s) for s in ins)
        return {"output_shape": f"{shapes} element-wise (broadcast) → {_shape(out.shape)}",
                "params": "0"}
