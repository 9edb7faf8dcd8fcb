"""deepgrad.ops.extra (issue 11): values against PyTorch and float64 gradients by finite differences."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import gradcheck
from deepgrad.backend import ShapeError

RNG = np.random.default_rng(11)


def _t(*shape: int, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    return RNG.uniform(low, high, size=shape)


def _dg(a: np.ndarray, grad: bool = False) -> dg.Tensor:
    return dg.tensor(a, dtype=dg.float64, requires_grad=grad)


# name, deepgrad function, torch name, input arrays (float64)
UNARY = [
    ("tan", _t(3, 4, low=-1.2, high=1.2)),
    ("sinh", _t(3, 4)),
    ("cosh", _t(3, 4)),
    ("log10", _t(3, 4, low=0.1, high=5.0)),
    ("exp2", _t(3, 4)),
    ("fliplr", _t(3, 4)),
    ("flipud", _t(3, 4)),
    ("trace", _t(3, 4)),
    ("t", _t(3, 4)),
]
BINARY = [
    ("logaddexp", _t(3, 4), _t(4)),
    ("hypot", _t(3, 4), _t(3, 1)),
    ("dot", _t(5), _t(5)),
    ("outer", _t(3), _t(4)),
    ("inner", _t(2, 3, 4), _t(5, 4)),
    ("swapaxes", _t(2, 3, 4), None),
]


@pytest.mark.parity
@pytest.mark.parametrize(("name", "a"), UNARY, ids=[u[0] for u in UNARY])
def test_unary_matches_torch(name: str, a: np.ndarray) -> None:
    torch = pytest.importorskip("torch")
    got = getattr(dg, name)(_dg(a)).numpy()
    np.testing.assert_allclose(got, getattr(torch, name)(torch.tensor(a)).numpy(), rtol=1e-10)
    method = getattr(_dg(a), name, None)
    if method is not None:
        np.testing.assert_allclose(method().numpy(), got)


@pytest.mark.parametrize(("name", "a"), UNARY, ids=[u[0] for u in UNARY])
def test_unary_gradcheck(name: str, a: np.ndarray) -> None:
    assert gradcheck(getattr(dg, name), (_dg(a, grad=True),))


def _binary_args(
    name: str, a: np.ndarray, b: np.ndarray | None, make: Callable[[np.ndarray], Any]
) -> tuple:
    return (make(a), 1, 2) if b is None else (make(a), make(b))


@pytest.mark.parity
@pytest.mark.parametrize(("name", "a", "b"), BINARY, ids=[b[0] for b in BINARY])
def test_binary_matches_torch(name: str, a: np.ndarray, b: np.ndarray | None) -> None:
    torch = pytest.importorskip("torch")
    got = getattr(dg, name)(*_binary_args(name, a, b, _dg)).numpy()
    want = getattr(torch, name)(*_binary_args(name, a, b, torch.tensor)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(getattr(_dg(a), name)(*_binary_args(name, a, b, _dg)[1:]), got)


@pytest.mark.parametrize(("name", "a", "b"), BINARY, ids=[b[0] for b in BINARY])
def test_binary_gradcheck(name: str, a: np.ndarray, b: np.ndarray | None) -> None:
    if b is None:
        assert gradcheck(lambda x: getattr(dg, name)(x, 1, 2), (_dg(a, grad=True),))
    else:
        assert gradcheck(getattr(dg, name), (_dg(a, grad=True), _dg(b, grad=True)))


@pytest.mark.parity
def test_lerp_matches_torch_and_gradcheck() -> None:
    torch = pytest.importorskip("torch")
    a, b, w = _t(3, 4), _t(3, 4), _t(4, low=0.0, high=1.0)
    want = torch.lerp(torch.tensor(a), torch.tensor(b), torch.tensor(w)).numpy()
    np.testing.assert_allclose(dg.lerp(_dg(a), _dg(b), _dg(w)).numpy(), want, rtol=1e-12)
    want = torch.lerp(torch.tensor(a), torch.tensor(b), 0.3).numpy()
    np.testing.assert_allclose(_dg(a).lerp(_dg(b), 0.3).numpy(), want, rtol=1e-12)
    assert gradcheck(dg.lerp, (_dg(a, True), _dg(b, True), _dg(w, True)))


@pytest.mark.parity
def test_logaddexp_is_stable_for_large_inputs() -> None:
    torch = pytest.importorskip("torch")
    a, b = np.array([1000.0, -1000.0, 0.0]), np.array([999.0, -1001.0, 800.0])
    want = torch.logaddexp(torch.tensor(a), torch.tensor(b)).numpy()
    np.testing.assert_allclose(dg.logaddexp(_dg(a), _dg(b)).numpy(), want, rtol=1e-12)


@pytest.mark.parity
def test_stacks_match_torch() -> None:
    torch = pytest.importorskip("torch")
    for arrays in ([_t(3), _t(2)], [_t(2, 3), _t(2, 1)], [np.array(1.0), _t(2)]):
        want = torch.hstack([torch.tensor(a) for a in arrays]).numpy()
        np.testing.assert_array_equal(dg.hstack([_dg(a) for a in arrays]).numpy(), want)
    for arrays in ([_t(3), _t(3)], [_t(2, 3), _t(3)]):
        want = torch.vstack([torch.tensor(a) for a in arrays]).numpy()
        np.testing.assert_array_equal(dg.vstack([_dg(a) for a in arrays]).numpy(), want)
    assert gradcheck(lambda x, y: dg.vstack([x, y]), (_dg(_t(2, 3), True), _dg(_t(3), True)))
    assert gradcheck(lambda x, y: dg.hstack([x, y]), (_dg(_t(2, 3), True), _dg(_t(2, 2), True)))


@pytest.mark.parity
def test_nan_reductions_match_torch() -> None:
    torch = pytest.importorskip("torch")
    a = _t(3, 4)
    a[0, 1] = a[2, 3] = np.nan
    for dim, keepdim in ((None, False), (1, False), (0, True), ((0, 1), False)):
        for name in ("nansum", "nanmean"):
            want = getattr(torch, name)(torch.tensor(a), dim=dim, keepdim=keepdim).numpy()
            got = getattr(dg, name)(_dg(a), dim=dim, keepdim=keepdim).numpy()
            np.testing.assert_allclose(got, want, rtol=1e-12)
            np.testing.assert_allclose(getattr(_dg(a), name)(dim, keepdim).numpy(), got)
    x = _dg(a, grad=True)
    dg.nanmean(x).backward()
    want_grad = np.where(np.isnan(a), 0.0, 1.0 / 10)
    np.testing.assert_allclose(x.grad.numpy(), want_grad)


@pytest.mark.parity
def test_queries_match_torch() -> None:
    torch = pytest.importorskip("torch")
    a = _t(2, 3)
    assert dg.numel(_dg(a)) == torch.numel(torch.tensor(a)) == 6
    assert dg.is_tensor(_dg(a)) and not dg.is_tensor(a) and not dg.is_tensor(1.0)
    assert dg.is_tensor(dg.nn.Parameter(_dg(a)))
    assert dg.is_floating_point(_dg(a))
    assert not dg.is_floating_point(dg.tensor([1, 2]))
    assert dg.get_default_dtype() == dg.float32
    assert str(torch.get_default_dtype()) == f"torch.{dg.get_default_dtype()}"
    assert dg.tensor([1.0]).dtype == dg.get_default_dtype()


def test_shape_errors_name_the_function() -> None:
    with pytest.raises(ShapeError, match="dot"):
        dg.dot(dg.ones(2, 2), dg.ones(2))
    with pytest.raises(ShapeError, match="dot"):
        dg.dot(dg.ones(2), dg.ones(3))
    with pytest.raises(ShapeError, match="outer"):
        dg.outer(dg.ones(2, 1), dg.ones(2))
    with pytest.raises(ShapeError, match="inner"):
        dg.inner(dg.ones(2, 3), dg.ones(2))
    with pytest.raises(ShapeError, match="trace"):
        dg.trace(dg.ones(2))
    with pytest.raises(ShapeError, match="fliplr"):
        dg.fliplr(dg.ones(2))
    with pytest.raises(ShapeError, match="t:"):
        dg.t(dg.ones(2, 2, 2))
    with pytest.raises(TypeError, match="nanmean"):
        dg.nanmean(dg.tensor([1, 2]))


def test_inner_with_a_scalar_multiplies() -> None:
    a = _t(2, 3)
    got = dg.inner(_dg(np.array(2.0)), _dg(a)).numpy()
    np.testing.assert_allclose(got, 2.0 * a)


@pytest.mark.parity
@pytest.mark.parametrize("name", ["floor", "ceil", "trunc"])
def test_rounding_matches_torch_with_zero_gradient(name: str) -> None:
    torch = pytest.importorskip("torch")
    a = np.array([1.5, -1.5, -0.2, 2.0, 0.0, np.inf, -np.inf, np.nan, -3.7, 1e17 + 0.5])
    want = getattr(torch, name)(torch.tensor(a)).numpy()
    np.testing.assert_array_equal(getattr(dg, name)(_dg(a)).numpy(), want)
    np.testing.assert_array_equal(getattr(_dg(a), name)().numpy(), want)
    ints = dg.tensor([3, -2])
    np.testing.assert_array_equal(getattr(dg, name)(ints).numpy(), [3, -2])
    x = _dg(_t(3, 4), grad=True)
    getattr(dg, name)(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))


@pytest.mark.parity
def test_frac_matches_torch_with_unit_gradient() -> None:
    torch = pytest.importorskip("torch")
    a = np.array([1.5, -1.5, -0.2, 2.0, 0.0, -3.7, 123.25])
    want = torch.frac(torch.tensor(a)).numpy()
    np.testing.assert_allclose(dg.frac(_dg(a)).numpy(), want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(_dg(a).frac().numpy(), want, rtol=1e-12, atol=1e-15)
    assert gradcheck(dg.frac, (_dg(_t(3, 4) + 0.1, grad=True),))
    with pytest.raises(TypeError, match="frac"):
        dg.frac(dg.tensor([1, 2]))


@pytest.mark.parity
@pytest.mark.parametrize(
    ("sa", "sb"), [((2, 3), (2, 2)), ((3,), (2,)), ((2,), (2, 3)), ((2, 1, 2), (3, 2))]
)
def test_kron_matches_torch(sa: tuple, sb: tuple) -> None:
    torch = pytest.importorskip("torch")
    a, b = _t(*sa), _t(*sb)
    want = torch.kron(torch.tensor(a), torch.tensor(b)).numpy()
    np.testing.assert_allclose(dg.kron(_dg(a), _dg(b)).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(_dg(a).kron(_dg(b)).numpy(), want, rtol=1e-12)
    assert gradcheck(dg.kron, (_dg(a, True), _dg(b, True)))


@pytest.mark.parity
def test_dstack_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    for arrays in ([_t(3), _t(3)], [_t(2, 3), _t(2, 3)], [_t(2, 3, 1), _t(2, 3)]):
        want = torch.dstack([torch.tensor(a) for a in arrays]).numpy()
        np.testing.assert_array_equal(dg.dstack([_dg(a) for a in arrays]).numpy(), want)
    assert gradcheck(lambda x, y: dg.dstack([x, y]), (_dg(_t(2, 3), True), _dg(_t(2, 3), True)))


@pytest.mark.parity
def test_masked_select_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    a = _t(3, 4)
    mask = RNG.uniform(size=(4,)) > 0.4
    mask[0] = True
    want = torch.masked_select(torch.tensor(a), torch.tensor(mask)).numpy()
    np.testing.assert_array_equal(dg.masked_select(_dg(a), dg.tensor(mask)).numpy(), want)
    np.testing.assert_array_equal(_dg(a).masked_select(dg.tensor(mask)).numpy(), want)
    assert gradcheck(lambda x: dg.masked_select(x, dg.tensor(mask)), (_dg(a, True),))
    with pytest.raises(TypeError, match="masked_select"):
        dg.masked_select(_dg(a), dg.tensor(mask.astype(np.int64)))


@pytest.mark.parity
def test_count_nonzero_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    a = np.array([[0.0, 1.0, 0.0], [2.0, -3.0, 0.0]])
    for dim in (None, 0, 1, (0, 1)):
        want = torch.count_nonzero(torch.tensor(a), dim=dim).numpy()
        got = dg.count_nonzero(_dg(a), dim=dim)
        assert got.dtype == dg.int64
        np.testing.assert_array_equal(got.numpy(), want)
        np.testing.assert_array_equal(_dg(a).count_nonzero(dim).numpy(), want)


@pytest.mark.parity
@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
def test_var_std_mean_match_torch(name: str) -> None:
    torch = pytest.importorskip("torch")
    a = _t(3, 4)
    for dim, correction, keepdim in ((None, 1, False), (1, 0, True), ((0, 1), 1, False)):
        kwargs = {"correction": correction, "keepdim": keepdim}
        want = getattr(torch, name)(torch.tensor(a), dim, **kwargs)
        got = getattr(dg, name)(_dg(a), dim, **kwargs)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12)
    assert gradcheck(lambda x: getattr(dg, name)(x, 1), (_dg(a, True),))


@pytest.mark.parity
def test_round_matches_torch_ties_to_even() -> None:
    torch = pytest.importorskip("torch")
    a = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -0.2, 0.49999999999999994, np.inf, np.nan, -2.7, 3.3])
    want = torch.round(torch.tensor(a)).numpy()
    got = dg.round(_dg(a)).numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    b = _t(20) * 100
    want = torch.round(torch.tensor(b), decimals=2).numpy()
    np.testing.assert_allclose(_dg(b).round(decimals=2).numpy(), want, rtol=1e-12)
    x = _dg(_t(3, 4), grad=True)
    dg.round(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))


@pytest.mark.parity
@pytest.mark.parametrize("k", [-1, 0, 1, 2, 3, 5])
def test_rot90_matches_torch(k: int) -> None:
    torch = pytest.importorskip("torch")
    a = _t(2, 3, 4)
    for dims in ((0, 1), (1, 2), (2, 0)):
        want = torch.rot90(torch.tensor(a), k, dims).numpy()
        np.testing.assert_array_equal(dg.rot90(_dg(a), k, dims).numpy(), want)
        np.testing.assert_array_equal(_dg(a).rot90(k, dims).numpy(), want)
    assert gradcheck(lambda x: dg.rot90(x, k, (1, 2)), (_dg(a, True),))
    with pytest.raises(ShapeError, match="rot90"):
        dg.rot90(_dg(a), k, (1, 1))


@pytest.mark.parity
def test_take_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    a, index = _t(3, 4), np.array([[0, -1], [5, 5]])
    want = torch.take(torch.tensor(a), torch.tensor(index)).numpy()
    np.testing.assert_array_equal(dg.take(_dg(a), dg.tensor(index)).numpy(), want)
    np.testing.assert_array_equal(_dg(a).take(dg.tensor(index)).numpy(), want)
    assert gradcheck(lambda x: dg.take(x, dg.tensor(index)), (_dg(a, True),))


@pytest.mark.parity
@pytest.mark.parametrize(
    ("sa", "sb", "dims"),
    [((2, 3, 4), (3, 4, 5), 2), ((2, 3, 4), (4, 2), ([2, 0], [0, 1])), ((3,), (3,), 1)],
)
def test_tensordot_matches_torch(sa: tuple, sb: tuple, dims: int | tuple) -> None:
    torch = pytest.importorskip("torch")
    a, b = _t(*sa), _t(*sb)
    want = torch.tensordot(torch.tensor(a), torch.tensor(b), dims).numpy()
    np.testing.assert_allclose(dg.tensordot(_dg(a), _dg(b), dims).numpy(), want, rtol=1e-12)
    assert gradcheck(lambda x, y: dg.tensordot(x, y, dims), (_dg(a, True), _dg(b, True)))
    with pytest.raises(ShapeError, match="tensordot"):
        dg.tensordot(_dg(a), _dg(_t(7)), 1)


@pytest.mark.parity
def test_nonzero_and_argwhere_match_torch() -> None:
    torch = pytest.importorskip("torch")
    for a in (np.array([[0, 1, 0], [2, 0, 3]]), np.array([0.0, 1.5]), np.array(3.0), np.array(0)):
        ta = torch.tensor(a)
        got = dg.nonzero(dg.tensor(a))
        assert got.dtype == dg.int64
        np.testing.assert_array_equal(got.numpy(), torch.nonzero(ta).numpy())
        assert got.shape == tuple(torch.nonzero(ta).shape)
        np.testing.assert_array_equal(dg.argwhere(dg.tensor(a)).numpy(), torch.argwhere(ta))
        np.testing.assert_array_equal(dg.tensor(a).argwhere().numpy(), torch.argwhere(ta))
        if a.ndim:
            for g, w in zip(dg.tensor(a).nonzero(as_tuple=True), ta.nonzero(as_tuple=True)):
                np.testing.assert_array_equal(g.numpy(), w.numpy())


@pytest.mark.parity
def test_repeat_interleave_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    a = _t(2, 3)
    for repeats, dim in ((2, None), (3, 1), (np.array([1, 0]), 0), (np.array([2, 1, 3]), -1)):
        t_rep = torch.tensor(repeats) if isinstance(repeats, np.ndarray) else repeats
        d_rep = dg.tensor(repeats) if isinstance(repeats, np.ndarray) else repeats
        want = torch.repeat_interleave(torch.tensor(a), t_rep, dim).numpy()
        np.testing.assert_array_equal(dg.repeat_interleave(_dg(a), d_rep, dim).numpy(), want)
        np.testing.assert_array_equal(_dg(a).repeat_interleave(d_rep, dim).numpy(), want)
        fn = functools.partial(dg.repeat_interleave, repeats=d_rep, dim=dim)
        assert gradcheck(fn, (_dg(a, True),))
    with pytest.raises(ShapeError, match="repeat_interleave"):
        dg.repeat_interleave(_dg(a), dg.tensor([1, 2]), 1)


@pytest.mark.parity
def test_logspace_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    for args, kwargs in (((0, 2, 5), {}), ((-1, 3, 4), {"base": 2.0}), ((1, 0, 3), {})):
        want = torch.logspace(*args, **kwargs)
        got = dg.logspace(*args, **kwargs)
        assert got.dtype == dg.float32
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    got = dg.logspace(0, 1, 3, dtype=dg.float64, requires_grad=True)
    assert got.dtype == dg.float64 and got.requires_grad
