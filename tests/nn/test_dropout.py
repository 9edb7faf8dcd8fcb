"""Dropout, Dropout2d and AlphaDropout: scaling, drop rate, train/eval, determinism under
deepgrad.manual_seed and explicit generators, gradients, and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.backend import ShapeError

SELU_SATURATION = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_with_probability_p_and_scales_the_rest(p):
    dg.manual_seed(0)
    x = dg.tensor(np.random.default_rng(123).uniform(1, 2, 20000), dtype="float32")
    y = F.dropout(x, p).numpy()
    kept = y != 0
    assert abs(1 - kept.mean() - p) < 0.015
    np.testing.assert_allclose(y[kept], x.numpy()[kept] / (1 - p), rtol=1e-6)
    assert y.dtype == np.float32
    assert abs(y.mean() - x.numpy().mean()) < 0.05  # inverted dropout keeps the expectation


def test_dropout_is_identity_in_eval_and_for_p_zero():
    x = dg.randn(3, 4)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    layer = nn.Dropout(0.5).eval()
    assert layer(x) is x


def test_dropout_is_repeatable_under_manual_seed_and_generators():
    x = dg.ones(200)
    dg.manual_seed(42)
    a = F.dropout(x, 0.5).numpy()
    b = F.dropout(x, 0.5).numpy()
    dg.manual_seed(42)
    c = F.dropout(x, 0.5).numpy()
    assert np.array_equal(a, c) and not np.array_equal(a, b)
    g1, g2 = dg.Generator().manual_seed(7), dg.Generator().manual_seed(7)
    dg.manual_seed(1)
    first = nn.Dropout(0.3, generator=g1)(x).numpy()
    dg.manual_seed(2)  # the default generator's state does not matter when a generator is given
    second = F.dropout(x, 0.3, generator=g2).numpy()
    assert np.array_equal(first, second)


def test_dropout_gradient_is_the_scaled_mask():
    x = dg.randn(50, requires_grad=True)
    y = F.dropout(x, 0.4)
    y.sum().backward()
    mask = (y.detach().numpy() != 0) / 0.6
    np.testing.assert_allclose(x.grad.numpy(), mask, rtol=1e-6)


def test_dropout_module_follows_train_and_eval():
    layer = nn.Dropout(0.5)
    x = dg.ones(1000)
    assert (layer(x).numpy() == 0).any()
    layer.eval()
    assert layer(x) is x
    layer.train()
    assert (layer(x).numpy() == 0).any()
    assert repr(nn.Dropout(0.2, inplace=True)) == "Dropout(p=0.2, inplace=True)"


def test_dropout_inplace_writes_into_the_input():
    x = dg.ones(100)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x
    assert set(np.unique(x.numpy())) <= {0.0, 2.0}


def test_dropout2d_drops_whole_channels():
    dg.manual_seed(3)
    x = dg.ones(16, 8, 3, 3)
    y = F.dropout2d(x, 0.5).numpy()
    per_channel = y.reshape(16, 8, 9)
    assert np.all((per_channel == 0).all(axis=2) | (per_channel == 2).all(axis=2))
    dropped = (per_channel == 0).all(axis=2).mean()
    assert 0.35 < dropped < 0.65
    unbatched = F.dropout2d(dg.ones(8, 3, 3), 0.5).numpy().reshape(8, 9)
    assert np.all((unbatched == 0).all(axis=1) | (unbatched == 2).all(axis=1))
    with pytest.raises(
        ShapeError, match=r"dropout2d: expected a 4-D input .* \(got shape \(4, 5\)\)"
    ):
        F.dropout2d(dg.ones(4, 5), 0.5)
    assert nn.Dropout2d(0.5).eval()(x) is x


def test_alpha_dropout_keeps_mean_and_variance():
    dg.manual_seed(0)
    x = dg.randn(200000)
    y = F.alpha_dropout(x, 0.3, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.var() - 1.0) < 0.03
    a = 1.0 / np.sqrt(0.7 * (1 + 0.3 * SELU_SATURATION**2))
    dropped_value = a * SELU_SATURATION - a * SELU_SATURATION * 0.3
    assert np.isclose(y, dropped_value, rtol=1e-5).mean() == pytest.approx(0.3, abs=0.01)
    assert F.alpha_dropout(x, 0.3) is x  # training=False by default, as PyTorch
    z = dg.ones(10)
    assert F.alpha_dropout(z, 0.3, training=True, inplace=True) is z and not np.all(z.numpy() == 1)
    assert nn.AlphaDropout(0.3).eval()(x) is x


FIX = r"; pass the dropout probability, e\.g\. 0\.5 \(p = 1 would zero everything\)\."


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5])
def test_bad_probability_raises(p):
    with pytest.raises(ValueError, match=rf"^dropout: p must be in \[0, 1\) \(got {p!r}\){FIX}$"):
        F.dropout(dg.ones(2), p)
    with pytest.raises(ValueError, match=rf"^Dropout2d: p must be in \[0, 1\) \(got {p!r}\){FIX}$"):
        nn.Dropout2d(p)


@pytest.mark.parametrize("p", ["0.5", None, True])
def test_a_probability_that_is_not_a_number_is_a_type_error(p):
    with pytest.raises(TypeError, match=rf"^alpha_dropout: p must be a number \(got .*\){FIX}$"):
        F.alpha_dropout(dg.ones(2), p)
    with pytest.raises(TypeError, match=rf"^Dropout: p must be a number \(got .*\){FIX}$"):
        nn.Dropout(p)
