"""isclose / allclose / equal, narrow's errors, and the in-place shape ops (unsqueeze_, squeeze_,
transpose_): found missing by the compatibility programs of issue 11."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg


def test_isclose_follows_numpy_including_nan():
    a = np.array([1.0, 2.0, np.nan, np.inf, 1e-9], dtype=np.float32)
    b = np.array([1.0 + 1e-6, 2.1, np.nan, np.inf, 0.0], dtype=np.float32)
    for equal_nan in (False, True):
        got = dg.isclose(dg.tensor(a), dg.tensor(b), equal_nan=equal_nan).numpy()
        np.testing.assert_array_equal(got, np.isclose(a, b, equal_nan=equal_nan))
    assert dg.tensor(a).allclose(dg.tensor(a), equal_nan=True)
    assert not dg.allclose(dg.tensor(a), dg.tensor(b))


def test_isclose_broadcasts_and_names_bad_shapes():
    assert dg.isclose(dg.ones(2, 3), dg.ones(3)).shape == (2, 3)
    with pytest.raises(dg.ShapeError, match=r"isclose: shapes \(2, 3\) and \(4,\)"):
        dg.isclose(dg.ones(2, 3), dg.ones(4))


def test_equal_needs_same_shape_and_elements():
    assert dg.equal(dg.tensor([1.0, 2.0]), dg.tensor([1.0, 2.0]))
    assert not dg.equal(dg.tensor([1.0, 2.0]), dg.tensor([1.0, 3.0]))
    assert not dg.equal(dg.ones(2), dg.ones(3))
    assert not dg.tensor([np.nan]).equal(dg.tensor([np.nan]))


def test_narrow_refuses_what_does_not_fit():
    with pytest.raises(IndexError, match=r"narrow: start 4 and length 2 do not fit dimension 1"):
        dg.ones(3, 5).narrow(1, 4, 2)


def test_view_inplace_ops_rebind_and_keep_the_gradient():
    w = dg.randn(3, requires_grad=True)
    h = w * 2.0
    assert h.unsqueeze_(0) is h and h.shape == (1, 3)
    h.transpose_(0, 1)
    assert h.shape == (3, 1)
    h.squeeze_()
    (h * dg.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 4.0, 6.0])


def test_view_inplace_ops_outside_the_graph_share_memory():
    x = dg.zeros(2, 3)
    array = x._data
    x.unsqueeze_(1)
    assert x.shape == (2, 1, 3) and np.shares_memory(x._data, array)


def test_view_inplace_on_a_leaf_that_requires_grad_raises_as_in_pytorch():
    with pytest.raises(RuntimeError, match="unsqueeze_: a leaf tensor that requires grad"):
        dg.randn(3, requires_grad=True).unsqueeze_(0)


@pytest.mark.parity
def test_comparisons_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = a + rng.standard_normal((3, 4)).astype(np.float32) * 1e-6
    b[0, 0] = np.nan
    for kwargs in ({}, {"rtol": 0.0, "atol": 1e-7}, {"equal_nan": True}):
        ours = dg.isclose(dg.tensor(a), dg.tensor(b), **kwargs).numpy()
        theirs = torch.isclose(torch.tensor(a), torch.tensor(b), **kwargs).numpy()
        np.testing.assert_array_equal(ours, theirs)
    assert dg.tensor(a).narrow(1, -3, 2).shape == tuple(torch.tensor(a).narrow(1, -3, 2).shape)
