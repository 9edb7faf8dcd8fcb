"""The fused transformer primitives (ops/fused_layers.py) equal their composite references, and
the float32 erf approximation stays within a few ulp of SciPy's float64 erf."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.autograd.gradcheck import gradcheck, gradgradcheck
from deepgrad.backend.ops_compat import erf_float32
from deepgrad.nn.functional.attention import _attend, _causal_allowed
from deepgrad.ops.fused_layers import Gelu, LayerNorm, ScaledDotProductAttention


def _gelu_composite(x):
    return x * (dg.erf(x * (1.0 / math.sqrt(2.0))) + 1.0) * 0.5


def _layer_norm_composite(x, w, b):
    centered = x - x.mean(dim=-1, keepdim=True)
    return centered * ((centered * centered).mean(dim=-1, keepdim=True) + 1e-5) ** -0.5 * w + b


def _sdpa_composite(q, k, v, causal):
    mask = _causal_allowed(q, q.shape[-2], k.shape[-2]) if causal else None
    return _attend(q, k, v, mask, 0.0, 1.0 / math.sqrt(q.shape[-1]))[0]


def _sdpa_fused(q, k, v, causal):
    y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert y.grad_fn.fn is ScaledDotProductAttention
    return y


CASES = {
    "gelu": (F.gelu, _gelu_composite, [(4, 6)], Gelu),
    "layer_norm": (
        lambda x, w, b: F.layer_norm(x, (6,), w, b),
        _layer_norm_composite,
        [(3, 4, 6), (6,), (6,)],
        LayerNorm,
    ),
    "sdpa": (
        lambda q, k, v: _sdpa_fused(q, k, v, False),
        lambda q, k, v: _sdpa_composite(q, k, v, False),
        [(2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 2)],
        ScaledDotProductAttention,
    ),
    "sdpa_causal": (
        lambda q, k, v: _sdpa_fused(q, k, v, True),
        lambda q, k, v: _sdpa_composite(q, k, v, True),
        [(2, 2, 6, 4), (2, 2, 5, 4), (1, 2, 5, 3)],
        ScaledDotProductAttention,
    ),
}


@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("name", list(CASES))
def test_fused_matches_composite(name, dtype, rtol):
    fused, composite, shapes, primitive = CASES[name]
    dg.manual_seed(0)
    inputs = [dg.randn(*s, dtype=dtype, requires_grad=True) for s in shapes]
    y = fused(*inputs)
    assert y.grad_fn.fn is primitive
    ref = composite(*inputs)
    upstream = dg.randn(*y.shape, dtype=dtype)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=rtol, atol=rtol)
    got = dg.autograd.grad(y, inputs, upstream, create_graph=True)
    want = dg.autograd.grad(ref, inputs, upstream, create_graph=True)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=rtol, atol=rtol)
    if dtype == "float64":  # second order through the recorded backward equals the composite's
        second_f = dg.autograd.grad(sum((g * g).sum() for g in got), inputs, allow_unused=True)
        second_c = dg.autograd.grad(sum((g * g).sum() for g in want), inputs, allow_unused=True)
        for f, c in zip(second_f, second_c):
            if f is None or c is None:  # a bias: no second-order path in either
                assert f is None or not f.numpy().any()
                continue
            np.testing.assert_allclose(f.numpy(), c.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_fused_gradcheck_and_gradgradcheck(name):
    fused, _, shapes, _ = CASES[name]
    dg.manual_seed(1)
    inputs = tuple(dg.randn(*s, dtype="float64", requires_grad=True) for s in shapes)
    assert gradcheck(fused, inputs)
    assert gradgradcheck(fused, inputs)


def test_erf_float32_within_a_few_ulp_of_exact():
    x = np.linspace(-6, 6, 400_001).astype(np.float32)
    exact = scipy.special.erf(x.astype(np.float64))
    y = erf_float32(x)
    assert y.dtype == np.float32 and np.abs(y).max() <= 1.0
    ulp = np.abs(y - exact) / np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert ulp.max() <= 8, ulp.max()
    special = erf_float32(np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30], np.float32))
    np.testing.assert_array_equal(special[:4], [0.0, -0.0, 1.0, -1.0])
    assert np.isnan(special[4]) and np.isclose(
        special[5], 2 / math.sqrt(math.pi) * 1e-30, rtol=1e-6
    )
    assert erf_float32(np.array(0.5, np.float32)).shape == ()


def test_erf_float32_matches_scipy_in_the_op():
    x = dg.linspace(-5, 5, 1001)
    np.testing.assert_allclose(
        dg.erf(x).numpy(), scipy.special.erf(x.numpy().astype(np.float64)), atol=5e-7
    )
    assert dg.erf(x.double()).numpy().tolist() == scipy.special.erf(x.double().numpy()).tolist()


def test_linear_on_nd_input_matches_batched_matmul():
    dg.manual_seed(0)
    x = dg.randn(3, 4, 5, 6, requires_grad=True)
    w = dg.randn(7, 6, requires_grad=True)
    y = F.linear(x, w)
    ref = np.matmul(x.detach().numpy(), w.detach().numpy().T)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-5, atol=1e-5)
    y.sum().backward()
    g = np.ones(ref.shape, np.float32)
    np.testing.assert_allclose(x.grad.numpy(), g @ w.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        w.grad.numpy(), g.reshape(-1, 7).T @ x.detach().numpy().reshape(-1, 6), rtol=1e-4
    )
    xt = dg.randn(6, 4, 5).permute(1, 2, 0)  # non-contiguous N-D input
    expected = np.matmul(xt.numpy(), w.detach().numpy().T)
    np.testing.assert_allclose((xt @ w.detach().mT).numpy(), expected, rtol=1e-5, atol=1e-5)


def _masks(dtype):
    allowed = np.array(
        [
            [True, False, True, False, True],
            [False, False, False, False, False],
            [True, True, False, True, True],
            [False, True, True, True, False],
        ]
    )
    additive = np.where(allowed, 0.5, -np.inf).astype(dtype)
    return dg.tensor(allowed), dg.tensor(additive)


@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("causal", [False, True])
def test_fused_sdpa_with_masks_matches_composite(kind, causal, dtype, rtol):
    """Masks, with a row that attends to nothing (zero output and gradients, not NaN)."""
    dg.manual_seed(2)
    q, k, v = (
        dg.randn(2, 3, 4 if i == 0 else 5, 3, dtype=dtype, requires_grad=True) for i in range(3)
    )
    boolean, additive = _masks(dtype)
    mask = boolean if kind == "bool" else additive
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    assert y.grad_fn.fn is ScaledDotProductAttention
    scale = 1.0 / math.sqrt(3)
    allowed = boolean & _causal_allowed(q, 4, 5) if causal else boolean
    ref = _attend(
        q, k, v, allowed if kind == "bool" else dg.where(allowed, additive, -math.inf), 0.0, scale
    )[0]
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=rtol, atol=rtol)
    assert not y.detach().numpy()[:, :, 1].any()  # the empty row
    upstream = dg.randn(*y.shape, dtype=dtype)
    got = dg.autograd.grad(y, [q, k, v], upstream, create_graph=True)
    want = dg.autograd.grad(ref, [q, k, v], upstream, create_graph=True)
    for g, w in zip(got, want):
        assert np.isfinite(g.detach().numpy()).all()
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=rtol, atol=rtol)
    if dtype == "float64":

        def fused(*qkv):
            return F.scaled_dot_product_attention(*qkv, attn_mask=mask, is_causal=causal)

        assert gradcheck(fused, (q, k, v))
        assert gradgradcheck(fused, (q, k, v))


def test_sdpa_mask_that_needs_a_gradient_takes_the_composite():
    q = dg.randn(1, 2, 3)
    mask = dg.zeros(2, 2, requires_grad=True)
    y = F.scaled_dot_product_attention(q, q, q, attn_mask=mask)
    assert y.grad_fn.fn is not ScaledDotProductAttention
    y.sum().backward()
    assert mask.grad is not None


@pytest.mark.parametrize("causal", [False, True])
def test_multihead_attention_without_weights_is_fused_and_equal(causal):
    dg.manual_seed(3)
    mha = dg.nn.MultiheadAttention(8, 2, batch_first=True)
    x = dg.randn(3, 5, 8, requires_grad=True)
    padding = dg.tensor(
        [[False] * 5, [False, False, False, True, True], [True] * 5]
    )  # a fully masked row
    mask = dg.nn.Transformer.generate_square_subsequent_mask(5) if causal else None
    fused, none = mha(
        x, x, x, key_padding_mask=padding, attn_mask=mask, need_weights=False, is_causal=causal
    )
    assert none is None
    composite, _ = mha(
        x, x, x, key_padding_mask=padding, attn_mask=mask, need_weights=True, is_causal=causal
    )
    np.testing.assert_allclose(
        fused.detach().numpy(), composite.detach().numpy(), rtol=1e-5, atol=1e-6
    )
    gf = dg.autograd.grad(fused.sum(), [x, mha.in_proj_weight])
    gc = dg.autograd.grad(composite.sum(), [x, mha.in_proj_weight])
    for f, c in zip(gf, gc):
        np.testing.assert_allclose(f.numpy(), c.numpy(), rtol=1e-4, atol=1e-5)


def test_linear_on_nd_input_with_no_in_features():
    x = dg.zeros(2, 3, 0, requires_grad=True)
    w = dg.zeros(5, 0, requires_grad=True)
    y = F.linear(x, w, dg.ones(5))
    assert y.shape == (2, 3, 5) and y.detach().numpy().tolist() == np.ones((2, 3, 5)).tolist()
    y.sum().backward()
    assert x.grad.shape == (2, 3, 0) and w.grad.shape == (5, 0)


def test_fused_sdpa_with_a_mask_that_adds_leading_dims():
    dg.manual_seed(4)
    q, k, v = (dg.randn(3, 2, dtype="float64", requires_grad=True) for _ in range(3))
    mask = dg.randn(2, 3, 3, dtype="float64")
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert y.grad_fn.fn is ScaledDotProductAttention and y.shape == (2, 3, 2)
    ref = _attend(q, k, v, mask, 0.0, 1.0 / math.sqrt(2))[0]
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    for g, w in zip(dg.autograd.grad(y.sum(), [q, k, v]), dg.autograd.grad(ref.sum(), [q, k, v])):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-10, atol=1e-12)
