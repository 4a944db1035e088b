"""An activation's curve as the inspector plots it: f and f' from the layer's own module, its
parameters used, the saturated regions found, and one computation per (type, parameters)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnstudio.engine.inference import activation
from cnnstudio.engine.inference.activation import curve


def test_relu_is_flat_below_zero_and_the_slope_comes_from_autograd():
    c = curve("ReLU", {})
    assert c.x[0] == -6 and c.x[-1] == 6 and len(c.x) == 481
    assert np.array_equal(c.y, np.maximum(c.x, 0))
    assert np.array_equal(c.slope, (c.x > 0).astype(float))
    assert c.flat == ((-6.0, 0.0),)


def test_tanh_and_sigmoid_saturate_on_both_sides_where_the_slope_falls_under_005():
    tanh = curve("Tanh", {})
    np.testing.assert_allclose(tanh.slope, 1 - np.tanh(tanh.x) ** 2, atol=1e-12)
    edge = math.atanh(math.sqrt(1 - activation.FLAT))  # 1 − tanh² = 0.05 at |x| ≈ 2.18
    (lo, a), (b, hi) = tanh.flat
    assert lo == -6 and hi == 6
    assert a == pytest.approx(-edge, abs=0.03) and b == pytest.approx(edge, abs=0.03)
    sigmoid = curve("Sigmoid", {})
    assert [round(v, 1) for v in np.ravel(sigmoid.flat)] == [-6.0, -2.9, 2.9, 6.0]
    assert float(sigmoid.slope.max()) == pytest.approx(0.25)


def test_the_nodes_parameters_change_the_curve():
    leaky = curve("LeakyReLU", {"negative_slope": 0.2})
    assert leaky.y[0] == pytest.approx(-1.2) and leaky.slope[0] == pytest.approx(0.2)
    assert leaky.flat == ()
    assert curve("ELU", {"alpha": 0.5}).y[0] == pytest.approx(0.5 * (math.exp(-6) - 1))
    prelu = curve("PReLU", {"num_parameters": 64, "init": 0.1})  # one shared slope drawn
    assert prelu.slope[0] == pytest.approx(0.1)
    exact, tanh_gelu = curve("GELU", {}), curve("GELU", {"approximate": "tanh"})
    assert 0 < float(np.abs(exact.y - tanh_gelu.y).max()) < 1e-3


def test_a_dip_or_a_small_constant_slope_is_no_saturation():
    gelu = curve("GELU", {})  # f' crosses 0 near x = −0.75: not shaded
    assert len(gelu.flat) == 1 and gelu.flat[0][0] == -6 and gelu.flat[0][1] < -2
    assert curve("LeakyReLU", {}).flat == ()  # 0.01 everywhere below 0: the gradient passes
    assert curve("LeakyReLU", {"negative_slope": 0.0}).flat == ((-6.0, 0.0),)


def test_invalid_parameters_are_refused_in_a_line():
    with pytest.raises(ValueError, match="negative_slope must be at least 0"):
        curve("LeakyReLU", {"negative_slope": -1.0})


def test_each_type_and_parameters_are_computed_once():
    first = curve("SiLU", {})
    assert curve("SiLU", {}) is first
    assert curve("Softplus", {"beta": 2.0, "threshold": 20.0}) \
        is curve("Softplus", {"threshold": 20.0, "beta": 2.0})
    assert curve("Softplus", {"beta": 2.0}) is not curve("Softplus", {"beta": 1.0})
    with pytest.raises(ValueError):
        first.y[0] = 1.0  # shared through the cache: read-only
