"""deepgrad.distributions against closed forms in NumPy/SciPy: log_prob, cdf, entropy, mean,
variance and KL for Normal, Uniform, Bernoulli and Categorical, with batching, broadcasting and
dtypes (float32 by default, float64 kept)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import scipy.stats

import deepgrad as dg
from deepgrad.distributions import Bernoulli, Categorical, Normal, Uniform, kl_divergence

RNG = np.random.default_rng(0)


def _t(a, dtype="float64", requires_grad=False):
    return dg.tensor(np.asarray(a), dtype=dtype, requires_grad=requires_grad)


def _np(t):
    return t.detach().numpy()


# -- Normal ---------------------------------------------------------------------------------
def test_normal_log_prob_cdf_entropy_moments_match_scipy():
    loc, scale = RNG.normal(size=(2, 3)), RNG.uniform(0.3, 2.0, size=(2, 3))
    x = RNG.normal(size=(4, 2, 3)) * 2
    d = Normal(_t(loc), _t(scale))
    ref = scipy.stats.norm(loc, scale)
    np.testing.assert_allclose(_np(d.log_prob(_t(x))), ref.logpdf(x), rtol=1e-12)
    np.testing.assert_allclose(_np(d.cdf(_t(x))), ref.cdf(x), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(_np(d.entropy()), ref.entropy(), rtol=1e-12)
    np.testing.assert_allclose(_np(d.mean), ref.mean())
    np.testing.assert_allclose(_np(d.variance), ref.var(), rtol=1e-12)
    np.testing.assert_allclose(_np(d.stddev), ref.std(), rtol=1e-12)
    np.testing.assert_allclose(_np(d.mode), loc)
    assert d.batch_shape == (2, 3) and d.event_shape == ()


def test_normal_broadcasts_tensor_loc_with_float_scale_and_keeps_float32():
    d = Normal(dg.zeros(3), 2.0)
    assert d.batch_shape == (3,)
    assert d.loc.dtype == dg.float32 and d.scale.dtype == dg.float32
    assert d.log_prob(dg.tensor([0.0, 1.0, 2.0])).dtype == dg.float32
    np.testing.assert_allclose(_np(d.scale), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(
        _np(d.log_prob(dg.tensor([0.0, 1.0, 2.0]))),
        scipy.stats.norm(0, 2).logpdf([0.0, 1.0, 2.0]),
        rtol=1e-6,
    )


def test_number_parameters_give_float32_scalars_and_float64_is_kept():
    d = Normal(0.0, 1.0)
    assert d.batch_shape == () and d.loc.dtype == dg.float32
    d64 = Normal(dg.zeros(2, dtype=dg.float64), 1.0)
    assert d64.scale.dtype == dg.float64 and d64.rsample().dtype == dg.float64
    assert d64.sample((3,)).dtype == dg.float64
    assert Uniform(dg.zeros(2, dtype=dg.float64), 1.0).rsample().dtype == dg.float64
    assert Bernoulli(dg.full((2,), 0.5, dtype=dg.float64)).sample().dtype == dg.float64
    assert Categorical(logits=dg.zeros(3, dtype=dg.float64)).entropy().dtype == dg.float64


def test_integer_parameter_tensors_become_float32():
    d = Normal(dg.tensor([0, 1]), dg.tensor([1, 2]))
    assert d.loc.dtype == dg.float32 and d.scale.dtype == dg.float32


# -- Uniform --------------------------------------------------------------------------------
def test_uniform_matches_scipy_inside_and_gives_minus_inf_outside():
    low, high = np.array([0.0, -1.0, 2.0]), np.array([1.0, 3.0, 2.5])
    d = Uniform(_t(low), _t(high), validate_args=False)
    x = np.array([[0.5, -2.0, 2.2], [1.0, 2.9, 3.0]])  # x = high is outside [low, high) as PyTorch
    ref = scipy.stats.uniform(low, high - low)
    expected = np.where((x >= low) & (x < high), ref.logpdf(x), -np.inf)
    np.testing.assert_allclose(_np(d.log_prob(_t(x))), expected, rtol=1e-12)
    np.testing.assert_allclose(_np(d.cdf(_t(x))), ref.cdf(x), rtol=1e-12)
    np.testing.assert_allclose(_np(d.entropy()), ref.entropy(), rtol=1e-12)
    np.testing.assert_allclose(_np(d.mean), ref.mean())
    np.testing.assert_allclose(_np(d.variance), ref.var(), rtol=1e-12)
    np.testing.assert_allclose(_np(d.stddev), ref.std(), rtol=1e-12)
    np.testing.assert_allclose(_np(d.icdf(_t([0.25, 0.5, 1.0]))), ref.ppf([0.25, 0.5, 1.0]))


# -- Bernoulli ------------------------------------------------------------------------------
@pytest.mark.parametrize("by", ["probs", "logits"])
def test_bernoulli_matches_scipy(by):
    p = np.array([0.1, 0.5, 0.93])
    d = Bernoulli(probs=_t(p)) if by == "probs" else Bernoulli(logits=_t(scipy.special.logit(p)))
    x = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    ref = scipy.stats.bernoulli(p)
    np.testing.assert_allclose(_np(d.log_prob(_t(x))), ref.logpmf(x), rtol=1e-12)
    np.testing.assert_allclose(_np(d.entropy()), ref.entropy(), rtol=1e-12)
    np.testing.assert_allclose(_np(d.mean), ref.mean(), rtol=1e-12)
    np.testing.assert_allclose(_np(d.variance), ref.var(), rtol=1e-12)
    np.testing.assert_allclose(_np(d.probs), p, rtol=1e-12)
    np.testing.assert_allclose(_np(d.logits), scipy.special.logit(p), rtol=1e-12)
    np.testing.assert_array_equal(_np(d.mode), [0.0, np.nan, 1.0])


def test_bernoulli_log_prob_is_exact_at_large_logits():
    d = Bernoulli(logits=dg.tensor([100.0, -100.0, 30.0]))
    lp = _np(d.log_prob(dg.tensor([0.0, 1.0, 1.0])))
    np.testing.assert_allclose(lp, [-100.0, -100.0, -np.log1p(np.exp(-30.0))], rtol=1e-6)
    assert np.isfinite(_np(d.entropy())).all()


def test_bernoulli_at_probs_zero_and_one_stays_finite():
    d = Bernoulli(probs=_t([0.0, 1.0]))
    lp = _np(d.log_prob(_t([0.0, 1.0])))
    np.testing.assert_allclose(lp, [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(_np(d.entropy()), [0.0, 0.0], atol=1e-12)


# -- Categorical ----------------------------------------------------------------------------
def test_categorical_probs_are_normalized_and_logits_logsumexp_normalized():
    weights = RNG.uniform(0.1, 3.0, size=(2, 4))
    d = Categorical(probs=_t(weights))
    np.testing.assert_allclose(_np(d.probs), weights / weights.sum(-1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(_np(d.logits), np.log(_np(d.probs)), rtol=1e-12)
    scores = RNG.normal(size=(2, 4)) * 5
    d = Categorical(logits=_t(scores))
    np.testing.assert_allclose(_np(d.logits), scipy.special.log_softmax(scores, -1), rtol=1e-12)
    np.testing.assert_allclose(_np(d.probs), scipy.special.softmax(scores, -1), rtol=1e-12)
    assert d.batch_shape == (2,) and d.event_shape == () and d.param_shape == (2, 4)


def test_categorical_log_prob_entropy_match_closed_forms_and_broadcast():
    scores = RNG.normal(size=(3, 5))
    d = Categorical(logits=_t(scores))
    logp = scipy.special.log_softmax(scores, -1)
    values = np.array([[0, 4, 2], [1, 1, 3]])  # (sample, batch)
    expected = np.take_along_axis(logp[None], values[..., None], -1)[..., 0]
    out = d.log_prob(dg.tensor(values))
    assert out.shape == (2, 3)
    np.testing.assert_allclose(_np(out), expected, rtol=1e-12)
    # a scalar value broadcasts over the batch; a float value that is an integer is accepted
    np.testing.assert_allclose(_np(d.log_prob(dg.tensor(2))), logp[:, 2], rtol=1e-12)
    np.testing.assert_allclose(_np(d.log_prob(_t(2.0))), logp[:, 2], rtol=1e-12)
    probs = np.exp(logp)
    np.testing.assert_allclose(_np(d.entropy()), scipy.stats.entropy(probs, axis=-1), rtol=1e-12)
    np.testing.assert_array_equal(_np(d.mode), probs.argmax(-1))
    assert np.isnan(_np(d.mean)).all() and d.mean.shape == (3,)


def test_categorical_entropy_with_zero_probabilities_is_finite():
    d = Categorical(probs=_t([0.0, 0.5, 0.5]))
    np.testing.assert_allclose(_np(d.entropy()), np.log(2.0), rtol=1e-12)
    d = Categorical(logits=_t([-np.inf, 0.0, 0.0]))
    np.testing.assert_allclose(_np(d.entropy()), np.log(2.0), rtol=1e-12)


def test_expand_broadcasts_the_batch_without_changing_values():
    d = Normal(_t([0.0, 1.0]), 2.0).expand((3, 2))
    assert d.batch_shape == (3, 2) and d.sample().shape == (3, 2)
    np.testing.assert_allclose(
        _np(d.log_prob(_t(0.5))), scipy.stats.norm([0, 1], 2).logpdf(0.5)[None].repeat(3, 0)
    )
    c = Categorical(logits=_t([0.0, 1.0, 2.0])).expand((4,))
    assert c.batch_shape == (4,) and c.sample((2,)).shape == (2, 4)
    np.testing.assert_allclose(
        _np(c.entropy()), [scipy.stats.entropy(scipy.special.softmax([0, 1, 2]))] * 4
    )


# -- KL -------------------------------------------------------------------------------------
def test_kl_normal_normal_matches_formula():
    mp, sp = RNG.normal(size=3), RNG.uniform(0.5, 2, size=3)
    mq, sq = RNG.normal(size=3), RNG.uniform(0.5, 2, size=3)
    expected = np.log(sq / sp) + (sp**2 + (mp - mq) ** 2) / (2 * sq**2) - 0.5
    out = kl_divergence(Normal(_t(mp), _t(sp)), Normal(_t(mq), _t(sq)))
    np.testing.assert_allclose(_np(out), expected, rtol=1e-12)


def test_kl_categorical_matches_sum_formula_with_zeros_and_inf():
    p, q = RNG.dirichlet(np.ones(4), size=2), RNG.dirichlet(np.ones(4), size=2)
    out = kl_divergence(Categorical(probs=_t(p)), Categorical(probs=_t(q)))
    np.testing.assert_allclose(_np(out), (p * np.log(p / q)).sum(-1), rtol=1e-10)
    p0 = Categorical(probs=_t([0.0, 0.5, 0.5]))
    q0 = Categorical(probs=_t([0.5, 0.5, 0.0]))
    assert np.isinf(_np(kl_divergence(p0, q0)))
    np.testing.assert_allclose(
        _np(kl_divergence(p0, Categorical(probs=_t([0.2, 0.4, 0.4])))), np.log(1.25)
    )


def test_kl_bernoulli_matches_formula_and_edges():
    p, q = np.array([0.1, 0.5, 0.9]), np.array([0.3, 0.5, 0.2])
    expected = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    out = kl_divergence(Bernoulli(_t(p)), Bernoulli(logits=_t(scipy.special.logit(q))))
    np.testing.assert_allclose(_np(out), expected, rtol=1e-10)
    edge = kl_divergence(Bernoulli(_t([0.0, 1.0, 0.5])), Bernoulli(_t([0.5, 0.5, 1.0])))
    np.testing.assert_allclose(_np(edge), [np.log(2), np.log(2), np.inf], rtol=1e-12)


def test_kl_uniform_is_log_ratio_inside_and_inf_when_q_does_not_cover_p():
    out = kl_divergence(
        Uniform(_t([0.0, 0.0, -1.0]), _t([1.0, 2.0, 1.0])),
        Uniform(_t([-1.0, 0.0, 0.0]), _t([2.0, 1.0, 1.0])),
    )
    np.testing.assert_allclose(_np(out), [np.log(3.0), np.inf, np.inf])


@pytest.mark.parametrize(
    "make",
    [
        lambda: (Normal(_t([0.3, -1.0]), _t([0.5, 2.0])), Normal(_t([0.0, 0.5]), _t([1.0, 1.5]))),
        lambda: (
            Categorical(logits=_t([[0.1, 2.0, -1.0]])),
            Categorical(logits=_t([[0.5, 0.0, 0.3]])),
        ),
        lambda: (Bernoulli(_t([0.2, 0.7])), Bernoulli(_t([0.6, 0.4]))),
        lambda: (Uniform(_t(0.2), _t(0.9)), Uniform(_t(0.0), _t(1.5))),
    ],
    ids=["normal", "categorical", "bernoulli", "uniform"],
)
def test_kl_agrees_with_monte_carlo_estimate(make):
    p, q = make()
    dg.manual_seed(3)
    x = p.sample((40000,))
    estimate = _np((p.log_prob(x) - q.log_prob(x)).mean(dim=0))
    np.testing.assert_allclose(_np(kl_divergence(p, q)), estimate, atol=0.03)


def test_reachable_as_deepgrad_distributions_like_torch_distributions():
    import deepgrad.distributions

    assert dg.distributions is deepgrad.distributions
    assert dg.distributions.Categorical is Categorical
    assert set(dg.distributions.__all__) >= {"Normal", "Bernoulli", "Uniform", "kl_divergence"}
