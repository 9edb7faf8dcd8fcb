"""Ensemble: the committee's probabilities are the average of the members', with gradients."""

from __future__ import annotations

import numpy as np
import pytest
from model_helpers import directional_gradcheck

import deepgrad as dg
from deepgrad import nn
from deepgrad.backend import ShapeError
from deepgrad.models import Ensemble
from deepgrad.nn import functional as F


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _members(k=3, dtype=dg.float32):
    dg.manual_seed(0)
    return [nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 4)).to(dtype) for _ in range(k)]


def test_probabilities_are_the_average_of_the_members_softmax():
    members = _members(3, dg.float64)
    committee = Ensemble(members)
    x = dg.randn(6, 5, dtype=dg.float64)
    with dg.no_grad():
        expected = np.mean([_softmax(m(x).numpy()) for m in members], axis=0)
        np.testing.assert_allclose(committee(x).exp().numpy(), expected, rtol=1e-12)
        np.testing.assert_allclose(
            committee.member_log_probs(x).exp().numpy(),
            [_softmax(m(x).numpy()) for m in members],
            rtol=1e-12,
        )
    np.testing.assert_allclose(committee.predict_proba(x).numpy(), expected, rtol=1e-12)
    np.testing.assert_array_equal(committee.predict(x).numpy(), expected.argmax(axis=1))
    with dg.no_grad():
        each = np.stack([m(x).numpy().argmax(axis=1) for m in members])
    np.testing.assert_array_equal(committee.member_predictions(x).numpy(), each)
    # the loss of the committee is its own negative log-likelihood
    y = dg.tensor([0, 1, 2, 3, 0, 1])
    with dg.no_grad():
        nll = float(F.cross_entropy(committee(x), y).item())
    assert nll == pytest.approx(-np.log(expected[np.arange(6), y.numpy()]).mean(), rel=1e-12)


def test_confident_members_do_not_underflow():
    """Logits 2000 apart: averaging exp(log p) in float32 would give log(0) = -inf."""
    a, b = nn.Linear(1, 2), nn.Linear(1, 2)
    with dg.no_grad():
        a.weight.zero_(), b.weight.zero_()
        a.bias.copy_(dg.tensor([0.0, 2000.0])), b.bias.copy_(dg.tensor([0.0, -2000.0]))
    log_p = Ensemble([a, b]).predict_proba(dg.ones(1, 1)).log().numpy()
    np.testing.assert_allclose(log_p, np.log([[0.5, 0.5]]), rtol=1e-6)
    with dg.no_grad():
        out = Ensemble([a, b])(dg.ones(1, 1)).numpy()
    assert np.isfinite(out).all()


def test_the_helpers_evaluate_and_restore_the_modes():
    members = [nn.Sequential(nn.Linear(5, 4), nn.Dropout(0.5)) for _ in range(2)]
    committee = Ensemble(members).train()
    members[1].eval()
    x = dg.randn(8, 5)
    first = committee.predict_proba(x)
    assert not first.requires_grad
    np.testing.assert_array_equal(first.numpy(), committee.predict_proba(x).numpy())  # no dropout
    assert committee.training and members[0].training and not members[1].training


def test_gradients_match_finite_differences_in_float64():
    members = _members(3, dg.float64)
    committee = Ensemble(members)
    x = dg.randn(4, 5, dtype=dg.float64, requires_grad=True)
    y = dg.tensor([1, 0, 3, 2])
    directional_gradcheck(lambda: F.cross_entropy(committee(x), y), [*committee.parameters(), x])


def test_state_dict_keys_and_length():
    committee = Ensemble(_members(2))
    assert len(committee) == 2
    assert set(committee.state_dict()) == {
        f"members.{k}.{i}.{p}" for k in range(2) for i in (0, 2) for p in ("weight", "bias")
    }


def test_bad_members_are_refused():
    with pytest.raises(ValueError, match="Ensemble: needs at least one model"):
        Ensemble([])
    with pytest.raises(TypeError, match="Ensemble: member 1 is not a Module \\(got function\\)"):
        Ensemble([nn.Linear(2, 2), lambda x: x])
    with pytest.raises(ShapeError, match=r"outputs differ in shape.*\(3, 2\).*\(3, 4\)"):
        Ensemble([nn.Linear(2, 2), nn.Linear(2, 4)])(dg.randn(3, 2))
