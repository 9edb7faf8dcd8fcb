"""Error messages (they are part of the API) and dtype rules of the ops."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import DTypeError, ShapeError


# -- error messages --------------------------------------------------------------------------
def test_matmul_inner_size_mismatch_names_both_shapes():
    with pytest.raises(ShapeError, match=r"matmul: .*\(2, 3\).*\(4, 5\).*inner sizes 3 and 4"):
        dg.ones(2, 3) @ dg.ones(4, 5)


def test_matmul_batched_mismatch_and_zero_dim():
    with pytest.raises(ShapeError, match=r"matmul: .*\(7, 2, 3\).*\(2, 5\)"):
        dg.matmul(dg.ones(7, 2, 3), dg.ones(2, 5))
    with pytest.raises(ShapeError, match=r"matmul: .*at least 1 dimension"):
        dg.matmul(dg.tensor(1.0), dg.ones(3))


def test_broadcasting_error_names_op_and_shapes():
    with pytest.raises(ShapeError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        dg.ones(2, 3) + dg.ones(4)
    with pytest.raises(ShapeError, match=r"mul: shapes \(3, 1\) and \(2, 2\)"):
        dg.ones(3, 1) * dg.ones(2, 2)
    with pytest.raises(ShapeError, match=r"where: "):
        dg.where(dg.ones(3, dtype="bool"), dg.ones(2, 1), dg.ones(2, 4))


def test_cat_errors_name_the_offending_tensor():
    with pytest.raises(
        ShapeError, match=r"cat: tensor 1 has shape \(3, 4\) but tensor 0 has shape \(2, 3\)"
    ):
        dg.cat([dg.ones(2, 3), dg.ones(3, 4)], dim=0)
    with pytest.raises(ShapeError, match=r"cat: zero-dimensional"):
        dg.cat([dg.tensor(1.0), dg.tensor(2.0)])
    with pytest.raises(ValueError, match=r"cat: expected a non-empty list"):
        dg.cat([])
    with pytest.raises(
        ShapeError, match=r"stack: tensor 1 has shape \(3,\) but tensor 0 has shape \(2,\)"
    ):
        dg.stack([dg.ones(2), dg.ones(3)])


def test_reshape_error_names_sizes():
    with pytest.raises(
        ShapeError,
        match=r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, -1\)",
    ):
        dg.ones(2, 3).reshape(4, -1)
    with pytest.raises(ShapeError, match=r"reshape: .*\(5,\)"):
        dg.ones(2, 3).view(5)
    with pytest.raises(ShapeError, match=r"unflatten: sizes \(4, 2\)"):
        dg.ones(2, 6).unflatten(1, (4, 2))


def test_dim_out_of_range():
    with pytest.raises(
        ShapeError, match=r"sum: dim 2 is out of range for a tensor with 2 dimensions"
    ):
        dg.ones(2, 3).sum(dim=2)
    with pytest.raises(ShapeError, match=r"cumsum: dim -3"):
        dg.ones(2, 3).cumsum(-3)
    with pytest.raises(ValueError, match=r"mean: dim \(1, -1\) repeats a dimension"):
        dg.ones(2, 3).mean(dim=(1, -1))


def test_split_pad_gather_einsum_errors():
    with pytest.raises(
        ShapeError,
        match=r"split: sizes \[1, 1\] add up to 2 but dim 0 of shape \(3, 2\) has size 3",
    ):
        dg.ones(3, 2).split([1, 1])
    with pytest.raises(
        ValueError,
        match=r"pad: unknown mode 'mirror'; allowed: constant, reflect, replicate, circular",
    ):
        dg.pad(dg.ones(3), (1, 1), mode="mirror")
    with pytest.raises(
        ValueError, match=r"pad: reflect padding \(3, 0\) must be smaller than the size 3"
    ):
        dg.pad(dg.ones(2, 3), (3, 0), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: pad needs an even length"):
        dg.pad(dg.ones(2, 3), (1, 1, 1))
    with pytest.raises(
        ShapeError, match=r"gather: index of shape \(3, 2\) does not fit input of shape \(2, 4\)"
    ):
        dg.gather(dg.ones(2, 4), 1, dg.zeros(3, 2, dtype="int64"))
    with pytest.raises(DTypeError, match=r"gather: index must be an integer tensor"):
        dg.gather(dg.ones(2, 4), 1, dg.zeros(2, 2))
    with pytest.raises(ShapeError, match=r"einsum: letter 'j' has sizes 3 and 4 in 'ij,jk->ik'"):
        dg.einsum("ij,jk->ik", dg.ones(2, 3), dg.ones(4, 5))
    with pytest.raises(
        ValueError, match=r"einsum: equation 'ij,jk->ik' has 2 operand\(s\) but 1 tensor"
    ):
        dg.einsum("ij,jk->ik", dg.ones(2, 3))
    with pytest.raises(
        ShapeError,
        match=r"einsum: operand 'ijk' names 3 dimension\(s\) but the tensor has shape \(2, 3\)",
    ):
        dg.einsum("ijk->i", dg.ones(2, 3))
    with pytest.raises(ValueError, match=r"einsum: output letter 'z'"):
        dg.einsum("ij->z", dg.ones(2, 3))


# The checks of deepgrad.backend.validation: ValueError out of range, TypeError for a wrong type.
@pytest.mark.parametrize(
    "call,error,message",
    [
        (
            lambda: dg.zeros(2, -1),
            ValueError,
            r"zeros: dimension 1 of size \(2, -1\) must be a non-negative int \(got -1\)\.",
        ),
        (
            lambda: dg.ones((3, 2.0)),
            TypeError,
            r"ones: dimension 1 of size \(3, 2\.0\) must be a non-negative int \(got float 2\.0\)\.",
        ),
        (
            lambda: dg.randn(-2),
            ValueError,
            r"randn: dimension 0 of size \(-2,\) must be a non-negative int \(got -2\)\.",
        ),
        (
            lambda: dg.full((2, -3), 1.0),
            ValueError,
            r"full: dimension 1 of size \(2, -3\) must be a non-negative int \(got -3\)\.",
        ),
        (
            lambda: dg.normal(0.0, -1.0, (2,)),
            ValueError,
            r"normal: std must be >= 0 \(got -1\.0\)\.",
        ),
        (
            lambda: dg.ones(2, 3).repeat(2, -1),
            ValueError,
            r"repeat: repeat count 1 of \(2, -1\) must be a non-negative int \(got -1\)\.",
        ),
        (
            lambda: dg.ones(4).split(0),
            ValueError,
            r"split: split_size must be a positive int \(got 0\)\.",
        ),
        (
            lambda: dg.ones(4).chunk(0),
            ValueError,
            r"chunk: chunks must be a positive int \(got 0\)\.",
        ),
        (
            lambda: dg.ones(4).chunk(2.0),
            TypeError,
            r"chunk: chunks must be a positive int \(got float 2\.0\)\.",
        ),
    ],
)
def test_argument_checks_name_the_op_the_argument_and_the_value(call, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        call()


def test_creation_accepts_numpy_ints_and_zero_sizes():
    assert dg.zeros(np.int64(2), 0).shape == (2, 0)
    assert dg.full(np.int32(3), 1.0).shape == (3,)


def test_index_and_mask_errors():
    with pytest.raises(DTypeError, match=r"masked_fill: mask must be a bool tensor"):
        dg.ones(3).masked_fill(dg.ones(3), 0.0)
    with pytest.raises(
        ShapeError,
        match=r"masked_fill: mask of shape \(2, 3\) does not broadcast to input of shape \(3,\)",
    ):
        dg.ones(3).masked_fill(dg.ones(2, 3, dtype="bool"), 0.0)
    with pytest.raises(
        ValueError, match=r"one_hot: class index 3 is out of range for num_classes=3"
    ):
        dg.one_hot(dg.tensor([0, 3]), 3)
    with pytest.raises(ShapeError, match=r"index_select: index must be 1-D"):
        dg.index_select(dg.ones(3, 2), 0, dg.zeros(2, 2, dtype="int64"))
    with pytest.raises(
        ValueError, match=r"norm: p must be a number, inf, -inf or 'fro' \(got 'nuc'\)"
    ):
        dg.ones(2, 2).norm(p="nuc")
    with pytest.raises(ValueError, match=r"clamp: at least one of min and max"):
        dg.ones(2).clamp()


def test_inplace_errors():
    w = dg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"__iadd__: a leaf tensor that requires grad"):
        w += 1
    with pytest.raises(RuntimeError, match=r"fill_: a leaf tensor that requires grad"):
        w.fill_(0.0)
    counts = dg.zeros(3, dtype="int64")
    with pytest.raises(
        DTypeError, match=r"add_: result type float32 cannot be written into a int64 tensor"
    ):
        counts.add_(0.5)
    small = dg.zeros(3)
    with pytest.raises(ShapeError, match=r"__iadd__: result of shape \(2, 3\) cannot be written"):
        small += dg.ones(2, 3)


# -- dtype rules -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x * 0.5,
        lambda x: 0.5 * x,
        lambda x: x + 1,
        lambda x: 2 - x,
        lambda x: x / 3,
        lambda x: 1 / x,
        lambda x: x**2,
        lambda x: 2.0**x,
        lambda x: dg.where(x > 0, x, 0.0),
        lambda x: x.clamp(0, 1),
        lambda x: x.masked_fill(x > 0, 1e30),
        lambda x: dg.pad(x, (1, 1), value=3),
    ],
    ids=[
        "mul",
        "rmul",
        "add_int",
        "rsub",
        "div_int",
        "rdiv",
        "pow_int",
        "rpow",
        "where",
        "clamp",
        "masked_fill",
        "pad",
    ],
)
def test_float32_stays_float32_under_python_scalars(fn):
    assert fn(dg.ones(2, 3)).dtype == dg.float32


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.sum(),
        lambda x: x.mean(dim=0),
        lambda x: x.prod(dim=1),
        lambda x: x.var(),
        lambda x: x.std(dim=1),
        lambda x: x.norm(),
        lambda x: x.logsumexp(dim=1),
        lambda x: x.amax(dim=0),
        lambda x: x.max(dim=1).values,
        lambda x: x.cumsum(0),
        lambda x: x @ x.T,
        lambda x: dg.einsum("ij,kj->ik", x, x),
        lambda x: x.gather(1, dg.zeros(2, 1, dtype="int64")),
    ],
)
def test_float32_stays_float32_under_reductions_and_matmul(fn):
    x = dg.randn(2, 3)
    assert fn(x).dtype == dg.float32
    assert fn(x.double()).dtype == dg.float64


def test_integer_promotion_rules():
    i = dg.tensor([1, 2, 3])
    assert i.dtype == dg.int64
    assert (i + 1).dtype == dg.int64
    assert (i * 2).dtype == dg.int64
    assert (i + 0.5).dtype == dg.float32  # a Python float makes an int tensor float32, not float64
    assert (i / 2).dtype == dg.float32  # true division of ints gives floats
    np.testing.assert_allclose((i / 2).numpy(), [0.5, 1.0, 1.5])
    assert (i // 2).dtype == dg.int64
    assert (
        i + dg.ones(3)
    ).dtype == dg.float32  # int64 tensor + float32 tensor -> float32 (NumPy: float64)
    assert (dg.ones(3) * i).dtype == dg.float32
    assert (dg.ones(3) + dg.ones(3, dtype="float64")).dtype == dg.float64
    assert (i + dg.tensor([1, 2, 3], dtype="int32")).dtype == dg.int64
    assert (dg.tensor([True, False]) + dg.tensor([1, 2])).dtype == dg.int64
    assert i.sum().dtype == dg.int64
    assert dg.tensor([True, True, False]).sum().item() == 2
    assert dg.tensor([1, 2], dtype="int32").prod().dtype == dg.int64
    assert (i > 1).dtype == dg.bool
    assert dg.isnan(dg.ones(2)).dtype == dg.bool
    assert dg.one_hot(dg.tensor([1, 0])).dtype == dg.int64
    assert dg.argmax(dg.ones(2, 2), dim=1).dtype == dg.int64
    with pytest.raises(TypeError, match=r"mean: needs a floating-point tensor"):
        i.mean()


def test_mixed_dtype_gradient_flows_back_in_each_dtype():
    a = dg.ones(3, requires_grad=True)
    b = dg.ones(3, dtype="float64", requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == dg.float32 and b.grad.dtype == dg.float64
