"""The layer catalogue: DESIGN.md §3.1 coverage, one complete spec per type, parameter checks."""

from __future__ import annotations

import pytest

from cnnstudio.graph import layers
from cnnstudio.graph.layers import Param

DESIGN_TYPES = """
Conv2d ConvTranspose2d MaxPool2d AvgPool2d AdaptiveAvgPool2d AdaptiveMaxPool2d Flatten Linear
ReLU LeakyReLU ELU SELU GELU SiLU Hardswish Sigmoid Tanh Softmax LogSoftmax BatchNorm1d
BatchNorm2d LayerNorm InstanceNorm2d GroupNorm LocalResponseNorm Dropout Dropout2d ZeroPad2d
Upsample Identity Input Output Add Concat Mul
""".split()


def test_catalogue_covers_every_type_design_names() -> None:
    assert set(DESIGN_TYPES) <= set(layers.names())


@pytest.mark.parametrize("name", layers.names())
def test_every_spec_is_complete(name: str) -> None:
    spec = layers.get(name)
    assert spec.type == name
    assert spec.category in layers.CATEGORIES
    assert len(spec.help) > 30, "a one-line help for the palette tooltip"
    for p in spec.params:
        assert p.help, f"{name}.{p.name} needs a help line for the inspector"
        if not p.required:
            assert p.check(p.default) is None, f"{name}.{p.name}: default fails its own check"
    if name not in ("Input", "Output"):
        assert spec.torch_class, "how torch builds it"
        module, _, cls = spec.torch_class.rpartition(".")
        assert cls == name or spec.torch_class.startswith("cnnstudio:")


def test_registry_refuses_duplicates_and_suggests_names() -> None:
    from cnnstudio.graph.layers.registry import register

    with pytest.raises(ValueError, match="registered twice"):
        register(type(layers.get("ReLU")))
    with pytest.raises(KeyError, match="did you mean MaxPool2d"):
        layers.get("Maxpool2d")


def test_by_category_groups_the_palette() -> None:
    grouped = layers.by_category()
    assert [s.type for s in grouped["Convolution"]] == ["Conv2d", "ConvTranspose2d"]
    assert sum(len(v) for v in grouped.values()) == len(layers.names())


@pytest.mark.parametrize("param, value, problem", [
    (Param("k", "int", 1, min=1), 0, "must be at least 1 (got 0)"),
    (Param("k", "int", 1), True, "must be an integer"),
    (Param("k", "int", 1), 2.5, "must be an integer"),
    (Param("p", "float", 0.5, min=0, max=1), 1.5, "must be at most 1 (got 1.5)"),
    (Param("p", "float", 0.5), float("nan"), "not NaN"),
    (Param("b", "bool", True), "yes", "must be true or false"),
    (Param("m", "choice", "a", choices=("a", "b")), "c", "must be one of 'a', 'b'"),
    (Param("k", "pair", 1, min=1), [3], "pair [h, w]"),
    (Param("k", "pair", 1, min=1), [3, 0], "at least 1"),
    (Param("pad", "pair", 0, min=0, words=("same",)), "full", "or 'same'"),
    (Param("s", "shape", [1], min=1), [3, 0, 4], "at least 1"),
    (Param("s", "shape", [1], min=1), [1, 2, 3, 4], "1 to 3"),
    (Param("o", "pair", 1, min=1), None, "must be set"),
])
def test_parameter_checks_say_what_is_wrong(param: Param, value, problem: str) -> None:
    assert problem in (param.check(value) or "")


@pytest.mark.parametrize("param, value", [
    (Param("k", "pair", 1, min=1), [3, 5]),
    (Param("pad", "pair", 0, min=0, words=("same", "valid")), "same"),
    (Param("o", "pair", 1, min=1, none_items=True), [None, 7]),
    (Param("s", "scale", None, nullable=True), None),
    (Param("s", "scale", 1.0, min=0), [2, 1.5]),
    (Param("p", "pad4", 0), [1, -1, 0, 2]),
])
def test_parameter_checks_accept_valid_values(param: Param, value) -> None:
    assert param.check(value) is None


def test_spec_cross_checks() -> None:
    conv = layers.get("Conv2d")
    _, problems = conv.resolve({"out_channels": 8, "kernel_size": 3, "padding": "same",
                                "stride": 2})
    assert problems == ["padding='same' needs stride 1 (torch refuses it with strides); give "
                        "the padding as a number instead"]
    _, problems = layers.get("Upsample").resolve({})
    assert problems == ["give exactly one of size and scale_factor"]
    _, problems = layers.get("MaxPool2d").resolve({"kernel_size": 2, "padding": 2})
    assert "at most half of kernel_size" in problems[0]
