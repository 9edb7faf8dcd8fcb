"""nn.utils: gradient clipping, L1/L2 penalties, parameter vectors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn as nn
from deepgrad.autograd import gradcheck
from deepgrad.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    l1_penalty,
    l2_penalty,
    parameters_to_vector,
    vector_to_parameters,
)


def _params_with_grads(grads: list) -> list:
    params = []
    for g in grads:
        p = nn.Parameter(dg.zeros(*np.shape(g), dtype="float64"))
        p.grad = dg.tensor(np.asarray(g, dtype=np.float64))
        params.append(p)
    return params


def test_clip_grad_norm_scales_down_and_returns_total():
    params = _params_with_grads([[3.0, 0.0], [[0.0], [4.0]]])  # joint 2-norm = 5
    total = clip_grad_norm_(params, max_norm=1.0)
    assert isinstance(total, dg.Tensor) and float(total) == pytest.approx(5.0)
    joint = math.sqrt(sum(float((p.grad._data**2).sum()) for p in params))
    assert joint == pytest.approx(1.0, rel=1e-5)
    assert np.allclose(params[0].grad._data, [0.6, 0.0], atol=1e-6)


def test_clip_grad_norm_leaves_small_gradients_alone():
    params = _params_with_grads([[0.3, 0.4]])
    before = params[0].grad
    total = clip_grad_norm_(params, max_norm=1.0)
    assert float(total) == pytest.approx(0.5)
    assert params[0].grad is before and np.allclose(before._data, [0.3, 0.4])


@pytest.mark.parametrize(
    "norm_type, expected", [(1.0, 10.0), (float("inf"), 4.0), (3.0, (27 + 64 + 27) ** (1 / 3))]
)
def test_clip_grad_norm_other_norms(norm_type, expected):
    params = _params_with_grads([[3.0, -4.0], [-3.0]])
    total = clip_grad_norm_(params, max_norm=1.0, norm_type=norm_type)
    assert float(total) == pytest.approx(expected)
    values = np.concatenate([p.grad._data.ravel() for p in params])
    after = (
        np.abs(values).max()
        if norm_type == math.inf
        else (np.abs(values) ** norm_type).sum() ** (1 / norm_type)
    )
    assert after == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_skips_missing_grads_and_accepts_a_tensor():
    p = nn.Parameter(dg.zeros(2))
    assert float(clip_grad_norm_([p], 1.0)) == 0.0
    q = nn.Parameter(dg.zeros(2))
    q.grad = dg.tensor([6.0, 8.0])
    assert float(clip_grad_norm_(q, 5.0)) == pytest.approx(10.0)
    assert np.allclose(q.grad._data, [3.0, 4.0], atol=1e-5)


def test_clip_grad_norm_nonfinite():
    params = _params_with_grads([[float("nan"), 1.0]])
    with pytest.raises(RuntimeError, match="total norm .* is nan"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert math.isnan(float(clip_grad_norm_(params, 1.0)))
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        clip_grad_norm_(params, -1.0)
    with pytest.raises(TypeError, match="item 0 is not a Tensor"):
        clip_grad_norm_([np.ones(2)], 1.0)


def test_clip_grad_norm_on_a_model():
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
    (model(dg.randn(16, 4) * 100) ** 2).sum().backward()
    clip_grad_norm_(model.parameters(), max_norm=0.5)
    joint = math.sqrt(
        sum(float((p.grad._data.astype(np.float64) ** 2).sum()) for p in model.parameters())
    )
    assert joint == pytest.approx(0.5, rel=1e-4)


@pytest.mark.parity
def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)) * 5, rng.standard_normal(7)]
    for norm_type in (2.0, 1.0, float("inf")):
        ours = _params_with_grads(grads)
        theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        for t, g in zip(theirs, grads):
            t.grad = torch.tensor(g)
        total = clip_grad_norm_(ours, 2.0, norm_type=norm_type)
        ref = torch.nn.utils.clip_grad_norm_(theirs, 2.0, norm_type=norm_type)
        assert float(total) == pytest.approx(float(ref), rel=1e-10)
        for p, t in zip(ours, theirs):
            assert np.allclose(p.grad._data, t.grad.numpy(), rtol=1e-10)


def test_clip_grad_value():
    params = _params_with_grads([[-3.0, 0.5, 2.0]])
    clip_grad_value_(params, 1.0)
    assert np.array_equal(params[0].grad._data, [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value_(params, -0.1)


def test_penalties_values_and_gradients():
    w1 = dg.tensor([[1.0, -2.0]], dtype="float64", requires_grad=True)
    w2 = dg.tensor([3.0], dtype="float64", requires_grad=True)
    assert float(l1_penalty([w1, w2])) == pytest.approx(6.0)
    assert float(l2_penalty([w1, w2])) == pytest.approx(14.0)
    (0.1 * l1_penalty([w1, w2]) + l2_penalty([w1, w2])).backward()
    # d/dw (0.1 |w| + w^2) = 0.1 sign(w) + 2 w
    assert np.allclose(w1.grad._data, [[0.1 + 2.0, -0.1 - 4.0]])
    assert np.allclose(w2.grad._data, [0.1 + 6.0])
    v = dg.tensor([0.3, -0.7, 1.2], dtype="float64", requires_grad=True)
    assert gradcheck(lambda v: l1_penalty([v]) + l2_penalty([v, v * 2]), (v,))
    with pytest.raises(ValueError, match="got no parameters"):
        l2_penalty([])


def test_l2_penalty_as_weight_decay_on_a_model():
    layer = nn.Linear(3, 2, bias=False).double()
    (0.5 * l2_penalty(layer.parameters())).backward()
    assert np.allclose(layer.weight.grad._data, layer.weight._data)  # d(0.5 ||w||^2)/dw = w


def test_parameters_vector_round_trip():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (sum(p.numel() for p in model.parameters()),)
    expected = np.concatenate([p._data.ravel() for p in model.parameters()])
    assert np.array_equal(vec._data, expected)
    other = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vector_to_parameters(vec.detach(), other.parameters())
    for p, q in zip(model.parameters(), other.parameters()):
        assert np.array_equal(p._data, q._data)
    with pytest.raises(dg.ShapeError, match="vec has 3 elements but the parameters hold 11"):
        vector_to_parameters(dg.zeros(3), other.parameters())
    with pytest.raises(TypeError, match="1-D Tensor"):
        vector_to_parameters(dg.zeros(1, 11), other.parameters())


def test_parameters_to_vector_is_differentiable():
    a = dg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    b = dg.tensor([[3.0]], dtype="float64", requires_grad=True)
    (parameters_to_vector([a, b]) * dg.tensor([1.0, 2.0, 3.0], dtype="float64")).sum().backward()
    assert np.array_equal(a.grad._data, [1.0, 2.0]) and np.array_equal(b.grad._data, [[3.0]])
