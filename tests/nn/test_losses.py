"""Losses: F.* and the loss layers against NumPy formulas (PyTorch's weighted-mean semantics written
out as loops), float64 gradient checks, stability at logits of +-1000 and probabilities of exactly
0 and 1, fused cross-entropy == composite, argument errors, and PyTorch parity (marked ``parity``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.autograd import gradcheck, gradgradcheck
from deepgrad.backend import DTypeError, ShapeError

RNG = np.random.default_rng(0)


def _t(a, requires_grad=False, dtype="float64"):
    return dg.tensor(np.asarray(a), dtype=dtype, requires_grad=requires_grad)


def _reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def _np_log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _np_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """PyTorch's cross_entropy with class indices, one sample at a time."""
    classes = x.shape[1] if x.ndim > 1 else x.shape[0]
    rows = np.moveaxis(x, 1, -1).reshape(-1, classes) if x.ndim > 1 else x.reshape(1, -1)
    targets = t.reshape(-1)
    w = np.ones(classes) if weight is None else weight
    losses, total_weight = [], 0.0
    for row, target in zip(rows, targets):
        if target == ignore_index:
            losses.append(0.0)
            continue
        log_p = _np_log_softmax(row, 0)
        nll = -w[target] * log_p[target]
        smooth = -(w * log_p).sum()
        losses.append((1 - label_smoothing) * nll + label_smoothing / classes * smooth)
        total_weight += w[target]
    losses = np.array(losses)
    if reduction == "none":
        return losses.reshape(t.shape)
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / total_weight


def _np_cross_entropy_probs(x, p, weight=None, reduction="mean", label_smoothing=0.0):
    class_dim = 1 if x.ndim > 1 else 0
    classes = x.shape[class_dim]
    p = p * (1 - label_smoothing) + label_smoothing / classes
    w = np.ones(classes) if weight is None else weight
    w = w.reshape((classes,) + (1,) * (x.ndim - class_dim - 1))
    loss = -(w * p * _np_log_softmax(x, class_dim)).sum(axis=class_dim)
    return _reduce(loss, reduction)


# -- elementwise regression losses ---------------------------------------------------------------
REGRESSION = [
    ("mse_loss", F.mse_loss, lambda d: d * d, {}),
    ("l1_loss", F.l1_loss, np.abs, {}),
    (
        "huber_loss",
        F.huber_loss,
        lambda d: np.where(np.abs(d) < 1, 0.5 * d * d, np.abs(d) - 0.5),
        {},
    ),
    (
        "huber_loss_delta",
        F.huber_loss,
        lambda d: np.where(np.abs(d) < 0.5, 0.5 * d * d, 0.5 * (np.abs(d) - 0.25)),
        {"delta": 0.5},
    ),
    (
        "smooth_l1_loss",
        F.smooth_l1_loss,
        lambda d: np.where(np.abs(d) < 1, 0.5 * d * d, np.abs(d) - 0.5),
        {},
    ),
    (
        "smooth_l1_loss_beta",
        F.smooth_l1_loss,
        lambda d: np.where(np.abs(d) < 0.5, d * d, np.abs(d) - 0.25),
        {"beta": 0.5},
    ),
    ("smooth_l1_loss_beta0", F.smooth_l1_loss, np.abs, {"beta": 0.0}),
]


def _regression_pair(shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-2, 2, shape), rng.uniform(-2, 2, shape)
    d = x - y
    for kink in (
        0.0,
        0.5,
        -0.5,
        1.0,
        -1.0,
    ):  # keep |d| off the switch points for finite differences
        close = np.abs(d - kink) < 0.05
        x[close] += 0.12
        d = x - y
    return x, y


@pytest.mark.parametrize("name,fn,formula,kwargs", [pytest.param(*r, id=r[0]) for r in REGRESSION])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses_match_formula(name, fn, formula, kwargs, reduction):
    x, y = _regression_pair()
    x[0, 0] = 1000.0
    got = fn(_t(x), _t(y), reduction=reduction, **kwargs)
    np.testing.assert_allclose(got.numpy(), _reduce(formula(x - y), reduction), rtol=1e-12)
    assert (
        fn(_t(x, dtype="float32"), _t(y, dtype="float32"), reduction=reduction, **kwargs).dtype
        == np.float32
    )


@pytest.mark.parametrize("name,fn,formula,kwargs", [pytest.param(*r, id=r[0]) for r in REGRESSION])
def test_regression_losses_gradcheck(name, fn, formula, kwargs):
    x, y = _regression_pair()
    assert gradcheck(lambda a, b: fn(a, b, reduction="none", **kwargs), (_t(x, True), _t(y, True)))
    assert gradcheck(lambda a, b: fn(a, b, **kwargs), (_t(x, True), _t(y, True)))


# -- binary cross-entropy ------------------------------------------------------------------------
def _np_bce(p, y, w=None):
    log_p = np.maximum(np.log(np.where(p > 0, p, 1e-300)), -100)
    log_q = np.maximum(np.log(np.where(p < 1, 1 - p, 1e-300)), -100)
    loss = -(y * log_p + (1 - y) * log_q)
    return loss if w is None else loss * w


def test_bce_matches_formula_and_is_finite_at_exact_zero_and_one():
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.3, 0.9])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.25])
    pt = _t(p, True)
    loss = F.binary_cross_entropy(pt, _t(y), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), _np_bce(p, y), rtol=1e-12)
    np.testing.assert_allclose(loss.detach().numpy()[:4], [100.0, 100.0, 0.0, 0.0], atol=1e-12)
    loss.sum().backward()
    assert np.isfinite(pt.grad.numpy()).all()
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0])
    for reduction in ("mean", "sum"):
        got = F.binary_cross_entropy(_t(p), _t(y), weight=_t(w), reduction=reduction)
        np.testing.assert_allclose(got.numpy(), _reduce(_np_bce(p, y, w), reduction), rtol=1e-12)


def test_bce_gradcheck():
    p = RNG.uniform(0.05, 0.95, (3, 4))
    y = RNG.uniform(0, 1, (3, 4))
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b), (_t(p, True), _t(y, True)))


def _np_bce_logits(x, y, w=None, pos_weight=None):
    pw = 1.0 if pos_weight is None else pos_weight
    log_sig = -np.logaddexp(0, -x)
    log_one_minus = -np.logaddexp(0, x)
    loss = -(pw * y * log_sig + (1 - y) * log_one_minus)
    return loss if w is None else loss * w


def test_bce_with_logits_matches_formula_and_is_exact_at_1000():
    x = np.array([[1000.0, -1000.0, 0.0, 3.0], [-1000.0, 1000.0, -2.0, 0.5]])
    y = np.array([[1.0, 1.0, 0.5, 0.0], [0.0, 0.0, 1.0, 0.3]])
    xt = _t(x, True)
    loss = F.binary_cross_entropy_with_logits(xt, _t(y), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), _np_bce_logits(x, y), rtol=1e-12)
    np.testing.assert_allclose(
        loss.detach().numpy()[:, :2], [[0.0, 1000.0], [0.0, 1000.0]], atol=1e-12
    )
    loss.sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), scipy.special.expit(x) - y, atol=1e-12)
    w, pw = RNG.uniform(0.5, 2, (2, 4)), np.array([1.0, 2.0, 3.0, 0.5])
    for reduction in ("mean", "sum", "none"):
        got = F.binary_cross_entropy_with_logits(_t(x), _t(y), _t(w), reduction, pos_weight=_t(pw))
        np.testing.assert_allclose(
            got.numpy(), _reduce(_np_bce_logits(x, y, w, pw), reduction), rtol=1e-12
        )


def test_bce_with_logits_gradcheck():
    x, y, pw = RNG.uniform(-3, 3, (3, 4)), RNG.uniform(0, 1, (3, 4)), RNG.uniform(0.5, 2, (4,))
    fn = lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=_t(pw[: a.shape[-1]]))
    assert gradcheck(fn, (_t(x, True), _t(y, True)))
    assert gradgradcheck(fn, (_t(x[:2, :2], True), _t(y[:2, :2], True)))


# -- cross-entropy and nll -----------------------------------------------------------------------
CE_CASES = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(ignore_index=2),
    dict(weight=True),
    dict(weight=True, ignore_index=1),
    dict(weight=True, reduction="sum"),
    dict(label_smoothing=0.2),
    dict(label_smoothing=0.2, weight=True, ignore_index=0),
    dict(label_smoothing=0.1, reduction="none", ignore_index=3),
]


def _ce_args(options, classes):
    options = dict(options)
    if options.pop("weight", False):
        options["weight"] = np.linspace(0.5, 2.0, classes)
    return options


@pytest.mark.parametrize(
    "options", CE_CASES, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "plain"
)
@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3), (2, 4, 2, 3), (4,)], ids=str)
def test_cross_entropy_matches_pytorch_semantics(options, shape):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape) * 3
    classes = shape[1] if len(shape) > 1 else shape[0]
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, classes, size=target_shape)
    ignore = options.get("ignore_index")
    if ignore is not None:
        t[t == ignore] = (ignore + 1) % classes
        if t.size > 1:
            t.reshape(-1)[0] = ignore  # exactly one ignored sample
    kwargs = _ce_args(options, classes)
    expected = _np_cross_entropy(x, t, **kwargs)
    if "weight" in kwargs:
        kwargs["weight"] = _t(kwargs["weight"])
    got = F.cross_entropy(_t(x), dg.tensor(t), **kwargs)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert got.shape == np.shape(expected)


@pytest.mark.parametrize(
    "options", [dict(), dict(weight=True), dict(label_smoothing=0.3, weight=True, reduction="sum")]
)
@pytest.mark.parametrize("shape", [(3, 4), (2, 4, 3)], ids=str)
def test_cross_entropy_with_class_probabilities(options, shape):
    rng = np.random.default_rng(2)
    x = rng.normal(size=shape)
    p = rng.uniform(size=shape)
    p /= p.sum(axis=1, keepdims=True)
    kwargs = _ce_args(options, shape[1])
    expected = _np_cross_entropy_probs(x, p, **kwargs)
    if "weight" in kwargs:
        kwargs["weight"] = _t(kwargs["weight"])
    got = F.cross_entropy(_t(x), _t(p), **kwargs)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize(
    "options", [dict(), dict(ignore_index=1, weight=True), dict(label_smoothing=0.25, weight=True)]
)
def test_cross_entropy_gradcheck(options):
    x = RNG.normal(size=(4, 3))
    t = dg.tensor([0, 1, 2, 1])
    kwargs = _ce_args(options, 3)
    if "weight" in kwargs:
        kwargs["weight"] = _t(kwargs["weight"])
    fn = lambda a: F.cross_entropy(a, t, **kwargs)
    assert gradcheck(fn, (_t(x, True),))
    assert gradgradcheck(fn, (_t(x, True),))
    p = _t(RNG.dirichlet(np.ones(3), size=4), True)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1), (_t(x, True), p))


def test_fused_cross_entropy_equals_composite_to_second_order():
    x = _t(RNG.normal(size=(6, 5)) * 4, True)
    t = dg.tensor([0, 4, 2, 2, 1, 3])
    w = _t(np.linspace(0.2, 1.8, 5))
    fused = lambda a: F.cross_entropy(a, t, weight=w)
    composite = lambda a: F.nll_loss(a - dg.logsumexp(a, 1, keepdim=True), t, weight=w)
    np.testing.assert_allclose(fused(x).detach().numpy(), composite(x).detach().numpy(), rtol=1e-12)
    (g_fused,) = dg.autograd.grad(fused(x), x, create_graph=True)
    (g_comp,) = dg.autograd.grad(composite(x), x, create_graph=True)
    np.testing.assert_allclose(
        g_fused.detach().numpy(), g_comp.detach().numpy(), rtol=1e-10, atol=1e-14
    )
    v = _t(RNG.normal(size=(6, 5)))
    (h_fused,) = dg.autograd.grad((g_fused * v).sum(), x)
    (h_comp,) = dg.autograd.grad((g_comp * v).sum(), x)
    np.testing.assert_allclose(h_fused.numpy(), h_comp.numpy(), rtol=1e-9, atol=1e-12)


def test_cross_entropy_is_exact_for_logits_of_1000():
    x = _t([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0], [1000.0, 1000.0, -1000.0]], True)
    t = dg.tensor([1, 2, 0])
    loss = F.cross_entropy(x, t, reduction="none")
    np.testing.assert_allclose(
        loss.detach().numpy(), [2000.0, math.log(2), math.log(2)], rtol=1e-12
    )
    loss.sum().backward()
    np.testing.assert_allclose(
        x.grad.numpy(), [[1, -1, 0], [0, 0.5, -0.5], [-0.5, 0.5, 0]], atol=1e-12
    )
    smoothed = F.cross_entropy(x, t, label_smoothing=0.1)
    assert np.isfinite(smoothed.item())
    x32 = dg.tensor([[1000.0, -1000.0]], requires_grad=True)
    loss32 = F.cross_entropy(x32, dg.tensor([1]))
    loss32.backward()
    assert loss32.item() == 2000.0 and np.isfinite(x32.grad.numpy()).all()


def test_cross_entropy_all_ignored_is_nan_like_pytorch():
    with np.errstate(invalid="ignore"):
        loss = F.cross_entropy(_t(np.ones((2, 3))), dg.tensor([-100, -100]))
    assert math.isnan(loss.item())
    assert (
        F.cross_entropy(_t(np.ones((2, 3))), dg.tensor([-100, -100]), reduction="sum").item() == 0.0
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_matches_formula(reduction):
    log_p = _np_log_softmax(RNG.normal(size=(5, 4)), 1)
    t = np.array([0, 3, 1, 1, 2])
    w = np.array([1.0, 2.0, 0.5, 1.5])
    picked = -w[t] * log_p[np.arange(5), t]
    picked[2] = 0.0  # ignore_index=1 hits samples 2 and 3
    picked[3] = 0.0
    expected = {
        "mean": picked.sum() / (w[t].sum() - 2 * w[1]),
        "sum": picked.sum(),
        "none": picked,
    }[reduction]
    got = F.nll_loss(_t(log_p), dg.tensor(t), weight=_t(w), ignore_index=1, reduction=reduction)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda a: F.nll_loss(a, dg.tensor(t), weight=_t(w)), (_t(log_p, True),))


# -- kl_div and gaussian nll -----------------------------------------------------------------------
def test_kl_div_matches_formula_with_zero_targets():
    q = RNG.dirichlet(np.ones(4), size=3)
    y = RNG.dirichlet(np.ones(4), size=3)
    y[0, 1] = 0.0
    pointwise = np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0) - y * np.log(q)
    for reduction, expected in [
        ("sum", pointwise.sum()),
        ("mean", pointwise.mean()),
        ("batchmean", pointwise.sum() / 3),
        ("none", pointwise),
    ]:
        got = F.kl_div(_t(np.log(q)), _t(y), reduction=reduction)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    log_y = np.log(RNG.dirichlet(np.ones(4), size=3))
    got = F.kl_div(_t(np.log(q)), _t(log_y), reduction="sum", log_target=True)
    np.testing.assert_allclose(got.numpy(), (np.exp(log_y) * (log_y - np.log(q))).sum(), rtol=1e-12)
    q_in = _t(np.log(q), True)
    F.kl_div(q_in, _t(y), reduction="batchmean").backward()
    np.testing.assert_allclose(q_in.grad.numpy(), -y / 3, rtol=1e-12)
    assert gradcheck(
        lambda a, b: F.kl_div(a, b, log_target=True), (_t(np.log(q), True), _t(log_y, True))
    )


def test_gaussian_nll_loss_matches_formula():
    x, y = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    var = RNG.uniform(0.1, 2.0, (3, 4))
    var[0, 0] = 0.0  # clamped to eps
    v = np.maximum(var, 1e-6)
    pointwise = 0.5 * (np.log(v) + (x - y) ** 2 / v)
    for reduction in ("mean", "sum", "none"):
        got = F.gaussian_nll_loss(_t(x), _t(y), _t(var), reduction=reduction)
        np.testing.assert_allclose(got.numpy(), _reduce(pointwise, reduction), rtol=1e-12)
    full = F.gaussian_nll_loss(_t(x), _t(y), _t(var), full=True)
    np.testing.assert_allclose(
        full.numpy(), pointwise.mean() + 0.5 * math.log(2 * math.pi), rtol=1e-12
    )
    shared = RNG.uniform(0.5, 1.5, (3,))
    for var_shape in [(3,), (3, 1)]:
        got = F.gaussian_nll_loss(_t(x), _t(y), _t(shared.reshape(var_shape)), reduction="sum")
        expected = (0.5 * (np.log(shared[:, None]) + (x - y) ** 2 / shared[:, None])).sum()
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    scalar = F.gaussian_nll_loss(_t(x), _t(y), 2.0)
    np.testing.assert_allclose(
        scalar.numpy(), (0.5 * (np.log(2.0) + (x - y) ** 2 / 2.0)).mean(), rtol=1e-12
    )
    assert gradcheck(
        F.gaussian_nll_loss, (_t(x, True), _t(y, True), _t(RNG.uniform(0.5, 2, (3, 4)), True))
    )


# -- argument errors --------------------------------------------------------------------------------
def test_bad_reduction_names_the_function_and_value():
    x = dg.ones(2, 3)
    for fn, args in [
        (F.mse_loss, (x, x)),
        (F.l1_loss, (x, x)),
        (F.huber_loss, (x, x)),
        (F.smooth_l1_loss, (x, x)),
        (F.binary_cross_entropy, (x * 0.5, x)),
        (F.binary_cross_entropy_with_logits, (x, x)),
        (F.cross_entropy, (x, dg.tensor([0, 1]))),
        (F.nll_loss, (x, dg.tensor([0, 1]))),
        (F.kl_div, (x, x)),
        (F.gaussian_nll_loss, (x, x, x)),
    ]:
        with pytest.raises(
            ValueError, match=rf"{fn.__name__}: reduction must be one of .* \(got 'avg'\)"
        ):
            fn(*args, reduction="avg")
    with pytest.raises(
        ValueError,
        match=r"CrossEntropyLoss: reduction must be one of 'mean', 'sum', 'none' \(got 'avg'\)",
    ):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match="MSELoss: reduction"):
        nn.MSELoss(reduction="batchmean")
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(
        ShapeError,
        match=r"mse_loss: input and target shapes differ \(got input \(2, 3\), target \(3, 2\)\)",
    ):
        F.mse_loss(dg.ones(2, 3), dg.ones(3, 2))
    with pytest.raises(
        ShapeError, match=r"binary_cross_entropy_with_logits: input and target shapes differ"
    ):
        F.binary_cross_entropy_with_logits(dg.ones(4, 1), dg.ones(4))
    with pytest.raises(
        ShapeError,
        match=r"cross_entropy: target of shape \(3,\) does not match input of shape \(2, 5\)",
    ):
        F.cross_entropy(dg.ones(2, 5), dg.tensor([0, 1, 2]))
    with pytest.raises(
        ShapeError, match=r"cross_entropy: probability targets must have the input's shape"
    ):
        F.cross_entropy(dg.ones(2, 5), dg.ones(2, 4))
    with pytest.raises(ShapeError, match=r"cross_entropy: weight must have shape \(5,\)"):
        F.cross_entropy(dg.ones(2, 5), dg.tensor([0, 1]), weight=dg.ones(4))
    with pytest.raises(
        ShapeError,
        match=r"gaussian_nll_loss: var of shape \(2,\) does not fit input of shape \(3, 4\)",
    ):
        F.gaussian_nll_loss(dg.ones(3, 4), dg.ones(3, 4), dg.ones(2))


def test_bad_values_raise_clear_errors():
    with pytest.raises(
        ValueError, match=r"cross_entropy: target class indices must lie in \[0, 5\) .*max 7"
    ):
        F.cross_entropy(dg.ones(2, 5), dg.tensor([0, 7]))
    with pytest.raises(DTypeError, match="nll_loss: class-index targets must be integers"):
        F.nll_loss(dg.ones(2, 5), dg.tensor([0.0, 1.0]))
    with pytest.raises(
        ValueError, match=r"cross_entropy: label_smoothing must be in \[0, 1\] \(got 1.5\)"
    ):
        F.cross_entropy(dg.ones(2, 5), dg.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="CrossEntropyLoss: label_smoothing must be in"):
        nn.CrossEntropyLoss(label_smoothing=-0.1)
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy: input must hold probabilities in \[0, 1\] \(got min -0.5",
    ):
        F.binary_cross_entropy(dg.tensor([-0.5, 0.5]), dg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="gaussian_nll_loss: var must be >= 0"):
        F.gaussian_nll_loss(dg.ones(2), dg.ones(2), dg.tensor([1.0, -1.0]))
    with pytest.raises(
        ValueError, match="cross_entropy: ignore_index .* applies only to class-index targets"
    ):
        F.cross_entropy(dg.ones(2, 3), dg.ones(2, 3) / 3, ignore_index=0)
    with pytest.raises(TypeError, match="mse_loss: target must be a deepgrad Tensor"):
        F.mse_loss(dg.ones(2), [1.0, 2.0])
    with pytest.raises(ValueError, match="huber_loss: delta must be > 0"):
        F.huber_loss(dg.ones(2), dg.ones(2), delta=0.0)
    with pytest.raises(ValueError, match="HuberLoss: delta must be > 0"):
        nn.HuberLoss(delta=-1.0)
    with pytest.raises(TypeError, match=r"^huber_loss: delta must be a number \(got str '1'\)\.$"):
        F.huber_loss(dg.ones(2), dg.ones(2), delta="1")
    with pytest.raises(
        ValueError,
        match=r"^smooth_l1_loss: beta must be >= 0 \(got -0\.5\); beta = 0 is the L1 loss\.$",
    ):
        F.smooth_l1_loss(dg.ones(2), dg.ones(2), beta=-0.5)
    with pytest.raises(
        ValueError, match=r"^kl_div: reduction must be one of 'mean', 'sum', 'none', 'batchmean'"
    ):
        F.kl_div(dg.ones(2), dg.ones(2), reduction="avg")


# -- the loss layers ---------------------------------------------------------------------------------
def test_loss_layers_call_their_functional():
    x, y = _t(RNG.normal(size=(4, 3))), _t(RNG.normal(size=(4, 3)))
    p, q = _t(RNG.uniform(0.1, 0.9, (4, 3))), _t(RNG.uniform(0, 1, (4, 3)))
    t = dg.tensor([0, 2, 1, 2])
    w = _t([1.0, 2.0, 0.5])
    pairs = [
        (nn.MSELoss(reduction="sum")(x, y), F.mse_loss(x, y, "sum")),
        (nn.L1Loss()(x, y), F.l1_loss(x, y)),
        (nn.HuberLoss(delta=0.5)(x, y), F.huber_loss(x, y, delta=0.5)),
        (nn.SmoothL1Loss(beta=0.5)(x, y), F.smooth_l1_loss(x, y, beta=0.5)),
        (nn.BCELoss(weight=w)(p, q), F.binary_cross_entropy(p, q, w)),
        (
            nn.BCEWithLogitsLoss(pos_weight=w)(x, q),
            F.binary_cross_entropy_with_logits(x, q, pos_weight=w),
        ),
        (
            nn.CrossEntropyLoss(w, ignore_index=1, label_smoothing=0.1)(x, t),
            F.cross_entropy(x, t, w, ignore_index=1, label_smoothing=0.1),
        ),
        (nn.NLLLoss(w, reduction="none")(x, t), F.nll_loss(x, t, w, reduction="none")),
        (nn.KLDivLoss(reduction="batchmean")(x, q), F.kl_div(x, q, reduction="batchmean")),
        (nn.GaussianNLLLoss(full=True)(x, y, p), F.gaussian_nll_loss(x, y, p, full=True)),
    ]
    for got, expected in pairs:
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)


def test_class_weights_are_buffers():
    loss = nn.CrossEntropyLoss(weight=dg.tensor([1.0, 2.0]))
    assert list(loss.state_dict()) == ["weight"]
    assert loss.double().weight.dtype == np.float64
    assert "weight" not in nn.CrossEntropyLoss().state_dict()
    with pytest.raises(TypeError, match="CrossEntropyLoss: weight must be a Tensor or None"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0])
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


# -- PyTorch parity -------------------------------------------------------------------------------------
def _torch_pair(torch, array, requires_grad=True):
    array = np.asarray(array)
    if array.dtype.kind == "f":
        array = array.astype(np.float32)
        return dg.tensor(array, requires_grad=requires_grad), torch.tensor(
            array, requires_grad=requires_grad
        )
    return dg.tensor(array), torch.tensor(array)


def _check_parity(torch, our_fn, torch_fn, arrays, grad_inputs=(0,)):
    pairs = [_torch_pair(torch, a, requires_grad=i in grad_inputs) for i, a in enumerate(arrays)]
    ours = our_fn(*[p[0] for p in pairs])
    theirs = torch_fn(*[p[1] for p in pairs])
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=2e-5, atol=1e-5)
    if not grad_inputs:
        return
    upstream = np.random.default_rng(3).normal(size=theirs.shape).astype(np.float32)
    (ours * dg.tensor(upstream)).sum().backward()
    (theirs * torch.tensor(upstream)).sum().backward()
    for i in grad_inputs:
        np.testing.assert_allclose(
            pairs[i][0].grad.numpy(), pairs[i][1].grad.numpy(), rtol=2e-5, atol=1e-5
        )


PARITY_CE = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(ignore_index=1),
    dict(weight=True),
    dict(weight=True, ignore_index=2, reduction="mean"),
    dict(label_smoothing=0.15),
    dict(label_smoothing=0.15, weight=True, ignore_index=0),
    dict(label_smoothing=0.15, weight=True, ignore_index=0, reduction="none"),
]


def _ce_parity_params():
    params = []
    for kind in ("indices", "probabilities"):
        for options in PARITY_CE:
            if kind == "probabilities" and "ignore_index" in options:
                continue  # ignore_index applies to class indices only
            name = ",".join(f"{k}={v}" for k, v in options.items()) or "plain"
            params.append(pytest.param(options, kind, id=f"{kind}-{name}"))
    return params


@pytest.mark.parity
@pytest.mark.parametrize("options,target_kind", _ce_parity_params())
@pytest.mark.parametrize("shape", [(6, 4), (2, 4, 3), (2, 4, 2, 2)], ids=str)
def test_cross_entropy_parity(options, target_kind, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.normal(size=shape) * 4
    x.reshape(-1)[0], x.reshape(-1)[1] = 1000.0, -1000.0
    if target_kind == "indices":
        target = rng.integers(0, 4, size=shape[:1] + shape[2:])
    else:
        target = rng.dirichlet(np.ones(4), size=shape[:1] + shape[2:])
        target = np.moveaxis(target, -1, 1)
    options = dict(options)
    weight = np.linspace(0.5, 2.0, 4).astype(np.float32) if options.pop("weight", False) else None
    _check_parity(
        torch,
        lambda a, b: F.cross_entropy(
            a, b, None if weight is None else dg.tensor(weight), **options
        ),
        lambda a, b: torch.nn.functional.cross_entropy(
            a, b, None if weight is None else torch.tensor(weight), **options
        ),
        [x, target],
    )


@pytest.mark.parity
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_parity(reduction):
    torch = pytest.importorskip("torch")
    log_p = _np_log_softmax(RNG.normal(size=(5, 3, 2)), 1)
    t = RNG.integers(0, 3, size=(5, 2))
    w = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    _check_parity(
        torch,
        lambda a, b: F.nll_loss(a, b, dg.tensor(w), ignore_index=2, reduction=reduction),
        lambda a, b: torch.nn.functional.nll_loss(
            a, b, torch.tensor(w), ignore_index=2, reduction=reduction
        ),
        [log_p, t],
    )


ELEMENTWISE_PARITY = [
    ("mse_loss", {}),
    ("l1_loss", {}),
    ("huber_loss", {"delta": 0.7}),
    ("smooth_l1_loss", {"beta": 0.4}),
    ("smooth_l1_loss", {"beta": 0.0}),
    ("binary_cross_entropy_with_logits", {}),
    ("kl_div", {"reduction": "batchmean"}),
    ("kl_div", {"log_target": True}),
]


@pytest.mark.parity
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("name,options", ELEMENTWISE_PARITY, ids=lambda v: str(v))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_loss_parity(name, options, reduction):
    torch = pytest.importorskip("torch")
    options = {"reduction": reduction, **options}
    x, y = _regression_pair((4, 5), seed=6)
    if name == "binary_cross_entropy_with_logits":
        x[0, :2] = [1000.0, -1000.0]
        y = np.random.default_rng(7).uniform(0, 1, (4, 5))
    if name == "kl_div" and not options.get("log_target"):
        y = np.random.default_rng(7).dirichlet(np.ones(5), size=4)
        y[0, 0] = 0.0
    _check_parity(
        torch,
        lambda a, b: getattr(F, name)(a, b, **options),
        lambda a, b: getattr(torch.nn.functional, name)(a, b, **options),
        [x, y],
    )


@pytest.mark.parity
def test_bce_family_parity_with_weights():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    p = rng.uniform(0.01, 0.99, (3, 4))
    p[0, 0], p[0, 1] = 0.0, 1.0
    y = rng.uniform(0, 1, (3, 4))
    y[0, 0], y[0, 1] = 0.0, 1.0
    w = rng.uniform(0.5, 2.0, (3, 4)).astype(np.float32)
    pw = np.array([0.5, 1.0, 2.0, 3.0], dtype=np.float32)
    for reduction in ("mean", "sum", "none"):
        _check_parity(
            torch,
            lambda a, b, r=reduction: F.binary_cross_entropy(a, b, dg.tensor(w), r),
            lambda a, b, r=reduction: torch.nn.functional.binary_cross_entropy(
                a, b, torch.tensor(w), reduction=r
            ),
            [p, y],
            grad_inputs=(),
        )
        x = rng.normal(size=(3, 4)) * 3
        _check_parity(
            torch,
            lambda a, b, r=reduction: F.binary_cross_entropy_with_logits(
                a, b, dg.tensor(w), r, dg.tensor(pw)
            ),
            lambda a, b, r=reduction: torch.nn.functional.binary_cross_entropy_with_logits(
                a, b, torch.tensor(w), reduction=r, pos_weight=torch.tensor(pw)
            ),
            [x, y],
            grad_inputs=(0, 1),
        )
    inner = rng.uniform(0.05, 0.95, (3, 4))
    _check_parity(
        torch,
        lambda a, b: F.binary_cross_entropy(a, b),
        lambda a, b: torch.nn.functional.binary_cross_entropy(a, b),
        [inner, y],
    )


@pytest.mark.parity
@pytest.mark.parametrize("var_shape", [(4, 3), (4, 1), (4,)], ids=str)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_parity(var_shape, full):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    var = rng.uniform(0.2, 2.0, var_shape)
    var.reshape(-1)[0] = 1e-9  # below eps: clamped in the value, gradient passed straight through
    _check_parity(
        torch,
        lambda a, b, v: F.gaussian_nll_loss(a, b, v, full=full),
        lambda a, b, v: torch.nn.functional.gaussian_nll_loss(a, b, v, full=full),
        [x, y, var],
        grad_inputs=(0, 1, 2),
    )


class _FakeCudaArray(np.ndarray):
    """A NumPy array that pretends to live on cuda:0 (no GPU is needed to test the device check)."""


def test_class_targets_on_another_device_raise(monkeypatch):
    from deepgrad.autograd import tensor as tensor_module
    from deepgrad.backend import Device, DeviceError

    real = tensor_module.device_of
    monkeypatch.setattr(
        tensor_module,
        "device_of",
        lambda a: Device("cuda", 0) if type(a) is _FakeCudaArray else real(a),
    )
    target = dg.Tensor._make(np.array([0, 1]).view(_FakeCudaArray), None)
    with pytest.raises(
        DeviceError, match=r"cross_entropy: target is on cuda:0 but the other tensor is on cpu"
    ):
        F.cross_entropy(dg.ones(2, 3), target)
    with pytest.raises(
        DeviceError, match=r"embedding: input is on cuda:0 but the other tensor is on cpu"
    ):
        F.embedding(target, dg.ones(3, 2))
