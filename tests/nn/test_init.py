"""nn.init: gains, fans and the statistics of every initializer."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn as nn
from deepgrad.nn import init

# 250 000 draws: the sample std is within ~0.3% of the true one (3 standard errors ~0.5%).
ROWS, COLS = 500, 500


def _relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def test_calculate_gain_values():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("conv2d") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'; allowed: .*relu"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope must be a number"):
        init.calculate_gain("leaky_relu", "big")


@pytest.mark.parity
def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name in ["linear", "conv1d", "conv_transpose2d", "sigmoid", "tanh", "relu", "selu"]:
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    for slope in [None, 0.0, 0.2, 1.0]:
        expected = torch.nn.init.calculate_gain("leaky_relu", slope)
        assert init.calculate_gain("leaky_relu", slope) == pytest.approx(expected)


@pytest.mark.parametrize(
    "shape, fans",
    [
        ((3, 5), (5, 3)),
        ((8, 4, 3, 3), (36, 72)),
        ((6, 2, 5), (10, 30)),
        ((2, 3, 4, 5, 6), (360, 240)),
    ],
)
def test_fan_in_and_fan_out(shape, fans):
    # fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field
    assert init._calculate_fan_in_and_fan_out(dg.empty(*shape)) == fans


def test_fan_needs_two_dims():
    with pytest.raises(dg.ShapeError, match="at least 2 dimensions \\(got shape \\(4,\\)\\)"):
        init.xavier_uniform_(dg.empty(4))


@pytest.mark.parity
def test_fans_match_torch():
    torch = pytest.importorskip("torch")
    for shape in [(3, 5), (8, 4, 3, 3), (6, 2, 5)]:
        ours = init._calculate_fan_in_and_fan_out(dg.empty(*shape))
        assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_constants_and_eye():
    t = dg.empty(3, 4)
    assert init.zeros_(t) is t and not t._data.any()
    assert np.all(init.ones_(t)._data == 1)
    assert np.all(init.constant_(t, 0.25)._data == 0.25)
    assert np.array_equal(init.eye_(t)._data, np.eye(3, 4, dtype=np.float32))
    with pytest.raises(dg.ShapeError, match="2-D"):
        init.eye_(dg.empty(2, 2, 2))


def test_in_place_on_parameters_records_no_graph():
    layer = nn.Linear(3, 3)
    weight, array = layer.weight, layer.weight._data
    version = weight._version
    init.normal_(layer.weight)
    assert layer.weight is weight and weight._data is array  # written in place
    assert weight.is_leaf and weight.requires_grad and weight.grad_fn is None
    assert weight._version > version


@pytest.mark.parametrize(
    "fn, std_of",
    [
        (lambda t: init.xavier_normal_(t), lambda fi, fo: math.sqrt(2 / (fi + fo))),
        (lambda t: init.xavier_normal_(t, gain=2.0), lambda fi, fo: 2 * math.sqrt(2 / (fi + fo))),
        (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), lambda fi, fo: math.sqrt(2 / fi)),
        (
            lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
            lambda fi, fo: math.sqrt(2 / fo),
        ),
        (
            lambda t: init.kaiming_normal_(t, a=0.1),
            lambda fi, fo: math.sqrt(2 / (1 + 0.01)) / math.sqrt(fi),
        ),
        (lambda t: init.lecun_normal_(t), lambda fi, fo: 1 / math.sqrt(fi)),
        (lambda t: init.normal_(t, 0.0, 0.3), lambda fi, fo: 0.3),
    ],
)
def test_normal_initializers_have_the_formula_std(fn, std_of):
    dg.manual_seed(0)
    t = dg.empty(ROWS // 2, COLS * 2)  # fan_in != fan_out, so fan mistakes show
    fn(t)
    fan_in, fan_out = COLS * 2, ROWS // 2
    assert _relative(float(t._data.std()), std_of(fan_in, fan_out)) < 0.01
    assert abs(float(t._data.mean())) < 0.01 * std_of(fan_in, fan_out)


@pytest.mark.parametrize(
    "fn, bound_of",
    [
        (lambda t: init.xavier_uniform_(t), lambda fi, fo: math.sqrt(6 / (fi + fo))),
        (lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), lambda fi, fo: math.sqrt(6 / fi)),
        (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), lambda fi, fo: 1 / math.sqrt(fi)),
        (
            lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="tanh"),
            lambda fi, fo: 5 / 3 * math.sqrt(3 / fo),
        ),
        (lambda t: init.uniform_(t, -0.5, 0.5), lambda fi, fo: 0.5),
    ],
)
def test_uniform_initializers_have_the_formula_bound(fn, bound_of):
    dg.manual_seed(0)
    t = dg.empty(ROWS // 2, COLS * 2)
    fn(t)
    bound = bound_of(COLS * 2, ROWS // 2)
    values = t._data
    assert values.max() <= bound and values.min() >= -bound
    assert values.max() > 0.999 * bound and values.min() < -0.999 * bound
    assert (
        _relative(float(values.std()), bound / math.sqrt(3)) < 0.01
    )  # U(-b, b) has std b / sqrt(3)


def test_uniform_with_offset_and_conv_shape():
    dg.manual_seed(0)
    t = init.uniform_(dg.empty(100_000), 2.0, 3.0)
    assert t._data.min() >= 2.0 and t._data.max() <= 3.0 and abs(t._data.mean() - 2.5) < 0.01
    conv = init.kaiming_normal_(dg.empty(64, 16, 5, 5), nonlinearity="relu")
    assert _relative(float(conv._data.std()), math.sqrt(2 / (16 * 25))) < 0.02


def test_trunc_normal_bounds_and_moments():
    dg.manual_seed(0)
    t = init.trunc_normal_(dg.empty(ROWS, COLS), mean=0.0, std=1.0, a=-2.0, b=2.0)
    assert t._data.min() >= -2.0 and t._data.max() <= 2.0
    # Variance of N(0, 1) truncated to [-2, 2]: 1 - 2 * 2 * phi(2) / (2 * Phi(2) - 1)
    phi = math.exp(-2.0) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    assert _relative(float(t._data.var()), 1 - 4 * phi / mass) < 0.01
    shifted = init.trunc_normal_(dg.empty(10_000), mean=1.0, std=0.1, a=0.9, b=1.5)
    assert shifted._data.min() >= 0.9 and shifted._data.max() <= 1.5
    with pytest.raises(ValueError, match="less than 0.1%"):
        init.trunc_normal_(dg.empty(3), a=10.0, b=11.0)
    with pytest.raises(ValueError, match="need a < b"):
        init.trunc_normal_(dg.empty(3), a=1.0, b=-1.0)


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (5, 5), (3, 2, 2)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    dg.manual_seed(0)
    t = init.orthogonal_(dg.empty(*shape, dtype="float64"), gain=2.0)
    flat = t._data.reshape(shape[0], -1)
    rows, cols = flat.shape
    gram = flat @ flat.T if rows <= cols else flat.T @ flat
    assert np.allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-10)


def test_generator_argument_and_seeding():
    gen = dg.Generator().manual_seed(5)
    a = init.xavier_normal_(dg.empty(3, 4), generator=gen)._data.copy()
    gen.manual_seed(5)
    b = init.xavier_normal_(dg.empty(3, 4), generator=gen)._data.copy()
    assert np.array_equal(a, b)
    dg.manual_seed(11)
    c = init.kaiming_uniform_(dg.empty(3, 4))._data.copy()
    dg.manual_seed(11)
    assert np.array_equal(c, init.kaiming_uniform_(dg.empty(3, 4))._data)


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out' \\(got 'fan_avg'\\)"):
        init.kaiming_uniform_(dg.empty(2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal_(dg.empty(2), std=-1.0)
    with pytest.raises(ValueError, match="b must be >= a"):
        init.uniform_(dg.empty(2), 1.0, 0.0)


def test_float64_tensor_keeps_its_dtype():
    t = init.xavier_uniform_(dg.empty(3, 3, dtype="float64"))
    assert t.dtype == dg.float64
