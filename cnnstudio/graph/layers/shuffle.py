"""Channel shuffling and splitting: the two steps of a ShuffleNet unit that are not layers with
weights (torch's ChannelShuffle, and one piece of ``x.chunk(n, dim=1)``)."""

from __future__ import annotations

from typing import Any

from .registry import register
from .spec import LayerError, LayerSpec, Out, Param, Shape, _shape, need_rank


def chunk_sizes(length: int, chunks: int) -> list[int]:
    """The sizes of ``torch.chunk(x, chunks)`` along an axis of ``length``: pieces of
    ceil(length / chunks), the last one smaller, and fewer than ``chunks`` pieces when the
    length runs out first (torch.chunk(7 values, 4) gives 2, 2, 2, 1; of 6 values 2, 2, 2)."""
    size = -(-length // chunks)
    return [min(size, length - start) for start in range(0, length, size)]


@register
class ChannelShuffle(LayerSpec):
    type = "ChannelShuffle"
    category = "Reshape"
    help = (
        "Interleaves the channels of its groups (ShuffleNet): with 2 groups, channels "
        "a1 a2 a3 b1 b2 b3 become a1 b1 a2 b2 a3 b3, so grouped branches exchange information. "
        "No weights, no arithmetic."
    )
    params = (
        Param("groups", "int", 2, min=1,
              help="Number of channel groups to interleave; must divide the channels."),
    )
    torch_class = "torch.nn.ChannelShuffle"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        shape = need_rank(ins, (2, 3), "a flat vector has no channels to shuffle")
        c, groups = shape[0], p["groups"]
        if c % groups:
            raise LayerError(f"groups={groups} must divide the {c} channels")
        return Out(shape)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        c, groups = ins[0][0], p["groups"]
        return {"output_shape": f"{groups} groups of {c // groups} channels interleaved; the "
                                f"shape stays {_shape(out.shape)}",
                "params": "0 (a reordering of the channels)"}


@register
class Chunk(LayerSpec):
    type = "Chunk"
    category = "Structure"
    help = (
        "One piece of the input split along its channels (or features): x.chunk(chunks, "
        "dim=1)[index], as torch.chunk cuts it. A ShuffleNet unit keeps one half and "
        "transforms the other; use one Chunk per piece."
    )
    params = (
        Param("chunks", "int", 2, min=1,
              help="Number of pieces to cut into (torch.chunk: ceil(C / chunks) channels "
              "each, the last smaller)."),
        Param("index", "int", 0, min=0, help="Which piece this layer passes on, from 0."),
    )
    torch_class = "cnnstudio:Chunk"

    def _sizes(self, p: dict[str, Any], shape: Shape) -> list[int]:
        sizes = chunk_sizes(shape[0], p["chunks"])
        if p["index"] >= len(sizes):
            many = f"only {len(sizes)}" if len(sizes) < p["chunks"] else f"{len(sizes)}"
            raise LayerError(
                f"index={p['index']} has no piece: {shape[0]} channels in chunks of "
                f"{sizes[0]} make {many} piece{'s' if len(sizes) > 1 else ''} "
                f"({', '.join(map(str, sizes))}); use an index below {len(sizes)}")
        return sizes

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        shape = ins[0]
        sizes = self._sizes(p, shape)
        return Out((sizes[p["index"]], *shape[1:]))

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        sizes = self._sizes(p, ins[0])
        start = sum(sizes[:p["index"]])
        return {"output_shape": f"{ins[0][0]} channels cut into {' + '.join(map(str, sizes))}; "
                                f"piece {p['index']} is channels {start}…"
                                f"{start + out.shape[0] - 1} → {_shape(out.shape)}",
                "params": "0 (a view of the input)"}
