"""Batch and layer normalization: formulas, fused batch norm == composite (to second order), running
statistics (momentum and cumulative), train vs eval, errors, and PyTorch parity (marked ``parity``)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.autograd import gradcheck, gradgradcheck
from deepgrad.backend import ShapeError

RNG = np.random.default_rng(0)


def _t(a, requires_grad=False, dtype="float64"):
    return dg.tensor(np.asarray(a), dtype=dtype, requires_grad=requires_grad)


def _composite_batch_norm(x, w=None, b=None, eps=1e-5):
    """The reference the fused primitive names: (x - mean) / sqrt(var + eps) * w + b, from composites."""
    dims = (0,) + tuple(range(2, x.ndim))
    view = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    centered = x - x.mean(dim=dims, keepdim=True)
    y = centered / ((centered * centered).mean(dim=dims, keepdim=True) + eps).sqrt()
    if w is not None:
        y = y * w.reshape(view)
    if b is not None:
        y = y + b.reshape(view)
    return y


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 2, 4, 4)], ids=str)
@pytest.mark.parametrize("affine", ["both", "none", "weight_only"])
def test_fused_batch_norm_equals_composite_to_second_order(shape, affine):
    x = _t(RNG.normal(size=shape) * 2 + 1, True)
    w = _t(RNG.uniform(0.5, 1.5, shape[1]), True) if affine != "none" else None
    b = _t(RNG.normal(size=shape[1]), True) if affine == "both" else None
    v = _t(RNG.normal(size=shape))
    inputs = [t for t in (x, w, b) if t is not None]
    fused = F.batch_norm(x, None, None, w, b, training=True)
    composite = _composite_batch_norm(x, w, b)
    np.testing.assert_allclose(
        fused.detach().numpy(), composite.detach().numpy(), rtol=1e-10, atol=1e-12
    )
    g_fused = dg.autograd.grad((fused * v).sum(), inputs, create_graph=True)
    g_comp = dg.autograd.grad((composite * v).sum(), inputs, create_graph=True)
    for a, c in zip(g_fused, g_comp):
        np.testing.assert_allclose(a.detach().numpy(), c.detach().numpy(), rtol=1e-9, atol=1e-11)
    h_fused = dg.autograd.grad(sum((g * g).sum() for g in g_fused), inputs, allow_unused=True)
    h_comp = dg.autograd.grad(sum((g * g).sum() for g in g_comp), inputs, allow_unused=True)
    for a, c, t in zip(h_fused, h_comp, inputs):
        zeros = np.zeros(t.shape)  # the bias gradient sum(v) does not depend on the inputs
        a = zeros if a is None else a.numpy()
        c = zeros if c is None else c.numpy()
        np.testing.assert_allclose(a, c, rtol=1e-8, atol=1e-10)


def test_batch_norm_training_normalizes_each_channel():
    x = RNG.normal(size=(8, 3, 4)) * np.array([1.0, 10.0, 0.1])[:, None] + 5
    y = F.batch_norm(_t(x, dtype="float32"), None, None, training=True).numpy()
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0.0, atol=1e-5)
    var = x.var(axis=(0, 2))
    np.testing.assert_allclose(y.var(axis=(0, 2)), var / (var + 1e-5), rtol=1e-4)


def test_batch_norm_gradcheck_training_and_eval():
    x, w, b = (
        _t(RNG.normal(size=(4, 3)), True),
        _t(RNG.uniform(0.5, 1.5, 3), True),
        _t(RNG.normal(size=3), True),
    )
    assert gradcheck(
        lambda *a: F.batch_norm(a[0], None, None, a[1], a[2], training=True), (x, w, b)
    )
    assert gradgradcheck(
        lambda *a: F.batch_norm(a[0], None, None, a[1], a[2], training=True), (x, w, b)
    )
    rm, rv = _t(RNG.normal(size=3)), _t(RNG.uniform(0.5, 2, 3))
    assert gradcheck(lambda *a: F.batch_norm(a[0], rm, rv, a[1], a[2], training=False), (x, w, b))


def test_running_statistics_follow_the_momentum_rule():
    x = RNG.normal(size=(10, 2, 3)) * 3 + 2
    rm, rv = _t(np.zeros(2)), _t(np.ones(2))
    F.batch_norm(_t(x), rm, rv, training=True, momentum=0.3)
    mean = x.mean(axis=(0, 2))
    unbiased = x.var(axis=(0, 2), ddof=1)
    np.testing.assert_allclose(rm.numpy(), 0.3 * mean, rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.7 + 0.3 * unbiased, rtol=1e-12)
    assert rm._version == 1 and rv._version == 1


def test_eval_uses_running_statistics():
    x = RNG.normal(size=(5, 3))
    rm, rv = np.array([0.5, -1.0, 2.0]), np.array([0.25, 4.0, 1.0])
    w, b = np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, -1.0])
    y = F.batch_norm(_t(x), _t(rm), _t(rv), _t(w), _t(b), training=False, eps=1e-3)
    np.testing.assert_allclose(y.numpy(), (x - rm) / np.sqrt(rv + 1e-3) * w + b, rtol=1e-12)
    with pytest.raises(
        ValueError, match="batch_norm: evaluation mode needs running_mean and running_var"
    ):
        F.batch_norm(_t(x), None, None, training=False)


def test_batchnorm_module_train_eval_and_buffers():
    layer = nn.BatchNorm1d(3, momentum=0.5).double()
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert list(layer.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert layer.running_mean.dtype == np.float64 and layer.num_batches_tracked.dtype == np.int64
    batches = [RNG.normal(size=(6, 3)) * 2 + 1 for _ in range(3)]
    expected_mean, expected_var = np.zeros(3), np.ones(3)
    for x in batches:
        y = layer(_t(x))
        np.testing.assert_allclose(y.detach().numpy().mean(axis=0), 0.0, atol=1e-12)
        expected_mean = 0.5 * expected_mean + 0.5 * x.mean(axis=0)
        expected_var = 0.5 * expected_var + 0.5 * x.var(axis=0, ddof=1)
    assert layer.num_batches_tracked.item() == 3
    np.testing.assert_allclose(layer.running_mean.numpy(), expected_mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.numpy(), expected_var, rtol=1e-12)
    layer.eval()
    x = RNG.normal(size=(2, 3))
    np.testing.assert_allclose(
        layer(_t(x)).detach().numpy(),
        (x - expected_mean) / np.sqrt(expected_var + 1e-5),
        rtol=1e-10,
    )
    assert layer.num_batches_tracked.item() == 3
    layer.reset_running_stats()
    assert layer.num_batches_tracked.item() == 0 and np.all(layer.running_var.numpy() == 1)


def test_momentum_none_gives_the_cumulative_average():
    layer = nn.BatchNorm2d(2, momentum=None).double()
    batches = [RNG.normal(size=(3, 2, 2, 2)) + i for i in range(4)]
    for x in batches:
        layer(_t(x))
    means = np.mean([x.mean(axis=(0, 2, 3)) for x in batches], axis=0)
    variances = np.mean([x.var(axis=(0, 2, 3), ddof=1) for x in batches], axis=0)
    np.testing.assert_allclose(layer.running_mean.numpy(), means, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.numpy(), variances, rtol=1e-12)


def test_without_running_stats_eval_uses_batch_statistics():
    layer = nn.BatchNorm1d(2, affine=False, track_running_stats=False)
    assert layer.running_mean is None and layer.num_batches_tracked is None
    assert list(layer.parameters()) == []
    layer.eval()
    y = layer(dg.tensor([[1.0, 10.0], [3.0, 30.0]]))
    np.testing.assert_allclose(y.numpy(), [[-1.0, -1.0], [1.0, 1.0]], rtol=1e-4)


def test_batchnorm_errors():
    with pytest.raises(
        ShapeError, match=r"BatchNorm2d: expected input of shape \(N, C, H, W\) .* \(got \(4, 3\)\)"
    ):
        nn.BatchNorm2d(3)(dg.ones(4, 3))
    with pytest.raises(ShapeError, match="BatchNorm1d: .*C = num_features = 3"):
        nn.BatchNorm1d(3)(dg.ones(4, 5))
    with pytest.raises(
        ValueError, match="batch_norm: expected more than 1 value per channel when training"
    ):
        nn.BatchNorm1d(3)(dg.ones(1, 3))
    with pytest.raises(ValueError, match="BatchNorm1d: momentum must be in"):
        nn.BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match="BatchNorm2d: num_features must be a positive int"):
        nn.BatchNorm2d(0)
    with pytest.raises(
        ShapeError, match=r"batch_norm: weight has shape \(2,\) but the input has 3 channels"
    ):
        F.batch_norm(dg.ones(4, 3), None, None, dg.ones(2), training=True)


# -- layer norm -------------------------------------------------------------------------------------
@pytest.mark.parametrize("normalized_shape", [4, (3, 4)], ids=str)
def test_layer_norm_matches_formula_and_gradcheck(normalized_shape):
    shape = (2, 3, 4)
    k = 1 if isinstance(normalized_shape, int) else len(normalized_shape)
    dims = tuple(range(3 - k, 3))
    x = RNG.normal(size=shape) * 3 + 1
    w, b = RNG.uniform(0.5, 1.5, shape[3 - k :]), RNG.normal(size=shape[3 - k :])
    expected = (x - x.mean(axis=dims, keepdims=True)) / np.sqrt(
        x.var(axis=dims, keepdims=True) + 1e-5
    ) * w + b
    got = F.layer_norm(_t(x), normalized_shape, _t(w), _t(b))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)
    small = (_t(RNG.normal(size=(2,) + shape[3 - k :]), True), _t(w, True), _t(b, True))
    assert gradcheck(lambda a, c, d: F.layer_norm(a, normalized_shape, c, d), small)


def test_layernorm_module():
    layer = nn.LayerNorm((2, 3))
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2, 3)
    x = dg.randn(4, 2, 3)
    np.testing.assert_allclose(
        layer(x).detach().numpy(), F.layer_norm(x, (2, 3)).numpy(), rtol=1e-6
    )
    assert nn.LayerNorm(3, elementwise_affine=False).weight is None
    assert nn.LayerNorm(3, bias=False).bias is None
    with pytest.raises(
        ShapeError, match=r"layer_norm: normalized_shape \(2, 3\) must be the trailing dimensions"
    ):
        layer(dg.randn(4, 3, 2))
    with pytest.raises(ValueError, match="LayerNorm: eps must be > 0"):
        nn.LayerNorm(3, eps=0)


# -- PyTorch parity ------------------------------------------------------------------------------------
def _copy_params(ours, theirs, torch):
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert name == tname
            tp.copy_(torch.tensor(p.detach().numpy()))


@pytest.mark.parity
@pytest.mark.parametrize(
    "ours_cls,shape,kwargs",
    [
        ("BatchNorm1d", (8, 3), {}),
        ("BatchNorm1d", (4, 3, 5), {"momentum": None}),
        ("BatchNorm2d", (4, 3, 5, 5), {"momentum": 0.2, "eps": 1e-3}),
        ("BatchNorm2d", (2, 3, 4, 4), {"affine": False}),
        ("BatchNorm1d", (6, 3), {"track_running_stats": False}),
    ],
    ids=str,
)
def test_batchnorm_parity_with_torch(ours_cls, shape, kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, ours_cls)(3, **kwargs), getattr(torch.nn, ours_cls)(3, **kwargs)
    if ours.affine:
        with dg.no_grad():
            ours.weight.uniform_(0.5, 1.5)
            ours.bias.uniform_(-1.0, 1.0)
        _copy_params(ours, theirs, torch)
    rng = np.random.default_rng(11)
    for step in range(3):
        x = (rng.normal(size=shape) * 2 + step).astype(np.float32)
        upstream = rng.normal(size=shape).astype(np.float32)
        ox, tx = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = ours(ox), theirs(tx)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
        (y * dg.tensor(upstream)).sum().backward()
        (ty * torch.tensor(upstream)).sum().backward()
        np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
        for p, tp in zip(ours.parameters(), theirs.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4)
            p.grad = None
            tp.grad = None
    for name, buffer in ours.named_buffers():
        np.testing.assert_allclose(buffer.numpy(), getattr(theirs, name).numpy(), rtol=1e-5)
    ours.eval()
    theirs.eval()
    x = rng.normal(size=shape).astype(np.float32)
    np.testing.assert_allclose(
        ours(dg.tensor(x)).detach().numpy(),
        theirs(torch.tensor(x)).detach().numpy(),
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.parity
def test_layernorm_parity_with_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.LayerNorm((4, 5)), torch.nn.LayerNorm((4, 5))
    with dg.no_grad():
        ours.weight.uniform_(0.5, 1.5)
        ours.bias.uniform_(-1.0, 1.0)
    _copy_params(ours, theirs, torch)
    x = (np.random.default_rng(12).normal(size=(3, 4, 5)) * 100).astype(np.float32)
    ox, tx = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(ox), theirs(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    upstream = np.random.default_rng(13).normal(size=x.shape).astype(np.float32)
    (y * dg.tensor(upstream)).sum().backward()
    (ty * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-5
    )
