"""The tensor surface of issue 11 beyond the op table: random draws (multinomial), inference_mode,
new_* constructors, the in-place forms, dtype names and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg


def test_multinomial_is_repeatable_under_manual_seed_and_with_a_generator():
    probs = dg.tensor([[0.1, 0.2, 0.3, 0.4], [0.5, 0.0, 0.0, 0.5]])
    for replacement in (False, True):
        dg.manual_seed(3)
        first = dg.multinomial(probs, 2, replacement)
        dg.manual_seed(3)
        again = probs.multinomial(2, replacement)
        np.testing.assert_array_equal(first.numpy(), again.numpy())
        a = dg.multinomial(probs, 2, replacement, generator=dg.Generator().manual_seed(5))
        b = dg.multinomial(probs, 2, replacement, generator=dg.Generator().manual_seed(5))
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert first.dtype == dg.int64 and first.shape == (2, 2)


def test_multinomial_frequencies_follow_the_weights():
    weights = np.array([1.0, 0.0, 3.0, 6.0])
    dg.manual_seed(0)
    draws = dg.multinomial(dg.tensor(weights), 20000, replacement=True).numpy()
    freq = np.bincount(draws, minlength=4) / draws.size
    np.testing.assert_allclose(freq, weights / weights.sum(), atol=0.015)
    assert freq[1] == 0
    # Without replacement: the first draw follows the weights, and a row never repeats.
    rows = dg.tensor(np.tile(weights, (4000, 1)))
    drawn = dg.multinomial(rows, 3).numpy()
    assert all(len(set(r)) == 3 for r in drawn) and not (drawn == 1).any()
    first = np.bincount(drawn[:, 0], minlength=4) / len(drawn)
    np.testing.assert_allclose(first, weights / weights.sum(), atol=0.03)
    # P(second = 3 | first = 2) = 6 / 7 for sequential draws without replacement
    second = drawn[drawn[:, 0] == 2, 1]
    assert abs((second == 3).mean() - 6 / 7) < 0.04


def test_multinomial_errors():
    with pytest.raises(ValueError, match="multinomial: cannot draw 3 samples without replacement"):
        dg.multinomial(dg.tensor([1.0, 0.0, 1.0]), 3)
    with pytest.raises(ValueError, match="finite and >= 0"):
        dg.multinomial(dg.tensor([1.0, -1.0]), 1)
    with pytest.raises(ValueError, match="positive sum"):
        dg.multinomial(dg.tensor([[1.0, 1.0], [0.0, 0.0]]), 1, True)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        dg.multinomial(dg.ones(2, 2, 2), 1)
    with pytest.raises(TypeError, match="floating-point"):
        dg.multinomial(dg.tensor([1, 2]), 1)


def test_inference_mode_as_context_and_decorator():
    x = dg.ones(2, requires_grad=True)
    with dg.inference_mode():
        y = x * 2
        assert not dg.is_grad_enabled() and dg.is_inference_mode_enabled()
    assert not y.requires_grad and dg.is_grad_enabled() and not dg.is_inference_mode_enabled()

    @dg.inference_mode
    def bare():
        return (x * 2).requires_grad, dg.is_inference_mode_enabled()

    @dg.inference_mode()
    def called():
        return (x * 2).requires_grad

    assert bare() == (False, True) and called() is False
    with dg.inference_mode(False):
        assert (x * 2).requires_grad and not dg.is_inference_mode_enabled()
    with pytest.raises(ZeroDivisionError), dg.inference_mode():
        _ = 1 / 0
    assert dg.is_grad_enabled() and not dg.is_inference_mode_enabled()


def test_new_constructors_keep_dtype_and_device_unless_given():
    x = dg.tensor([1.0, 2.0], dtype=dg.float64)
    for t in (x.new_zeros(2, 3), x.new_ones((2, 3)), x.new_empty(2, 3), x.new_full((2, 3), 7)):
        assert t.dtype == dg.float64 and t.shape == (2, 3) and t.device == x.device
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0]
    assert x.new_zeros(3, dtype=dg.int64).dtype == dg.int64
    assert x.new_ones(2, requires_grad=True).requires_grad
    made = x.new_tensor([1, 2, 3])
    assert made.dtype == dg.float64 and made.tolist() == [1.0, 2.0, 3.0]
    copy = x.new_tensor(x)
    copy += 1
    assert x.tolist() == [1.0, 2.0]  # new_tensor copies
    assert dg.tensor([1, 2]).new_tensor([0.5]).dtype == dg.int64


def test_inplace_forms_change_the_tensor():
    x = dg.zeros(3, 2)
    assert x.index_add_(0, dg.tensor([2, 0, 2]), dg.ones(3, 2), alpha=2) is x
    assert x.tolist() == [[2.0, 2.0], [0.0, 0.0], [4.0, 4.0]]
    x.scatter_(1, dg.tensor([[1], [0], [1]]), -1.0)
    assert x.tolist() == [[2.0, -1.0], [-1.0, 0.0], [4.0, -1.0]]
    x.masked_scatter_(x < 0, dg.tensor([7.0, 8.0, 9.0]))
    assert x.tolist() == [[2.0, 7.0], [8.0, 0.0], [4.0, 9.0]]
    # in the graph: computed out of place, the gradient flows to the source
    w = dg.ones(3, requires_grad=True)
    y = w * 1
    y.index_add_(0, dg.tensor([0, 0]), w[:2] * 3)
    y.sum().backward()
    assert w.grad.tolist() == [4.0, 4.0, 1.0]


def test_argument_errors():
    with pytest.raises(ValueError, match="topk: k must be at most the size of dim -1"):
        dg.topk(dg.ones(3), 4)
    with pytest.raises(ValueError, match="unfold: step must be a positive int"):
        dg.ones(5).unfold(0, 2, 0)
    with pytest.raises(dg.ShapeError, match="unfold: size 6 is larger"):
        dg.ones(5).unfold(0, 6, 1)
    with pytest.raises(dg.ShapeError, match="diag: input must be 1-D or 2-D"):
        dg.diag(dg.ones(2, 2, 2))
    with pytest.raises(
        dg.ShapeError, match="masked_scatter: source has 1 elements but mask selects 2"
    ):
        dg.zeros(2).masked_scatter(dg.tensor([True, True]), dg.ones(1))
    with pytest.raises(dg.ShapeError, match="index_add: source of shape"):
        dg.zeros(3, 2).index_add(0, dg.tensor([0, 1]), dg.ones(3, 2))
    with pytest.raises(
        RuntimeError,
        match=r"view: shape \(12,\) .*\(shape \(4, 3\), stride \(1, 4\)\).*\.reshape\(\.\.\.\)",
    ):
        dg.ones(3, 4).t().view(4, 3).view(12)
    with pytest.raises(RuntimeError, match="use .reshape"):
        dg.ones(3, 4).t().view(12)


def test_dtype_names_and_bfloat16():
    assert dg.int is dg.int32 and dg.short is dg.int16 and dg.half is dg.float16
    try:
        import ml_dtypes  # noqa: F401
    except ImportError:
        assert not hasattr(dg, "bfloat16")
        with pytest.raises(AttributeError, match="ml_dtypes"):
            dg.bfloat16  # noqa: B018
    else:
        assert str(dg.bfloat16) == "bfloat16"
        assert dg.ones(2).bfloat16().dtype == dg.bfloat16


def test_contiguous_is_the_tensor_itself_when_already_contiguous():
    x = dg.ones(2, 3, requires_grad=True)
    assert x.contiguous() is x
    y = x.t().contiguous()
    assert y.is_contiguous() and y.stride() == (2, 1) and y.stride(0) == 2
    y.sum().backward()
    assert x.grad.tolist() == [[1.0] * 3] * 2
