"""Property tests of the shape rules: broadcasting, reductions, reshape/permute round trips."""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings
from hypothesis import strategies as st

import deepgrad as dg
from deepgrad import ShapeError

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)
shapes = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)
nonempty_shapes = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)


@st.composite
def broadcastable_pair(draw):
    """Two shapes that broadcast: drop leading dims and set some sizes to 1 in either."""
    full = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))
    a, b = list(full), list(full)
    for i in range(len(full)):
        choice = draw(st.integers(0, 2))
        if choice == 1:
            a[i] = 1
        elif choice == 2:
            b[i] = 1
    a = a[draw(st.integers(0, len(a))) :]
    b = b[draw(st.integers(0, len(b))) :]
    return tuple(a), tuple(b)


def _arange(shape, dtype="float64"):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape) + 1.0


@SETTINGS
@given(broadcastable_pair())
def test_broadcast_shape_and_gradient_shapes(pair):
    sa, sb = pair
    a = dg.tensor(_arange(sa), requires_grad=True)
    b = dg.tensor(_arange(sb) * 0.5, requires_grad=True)
    y = a * b + a
    assert y.shape == np.broadcast_shapes(sa, sb)
    np.testing.assert_allclose(y.detach().numpy(), _arange(sa) * (_arange(sb) * 0.5) + _arange(sa))
    y.sum().backward()
    # The gradient of each input has the input's shape and sums the broadcast copies.
    assert a.grad.shape == sa and b.grad.shape == sb
    expected_b = np.broadcast_to(_arange(sa), y.shape)
    lead = len(y.shape) - len(sb)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(sb) if n == 1 and y.shape[lead + i] != 1
    )
    np.testing.assert_allclose(b.grad.numpy(), expected_b.sum(axis=axes, keepdims=True).reshape(sb))


@SETTINGS
@given(shapes, shapes)
def test_non_broadcastable_shapes_raise_shape_error(sa, sb):
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        with pytest.raises(ShapeError):
            dg.zeros(sa) + dg.zeros(sb)
    else:
        assert (dg.zeros(sa) + dg.zeros(sb)).shape == np.broadcast_shapes(sa, sb)


@st.composite
def shape_and_dims(draw, nonempty=False):
    shape = draw(nonempty_shapes if nonempty else shapes)
    ndim = len(shape)
    if ndim == 0:
        return shape, None
    dims = draw(
        st.one_of(
            st.none(), st.integers(-ndim, ndim - 1), st.sets(st.integers(0, ndim - 1)).map(tuple)
        )
    )
    return shape, dims


def _expected_shape(shape, dims, keepdim):
    ndim = len(shape)
    if dims is None:
        axes = set(range(ndim))
    elif isinstance(dims, int):
        axes = {dims % ndim}
    else:
        axes = {d % ndim for d in dims}
    if keepdim:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


@SETTINGS
@given(shape_and_dims(), st.booleans())
def test_sum_and_mean_shapes(sd, keepdim):
    shape, dims = sd
    x = dg.tensor(_arange(shape), requires_grad=True)
    s = x.sum(dim=dims, keepdim=keepdim)
    assert s.shape == _expected_shape(shape, dims, keepdim)
    np_dims = dims if dims is None or isinstance(dims, int) else tuple(dims)
    np.testing.assert_allclose(
        s.detach().numpy(), _arange(shape).sum(axis=np_dims, keepdims=keepdim)
    )
    s.sum().backward()
    assert x.grad.shape == shape
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(shape))
    if all(shape[d] for d in (range(len(shape)) if dims is None else np.atleast_1d(dims))):
        assert x.mean(dim=dims, keepdim=keepdim).shape == s.shape


@SETTINGS
@given(shape_and_dims(nonempty=True), st.booleans())
def test_extrema_prod_var_norm_shapes(sd, keepdim):
    shape, dims = sd
    x = dg.tensor(_arange(shape))
    expected = _expected_shape(shape, dims, keepdim)
    for fn in (dg.amax, dg.amin, dg.prod, dg.logsumexp):
        assert fn(x, dims, keepdim).shape == expected, fn.__name__
    assert x.norm(dim=dims, keepdim=keepdim).shape == expected
    assert x.var(dim=dims, keepdim=keepdim).shape == expected
    assert dg.all(x > 0, dim=dims, keepdim=keepdim).shape == expected
    if isinstance(dims, int):
        values, indices = x.max(dim=dims, keepdim=keepdim)
        assert values.shape == expected and indices.shape == expected
        assert x.argmin(dim=dims, keepdim=keepdim).shape == expected


@st.composite
def shape_and_permutation(draw):
    shape = draw(shapes)
    perm = draw(st.permutations(range(len(shape))))
    return shape, tuple(perm)


@SETTINGS
@given(shape_and_permutation())
def test_permute_round_trip_and_gradient(sp):
    shape, perm = sp
    x = dg.tensor(_arange(shape), requires_grad=True)
    y = x.permute(perm)
    assert y.shape == tuple(shape[p] for p in perm)
    np.testing.assert_array_equal(y.detach().numpy(), np.transpose(_arange(shape), perm))
    back = y.permute(tuple(np.argsort(perm)))
    np.testing.assert_array_equal(back.detach().numpy(), _arange(shape))
    (y * dg.tensor(np.transpose(_arange(shape), perm))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), _arange(shape))


@st.composite
def shape_and_reshape(draw):
    shape = draw(shapes)
    size = int(np.prod(shape))
    factors = []
    remaining = size
    if size == 0:
        return shape, (0,) + tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    for p in (2, 3, 5, 7):
        while remaining % p == 0 and draw(st.booleans()):
            factors.append(p)
            remaining //= p
    target = factors + [remaining]
    target = list(draw(st.permutations(target)))
    if draw(st.booleans()) and target:
        target[draw(st.integers(0, len(target) - 1))] = -1
    return shape, tuple(target)


@SETTINGS
@given(shape_and_reshape())
def test_reshape_round_trip_and_gradient(sr):
    shape, target = sr
    x = dg.tensor(_arange(shape), requires_grad=True)
    y = x.reshape(target)
    assert y.shape == _arange(shape).reshape(target).shape
    assert y.reshape(shape).shape == shape
    np.testing.assert_array_equal(y.reshape(shape).detach().numpy(), _arange(shape))
    (y * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(shape, 2.0))


@SETTINGS
@given(nonempty_shapes.filter(lambda s: len(s) >= 1), st.data())
def test_flatten_unflatten_movedim_round_trips(shape, data):
    x = dg.tensor(_arange(shape))
    ndim = len(shape)
    start = data.draw(st.integers(0, ndim - 1))
    end = data.draw(st.integers(start, ndim - 1))
    flat = x.flatten(start, end)
    assert flat.shape == shape[:start] + (int(np.prod(shape[start : end + 1])),) + shape[end + 1 :]
    np.testing.assert_array_equal(flat.unflatten(start, shape[start : end + 1]).numpy(), x.numpy())
    src = data.draw(st.integers(-ndim, ndim - 1))
    dst = data.draw(st.integers(-ndim, ndim - 1))
    moved = x.movedim(src, dst)
    np.testing.assert_array_equal(moved.numpy(), np.moveaxis(x.numpy(), src, dst))
    np.testing.assert_array_equal(moved.movedim(dst, src).numpy(), x.numpy())


@SETTINGS
@given(nonempty_shapes.filter(lambda s: len(s) >= 1), st.data())
def test_split_cat_and_unbind_stack_round_trips(shape, data):
    x = dg.tensor(_arange(shape), requires_grad=True)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    size = data.draw(st.integers(1, 5))
    pieces = x.split(size, dim)
    assert all(p.shape[dim] <= size for p in pieces)
    np.testing.assert_array_equal(dg.cat(pieces, dim).detach().numpy(), x.detach().numpy())
    chunks = data.draw(st.integers(1, 5))
    assert len(x.chunk(chunks, dim)) <= chunks
    np.testing.assert_array_equal(
        dg.cat(x.chunk(chunks, dim), dim).detach().numpy(), x.detach().numpy()
    )
    parts = x.unbind(dim)
    restacked = dg.stack(parts, dim)
    np.testing.assert_array_equal(restacked.detach().numpy(), x.detach().numpy())
    (restacked * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(shape, 3.0))


@SETTINGS
@given(nonempty_shapes.filter(lambda s: 1 <= len(s) <= 3), st.data())
def test_repeat_tile_expand_match_numpy(shape, data):
    x = dg.tensor(_arange(shape))
    reps = tuple(
        data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape) + 1))
    )
    np.testing.assert_array_equal(x.repeat(*reps).numpy(), np.tile(x.numpy(), reps))
    np.testing.assert_array_equal(x.tile(reps[1:]).numpy(), np.tile(x.numpy(), reps[1:]))
    target = tuple(data.draw(st.integers(1, 3)) if n == 1 else n for n in shape)
    np.testing.assert_array_equal(x.expand(target).numpy(), np.broadcast_to(x.numpy(), target))
