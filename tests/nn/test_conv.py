"""Convolutions: conv1d/conv2d/conv_transpose2d against loop references, gradients, layers, PyTorch parity."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))

from op_db_conv import (
    ref_conv1d,
    ref_conv2d,
    ref_conv2d_weight_grad,
    ref_conv_transpose2d,
)

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.autograd import gradcheck, gradgradcheck
from deepgrad.backend import DTypeError, ShapeError
from deepgrad.ops import conv as conv_ops

RNG = np.random.default_rng(0)


def _t(array, requires_grad=False):
    return dg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def _rand(*shape):
    return RNG.standard_normal(shape)


CONV2D_CASES = [
    # (x shape, w shape, kwargs)
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    (
        (2, 4, 9, 8),
        (6, 2, 3, 2),
        {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2), "groups": 2},
    ),
    ((1, 4, 5, 5), (4, 1, 3, 3), {"stride": 2, "padding": 1, "groups": 4}),
    ((3, 2, 8, 8), (6, 1, 5, 5), {"padding": "same", "dilation": 2, "groups": 2}),
    ((2, 6, 6, 7), (3, 2, 1, 1), {"groups": 3}),
    ((2, 3, 10, 9), (4, 3, 3, 3), {"stride": 3, "padding": 2, "dilation": 2}),
    ((2, 2, 6, 6), (3, 2, 4, 2), {"padding": "valid", "stride": (1, 3)}),
    ((1, 2, 6, 5), (2, 2, 2, 3), {"padding": "same"}),  # even kernel: the extra padding goes after
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV2D_CASES)
def test_conv2d_matches_loop_reference_forward_and_backward(x_shape, w_shape, kwargs):
    x, w, b = _rand(*x_shape), _rand(*w_shape), _rand(w_shape[0])
    y = F.conv2d(_t(x), _t(w), _t(b), **kwargs)
    ref = ref_conv2d(x, w, b, **kwargs)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-10)
    # Backward against the loop references: dx is a transposed convolution of dy, dw a correlation.
    xt, wt, bt = _t(x, True), _t(w, True), _t(b, True)
    dy = _rand(*ref.shape)
    F.conv2d(xt, wt, bt, **kwargs).backward(_t(dy))
    eps = 1e-6
    numeric_db = dy.sum(axis=(0, 2, 3))
    np.testing.assert_allclose(bt.grad.numpy(), numeric_db, rtol=1e-10, atol=1e-10)
    # <dy, conv(x + eps v)> - <dy, conv(x - eps v)> = 2 eps <dx, v>: checks dx and dw in one direction each.
    v = _rand(*x_shape)
    lhs = (
        (ref_conv2d(x + eps * v, w, b, **kwargs) - ref_conv2d(x - eps * v, w, b, **kwargs)) * dy
    ).sum() / (2 * eps)
    assert math.isclose(lhs, (xt.grad.numpy() * v).sum(), rel_tol=1e-6, abs_tol=1e-6)
    u = _rand(*w_shape)
    lhs = (
        (ref_conv2d(x, w + eps * u, b, **kwargs) - ref_conv2d(x, w - eps * u, b, **kwargs)) * dy
    ).sum() / (2 * eps)
    assert math.isclose(lhs, (wt.grad.numpy() * u).sum(), rel_tol=1e-6, abs_tol=1e-6)


def test_conv2d_large_batch_thin_weight_path_matches_reference():
    # 64 images of 20x20 with a 1-channel 3x3 filter bank: the chunked matrix products kick in.
    x, w = _rand(64, 1, 20, 20), _rand(3, 1, 3, 3)
    xt, wt = _t(x, True), _t(w, True)
    y = F.conv2d(xt, wt)
    np.testing.assert_allclose(y.detach().numpy(), ref_conv2d(x, w), rtol=1e-10, atol=1e-10)
    dy = _rand(*y.shape)
    y.backward(_t(dy))
    np.testing.assert_allclose(
        wt.grad.numpy(), ref_conv2d_weight_grad(x, dy, kernel=(3, 3)), rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(xt.grad.numpy(), ref_conv_transpose2d(dy, w), rtol=1e-9, atol=1e-9)


def test_conv2d_float32_keeps_dtype_and_unbatched_input_works():
    x, w = dg.randn(3, 8, 8), dg.randn(5, 3, 3, 3)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (5, 8, 8) and y.dtype == dg.float32
    expected = ref_conv2d(
        x.numpy()[None].astype(np.float64), w.numpy().astype(np.float64), padding=1
    )[0]
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_conv2d_first_layer_skips_the_input_gradient():
    x = dg.randn(2, 1, 6, 6)  # does not require grad
    w = dg.randn(2, 1, 3, 3, requires_grad=True)
    seen = []
    original = conv_ops.ConvTranspose2d.forward

    def spy(ctx, *args, **kwargs):
        seen.append(1)
        return original(ctx, *args, **kwargs)

    conv_ops.ConvTranspose2d.forward = staticmethod(spy)
    try:
        F.conv2d(x, w).sum().backward()
    finally:
        conv_ops.ConvTranspose2d.forward = staticmethod(original)
    assert not seen and w.grad is not None


@pytest.mark.parametrize(
    "x_shape, w_shape, kwargs",
    [
        ((2, 2, 9), (4, 2, 3), {}),
        ((2, 4, 12), (6, 2, 3), {"stride": 2, "padding": 2, "dilation": 2, "groups": 2}),
        ((1, 3, 10), (2, 3, 4), {"padding": "same"}),
        ((3, 10), (2, 3, 5), {"padding": 1}),  # unbatched
    ],
)
def test_conv1d_matches_loop_reference(x_shape, w_shape, kwargs):
    x, w, b = _rand(*x_shape), _rand(*w_shape), _rand(w_shape[0])
    y = F.conv1d(_t(x), _t(w), _t(b), **kwargs)
    batched = x if len(x_shape) == 3 else x[None]
    ref = ref_conv1d(batched, w, b, **kwargs)
    np.testing.assert_allclose(
        y.numpy(), ref if len(x_shape) == 3 else ref[0], rtol=1e-10, atol=1e-10
    )


CONV_T_CASES = [
    ((2, 3, 4, 4), (3, 2, 3, 3), {}),
    ((2, 4, 3, 5), (4, 3, 3, 2), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
    ((1, 2, 4, 3), (2, 2, 2, 3), {"stride": (3, 2), "padding": (1, 0), "output_padding": (2, 1)}),
    (
        (2, 2, 3, 3),
        (2, 4, 3, 3),
        {"stride": 1, "dilation": 2, "output_padding": 1},
    ),  # op < dilation
    ((1, 6, 3, 3), (6, 1, 4, 4), {"stride": 2, "padding": 1, "groups": 6}),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_T_CASES)
def test_conv_transpose2d_matches_loop_reference(x_shape, w_shape, kwargs):
    x, w, b = _rand(*x_shape), _rand(*w_shape), _rand(w_shape[1] * kwargs.get("groups", 1))
    y = F.conv_transpose2d(_t(x), _t(w), _t(b), **kwargs)
    ref = ref_conv_transpose2d(x, w, b, **kwargs)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-10)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    # <conv2d(x, w), y> = <x, conv_transpose2d(y, w)> for matching geometry.
    x, w = _rand(2, 3, 9, 8), _rand(4, 3, 3, 2)
    kwargs = {"stride": 2, "padding": 1, "dilation": (1, 2)}
    y = F.conv2d(_t(x), _t(w), **kwargs).numpy()
    g = _rand(*y.shape)
    op = (9 + 2 - 2 - 1) % 2, (8 + 2 - 2 - 1) % 2
    back = F.conv_transpose2d(_t(g), _t(w), output_padding=op, **kwargs).numpy()
    assert back.shape == x.shape
    assert math.isclose((y * g).sum(), (x * back).sum(), rel_tol=1e-10)


def test_conv_transpose1d_matches_conv_transpose2d():
    x, w = _rand(2, 3, 7), _rand(3, 2, 3)
    y = F.conv_transpose1d(_t(x), _t(w), stride=2, padding=1, output_padding=1)
    ref = ref_conv_transpose2d(
        x[:, :, None], w[:, :, None], stride=(1, 2), padding=(0, 1), output_padding=(0, 1)
    )
    np.testing.assert_allclose(y.numpy(), ref[:, :, 0], rtol=1e-10, atol=1e-10)


# -- gradient checks (float64, tiny) ---------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"stride": 2, "padding": 1},
        {"dilation": (2, 1), "padding": (2, 0), "groups": 2},
        {"padding": "same"},
    ],
)
def test_conv2d_gradcheck_and_gradgradcheck(kwargs):
    x = _t(_rand(1, 2, 4, 4), True)
    w = _t(_rand(2, 2 // kwargs.get("groups", 1), 2, 2), True)
    b = _t(_rand(2), True)
    f = lambda x, w, b: F.conv2d(x, w, b, **kwargs)
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


def test_conv_transpose2d_gradcheck_and_gradgradcheck():
    x = _t(_rand(1, 2, 2, 3), True)
    w = _t(_rand(2, 1, 3, 2), True)
    b = _t(_rand(2), True)
    f = lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2)
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


def test_conv1d_gradcheck():
    x, w, b = _t(_rand(2, 2, 5), True), _t(_rand(3, 2, 2), True), _t(_rand(3), True)
    assert gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1), (x, w, b))


def test_gradient_penalty_through_conv2d():
    # d/dw of ||d loss / dx||^2: needs the input gradient to be differentiable in w.
    x = _t(_rand(1, 1, 4, 4), True)
    w = _t(_rand(2, 1, 2, 2), True)

    def penalty(w):
        (gx,) = dg.autograd.grad(F.conv2d(x, w).tanh().sum(), x, create_graph=True)
        return (gx * gx).sum()

    assert gradcheck(penalty, (w,))


# -- errors ---------------------------------------------------------------------------------------
def test_conv2d_errors_name_the_problem():
    x = dg.randn(1, 3, 5, 5)
    with pytest.raises(
        ShapeError, match=r"conv2d: input has 3 channels but weight \(4, 2, 3, 3\) expects 2"
    ):
        F.conv2d(x, dg.randn(4, 2, 3, 3))
    with pytest.raises(ShapeError, match="smaller than the dilated kernel"):
        F.conv2d(x, dg.randn(4, 3, 3, 3), dilation=3)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv2d(x, dg.randn(4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="divisible by groups"):
        F.conv2d(dg.randn(1, 4, 5, 5), dg.randn(3, 2, 3, 3), groups=2)
    with pytest.raises(DTypeError, match="same dtype"):
        F.conv2d(x, dg.randn(4, 3, 3, 3, dtype="float64"))
    with pytest.raises(ShapeError, match=r"bias must have shape \(4,\)"):
        F.conv2d(x, dg.randn(4, 3, 3, 3), dg.randn(3))
    with pytest.raises(ValueError, match=r"^conv2d: stride must be a positive int \(got 0\)\.$"):
        F.conv2d(x, dg.randn(4, 3, 3, 3), stride=0)
    with pytest.raises(
        ValueError, match=r"^conv2d: padding\[1\] must be a non-negative int \(got -1\)\.$"
    ):
        F.conv2d(x, dg.randn(4, 3, 3, 3), padding=(1, -1))
    with pytest.raises(
        ValueError, match=r"^conv1d: dilation\[0\] must be a positive int \(got 0\)\.$"
    ):
        F.conv1d(dg.randn(1, 3, 8), dg.randn(4, 3, 3), dilation=(0,))
    with pytest.raises(ValueError, match=r"^conv1d: groups must be a positive int \(got 0\)\.$"):
        F.conv1d(dg.randn(1, 3, 8), dg.randn(4, 3, 3), groups=0)
    with pytest.raises(
        TypeError, match=r"^conv2d: groups must be a positive int \(got float 1\.0\)\.$"
    ):
        F.conv2d(x, dg.randn(4, 3, 3, 3), groups=1.0)
    with pytest.raises(ShapeError, match="4 dimensions"):
        F.conv2d(dg.randn(5, 5), dg.randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        F.conv_transpose2d(x, dg.randn(3, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ShapeError, match="conv1d"):
        F.conv1d(dg.randn(1, 3, 5), dg.randn(2, 4, 3))


# -- layers ---------------------------------------------------------------------------------------
def test_conv_layers_shapes_and_default_init_bounds():
    dg.manual_seed(0)
    layer = nn.Conv2d(6, 16, 5)
    bound = 1 / math.sqrt(6 * 25)
    assert layer.weight.shape == (16, 6, 5, 5) and layer.bias.shape == (16,)
    for p in (layer.weight, layer.bias):
        assert (
            np.abs(p.detach().numpy()).max() <= bound
            and np.abs(p.detach().numpy()).max() > 0.8 * bound
        )
    assert layer(dg.randn(2, 6, 12, 12)).shape == (2, 16, 8, 8)
    t = nn.ConvTranspose2d(16, 4, 3, stride=2, groups=2)
    assert t.weight.shape == (16, 2, 3, 3)
    assert np.abs(t.bias.detach().numpy()).max() <= 1 / math.sqrt(2 * 9)
    assert nn.Conv1d(3, 8, 5, padding="same")(dg.randn(2, 3, 11)).shape == (2, 8, 11)
    assert nn.Conv2d(2, 2, 3, bias=False).bias is None
    assert "kernel_size=(5, 5)" in repr(layer)


def test_conv_layer_validation():
    with pytest.raises(ValueError, match="Conv2d: in_channels must be a positive int"):
        nn.Conv2d(0, 4, 3)
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(4, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose2d(4, 4, 3, stride=1, output_padding=1)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv1d(4, 4, 3, stride=2, padding="same")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv2d_padding_modes_pad_the_input_first(mode):
    layer = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode).double()
    x = _rand(1, 2, 5, 6)
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    padded = np.pad(x, [(0, 0), (0, 0), (1, 1), (2, 2)], mode=np_mode)
    ref = ref_conv2d(padded, layer.weight.detach().numpy(), layer.bias.detach().numpy())
    np.testing.assert_allclose(layer(_t(x)).detach().numpy(), ref, rtol=1e-10, atol=1e-10)


# -- PyTorch parity ---------------------------------------------------------------------------------
def _copy_params(ours: nn.Module, theirs) -> None:
    for name, p in theirs.named_parameters():
        getattr(ours, name).data = dg.tensor(p.detach().numpy().copy())


def _parity(torch, ours, theirs, x_shape):
    _copy_params(ours, theirs)
    x = RNG.standard_normal(x_shape).astype(np.float32)
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, yt = ours(xd), theirs(xt)
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-4)
    g = RNG.standard_normal(tuple(yt.shape)).astype(np.float32)
    yd.backward(dg.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(
            getattr(ours, name).grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=2e-4
        )


@pytest.mark.parity
@pytest.mark.filterwarnings(
    "ignore:Using padding='same'"
)  # torch's note about its own even-kernel copy
@pytest.mark.parametrize(
    "make, x_shape",
    [
        (lambda m: m.Conv2d(3, 8, 3, stride=2, padding=1), (4, 3, 11, 10)),
        (lambda m: m.Conv2d(4, 6, (3, 2), dilation=(2, 1), groups=2, padding="same"), (2, 4, 9, 9)),
        (lambda m: m.Conv2d(2, 4, 3, padding=1, padding_mode="reflect"), (2, 2, 6, 6)),
        (lambda m: m.Conv2d(2, 4, 3, padding=2, padding_mode="circular", bias=False), (2, 2, 6, 5)),
        (lambda m: m.Conv1d(3, 5, 4, stride=2, padding=1), (3, 3, 17)),
        (lambda m: m.ConvTranspose2d(4, 6, 4, stride=2, padding=1, groups=2), (2, 4, 5, 6)),
        (
            lambda m: m.ConvTranspose2d(3, 2, 3, stride=3, output_padding=2, dilation=1),
            (2, 3, 4, 4),
        ),
        (lambda m: m.ConvTranspose1d(3, 2, 3, stride=2, output_padding=1), (2, 3, 8)),
        (
            lambda m: m.Conv2d(1, 6, 5),
            (32, 1, 28, 28),
        ),  # LeNet's first layer, batch-innermost transposes
    ],
)
def test_conv_layers_match_torch(make, x_shape):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = make(torch.nn)
    ours = make(nn)
    _parity(torch, ours, theirs, x_shape)


@pytest.mark.parity
def test_conv2d_double_backward_matches_torch():
    torch = pytest.importorskip("torch")
    x, w = _rand(2, 2, 5, 5), _rand(3, 2, 3, 3)
    xd, wd = _t(x, True), _t(w, True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    (gd,) = dg.autograd.grad(
        F.conv2d(xd, wd, stride=2, padding=1).tanh().sum(), xd, create_graph=True
    )
    (gt,) = torch.autograd.grad(
        torch.nn.functional.conv2d(xt, wt, stride=2, padding=1).tanh().sum(), xt, create_graph=True
    )
    (gd * gd).sum().backward()
    (gt * gt).sum().backward()
    np.testing.assert_allclose(wd.grad.numpy(), wt.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
