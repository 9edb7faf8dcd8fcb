"""PyTorch parity for the ops whose semantics are easy to get subtly wrong.

The same function runs on deepgrad and on torch (``lib`` is the module, tensors have the same
method names); values and gradients are compared in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.parity


def _run(fn, arrays, lib, grad_inputs=None):
    if lib is dg:
        tensors = [dg.tensor(a, dtype=a.dtype) for a in arrays]
    else:
        tensors = [torch.tensor(a) for a in arrays]
    wanted = range(len(arrays)) if grad_inputs is None else grad_inputs
    for i in wanted:
        tensors[i].requires_grad_(True)
    out = fn(lib, *tensors)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    float_outs = [o for o in outs if o.dtype in (dg.float64, torch.float64)]
    total = sum((o * (k + 1.5)).sum() for k, o in enumerate(float_outs))
    total.backward()
    values = [o.detach().numpy() for o in outs]
    grads = [None if tensors[i].grad is None else tensors[i].grad.numpy() for i in wanted]
    return values, grads


def assert_parity(fn, *arrays, grad_inputs=None):
    got_values, got_grads = _run(fn, arrays, dg, grad_inputs)
    want_values, want_grads = _run(fn, arrays, torch, grad_inputs)
    for got, want in zip(got_values, want_values):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, equal_nan=True)
    for k, (got, want) in enumerate(zip(got_grads, want_grads)):
        if want is None:
            assert got is None or not np.any(got), f"input {k}: torch gives no gradient"
        else:
            assert got is not None, f"input {k}: no gradient, torch has one"
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, equal_nan=True)


RNG = np.random.default_rng(0)
A34 = RNG.standard_normal((3, 4))


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_prod_with_zeros(dim):
    x = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 3.0, 0.0, 2.0], [0.5, 2.0, -1.5, 3.0]])
    if dim is None:
        assert_parity(lambda lib, t: t.prod(), x)
        assert_parity(lambda lib, t: t.prod(), x[2:])  # no zeros
        assert_parity(lambda lib, t: t.prod(), np.array([[2.0, 0.0], [3.0, 4.0]]))  # a single zero
    else:
        assert_parity(lambda lib, t: t.prod(dim=dim), x)
        assert_parity(lambda lib, t: t.prod(dim, keepdim=True), x)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"p": 1},
        {"p": 2, "dim": 1},
        {"p": math.inf},
        {"p": -math.inf, "dim": 0},
        {"p": 3, "dim": 1, "keepdim": True},
        {"p": "fro"},
        {"p": "fro", "dim": (0, 1)},
    ],
)
def test_norm(kwargs):
    assert_parity(lambda lib, t: t.norm(**kwargs), A34)


def test_norm_gradient_at_zero_is_zero():
    x = np.zeros((2, 3))
    x[1] = [3.0, 0.0, -4.0]
    assert_parity(lambda lib, t: t.norm(dim=1), x)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2), (2, 1, 1, 2), (0, 3, 2, 0)])
def test_pad(mode, pad):
    # PyTorch's non-constant modes pad (N, C, W) by 2 numbers and (N, C, H, W) by 4.
    x = RNG.standard_normal((2, 3, 5) if len(pad) == 2 else (2, 3, 4, 5))
    assert_parity(
        lambda lib, t: (dg.pad if lib is dg else torch.nn.functional.pad)(t, pad, mode=mode), x
    )


def test_pad_constant_value_and_negative():
    x = RNG.standard_normal((3, 4))
    assert_parity(
        lambda lib, t: (dg.pad if lib is dg else torch.nn.functional.pad)(
            t, (2, -1, -1, 1), value=1.5
        ),
        x,
    )


@pytest.mark.parametrize(
    "equation,shapes",
    [
        ("ij,jk->ik", [(3, 4), (4, 2)]),
        ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
        ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
        ("...ij,...jk", [(2, 3, 4), (4, 2)]),
        ("ii->i", [(3, 3)]),
        ("ii", [(3, 3)]),
        ("ij->", [(3, 4)]),
        ("i,j->ij", [(3,), (4,)]),
        ("ij,ij->i", [(3, 4), (3, 4)]),
        ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
        ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ],
)
def test_einsum(equation, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    assert_parity(lambda lib, *ts: lib.einsum(equation, *ts), *arrays)


def test_einsum_second_derivative():
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))
    results = []
    for lib in (dg, torch):
        ta, tb = (
            (dg.tensor(a, dtype="float64") if lib is dg else torch.tensor(a)),
            (dg.tensor(b, dtype="float64") if lib is dg else torch.tensor(b)),
        )
        ta.requires_grad_(True)
        tb.requires_grad_(True)
        y = (lib.einsum("ij,jk->ik", ta, tb) ** 2).sum()
        grad_fn = dg.autograd.grad if lib is dg else torch.autograd.grad
        (ga,) = grad_fn(y, [ta], create_graph=True)
        ((ga * ga).sum()).backward()
        results.append((ga.detach().numpy(), tb.grad.numpy()))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_max_min_ties():
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [5.0, 1.0, 5.0, 4.0]])
    assert_parity(lambda lib, t: t.max(), x)  # global: the gradient is shared among ties
    assert_parity(lambda lib, t: t.amax(dim=1), x)
    assert_parity(lambda lib, t: t.amin(dim=(0, 1)), x)
    assert_parity(lambda lib, t: tuple(t.max(dim=1)), x)  # with dim: all to the returned index
    assert_parity(lambda lib, t: tuple(t.min(dim=0, keepdim=True)), x)
    assert_parity(lambda lib, t: lib.maximum(t, t.flip(1)), x)  # maximum: ties split in half


def test_clamp_ties_and_tensor_bounds():
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    assert_parity(lambda lib, t: t.clamp(0.0, 1.0), x)
    low, high = np.array([0.0, 0.0, 0.0, 0.0, 0.0]), np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    assert_parity(lambda lib, t, lo, hi: lib.clamp(t, lo, hi), x, low, high)


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib, t: t.var(dim=1, correction=0),
        lambda lib, t: t.std(dim=0, keepdim=True),
        lambda lib, t: t.logsumexp(dim=1),
        lambda lib, t: t.cumsum(1),
        lambda lib, t: t.roll((1, -2), (0, 1)),
        lambda lib, t: t.roll(5),
        lambda lib, t: t.flip((0, 1)),
        lambda lib, t: t.movedim(0, 1),
        lambda lib, t: t.repeat(2, 1, 3),
        lambda lib, t: t.tile((2,)),
        lambda lib, t: t.chunk(3, dim=1),
        lambda lib, t: t.split([1, 3], dim=1),
        lambda lib, t: t.unbind(1),
        lambda lib, t: t.tril(-1) + t.triu(2),
        lambda lib, t: t[[0, 2, 0], 1::2],
        lambda lib, t: t[t > 0],
        lambda lib, t: t[None, ..., -1],
        lambda lib, t: t.unflatten(1, (2, 2)),
        lambda lib, t: t.rsqrt() + t.square() + t.reciprocal() + t.log2(),
        lambda lib, t: t.abs().sqrt(),
        lambda lib, t: t.sign() * t,
        lambda lib, t: lib.where(t > 0, t, t * 0.1),
        lambda lib, t: t.masked_fill(t < 0, 2.0),
    ],
)
def test_misc_ops(fn):
    positive = "sqrt" in fn.__code__.co_names or "rsqrt" in fn.__code__.co_names
    assert_parity(fn, np.abs(A34) + 0.5 if positive else A34)


def test_gather_scatter_add_index_select_with_repeats():
    x = RNG.standard_normal((3, 4))
    index = np.array([[0, 0, 3], [1, 1, 1], [2, 3, 2]])
    src = RNG.standard_normal((3, 3))

    def gather(lib, t):
        return t.gather(1, (dg.tensor if lib is dg else torch.tensor)(index))

    def scatter_add(lib, t, s):
        return t.scatter_add(1, (dg.tensor if lib is dg else torch.tensor)(index), s)

    def index_select(lib, t):
        return t.index_select(0, (dg.tensor if lib is dg else torch.tensor)(np.array([2, 0, 2, 2])))

    def take(lib, t):
        return lib.take_along_dim(
            t, (dg.tensor if lib is dg else torch.tensor)(np.array([[1], [0], [3]])), dim=1
        )

    assert_parity(gather, x)
    assert_parity(scatter_add, x, src)
    assert_parity(index_select, x)
    assert_parity(take, x)


def test_one_hot():
    labels = np.array([[0, 3], [2, 2]])
    got = dg.one_hot(dg.tensor(labels), 5).numpy()
    want = torch.nn.functional.one_hot(torch.tensor(labels), 5).numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        dg.one_hot(dg.tensor(labels)).numpy(),
        torch.nn.functional.one_hot(torch.tensor(labels)).numpy(),
    )


def test_matmul_batched_broadcast_gradients():
    for sa, sb in [
        ((2, 1, 3, 4), (5, 4, 2)),
        ((4,), (2, 4, 3)),
        ((2, 3, 4), (4,)),
        ((3, 4), (2, 4, 5)),
    ]:
        assert_parity(lambda lib, a, b: a @ b, RNG.standard_normal(sa), RNG.standard_normal(sb))


def test_pow_tensor_exponent_and_scalar_forms():
    a, b = np.abs(RNG.standard_normal((3, 4))) + 0.2, RNG.standard_normal((3, 4))
    assert_parity(lambda lib, x, y: x**y, a, b)
    assert_parity(lambda lib, x: 2.0**x + x**3 - 1.5 / x + (2 - x) * 3, a)


def test_division_dtype_promotion_matches_torch():
    for left, right in [([1, 2, 3], 2), ([1, 2, 3], 2.5), ([True, False], 1)]:
        got = dg.tensor(left) / right
        want = torch.tensor(left) / right
        assert str(got.dtype) == str(want.dtype).replace("torch.", "")
        np.testing.assert_allclose(got.numpy(), want.numpy())
    got = dg.tensor([1, 2]) + dg.tensor([0.5, 0.5])
    want = torch.tensor([1, 2]) + torch.tensor([0.5, 0.5])
    assert str(got.dtype) == str(want.dtype).replace("torch.", "")


# -- the tensor surface of issue 11 ---------------------------------------------------------
def _long(lib, array):
    return (dg.tensor if lib is dg else torch.tensor)(np.asarray(array))


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib, t: tuple(t.sort(dim=1)),
        lambda lib, t: tuple(lib.sort(t, dim=0, descending=True, stable=True)),
        lambda lib, t: (t.argsort(dim=1, descending=True), t * 1),
        lambda lib, t: tuple(t.topk(2)),
        lambda lib, t: tuple(lib.topk(t, 3, dim=0, largest=False)),
        lambda lib, t: t.diagonal() + t.diagonal(1).sum() + lib.diagonal(t, -1).sum(),
        lambda lib, t: lib.diag(t, 1) + lib.diag(t[0]).sum(),
        lambda lib, t: t.unfold(1, 2, 1) * t.unfold(0, 2, 2).sum(),
        lambda lib, t: t.cumprod(1) + lib.cumprod(t, 0),
        lambda lib, t: t.scatter(1, _long(lib, [[3, 0], [1, 2], [0, 3]]), t[:, :2] * 2),
        lambda lib, t: t.scatter(0, _long(lib, [[2, 0, 1, 1]]), 1.5),
        lambda lib, t: t.index_add(0, _long(lib, [2, 0, 2]), t * 3, alpha=0.5),
        lambda lib, t: t.masked_scatter(t > 0, t.flip(0) * 2),
        lambda lib, t: t.t().contiguous().view(-1),
        lambda lib, t: t.view(2, 6).view_as(t),
        lambda lib, t: (
            t.new_zeros(2, 3)
            + t.new_ones((2, 3))
            + t.new_full((2, 3), 2.5)
            + t.new_tensor([1.0, 2.0, 3.0]) * t[:2, :3]
        ),
    ],
)
def test_surface_ops(fn):
    assert_parity(fn, A34)


def test_sort_with_ties_and_nan_matches_torch_stable():
    x = np.array([[2.0, np.nan, 1.0, 2.0, -np.inf, 1.0, np.nan, np.inf]])
    for descending in (False, True):
        assert_parity(
            lambda lib, t, descending=descending: tuple(t.sort(descending=descending, stable=True)),
            x,
        )
    ints = np.array([3, 1, 3, 0, 1])
    for descending in (False, True):
        got = dg.tensor(ints).argsort(descending=descending, stable=True).numpy()
        want = torch.tensor(ints).argsort(descending=descending, stable=True).numpy()
        np.testing.assert_array_equal(got, want)


def test_cumprod_gradient_with_zeros():
    x = np.array([[2.0, 0.0, 3.0, 0.0, 1.5], [0.0, 1.0, -2.0, 4.0, 0.5], [1.0, 2.0, 3.0, 4.0, 5.0]])
    assert_parity(lambda lib, t: t.cumprod(1), x)


def test_baddbmm():
    c, a, b = (
        RNG.standard_normal((2, 3, 4)),
        RNG.standard_normal((2, 3, 5)),
        RNG.standard_normal((2, 5, 4)),
    )
    assert_parity(lambda lib, c, a, b: lib.baddbmm(c, a, b, beta=0.5, alpha=-2.0), c, a, b)
    assert_parity(lambda lib, c, a, b: c.baddbmm(a, b), c, a, b)


@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda t: t.t(), (6, 2)),  # transposed: needs a copy
        (lambda t: t.t(), (-1,)),
        (lambda t: t.t(), (4, 3)),  # same shape: a view
        (lambda t: t.t().unsqueeze(0), (4, 1, 3)),
        (lambda t: t[:, ::2], (6,)),
        (lambda t: t[:, ::2], (3, 2, 1)),
        (lambda t: t[:, :2], (6,)),
        (lambda t: t[1:, :], (8,)),
        (lambda t: t.reshape(3, 2, 2).permute(0, 2, 1), (3, 4)),
        (lambda t: t.reshape(3, 2, 2).permute(1, 0, 2), (2, 6)),
        (lambda t: t.reshape(3, 2, 2).permute(1, 0, 2), (6, 2)),
        (lambda t: t[:1].expand(5, 4), (20,)),
        (lambda t: t[:1].expand(5, 4), (5, 2, 2)),
        (lambda t: t[:, :1].expand(3, 4), (3, 2, 2)),
        (lambda t: t[:, :1].expand(3, 4), (6, 2)),
    ],
)
def test_view_raises_exactly_where_torch_raises(make, shape):
    x = np.arange(12.0).reshape(3, 4)
    source = make(torch.tensor(x))
    mine = make(dg.tensor(x))
    assert mine.stride() == source.stride()
    assert mine.is_contiguous() == source.is_contiguous()
    try:
        want = source.view(shape)
    except RuntimeError as exc:
        assert "reshape" in str(exc)
        with pytest.raises(RuntimeError, match=r"view: .*use \.reshape\(\.\.\.\) instead"):
            mine.view(shape)
    else:
        got = mine.view(shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        assert got.stride() == want.stride()
    np.testing.assert_array_equal(mine.reshape(shape).numpy(), source.reshape(shape).numpy())
    assert mine.contiguous().is_contiguous()


def test_format_of_0d_tensors_and_refusal_otherwise():
    for spec in ("+.2f", ".3e", "", "8.1f"):
        assert format(dg.tensor(-1.23456), spec) == format(torch.tensor(-1.23456), spec)
    assert f"{dg.tensor(7)}" == f"{torch.tensor(7)}" == "7"
    assert f"{dg.tensor([1.0, 2.0])}" == str(dg.tensor([1.0, 2.0]))
    for t in (dg.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])):
        with pytest.raises(TypeError):
            f"{t:.2f}"


def test_dtype_names_match_torch():
    for name in (
        "float",
        "double",
        "half",
        "long",
        "int",
        "short",
        "bool",
        "float16",
        "uint8",
        "int8",
    ):
        assert str(getattr(dg, name)) == str(getattr(torch, name)).replace("torch.", "").replace(
            "bool", "bool"
        )
    assert dg.tensor([1]).int().dtype == dg.int32
