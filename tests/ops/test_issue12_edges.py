"""Issue 12: the op fuzzer's findings, checked against PyTorch (non-finite values, size-0 dims)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.backend import ShapeError

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _same(got, want) -> None:
    """Equal arrays, NaN where the other has NaN, and the same shapes."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0, equal_nan=True)


# -- max pooling: the gradient is selected, not multiplied by the window mask -----------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_size": 2},  # disjoint windows tiling the input
        {"kernel_size": 3, "stride": 1},  # overlapping windows
        {"kernel_size": 3, "stride": 2, "padding": 1},  # padding, untiled target
        {"kernel_size": 2, "dilation": 2},
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool2d_backward_keeps_non_finite_gradients_at_the_winners(kwargs, dtype):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 7)).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    yt = TF.max_pool2d(xt, **kwargs)
    dy = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(dtype)
    dy.reshape(-1)[[0, 3, 7]] = [np.inf, -np.inf, np.nan]
    yt.backward(torch.tensor(dy))
    xd = dg.tensor(x, requires_grad=True)
    F.max_pool2d(xd, **kwargs).backward(dg.tensor(dy))
    _same(xd.grad.numpy(), xt.grad.numpy())
    assert np.signbit(xd.grad.numpy()[xt.grad.numpy() == 0]).sum() == 0  # +0.0, not -0.0


def test_max_pool1d_backward_with_an_inf_gradient():
    x = np.arange(12.0).reshape(1, 2, 6)
    xd = dg.tensor(x, requires_grad=True)
    (F.max_pool1d(xd, 2) * np.inf).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    (TF.max_pool1d(xt, 2) * np.inf).sum().backward()
    _same(xd.grad.numpy(), xt.grad.numpy())


def test_max_pool2d_double_backward_gathers_without_nan():
    """The gradient of the gradient (WindowGather2d) selects too: an inf elsewhere stays out."""
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    xd = dg.tensor(x, requires_grad=True)
    dy = dg.ones(1, 1, 2, 2, dtype=dg.float64, requires_grad=True)
    (dx,) = dg.autograd.grad(F.max_pool2d(xd, 2), [xd], dy, create_graph=True)
    weight = np.ones((1, 1, 4, 4))
    weight[0, 0, 0, 0] = np.inf  # a position that did not win
    with np.errstate(invalid="ignore"):  # the product itself has 0 * inf
        (ddy,) = dg.autograd.grad((dx * dg.tensor(weight)).sum(), [dy])
    np.testing.assert_array_equal(ddy.numpy(), np.ones((1, 1, 2, 2)))


# -- clamp with tensor bounds: NaN propagates, the gradient follows PyTorch -------------------------
def _clamp_grid():
    values = [np.nan, 0.0, 1.0, 2.0]
    return [np.array(v) for v in zip(*itertools.product(values, values, values))]


@pytest.mark.parametrize("bounds", ["both", "min", "max"])
def test_clamp_tensor_bounds_matches_torch_with_nan(bounds):
    arrays = _clamp_grid()

    def run(lib, make):
        x, low, high = (make(a) for a in arrays)
        y = lib.clamp(x, low if bounds != "max" else None, high if bounds != "min" else None)
        y.sum().backward()
        return y, x, low, high

    yd, *dg_inputs = run(dg, lambda a: dg.tensor(a, requires_grad=True))
    yt, *torch_inputs = run(torch, lambda a: torch.tensor(a, requires_grad=True))
    _same(yd.detach().numpy(), yt.detach().numpy())
    # PyTorch also gives high a gradient where y is NaN (x or low NaN, x > high or high < low);
    # deepgrad gives none where y is NaN.
    nan_y = np.isnan(yt.detach().numpy())
    for (d, t), name in zip(zip(dg_inputs, torch_inputs), ("x", "min", "max")):
        if t.grad is None:
            assert d.grad is None or not d.grad.numpy().any(), name
            continue
        want = t.grad.numpy().copy()
        if name == "max":
            want[nan_y] = 0.0
        _same(d.grad.numpy(), want)


def test_clamp_tensor_min_with_number_max():
    x = dg.tensor([np.nan, -1.0, 0.5, 3.0])
    got = dg.clamp(x, min=dg.tensor([0.0, np.nan, 0.0, 0.0]), max=2.0).numpy()
    # PyTorch takes no tensor and number bounds together; NumPy's rule is the same as its own.
    _same(got, np.minimum(np.maximum(x.numpy(), [0.0, np.nan, 0.0, 0.0]), 2.0))


# -- reductions and normalizations over a size-0 dim -----------------------------------------------
@pytest.mark.parametrize("shape,dim", [((3, 0), 1), ((3, 0), (0, 1)), ((0, 3), 1), ((2, 0, 4), 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_over_empty_dims_matches_torch(shape, dim, keepdim):
    xd = dg.zeros(*shape, requires_grad=True)
    xt = torch.zeros(shape, requires_grad=True)
    yd, yt = (
        dg.logsumexp(xd, dim=dim, keepdim=keepdim),
        torch.logsumexp(xt, dim=dim, keepdim=keepdim),
    )
    _same(yd.detach().numpy(), yt.detach().numpy())
    yd.sum().backward()
    yt.sum().backward()
    _same(xd.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((3, 0), 1), ((3, 0), 0), ((0, 4), 1), ((2, 0, 4), 1)])
def test_softmax_over_empty_dims_matches_torch(name, shape, dim):
    xd = dg.zeros(*shape, requires_grad=True)
    xt = torch.zeros(shape, requires_grad=True)
    yd, yt = getattr(F, name)(xd, dim=dim), getattr(TF, name)(xt, dim=dim)
    _same(yd.detach().numpy(), yt.detach().numpy())
    yd.sum().backward()
    yt.sum().backward()
    _same(xd.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("p", [np.inf, -np.inf])
@pytest.mark.parametrize("dim", [1, None])
def test_infinity_norm_of_an_empty_reduction_is_refused_like_torch(p, dim):
    with pytest.raises(RuntimeError):
        torch.linalg.vector_norm(torch.zeros(3, 0), ord=p, dim=dim)
    with pytest.raises(ShapeError, match="norm: cannot compute the -?inf norm"):
        dg.norm(dg.zeros(3, 0), p=p, dim=dim)


def test_infinity_norm_over_non_empty_dims_of_an_empty_tensor():
    _same(dg.norm(dg.zeros(0, 3), p=np.inf, dim=1).numpy(), np.zeros(0))
    _same(dg.norm(dg.zeros(3, 0), p=2, dim=1).numpy(), np.zeros(3))


# -- linear with a zero feature size ----------------------------------------------------------------
@pytest.mark.parametrize(
    "x_shape,w_shape", [((2, 3, 0), (5, 0)), ((2, 3, 4), (0, 4)), ((0, 3, 4), (5, 4))]
)
@pytest.mark.parametrize("bias", [False, True])
def test_linear_backward_with_zero_sizes_matches_torch(x_shape, w_shape, bias):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[:1]))
    tensors_d = [dg.tensor(a, requires_grad=True) for a in arrays]
    tensors_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    yd, yt = F.linear(*tensors_d), TF.linear(*tensors_t)
    _same(yd.detach().numpy(), yt.detach().numpy())
    yd.sum().backward()
    yt.sum().backward()
    for d, t in zip(tensors_d, tensors_t):
        _same(d.grad.numpy(), t.grad.numpy())


# -- batch_norm of an empty input ------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 0), (2, 0, 5), (0, 3), (0, 3, 4)])
def test_batch_norm_of_an_empty_input_matches_torch(shape):
    channels = shape[1]
    affine = channels > 0  # PyTorch itself fails with an affine of 0 channels
    xd, xt = dg.zeros(*shape, requires_grad=True), torch.zeros(shape, requires_grad=True)
    stats_d = [dg.zeros(channels), dg.ones(channels)]
    stats_t = [torch.zeros(channels), torch.ones(channels)]
    params_d = [dg.ones(channels, requires_grad=True), dg.zeros(channels, requires_grad=True)]
    params_t = [torch.ones(channels, requires_grad=True), torch.zeros(channels, requires_grad=True)]
    yd = F.batch_norm(xd, *stats_d, *(params_d if affine else ()), training=True)
    yt = TF.batch_norm(xt, *stats_t, *(params_t if affine else ()), training=True)
    assert yd.shape == tuple(yt.shape)
    yd.sum().backward()
    yt.sum().backward()
    _same(xd.grad.numpy(), xt.grad.numpy())
    for d, t in zip(stats_d, stats_t):  # the running statistics are left alone
        _same(d.numpy(), t.numpy())
    if affine:
        for d, t in zip(params_d, params_t):
            _same(d.grad.numpy(), t.grad.numpy())


def test_batch_norm_still_refuses_one_value_per_channel():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(dg.zeros(1, 3), None, None, training=True)
