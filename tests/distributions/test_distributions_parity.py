"""PyTorch parity (marked ``parity``): values and parameter gradients of log_prob, entropy, cdf
and kl_divergence, and the gradients of rsample as a function of its draw, against
``torch.distributions`` with the same parameters, in float32 and float64."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

pytestmark = pytest.mark.parity

RNG = np.random.default_rng(5)
TOL = {"float32": {"rtol": 2e-5, "atol": 2e-6}, "float64": {"rtol": 1e-10, "atol": 1e-12}}


def _pair(a, dtype):
    a = np.asarray(a, dtype=dtype)
    return (
        dg.tensor(a, dtype=dtype, requires_grad=True),
        torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True),
    )


def _compare(dg_out, torch_out, dg_params, torch_params, dtype):
    np.testing.assert_allclose(dg_out.detach().numpy(), torch_out.detach().numpy(), **TOL[dtype])
    weights = RNG.normal(size=dg_out.shape)
    (dg_out * dg.tensor(weights, dtype=dtype)).sum().backward()
    (torch_out * torch.tensor(weights, dtype=torch_out.dtype)).sum().backward()
    for p, q in zip(dg_params, torch_params):
        assert (p.grad is None) == (q.grad is None)  # a parameter the result does not use
        if q.grad is not None:
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **TOL[dtype])


def _cases():
    """(name, params, make(cls_module, *params) -> distribution, value) per case."""
    scores = RNG.normal(size=(2, 4)) * 2
    return {
        "normal": (
            [RNG.normal(size=(2, 3)), RNG.uniform(0.3, 2, size=(2, 3))],
            lambda M, loc, scale: M.Normal(loc, scale),
            RNG.normal(size=(5, 2, 3)),
        ),
        "uniform": (
            [RNG.uniform(-1, 0, size=3), RNG.uniform(1, 2, size=3)],
            lambda M, low, high: M.Uniform(low, high),
            RNG.uniform(0, 1, size=(4, 3)),
        ),
        "bernoulli_probs": (
            [RNG.uniform(0.05, 0.95, size=(3,))],
            lambda M, p: M.Bernoulli(probs=p),
            RNG.integers(0, 2, size=(4, 3)).astype("float64"),
        ),
        "bernoulli_logits": (
            [np.array([-30.0, -1.0, 0.0, 2.0, 25.0])],
            lambda M, logits: M.Bernoulli(logits=logits),
            np.array([[1.0, 0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0, 1.0]]),
        ),
        "categorical_logits": (
            [scores],
            lambda M, logits: M.Categorical(logits=logits),
            RNG.integers(0, 4, size=(3, 2)),
        ),
        "categorical_probs": (
            [RNG.uniform(0.1, 2.0, size=(2, 4))],
            lambda M, probs: M.Categorical(probs=probs),
            RNG.integers(0, 4, size=(2,)),
        ),
    }


CASES = _cases()


def _value(v, dtype, lib):
    if v.dtype.kind in "iu":
        return dg.tensor(v) if lib is dg else torch.tensor(v)
    return dg.tensor(v, dtype=dtype) if lib is dg else torch.tensor(v, dtype=getattr(torch, dtype))


METHODS = [
    (name, method)
    for name in CASES
    for method in ("log_prob", "entropy", "cdf")
    if method != "cdf" or name in ("normal", "uniform")  # cdf: the continuous ones
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "method"), METHODS)
def test_values_and_gradients_match_torch(name, method, dtype):
    params, make, value = CASES[name]
    pairs = [_pair(p, dtype) for p in params]
    mine = make(D, *[a for a, _ in pairs])
    theirs = make(TD, *[b for _, b in pairs])
    if method == "entropy":
        out_dg, out_t = mine.entropy(), theirs.entropy()
    else:
        out_dg = getattr(mine, method)(_value(value, dtype, dg))
        out_t = getattr(theirs, method)(_value(value, dtype, torch))
    assert out_dg.dtype == np.dtype(dtype)
    _compare(out_dg, out_t, [a for a, _ in pairs], [b for _, b in pairs], dtype)


@pytest.mark.parametrize("name", list(CASES))
def test_moments_and_shapes_match_torch(name):
    params, make, _ = CASES[name]
    mine = make(D, *[dg.tensor(p) for p in params])
    theirs = make(TD, *[torch.tensor(p) for p in params])
    assert mine.batch_shape == tuple(theirs.batch_shape)
    assert mine.event_shape == tuple(theirs.event_shape)
    assert mine.sample((3,)).shape == tuple(theirs.sample((3,)).shape)
    assert mine.has_rsample == theirs.has_rsample
    for attr in ("mean", "variance", "stddev", "mode"):
        np.testing.assert_allclose(
            getattr(mine, attr).numpy(), getattr(theirs, attr).numpy(), rtol=1e-6, atol=1e-7
        )
    if not name.startswith("categorical"):
        return
    np.testing.assert_allclose(mine.probs.numpy(), theirs.probs.numpy(), rtol=1e-6)
    np.testing.assert_allclose(mine.logits.numpy(), theirs.logits.numpy(), rtol=1e-6, atol=1e-7)


KL_CASES = {
    "normal": lambda M, a, b, c, d: (M.Normal(a, b), M.Normal(c, d)),
    "uniform": lambda M, a, b, c, d: (M.Uniform(a, b), M.Uniform(c, d)),
    "bernoulli": lambda M, a, b, c, d: (M.Bernoulli(logits=a), M.Bernoulli(probs=d)),
    "categorical": lambda M, a, b, c, d: (M.Categorical(logits=a), M.Categorical(probs=d)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(KL_CASES))
def test_kl_values_and_gradients_match_torch(name, dtype):
    lows = np.array([0.1, -1.0, 0.0, 0.2])
    values = [
        lows,
        lows + [0.5, 2.0, 1.0, 0.3],
        lows - [0.1, 0.0, 0.5, 0.0],
        lows + [0.8, 3.0, 1.5, 0.6],
    ]
    if name == "uniform":  # the third pair's q does not cover p: inf, and no gradient compared
        values[2] = lows + [-0.1, 0.0, 0.2, -0.3]
    pairs = [_pair(v, dtype) for v in values]
    if name == "bernoulli":
        pairs[3] = _pair([0.2, 0.5, 0.9, 0.6], dtype)
    p, q = KL_CASES[name](D, *[a for a, _ in pairs])
    tp, tq = KL_CASES[name](TD, *[b for _, b in pairs])
    out_dg, out_t = D.kl_divergence(p, q), TD.kl_divergence(tp, tq)
    np.testing.assert_allclose(out_dg.detach().numpy(), out_t.detach().numpy(), **TOL[dtype])
    finite = np.isfinite(out_t.detach().numpy())
    _compare(
        out_dg[dg.tensor(finite)],
        out_t[torch.tensor(finite)],
        [a for a, _ in pairs],
        [b for _, b in pairs],
        dtype,
    )


@pytest.mark.parametrize("name", ["normal", "uniform"])
def test_rsample_gradients_follow_torch_reparameterization(name):
    """Draws differ (two generators), so both libraries' gradients are checked as functions of
    their own draw: d x / d theta must be the same function of (theta, x) in both."""
    params, make, _ = CASES[name]
    shapes = []
    for lib, M in ((dg, D), (torch, TD)):
        ts = [lib.tensor(p, requires_grad=True) for p in params]
        x = make(M, *ts).rsample((6,))
        x.sum().backward()
        a, b = (t.detach().numpy() for t in ts)
        draw = x.detach().numpy()
        if name == "normal":  # dx/dloc = 1, dx/dscale = (x - loc) / scale
            expected = [np.full_like(a, 6.0), ((draw - a) / b).sum(0)]
        else:  # dx/dlow = 1 - u, dx/dhigh = u, u = (x - low) / (high - low)
            u = (draw - a) / (b - a)
            expected = [(1 - u).sum(0), u.sum(0)]
        for t, e in zip(ts, expected):
            np.testing.assert_allclose(t.grad.numpy(), e, rtol=1e-5, atol=1e-6)
        shapes.append(tuple(x.shape))
    assert shapes[0] == shapes[1]


def test_sample_statistics_match_torch_in_distribution():
    """Same logits: deepgrad's and torch's categorical frequencies over 20k draws agree."""
    logits = RNG.normal(size=5)
    dg.manual_seed(0)
    torch.manual_seed(0)
    mine = D.Categorical(logits=dg.tensor(logits)).sample((20000,)).numpy()
    theirs = TD.Categorical(logits=torch.tensor(logits)).sample((20000,)).numpy()
    f_mine = np.bincount(mine, minlength=5) / 20000
    f_theirs = np.bincount(theirs, minlength=5) / 20000
    np.testing.assert_allclose(f_mine, f_theirs, atol=0.02)
