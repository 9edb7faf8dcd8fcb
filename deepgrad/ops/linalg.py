"""Linear algebra primitives: matrix multiplication."""

from __future__ import annotations

import math

from deepgrad.autograd.function import Function
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DeviceError, ShapeError, amp_state, blas
from deepgrad.ops.autocast import LOWER, autocast_inputs
from deepgrad.ops.elementwise import promote


class MatMul(Function):
    """y = a @ b (batched over leading dims).   da = dy @ b^T, db = a^T @ dy"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_inputs(0, 1)
        # blas.matmul: NumPy's matmul or a faster BLAS measured on this machine (CuPy: a @ b)
        if a.ndim > 2 and b.ndim == 2:  # (*, k) @ (k, n): one GEMM (see _rows)
            y = blas.matmul(_rows(a), b).reshape(a.shape[:-1] + b.shape[-1:])
        else:
            y = blas.matmul(a, b)
        # NumPy's bfloat16 products (ml_dtypes) come out float32; keep the inputs' dtype as for every other type.
        return y if y.dtype == a.dtype else y.astype(a.dtype)

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved_inputs
        need_a, need_b = ctx.needs_input_grad
        da = dy @ b.mT if need_a else None
        if not need_b:
            return da, None
        if a.ndim > 2 and b.ndim == 2:  # one GEMM over all rows, not a batch of them
            return da, _rows(a).mT @ _rows(dy)
        return da, a.mT @ dy


def _rows(x):
    """(*, k) -> (prod(*), k), an array or a Tensor: N-D products with a matrix as one 2-D GEMM.

    NumPy's matmul of a (B, T, k) array by a (k, n) matrix runs one GEMM per leading index,
    ~2x slower than the single (B*T, k) GEMM (docs/performance.md, note 9).
    """
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands are vectors, leading dims broadcast."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(
            f"matmul: both operands must be Tensors (got {type(a).__name__} and {type(b).__name__})"
        )
    if amp_state.active():
        a, b = autocast_inputs(LOWER, a, b)
    ad, bd = a._data, b._data
    if ad.ndim == 0 or bd.ndim == 0:
        raise ShapeError(
            f"matmul: both operands need at least 1 dimension (got shapes {a.shape} and {b.shape})"
        )
    inner_a = ad.shape[-1]
    inner_b = bd.shape[-2] if bd.ndim > 1 else bd.shape[0]
    if inner_a != inner_b:
        raise ShapeError(
            f"matmul: {a.shape} @ {b.shape}: inner sizes {inner_a} and {inner_b} differ; "
            "transpose one operand or check the layer sizes."
        )
    if type(ad) is not type(bd):
        raise DeviceError(
            f"matmul: operands are on {a.device} and {b.device}; move one with .to(device) first."
        )
    if ad.dtype is not bd.dtype and ad.dtype != bd.dtype:
        a, b = promote(a, b)
    if ad.ndim == 1 and bd.ndim == 1:
        return (a * b).sum()
    if ad.ndim == 1:
        return MatMul.apply(a.reshape(1, -1), b).squeeze(-2)
    if bd.ndim == 1:
        return MatMul.apply(a, b.reshape(-1, 1)).squeeze(-1)
    return MatMul.apply(a, b)


class Einsum(Function):
    """y = einsum(terms -> output, *xs).   dx_k = einsum(dy and the other inputs -> terms[k])

    The gradient of an einsum is another einsum: contract the upstream gradient with every other
    operand into operand k's subscripts. Letters that only operand k has are summed in the
    forward, so they come back as a broadcast (a ones vector); a letter repeated in operand k
    (a diagonal, ``"ii->i"``) comes back through an identity matrix. Because the backward is an
    Einsum again, it can be differentiated any number of times.
    """

    @staticmethod
    def forward(ctx, *xs, terms=(), output=""):
        ctx.save_inputs(*range(len(xs)))
        ctx.terms, ctx.output = terms, output
        # optimize=True orders the contractions and hands them to BLAS (tensordot): 7x faster for
        # (8, 128, 128) batched products, but its planning costs ~15 us, too much for tiny operands.
        optimize = len(xs) > 2 or (len(xs) == 2 and xs[0].size + xs[1].size > 4096)
        return ctx.xp.einsum(",".join(terms) + "->" + output, *xs, optimize=optimize)

    @staticmethod
    def backward(ctx, dy):
        xs = ctx.saved_inputs
        used = set("".join(ctx.terms) + ctx.output)
        spare = [c for c in _LETTERS if c not in used]
        grads = []
        for k, need in enumerate(ctx.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            operands = [dy] + [x for j, x in enumerate(xs) if j != k]
            terms = [ctx.output] + [t for j, t in enumerate(ctx.terms) if j != k]
            available = set("".join(terms))
            target = []
            for pos, letter in enumerate(ctx.terms[k]):
                size = xs[k].shape[pos]
                if letter in target:
                    fresh = spare.pop()
                    operands.append(Tensor._make(dy.xp.eye(size, dtype=dy.dtype), None))
                    terms.append(letter + fresh)
                    letter = fresh
                elif letter not in available:
                    operands.append(Tensor._make(dy.xp.ones(size, dtype=dy.dtype), None))
                    terms.append(letter)
                    available.add(letter)
                target.append(letter)
            grads.append(Einsum.apply(*operands, terms=tuple(terms), output="".join(target)))
        return tuple(grads)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(equation: str, shapes: list) -> tuple[tuple, str]:
    """Explicit subscripts: '...' replaced by letters, the implicit output spelled out."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: equation {equation!r} has {len(terms)} operand(s) but {len(shapes)} tensor(s) were given"
        )
    for term in terms + [out]:
        rest = term.replace("...", "")
        if any(c not in _LETTERS for c in rest):
            raise ValueError(
                f"einsum: subscripts must be letters a-z, A-Z or '...' (got {equation!r})"
            )
    free = [c for c in _LETTERS if c not in eq]
    ell_ndim = 0
    for term, shape in zip(terms, shapes):
        named = len(term.replace("...", ""))
        if "..." in term:
            ell_ndim = max(ell_ndim, len(shape) - named)
        elif named != len(shape):
            raise ShapeError(
                f"einsum: operand {term!r} names {named} dimension(s) but the tensor has shape {tuple(shape)}; "
                "one letter per dimension (or '...')."
            )
    ellipsis = "".join(free[:ell_ndim])
    explicit = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            n = len(shape) - len(term.replace("...", ""))
            if n < 0:
                raise ShapeError(
                    f"einsum: operand {term!r} has more letters than the tensor's {len(shape)} dims"
                )
            term = term.replace("...", ellipsis[ell_ndim - n :])
        explicit.append(term)
    if arrow:
        out = out.replace("...", ellipsis)
    else:
        letters = "".join(explicit)
        out = ellipsis + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ellipsis)
        )
    inputs = set("".join(explicit))
    for c in out:
        if c not in inputs:
            raise ValueError(
                f"einsum: output letter {c!r} does not appear in any operand of {equation!r}"
            )
    if len(set(out)) != len(out):
        raise ValueError(f"einsum: output {out!r} repeats a letter (in {equation!r})")
    return tuple(explicit), out


def einsum(equation: str, *operands) -> Tensor:
    """Sum of products over the letters not in the output, by Einstein notation.

    ``einsum("bij,bjk->bik", a, b)`` is a batched matmul, ``einsum("ii->", a)`` a trace,
    ``einsum("...hd,...kd->...hk", q, k)`` attention scores. Operands may also come as one list.
    Size-1 dimensions broadcast. Differentiable to any order.

    Example:
        >>> import deepgrad as dg
        >>> dg.einsum("ij,j->i", dg.ones(2, 3), dg.tensor([1.0, 2.0, 3.0]))
        tensor([6., 6.])
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: operand {i} is a {type(t).__name__}, not a Tensor")
    terms, out = _parse_einsum(equation, [t.shape for t in operands])
    sizes: dict = {}
    for term, t in zip(terms, operands):
        for letter, n in zip(term, t.shape):
            seen = sizes.setdefault(letter, n)
            if seen != n and seen != 1 and n != 1:
                shapes = ", ".join(str(o.shape) for o in operands)
                raise ShapeError(
                    f"einsum: letter {letter!r} has sizes {seen} and {n} in {equation!r} (shapes {shapes}); "
                    "sizes of one letter must match or be 1."
                )
            if seen == 1:
                sizes[letter] = n
    return Einsum.apply(*operands, terms=terms, output=out)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched matrix product of (B, n, m) and (B, m, p) tensors."""
    if a.ndim != 3 or b.ndim != 3:
        raise ShapeError(
            f"bmm: both operands must be 3-D (got shapes {a.shape} and {b.shape}); use matmul."
        )
    return matmul(a, b)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """out = beta * input + alpha * (batch1 @ batch2), for (B, n, m) and (B, m, p) batches.

    ``input`` broadcasts to (B, n, p). With beta=0 ``input`` is ignored (its NaNs do not leak in).

    Example:
        >>> import deepgrad as dg
        >>> dg.baddbmm(dg.ones(1, 2, 2), dg.ones(1, 2, 3), dg.ones(1, 3, 2), beta=0.5).tolist()
        [[[3.5, 3.5], [3.5, 3.5]]]
    """
    product = bmm(batch1, batch2)
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return product + (input if beta == 1 else input * beta)


class Linear(Function):
    """y = x @ W^T + b.   dx = dy @ W, dW = dy^T @ x, db = sum of dy over all but the last dim

    Fused rather than composed from matmul, transpose and add because the composite's weight
    gradient arrives as a transposed view that must be copied before it can be accumulated,
    and its bias add makes a second output array; measured ~15% of an MLP step at batch 128.
    Composite reference: ``matmul(x, w.mT) + b``. ``b`` is optional (two inputs then).
    """

    @staticmethod
    def forward(ctx, x, w, *bias):
        ctx.save_inputs(0, 1)
        y = blas.matmul(x if x.ndim <= 2 else _rows(x), w.T)  # N-D: one GEMM (see _rows)
        if bias:
            y += bias[0]
        if y.ndim != x.ndim:
            y = y.reshape(x.shape[:-1] + w.shape[:1])
        return y if y.dtype == x.dtype else y.astype(x.dtype)  # bfloat16: see MatMul

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_inputs
        need_x, need_w, *need_b = ctx.needs_input_grad
        rows = dy if dy.ndim == 2 else _rows(dy)
        dx = None
        if need_x:
            dx = dy @ w if dy.ndim <= 2 else (rows @ w).reshape(x.shape)
        dw = rows.mT @ (x if x.ndim == 2 else _rows(x)) if need_w else None
        if not need_b:
            return dx, dw
        return dx, dw, (rows.sum(dim=0) if need_b[0] else None)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ W^T + b for x of shape (*, in_features), W (out_features, in_features), b (out_features,)."""
    if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(
            f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape}; "
            "the input's last dimension must equal in_features = weight.shape[1]."
        )
    if amp_state.active():
        x, weight, bias = autocast_inputs(LOWER, x, weight, bias)
    same = x.dtype == weight.dtype and type(x._data) is type(weight._data)
    if bias is not None:
        same = (
            same
            and bias.dtype == x.dtype
            and bias.shape == (weight.shape[0],)
            and type(bias._data) is type(x._data)
        )
    if (
        not same
    ):  # mixed dtypes, devices or an unusual bias shape: the composite explains or promotes
        y = matmul(x, weight.mT)
        return y if bias is None else y + bias
    return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)
