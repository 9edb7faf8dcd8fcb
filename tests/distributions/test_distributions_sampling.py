"""Sampling and gradients: shapes, sample statistics of 20k draws, repeatability under
manual_seed, reparameterized gradients of rsample, float64 gradcheck of log_prob, rsample,
entropy and kl_divergence."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import gradcheck
from deepgrad.distributions import Bernoulli, Categorical, Normal, Uniform, kl_divergence

N = 20000


def _t(a, requires_grad=False):
    return dg.tensor(np.asarray(a, dtype="float64"), dtype="float64", requires_grad=requires_grad)


def _np(t):
    return t.detach().numpy()


def _make(name: str):
    return {
        "normal": lambda: Normal(dg.tensor([0.0, -2.0, 3.0]), dg.tensor([1.0, 0.5, 2.0])),
        "uniform": lambda: Uniform(dg.tensor([0.0, -1.0, 2.0]), dg.tensor([1.0, 3.0, 2.5])),
        "bernoulli": lambda: Bernoulli(dg.tensor([0.1, 0.5, 0.8])),
        "categorical": lambda: Categorical(
            probs=dg.tensor([[0.2, 0.3, 0.5], [0.0, 0.9, 0.1], [1.0, 1.0, 2.0]])
        ),
    }[name]()


@pytest.mark.parametrize("name", ["normal", "uniform", "bernoulli", "categorical"])
def test_sample_shape_and_no_graph(name):
    d = _make(name)
    assert d.sample().shape == (3,)
    assert d.sample((5,)).shape == (5, 3)
    assert d.sample((2, 4)).shape == (2, 4, 3)
    assert d.sample(7).shape == (7, 3)
    assert not d.sample((2,)).requires_grad


@pytest.mark.parametrize("name", ["normal", "uniform", "bernoulli"])
def test_sample_mean_and_variance_of_20k_draws(name):
    d = _make(name)
    dg.manual_seed(0)
    x = _np(d.sample((N,))).astype("float64")
    mean, var = _np(d.mean), _np(d.variance)
    # the standard error of the mean is sqrt(var / N); allow 5 of them (and a floor for var = 0)
    assert (np.abs(x.mean(0) - mean) <= 5 * np.sqrt(var / N) + 1e-6).all(), (x.mean(0), mean)
    np.testing.assert_allclose(x.var(0), var, rtol=0.05, atol=1e-6)


def test_categorical_frequencies_of_20k_draws_match_probs_and_zero_probs_never_drawn():
    d = _make("categorical")
    dg.manual_seed(0)
    x = _np(d.sample((N,)))
    assert x.dtype == np.int64 and x.min() >= 0 and x.max() <= 2
    probs = _np(d.probs)
    freq = np.stack([(x == k).mean(0) for k in range(3)], axis=-1)
    np.testing.assert_allclose(freq, probs, atol=5 * np.sqrt(0.25 / N))
    assert not (x[:, 1] == 0).any()  # probability 0 for class 0 in the second row


def test_uniform_samples_stay_in_low_high():
    x = _np(_make("uniform").sample((N,)))
    assert (x >= [0.0, -1.0, 2.0]).all() and (x < [1.0, 3.0, 2.5]).all()


@pytest.mark.parametrize("name", ["normal", "uniform", "bernoulli", "categorical"])
def test_manual_seed_makes_draws_repeatable(name):
    d = _make(name)
    dg.manual_seed(123)
    a = _np(d.sample((50,)))
    b = _np(d.sample((50,)))
    dg.manual_seed(123)
    np.testing.assert_array_equal(_np(d.sample((50,))), a)
    assert not np.array_equal(a, b)


def test_normal_rsample_is_loc_plus_scale_times_noise_with_those_gradients():
    loc = _t([0.5, -1.0], requires_grad=True)
    scale = _t([2.0, 0.3], requires_grad=True)
    dg.manual_seed(0)
    x = Normal(loc, scale).rsample((4,))
    dg.manual_seed(0)
    eps = _np(dg.randn(4, 2, dtype=dg.float64))
    np.testing.assert_allclose(_np(x), _np(loc) + _np(scale) * eps, rtol=1e-12)
    x.sum().backward()
    np.testing.assert_allclose(_np(loc.grad), [4.0, 4.0])
    np.testing.assert_allclose(_np(scale.grad), eps.sum(0), rtol=1e-12)


def test_uniform_rsample_gradients_are_one_minus_u_and_u():
    low, high = _t([0.0, -1.0], requires_grad=True), _t([1.0, 3.0], requires_grad=True)
    dg.manual_seed(1)
    x = Uniform(low, high).rsample((5,))
    u = (_np(x) - [0.0, -1.0]) / [1.0, 4.0]
    x.sum().backward()
    np.testing.assert_allclose(_np(low.grad), (1 - u).sum(0), rtol=1e-10)
    np.testing.assert_allclose(_np(high.grad), u.sum(0), rtol=1e-10)


@pytest.mark.parametrize("name", ["categorical", "bernoulli"])
def test_discrete_distributions_have_no_rsample(name):
    d = _make(name)
    assert not d.has_rsample
    with pytest.raises(NotImplementedError, match=f"{type(d).__name__}: rsample is not available"):
        d.rsample()


def _seeded(fn):
    """fn with a fresh seed on every call, so finite differences see the same noise."""

    def wrapped(*args):
        dg.manual_seed(7)
        return fn(*args)

    return wrapped


GRADCHECKS = {
    "normal log_prob": (
        lambda m, s, x: Normal(m, s).log_prob(x),
        ([0.3, -1.0], [0.7, 1.5], [[0.1, 2.0], [-0.5, 0.0]]),
    ),
    "normal rsample": (_seeded(lambda m, s: Normal(m, s).rsample((3,))), ([0.3, -1.0], [0.7, 1.5])),
    "normal entropy+cdf": (
        lambda m, s, x: Normal(m, s).entropy() + Normal(m, s).cdf(x),
        ([0.3, -1.0], [0.7, 1.5], [0.4, -2.0]),
    ),
    "uniform log_prob": (
        lambda a, b: Uniform(a, b).log_prob(_t([0.5, 0.0])),
        ([0.0, -1.0], [1.0, 2.0]),
    ),
    "uniform rsample": (
        _seeded(lambda a, b: Uniform(a, b).rsample((3,))),
        ([0.0, -1.0], [1.0, 2.0]),
    ),
    "bernoulli probs": (
        lambda p: Bernoulli(p).log_prob(_t([[1.0, 0.0, 1.0]])) + Bernoulli(p).entropy(),
        ([0.2, 0.5, 0.9],),
    ),
    "bernoulli logits": (
        lambda l: Bernoulli(logits=l).log_prob(_t([1.0, 0.0, 1.0])) + Bernoulli(logits=l).entropy(),
        ([-2.0, 0.0, 3.0],),
    ),
    "categorical logits": (
        lambda l: (
            Categorical(logits=l).log_prob(dg.tensor([[2, 0], [1, 1]]))
            + Categorical(logits=l).entropy()
        ),
        ([[0.1, 2.0, -1.0], [0.0, 0.0, 0.5]],),
    ),
    "categorical probs": (
        lambda p: Categorical(probs=p).log_prob(dg.tensor([2, 0])) + Categorical(probs=p).entropy(),
        ([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]],),
    ),
    "kl normal": (
        lambda a, b, c, d: kl_divergence(Normal(a, b), Normal(c, d)),
        ([0.3], [0.7], [-0.2], [1.3]),
    ),
    "kl categorical": (
        lambda p, q: kl_divergence(Categorical(logits=p), Categorical(logits=q)),
        ([0.1, 2.0, -1.0], [0.5, 0.0, 0.3]),
    ),
    "kl bernoulli": (
        lambda p, q: kl_divergence(Bernoulli(logits=p), Bernoulli(logits=q)),
        ([0.4, -2.0], [1.0, 0.0]),
    ),
    "kl uniform": (
        lambda a, b, c, d: kl_divergence(Uniform(a, b), Uniform(c, d)),
        ([0.1], [0.9], [0.0], [1.5]),
    ),
}


@pytest.mark.parametrize("name", list(GRADCHECKS))
def test_float64_gradcheck(name):
    fn, values = GRADCHECKS[name]
    assert gradcheck(fn, tuple(_t(v, requires_grad=True) for v in values))
