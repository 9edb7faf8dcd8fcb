"""Argument validation and error messages: bad parameters raise ValueError at construction
(unless validate_args=False), log_prob rejects values outside the support, shapes that do not
broadcast raise ShapeError, and kl_divergence names an unregistered pair."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.backend import ShapeError
from deepgrad.distributions import (
    Bernoulli,
    Categorical,
    Distribution,
    Normal,
    Uniform,
    kl_divergence,
    register_kl,
)


@pytest.mark.parametrize("cls", [Categorical, Bernoulli])
def test_exactly_one_of_probs_and_logits(cls):
    name = cls.__name__
    with pytest.raises(
        ValueError, match=f"{name}: give exactly one of probs and logits \\(got both\\)"
    ):
        cls(probs=dg.tensor([0.5, 0.5]), logits=dg.tensor([0.0, 0.0]))
    with pytest.raises(
        ValueError, match=f"{name}: give exactly one of probs and logits \\(got neither\\)"
    ):
        cls()


def test_negative_or_zero_scale_names_the_values_and_the_fix():
    with pytest.raises(
        ValueError, match=r"Normal: scale must be > 0 \(got \[-1.0\] .*\); pass a positive scale"
    ):
        Normal(0.0, -1.0)
    with pytest.raises(ValueError, match=r"Normal: scale must be > 0 \(got \[0.0\]"):
        Normal(dg.zeros(3), dg.tensor([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="Normal: loc must be a real number"):
        Normal(float("nan"), 1.0)


def test_other_bad_parameters():
    with pytest.raises(ValueError, match=r"Uniform: high must be > low \(got \[0.0\]"):
        Uniform(1.0, 0.0)
    with pytest.raises(ValueError, match=r"Bernoulli: probs must be in \[0, 1\] \(got \[1.5\]"):
        Bernoulli(probs=dg.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"Categorical: probs must be >= 0 \(got \[-0.5\]"):
        Categorical(probs=dg.tensor([1.0, -0.5]))
    with pytest.raises(ShapeError, match="Categorical: probs must have at least one dimension"):
        Categorical(probs=dg.tensor(0.5))
    with pytest.raises(
        ShapeError, match=r"Normal: parameter shapes \[\(2,\), \(3,\)\] cannot be broadcast"
    ):
        Normal(dg.zeros(2), dg.ones(3))


def test_validate_args_false_skips_the_checks():
    assert Normal(0.0, -1.0, validate_args=False).batch_shape == ()
    d = Uniform(0.0, 1.0, validate_args=False)
    assert d.log_prob(dg.tensor(2.0)).item() == -math.inf


def test_default_validation_can_be_switched_off_and_on():
    try:
        Distribution.set_default_validate_args(False)
        assert Normal(0.0, -1.0).batch_shape == ()
        Categorical(probs=dg.tensor([1.0, -0.5]))
    finally:
        Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        Normal(0.0, -1.0)
    with pytest.raises(ValueError, match="must be True or False"):
        Distribution.set_default_validate_args("yes")


def test_log_prob_rejects_values_outside_the_support():
    with pytest.raises(
        ValueError,
        match=r"Uniform.log_prob: value must lie in the support .*\(got \[2.0\]\); .*validate_args=False",
    ):
        Uniform(0.0, 1.0).log_prob(dg.tensor(2.0))
    with pytest.raises(
        ValueError,
        match=r"Categorical.log_prob: value must lie in the support \(integers 0 .. 2\) \(got \[3\]\)",
    ):
        Categorical(logits=dg.zeros(3)).log_prob(dg.tensor(3))
    with pytest.raises(ValueError, match=r"Categorical.log_prob: .*\(got \[1.5\]\)"):
        Categorical(logits=dg.zeros(3)).log_prob(dg.tensor(1.5))
    with pytest.raises(
        ValueError,
        match=r"Bernoulli.log_prob: value must lie in the support \(0 or 1\) \(got \[0.5\]\)",
    ):
        Bernoulli(0.3).log_prob(dg.tensor(0.5))
    with pytest.raises(ValueError, match="Normal.log_prob: value must lie in the support"):
        Normal(0.0, 1.0).log_prob(dg.tensor(float("nan")))


def test_log_prob_value_that_does_not_broadcast():
    with pytest.raises(
        ShapeError,
        match=r"Normal.log_prob: value of shape \(2,\) does not broadcast with batch_shape \+ event_shape \(3,\)",
    ):
        Normal(dg.zeros(3), 1.0).log_prob(dg.zeros(2))


def test_kl_of_an_unregistered_pair_names_both_types():
    with pytest.raises(
        NotImplementedError,
        match="kl_divergence: no KL.* p=Normal and q=Bernoulli; register one with @register_kl",
    ):
        kl_divergence(Normal(0.0, 1.0), Bernoulli(0.5))


def test_register_kl_picks_the_most_specific_pair_and_checks_its_arguments():
    class Wide(Normal):
        pass

    @register_kl(Wide, Normal)
    def _kl_wide_normal(p, q):
        return dg.tensor(42.0)

    assert kl_divergence(Wide(0.0, 1.0), Normal(0.0, 1.0)).item() == 42.0
    assert (
        kl_divergence(Wide(0.0, 1.0), Wide(0.0, 1.0)).item() == 42.0
    )  # nearer than (Normal, Normal)
    np.testing.assert_allclose(
        kl_divergence(Normal(0.0, 1.0), Wide(1.0, 1.0)).item(), 0.5
    )  # base pair
    with pytest.raises(TypeError, match="register_kl: expected subclasses of Distribution"):
        register_kl(Normal, int)


def test_distribution_base_methods_say_what_is_missing():
    d = Distribution(batch_shape=(2,))
    assert d.batch_shape == (2,) and d.event_shape == ()
    with pytest.raises(NotImplementedError, match="Distribution: log_prob is not implemented"):
        d.log_prob(dg.zeros(2))
    with pytest.raises(NotImplementedError, match="Distribution: rsample is not available"):
        d.sample()


def test_expand_to_an_incompatible_batch_shape():
    with pytest.raises(
        ShapeError, match=r"Normal.expand: batch_shape \(2,\) cannot be expanded to \(3,\)"
    ):
        Normal(dg.zeros(2), 1.0).expand((3,))
