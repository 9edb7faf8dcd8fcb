"""Activations: F.* against NumPy formulas, float64 gradient checks, stability at +-1000, the layer
classes, fused softmax == composite, and PyTorch parity (marked ``parity``)."""

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
from deepgrad.ops.fused import LogSoftmax, Softmax

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.logaddexp(0.0, beta * x) / beta)


def _np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def _np_leaky(x, slope):
    return np.where(x > 0, x, slope * x)


def _np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _np_sigmoid(x):
    return scipy.special.expit(x)


# name, deepgrad function, NumPy reference, kwargs, kinks (inputs are kept 0.05 away), torch name
ACTIVATIONS = [
    ("identity", F.identity, lambda x: x, {}, (), None),
    ("sigmoid", F.sigmoid, _np_sigmoid, {}, (), "sigmoid"),
    ("tanh", F.tanh, np.tanh, {}, (), "tanh"),
    ("relu", F.relu, lambda x: np.maximum(x, 0), {}, (0.0,), "relu"),
    ("relu6", F.relu6, lambda x: np.clip(x, 0, 6), {}, (0.0, 6.0), "relu6"),
    ("softplus", F.softplus, _np_softplus, {}, (), "softplus"),
    (
        "softplus_beta",
        F.softplus,
        _np_softplus,
        {"beta": 2.0, "threshold": 3.0},
        (1.5,),
        "softplus",
    ),
    (
        "centered_softplus",
        F.centered_softplus,
        lambda x: np.logaddexp(0, x) - math.log(2),
        {},
        (),
        None,
    ),
    ("logsigmoid", F.logsigmoid, lambda x: -np.logaddexp(0, -x), {}, (), "logsigmoid"),
    ("leaky_relu", F.leaky_relu, lambda x: _np_leaky(x, 0.01), {}, (0.0,), "leaky_relu"),
    (
        "leaky_relu_slope",
        F.leaky_relu,
        lambda x, negative_slope: _np_leaky(x, negative_slope),
        {"negative_slope": 0.2},
        (0.0,),
        "leaky_relu",
    ),
    ("vleaky_relu", F.vleaky_relu, lambda x: _np_leaky(x, 1 / 3), {}, (0.0,), None),
    ("rrelu_eval", F.rrelu, lambda x: _np_leaky(x, (1 / 8 + 1 / 3) / 2), {}, (0.0,), "rrelu"),
    ("elu", F.elu, _np_elu, {}, (0.0,), "elu"),
    ("elu_alpha", F.elu, lambda x, alpha: _np_elu(x, alpha), {"alpha": 0.5}, (0.0,), "elu"),
    ("selu", F.selu, lambda x: SELU_SCALE * _np_elu(x, SELU_ALPHA), {}, (0.0,), "selu"),
    (
        "celu",
        F.celu,
        lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha)),
        {"alpha": 2.0},
        (0.0,),
        "celu",
    ),
    ("gelu", F.gelu, lambda x: 0.5 * x * (1 + scipy.special.erf(x / math.sqrt(2))), {}, (), "gelu"),
    (
        "gelu_tanh",
        F.gelu,
        lambda x, approximate: _np_gelu_tanh(x),
        {"approximate": "tanh"},
        (),
        "gelu",
    ),
    ("silu", F.silu, lambda x: x * _np_sigmoid(x), {}, (), "silu"),
    ("mish", F.mish, lambda x: x * np.tanh(np.logaddexp(0, x)), {}, (), "mish"),
    ("hardtanh", F.hardtanh, lambda x: np.clip(x, -1, 1), {}, (-1.0, 1.0), "hardtanh"),
    (
        "hardtanh_bounds",
        F.hardtanh,
        lambda x, min_val, max_val: np.clip(x, min_val, max_val),
        {"min_val": -0.5, "max_val": 1.5},
        (-0.5, 1.5),
        "hardtanh",
    ),
    ("softsign", F.softsign, lambda x: x / (1 + np.abs(x)), {}, (), "softsign"),
]
SPECIAL = np.array([0.0, 1.0, -1.0, 6.0, 1000.0, -1000.0, 30.0, -30.0, 1e-3, -1e-3])


def _params():
    return [pytest.param(*entry, id=entry[0]) for entry in ACTIVATIONS]


def _smooth_inputs(shape, kinks, seed=0):
    x = np.random.default_rng(seed).uniform(-2.0, 2.0, size=shape)
    for k in kinks:
        near = np.abs(x - k) < 0.05
        x[near] = k + np.where(x[near] >= k, 0.075, -0.075)
    return x


@pytest.mark.parametrize("name,fn,ref,kwargs,kinks,torch_name", _params())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_matches_formula_and_keeps_dtype(name, fn, ref, kwargs, kinks, torch_name, dtype):
    x = np.concatenate([_smooth_inputs(20, kinks), SPECIAL])
    with np.errstate(over="ignore"):
        expected = ref(x, **kwargs)
    y = fn(dg.tensor(x, dtype=dtype), **kwargs)
    assert y.dtype == np.dtype(dtype)
    assert y.shape == x.shape
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(y.numpy(), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("name,fn,ref,kwargs,kinks,torch_name", _params())
def test_gradcheck_float64(name, fn, ref, kwargs, kinks, torch_name):
    x = dg.tensor(_smooth_inputs((3, 4), kinks), dtype="float64", requires_grad=True)
    assert gradcheck(lambda t: fn(t, **kwargs), (x,))
    small = dg.tensor(_smooth_inputs((2, 3), kinks, seed=1), dtype="float64", requires_grad=True)
    assert gradgradcheck(lambda t: fn(t, **kwargs), (small,))


@pytest.mark.parametrize("name,fn,ref,kwargs,kinks,torch_name", _params())
def test_large_inputs_give_finite_values_and_gradients(name, fn, ref, kwargs, kinks, torch_name):
    x = dg.tensor([-1000.0, -100.0, 0.0, 100.0, 1000.0], requires_grad=True)
    y = fn(x, **kwargs)
    y.sum().backward()
    assert np.isfinite(y.detach().numpy()).all()
    assert np.isfinite(x.grad.numpy()).all()


def test_gradients_at_kinks_follow_pytorch_conventions():
    def grad_at(fn, value, **kwargs):
        x = dg.tensor([value], dtype="float64", requires_grad=True)
        fn(x, **kwargs).sum().backward()
        return float(x.grad.item())

    assert grad_at(F.relu, 0.0) == 0.0
    assert grad_at(F.relu6, 0.0) == 0.0
    assert grad_at(F.relu6, 6.0) == 0.0
    assert grad_at(F.leaky_relu, 0.0, negative_slope=0.1) == pytest.approx(0.1)
    assert grad_at(F.elu, 0.0, alpha=0.5) == pytest.approx(0.5)
    assert grad_at(F.hardtanh, 1.0) == 0.0
    assert grad_at(F.softplus, 0.0) == pytest.approx(0.5)  # sigmoid(0), not a one-sided derivative
    assert grad_at(F.softplus, 1000.0) == 1.0
    assert grad_at(F.softplus, -1000.0) == 0.0


def test_centered_softplus_is_zero_at_zero_and_shifted_softplus():
    x = dg.tensor([-3.0, 0.0, 2.5])
    assert F.centered_softplus(dg.tensor([0.0])).item() == pytest.approx(0.0, abs=1e-7)
    np.testing.assert_allclose(
        F.centered_softplus(x, beta=2.0).numpy(),
        (F.softplus(x, beta=2.0) - math.log(2) / 2).numpy(),
        rtol=1e-6,
    )


def test_vleaky_relu_default_slope_is_one_third():
    np.testing.assert_allclose(
        F.vleaky_relu(dg.tensor([-3.0, 3.0])).numpy(), [-1.0, 3.0], rtol=1e-6
    )
    assert nn.VLReLU().negative_slope == pytest.approx(1 / 3)
    assert isinstance(nn.VLReLU(), nn.LeakyReLU)


# -- rrelu, prelu, maxout, apl -------------------------------------------------------------------
def test_rrelu_training_draws_slopes_in_range_and_is_repeatable():
    x = -dg.ones(2000)
    dg.manual_seed(3)
    y1 = F.rrelu(x, 0.1, 0.5, training=True)
    dg.manual_seed(3)
    y2 = F.rrelu(x, 0.1, 0.5, training=True)
    slopes = -y1.numpy()
    assert np.array_equal(y1.numpy(), y2.numpy())
    assert slopes.min() >= 0.1 and slopes.max() <= 0.5
    assert len(np.unique(slopes)) > 1000
    assert abs(slopes.mean() - 0.3) < 0.02
    positive = F.rrelu(dg.tensor([2.0, 5.0]), 0.1, 0.5, training=True)
    np.testing.assert_array_equal(positive.numpy(), [2.0, 5.0])


def test_rrelu_gradient_is_the_drawn_slope():
    x = dg.tensor([-1.0, -2.0, 3.0], requires_grad=True)
    y = F.rrelu(x, 0.1, 0.5, training=True, generator=dg.Generator().manual_seed(0))
    y.sum().backward()
    np.testing.assert_allclose(
        x.grad.numpy()[:2], (y.detach().numpy() / x.detach().numpy())[:2], rtol=1e-6
    )
    assert x.grad.numpy()[2] == 1.0


def test_rrelu_module_switches_between_train_and_eval():
    layer = nn.RReLU(0.1, 0.5)
    x = -dg.ones(500)
    assert len(np.unique(layer(x).numpy())) > 100
    layer.eval()
    np.testing.assert_allclose(layer(x).numpy(), -0.3, rtol=1e-6)
    with pytest.raises(
        ValueError, match=r"RReLU: lower must be <= upper \(got lower=0.5, upper=0.1\)"
    ):
        nn.RReLU(0.5, 0.1)


def test_prelu_per_channel_and_gradients():
    x = dg.tensor(_smooth_inputs((2, 3, 4), (0.0,)), dtype="float64", requires_grad=True)
    w = dg.tensor([0.1, 0.2, 0.3], dtype="float64", requires_grad=True)
    expected = np.where(
        x.detach().numpy() > 0,
        x.detach().numpy(),
        x.detach().numpy() * np.array([0.1, 0.2, 0.3])[:, None],
    )
    np.testing.assert_allclose(F.prelu(x, w).detach().numpy(), expected, rtol=1e-12)
    assert gradcheck(F.prelu, (x, w))
    layer = nn.PReLU(3, init=0.5)
    assert layer.weight.shape == (3,) and np.all(layer.weight.detach().numpy() == 0.5)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    with pytest.raises(
        ShapeError, match="prelu: the parameter has 3 entries but the input has 4 channels"
    ):
        F.prelu(dg.ones(2, 4), dg.ones(3))


def test_maxout_groups_consecutive_features():
    x = dg.tensor([[1.0, 5.0, -2.0, -3.0, 0.5, 0.25]])
    np.testing.assert_array_equal(F.maxout(x, 2).numpy(), [[5.0, -2.0, 0.5]])
    np.testing.assert_array_equal(F.maxout(x, 3).numpy(), [[5.0, 0.5]])
    xs = np.random.default_rng(0).permutation(24).astype(float).reshape(2, 6, 2)
    t = dg.tensor(xs, dtype="float64", requires_grad=True)
    np.testing.assert_array_equal(
        F.maxout(t, 3, dim=1).detach().numpy(), xs.reshape(2, 2, 3, 2).max(axis=2)
    )
    assert gradcheck(lambda a: F.maxout(a, 3, dim=1), (t,))
    with pytest.raises(
        ShapeError,
        match=r"maxout: the size of dim -1 \(6, input shape \(1, 6\)\) is not a multiple of pieces=4",
    ):
        F.maxout(x, 4)


def _np_apl(x, a, b):
    return np.maximum(x, 0) + sum(a[s] * np.maximum(0, -x + b[s]) for s in range(a.shape[0]))


def test_apl_matches_formula_and_gradients():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (4, 3))
    a, b = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (2, 3))
    x[np.abs(x) < 0.05] += 0.1
    for s in range(2):
        close = np.abs(x - b[s]) < 0.05
        x[close] += 0.1
    tx, ta, tb = (dg.tensor(v, dtype="float64", requires_grad=True) for v in (x, a, b))
    np.testing.assert_allclose(F.apl(tx, ta, tb).detach().numpy(), _np_apl(x, a, b), rtol=1e-12)
    assert gradcheck(F.apl, (tx, ta, tb))
    x4 = rng.uniform(-2, 2, (2, 3, 2, 2))  # units on dim 1: a and b broadcast over N, H, W
    per_unit = (a[:, None, :, None, None], b[:, None, :, None, None])
    np.testing.assert_allclose(
        F.apl(dg.tensor(x4), dg.tensor(a), dg.tensor(b)).numpy(),
        _np_apl(x4, *per_unit),
        rtol=1e-5,
        atol=1e-6,
    )


def test_apl_module_starts_as_relu_and_learns():
    layer = nn.APL(3, hinges=2)
    assert layer.a.shape == (2, 3) and layer.b.shape == (2, 3)
    x = dg.randn(5, 3)
    np.testing.assert_array_equal(layer(x).detach().numpy(), np.maximum(x.numpy(), 0))
    layer(x).sum().backward()
    assert layer.a.grad is not None and np.abs(layer.a.grad.numpy()).sum() > 0
    with pytest.raises(ShapeError, match="apl: input of shape"):
        layer(dg.randn(5, 4))
    with pytest.raises(ValueError, match=r"^APL: hinges must be a positive int \(got 0\)\.$"):
        nn.APL(3, hinges=0)
    with pytest.raises(
        TypeError, match=r"^APL: num_features must be a positive int \(got bool True\)\.$"
    ):
        nn.APL(True)


# -- softmax / log_softmax -----------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_fused_softmax_and_log_softmax_equal_their_composites(dim):
    x = dg.tensor(
        np.random.default_rng(1).normal(size=(4, 5)) * 3, dtype="float64", requires_grad=True
    )
    upstream = dg.tensor(np.random.default_rng(2).normal(size=(4, 5)), dtype="float64")
    for fused, composite in [
        (
            lambda t: LogSoftmax.apply(t, dim=dim % 2),
            lambda t: t - dg.logsumexp(t, dim, keepdim=True),
        ),
        (
            lambda t: Softmax.apply(t, dim=dim % 2),
            lambda t: (t - dg.logsumexp(t, dim, keepdim=True)).exp(),
        ),
    ]:
        (g_fused,) = dg.autograd.grad((fused(x) * upstream).sum(), x, create_graph=True)
        (g_comp,) = dg.autograd.grad((composite(x) * upstream).sum(), x, create_graph=True)
        np.testing.assert_allclose(
            fused(x).detach().numpy(), composite(x).detach().numpy(), rtol=1e-12, atol=1e-14
        )
        np.testing.assert_allclose(
            g_fused.detach().numpy(), g_comp.detach().numpy(), rtol=1e-10, atol=1e-12
        )
        (gg_fused,) = dg.autograd.grad((g_fused * g_fused).sum(), x)
        (gg_comp,) = dg.autograd.grad((g_comp * g_comp).sum(), x)
        np.testing.assert_allclose(gg_fused.numpy(), gg_comp.numpy(), rtol=1e-9, atol=1e-12)


def test_softmax_is_stable_for_large_logits_and_sums_to_one():
    x = dg.tensor([[1000.0, -1000.0, 999.0], [-1000.0, -1000.0, -1000.0]])
    p = F.softmax(x, dim=1)
    np.testing.assert_allclose(p.numpy().sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        p.numpy()[0], [1 / (1 + math.exp(-1)), 0.0, 1 / (1 + math.e)], rtol=1e-6
    )
    log_p = F.log_softmax(x, dim=1)
    assert np.isfinite(log_p.numpy()).all()
    np.testing.assert_allclose(log_p.numpy()[0, 1], -2000.0 - math.log1p(math.exp(-1)), rtol=1e-6)


def test_softmax_arguments():
    with pytest.raises(TypeError, match="softmax: dim is required"):
        F.softmax(dg.ones(2, 3), None)
    with pytest.raises(DTypeError, match="log_softmax: needs a floating-point tensor"):
        F.log_softmax(dg.tensor([1, 2]), 0)
    with pytest.raises(ShapeError, match="softmax: dim 2 is out of range"):
        F.softmax(dg.ones(2, 3), 2)
    assert F.softmax(dg.tensor([1, 2]), 0, dtype="float64").dtype == np.dtype("float64")
    with pytest.raises(TypeError, match="Softmax: dim must be an int"):
        nn.Softmax(dim=None)


# -- argument errors and in-place ----------------------------------------------------------------
def test_bad_arguments_raise_clear_errors():
    with pytest.raises(
        ValueError, match=r"gelu: approximate must be 'none' or 'tanh' \(got 'fast'\)"
    ):
        F.gelu(dg.ones(2), approximate="fast")
    with pytest.raises(ValueError, match=r"GELU: approximate must be 'none' or 'tanh'"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="hardtanh: min_val must be < max_val"):
        F.hardtanh(dg.ones(2), 1.0, -1.0)
    with pytest.raises(ValueError, match="Hardtanh: min_val must be < max_val"):
        nn.Hardtanh(2.0, 1.0)
    with pytest.raises(ValueError, match="celu: alpha must be nonzero"):
        F.celu(dg.ones(2), alpha=0.0)
    with pytest.raises(ValueError, match="Softplus: beta must be nonzero"):
        nn.Softplus(beta=0)
    with pytest.raises(
        ValueError,
        match=r"^PReLU: num_parameters must be a positive int \(got 0\); use 1 \(one shared slope\) or the number",
    ):
        nn.PReLU(0)
    with pytest.raises(
        TypeError, match=r"PReLU: num_parameters must be a positive int \(got float 2\.0\)"
    ):
        nn.PReLU(2.0)
    with pytest.raises(
        TypeError, match=r"^LeakyReLU: negative_slope must be a number \(got str '0\.1'\)\.$"
    ):
        nn.LeakyReLU("0.1")
    with pytest.raises(ValueError, match=r"^LeakyReLU: negative_slope must be .* \(got nan\)\.$"):
        nn.LeakyReLU(float("nan"))
    assert nn.LeakyReLU(-2).negative_slope == -2  # any real slope, kept as given
    with pytest.raises(ValueError, match=r"^maxout: pieces must be a positive int \(got 0\)\.$"):
        F.maxout(dg.ones(2, 4), 0)
    with pytest.raises(
        TypeError, match=r"^maxout: pieces must be a positive int \(got float 2\.0\)\.$"
    ):
        F.maxout(dg.ones(2, 4), 2.0)


def test_inplace_follows_deepgrad_inplace_rules():
    x = dg.tensor([-1.0, 2.0])
    y = F.relu(x, inplace=True)
    assert y is x and x.tolist() == [0.0, 2.0]
    leaf = dg.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        F.relu(leaf, inplace=True)
    h = leaf * 2.0
    out = nn.LeakyReLU(0.5, inplace=True)(h)
    assert out is h
    out.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), [1.0, 2.0])


# -- the layer classes -----------------------------------------------------------------------------
MODULES = [
    (nn.Sigmoid(), lambda x: F.sigmoid(x)),
    (nn.Tanh(), lambda x: F.tanh(x)),
    (nn.ReLU(), lambda x: F.relu(x)),
    (nn.ReLU6(), lambda x: F.relu6(x)),
    (nn.Softplus(2.0, 5.0), lambda x: F.softplus(x, 2.0, 5.0)),
    (nn.CenteredSoftplus(), lambda x: F.centered_softplus(x)),
    (nn.LogSigmoid(), lambda x: F.logsigmoid(x)),
    (nn.LeakyReLU(0.1), lambda x: F.leaky_relu(x, 0.1)),
    (nn.VLReLU(), lambda x: F.vleaky_relu(x)),
    (nn.RReLU().eval(), lambda x: F.rrelu(x)),
    (nn.PReLU(), lambda x: F.prelu(x, dg.tensor([0.25]))),
    (nn.ELU(0.5), lambda x: F.elu(x, 0.5)),
    (nn.SELU(), lambda x: F.selu(x)),
    (nn.CELU(2.0), lambda x: F.celu(x, 2.0)),
    (nn.GELU("tanh"), lambda x: F.gelu(x, "tanh")),
    (nn.SiLU(), lambda x: F.silu(x)),
    (nn.Mish(), lambda x: F.mish(x)),
    (nn.Hardtanh(-2.0, 2.0), lambda x: F.hardtanh(x, -2.0, 2.0)),
    (nn.Softsign(), lambda x: F.softsign(x)),
    (nn.Softmax(dim=1), lambda x: F.softmax(x, 1)),
    (nn.LogSoftmax(dim=0), lambda x: F.log_softmax(x, 0)),
]


@pytest.mark.parametrize(
    "layer,functional", [pytest.param(m, f, id=type(m).__name__) for m, f in MODULES]
)
def test_layers_call_their_functional(layer, functional):
    x = dg.tensor(np.random.default_rng(0).uniform(-3, 3, (4, 3)))
    np.testing.assert_allclose(layer(x).detach().numpy(), functional(x).detach().numpy(), rtol=1e-6)
    assert isinstance(layer, nn.Module)
    assert repr(layer).startswith(type(layer).__name__ + "(")


# -- PyTorch parity --------------------------------------------------------------------------------
@pytest.mark.parity
@pytest.mark.parametrize(
    "name,fn,ref,kwargs,kinks,torch_name", [p for p in _params() if p.values[5] is not None]
)
def test_parity_with_torch(name, fn, ref, kwargs, kinks, torch_name):
    torch = pytest.importorskip("torch")
    x = np.concatenate([_smooth_inputs(30, kinks), SPECIAL]).astype(np.float32)
    upstream = np.random.default_rng(5).normal(size=x.shape).astype(np.float32)
    ours = dg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y = fn(ours, **kwargs)
    torch_fn = getattr(torch.nn.functional, torch_name)
    ty = torch_fn(theirs, **kwargs)
    (y * dg.tensor(upstream)).sum().backward()
    (ty * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parity
@pytest.mark.parametrize("which", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_softmax_parity_with_torch(which, dim):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(3, 4, 5)).astype(np.float32) * 5
    x[0, 0, 0], x[1, 1, 1] = 1000.0, -1000.0
    upstream = np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
    ours, theirs = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = getattr(F, which)(ours, dim)
    ty = getattr(torch.nn.functional, which)(theirs, dim)
    (y * dg.tensor(upstream)).sum().backward()
    (ty * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parity
def test_prelu_parity_with_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
    x[0, 0, 0] = 0.0
    w = np.array([0.1, 0.25, 0.4], dtype=np.float32)
    ox, ow = dg.tensor(x, requires_grad=True), dg.tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    F.prelu(ox, ow).sum().backward()
    torch.nn.functional.prelu(tx, tw).sum().backward()
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ow.grad.numpy(), tw.grad.numpy(), rtol=1e-5)


# -- linear and one_hot (also in F) ---------------------------------------------------------------
def test_linear_matches_formula_and_checks_shapes():
    rng = np.random.default_rng(4)
    x, w, b = rng.normal(size=(2, 5, 3)), rng.normal(size=(4, 3)), rng.normal(size=4)
    got = F.linear(
        dg.tensor(x, dtype="float64"), dg.tensor(w, dtype="float64"), dg.tensor(b, dtype="float64")
    )
    np.testing.assert_allclose(got.numpy(), x @ w.T + b, rtol=1e-12)
    args = [dg.tensor(a, dtype="float64", requires_grad=True) for a in (x[0, :2], w, b)]
    assert gradcheck(F.linear, args)
    assert F.linear(dg.ones(2, 3), dg.ones(4, 3)).shape == (2, 4)
    with pytest.raises(
        ShapeError, match=r"linear: input of shape \(2, 5\) does not fit weight of shape \(4, 3\)"
    ):
        F.linear(dg.ones(2, 5), dg.ones(4, 3))


def test_one_hot_is_available_from_functional():
    np.testing.assert_array_equal(F.one_hot(dg.tensor([2, 0]), 3).numpy(), [[0, 0, 1], [1, 0, 0]])
