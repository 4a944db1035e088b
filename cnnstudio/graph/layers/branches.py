"""Attention over k branches (SKNet's selective kernel, ResNeSt's split attention): the
softmax that weighs, channel by channel, k branches against each other.

The k weights come as one tensor of k·C channels (one convolution makes them all); Chunk picks
branch i's C weights, Mul applies them to branch i and Add sums the branches, layers the
catalogue has.
"""

from __future__ import annotations

from typing import Any

from .registry import register
from .spec import LayerError, LayerSpec, Out, Param, Shape, _shape, need_rank


@register
class BranchSoftmax(LayerSpec):
    type = "BranchSoftmax"
    category = "Activation"
    help = (
        "Softmax across k branches, per channel: the k·C input channels are k scores for each "
        "of C channels, and each channel's k weights sum to 1; Chunk(k, i) then picks branch "
        "i's weights (SKNet's selective kernel, ResNeSt's split attention)."
    )
    params = (
        Param("branches", "int", 2, min=1,
              help="k, the branches weighed against each other (SKNet's paths, ResNeSt's "
              "radix)."),
        Param("groups", "int", 1, min=1,
              help="ResNeSt's cardinality: the input is ordered [groups, branches, C/groups] "
              "and the output [branches, groups, C/groups], so branch i is the i-th chunk."),
    )
    torch_class = "cnnstudio:BranchSoftmax"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        shape = need_rank(ins, (1, 3), "it weighs channels")
        parts = p["branches"] * p["groups"]
        if shape[0] % parts:
            raise LayerError(f"{shape[0]} channels do not split into branches·groups = {parts} "
                             "equal parts: give k·C channels")
        return Out(shape)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        k = p["branches"]
        return {"output_shape": f"{ins[0][0]} channels = {k} branches × {ins[0][0] // k}; each "
                                f"channel's {k} weights sum to 1; the shape stays "
                                f"{_shape(out.shape)}",
                "params": "0 (a fixed function)"}
