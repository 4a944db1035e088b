"""ChannelShuffle and Chunk: shape rules (torch.chunk's uneven splits), errors, counts and the
receptive field, read through the analysis as the window reads them."""

from __future__ import annotations

import pytest

from cnnstudio.graph import Graph, analyze, layers
from cnnstudio.graph.layers import LayerError
from cnnstudio.graph.layers.shuffle import chunk_sizes


def infer(type_name: str, params: dict, shape: tuple[int, ...]) -> layers.Out:
    spec = layers.get(type_name)
    resolved, problems = spec.resolve(params)
    assert problems == []
    return spec.infer(resolved, [shape])


# What torch.chunk gives, written out (tests/engine/test_layers_shuffle_torch.py asks torch).
@pytest.mark.parametrize("length, chunks, sizes", [
    (8, 2, [4, 4]), (7, 2, [4, 3]), (1, 3, [1]), (5, 4, [2, 2, 1]), (6, 4, [2, 2, 2]),
    (7, 3, [3, 3, 1]), (8, 3, [3, 3, 2]), (3, 5, [1, 1, 1]), (116, 2, [58, 58]),
])
def test_chunk_sizes_follow_torch_chunk(length: int, chunks: int, sizes: list[int]) -> None:
    assert chunk_sizes(length, chunks) == sizes


@pytest.mark.parametrize("chunks, index, channels", [
    (2, 0, 4), (2, 1, 3), (3, 2, 1), (4, 2, 2), (1, 0, 7),
])
def test_chunk_takes_one_piece_of_the_channels(chunks: int, index: int, channels: int) -> None:
    out = infer("Chunk", {"chunks": chunks, "index": index}, (7, 5, 6))
    assert out.shape == (channels, 5, 6)
    assert (out.params, out.buffers, out.macs, out.rf) == (0, 0, 0, None)


def test_chunk_splits_flat_features_and_sequences_along_their_first_axis() -> None:
    assert infer("Chunk", {"chunks": 4, "index": 3}, (10,)).shape == (1,)  # 3, 3, 3, 1
    assert infer("Chunk", {"chunks": 2, "index": 1}, (9, 16)).shape == (4, 16)


@pytest.mark.parametrize("chunks, index, shape, words", [
    (4, 3, (6, 2, 2), "index=3 has no piece: 6 channels in chunks of 2 make only 3 pieces "
                      "(2, 2, 2); use an index below 3"),
    (2, 2, (8, 2, 2), "index=2 has no piece: 8 channels in chunks of 4 make 2 pieces (4, 4)"),
    (3, 1, (1,), "make only 1 piece (1)"),
])
def test_chunk_refuses_an_index_with_no_piece(chunks: int, index: int, shape: tuple,
                                              words: str) -> None:
    with pytest.raises(LayerError) as info:
        infer("Chunk", {"chunks": chunks, "index": index}, shape)
    assert words in str(info.value)


def test_chunk_parameters_are_checked() -> None:
    spec = layers.get("Chunk")
    assert spec.resolve({"chunks": 0})[1] == ["chunks must be at least 1 (got 0)"]
    assert spec.resolve({"index": -1})[1] == ["index must be at least 0 (got -1)"]
    assert spec.torch_kwargs(spec.resolve({"index": 1})[0], [(4, 2, 2)]) == \
        {"chunks": 2, "index": 1}


def test_channel_shuffle_keeps_the_shape_and_costs_nothing() -> None:
    for shape in ((6, 5, 5), (6, 11)):
        out = infer("ChannelShuffle", {"groups": 3}, shape)
        assert out.shape == shape
        assert (out.params, out.buffers, out.macs, out.rf) == (0, 0, 0, None)


def test_channel_shuffle_refuses_groups_that_do_not_divide_and_flat_inputs() -> None:
    with pytest.raises(LayerError, match="groups=4 must divide the 6 channels"):
        infer("ChannelShuffle", {"groups": 4}, (6, 5, 5))
    with pytest.raises(LayerError, match="a flat vector has no channels to shuffle"):
        infer("ChannelShuffle", {"groups": 2}, (6,))
    spec = layers.get("ChannelShuffle")
    assert spec.resolve({"groups": 0})[1] == ["groups must be at least 1 (got 0)"]
    assert spec.torch_kwargs(spec.resolve({})[0], [(4, 2, 2)]) == {"groups": 2}


def shuffle_unit() -> Graph:
    """A stride-1 ShuffleNet unit: keep half, 3×3 the other half, join, shuffle."""
    g = Graph()
    g.add_node("Input", "in", {"shape": [8, 12, 12]})
    g.add_node("Conv2d", "stem", {"out_channels": 8, "kernel_size": 3, "padding": 1})
    g.add_node("Chunk", "keep", {"chunks": 2, "index": 0})
    g.add_node("Chunk", "work", {"chunks": 2, "index": 1})
    g.add_node("Conv2d", "conv", {"out_channels": 4, "kernel_size": 3, "padding": 1})
    g.add_node("Concat", "cat")
    g.add_node("ChannelShuffle", "shuffle", {"groups": 2})
    for a, b in (("in", "stem"), ("stem", "keep"), ("stem", "work"), ("work", "conv"),
                 ("keep", "cat"), ("conv", "cat"), ("cat", "shuffle")):
        g.connect(a, b)
    return g


def test_analysis_of_a_shuffle_unit() -> None:
    report = analyze(shuffle_unit())
    assert report.ok, report.errors
    nodes = report.nodes
    assert nodes["keep"].shape == nodes["work"].shape == (4, 12, 12)
    assert nodes["shuffle"].shape == (8, 12, 12)
    assert nodes["shuffle"].params == nodes["keep"].params == 0
    assert nodes["shuffle"].macs == nodes["keep"].macs == 0
    # Chunk and ChannelShuffle keep the receptive field: the widest path is 3×3 + 3×3.
    assert nodes["keep"].receptive_field((12, 12)) == (3, 3)
    assert nodes["shuffle"].receptive_field((12, 12)) == (5, 5)
    assert report.total_params == (8 * 8 * 9 + 8) + (4 * 4 * 9 + 4)


def test_analysis_reports_a_chunk_index_past_the_pieces_on_that_node() -> None:
    g = shuffle_unit()
    g.set_params("work", {"chunks": 2, "index": 2})
    report = analyze(g)
    assert [i.node for i in report.errors][0] == "work"
    assert "index=2 has no piece" in report.errors[0].message


def test_explanations_say_how_the_channels_are_cut() -> None:
    report = analyze(shuffle_unit())
    assert report.explain("keep")["output_shape"] == \
        "8 channels cut into 4 + 4; piece 0 is channels 0…3 → [4, 12, 12]"
    assert "2 groups of 4 channels interleaved" in report.explain("shuffle")["output_shape"]
