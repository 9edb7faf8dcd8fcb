"""Composite operations: written with primitives, so their gradients come for free.

Nothing here has a backward of its own (STYLE.md 3.2).
"""

from __future__ import annotations

import math

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.backend.validation import non_negative_int, positive_int
from deepgrad.ops import elementwise as ew
from deepgrad.ops import reduce as rd
from deepgrad.ops import shape as sh


def mean(x: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Arithmetic mean over ``dim``: sum(x) / n."""
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind not in "fV":
        raise TypeError(
            f"mean: needs a floating-point tensor (got {x.dtype}); use x.float().mean()"
        )
    dims = rd.normalize_dims("mean", dim, x._data.ndim)
    count = math.prod(x._data.shape[d] for d in dims)
    return rd.Sum.apply(x, dims=dims, keepdim=keepdim) * (1.0 / count if count else float("nan"))


def var(x: Tensor, dim=None, correction: int = 1, keepdim: bool = False) -> Tensor:
    """Variance: sum((x - mean)^2) / (n - correction)."""
    dims = rd.normalize_dims("var", dim, x._data.ndim)
    count = math.prod(x._data.shape[d] for d in dims)
    centered = x - mean(x, dims, keepdim=True)
    denom = max(count - correction, 0)
    return rd.Sum.apply(centered * centered, dims=dims, keepdim=keepdim) * (
        1.0 / denom if denom else float("nan")
    )


def std(x: Tensor, dim=None, correction: int = 1, keepdim: bool = False) -> Tensor:
    """Standard deviation: sqrt(var(x))."""
    return var(x, dim, correction=correction, keepdim=keepdim).sqrt()


def logsumexp(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``dim``, shifted by the max so that large inputs do not overflow.

    Over an empty dim the sum is 0, so the result is -inf (as in PyTorch).
    """
    dims = rd.normalize_dims("logsumexp", dim, x._data.ndim)
    if any(x._data.shape[d] == 0 for d in dims):  # no max to shift by (issue 12)
        return rd.Sum.apply(x, dims=dims, keepdim=keepdim) + float("-inf")
    shift = rd.Amax.apply(x, dims=dims, keepdim=True).detach()
    shift = ew.where(ew.isfinite(shift), shift, 0.0)
    out = ew.exp(x - shift).sum(dim=dims, keepdim=True).log() + shift
    return out if keepdim else squeeze(out, dims)


def squeeze(x: Tensor, dim=None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or those in ``dim`` that have size 1)."""
    shape = x._data.shape
    if dim is None:
        new = tuple(n for n in shape if n != 1)
    else:
        dims = rd.normalize_dims("squeeze", dim, x._data.ndim)
        new = tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1))
    return sh.reshape(x, new)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at ``dim``."""
    ndim = x._data.ndim
    if not -ndim - 1 <= dim <= ndim:
        raise ShapeError(
            f"unsqueeze: dim {dim} out of range for shape {x.shape} (allowed {-ndim - 1}..{ndim})"
        )
    dim %= ndim + 1
    shape = x._data.shape
    return sh.reshape(x, shape[:dim] + (1,) + shape[dim:])


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim into one."""
    ndim = x._data.ndim
    if ndim == 0:
        return sh.reshape(x, (1,))
    start, end = start_dim % ndim, end_dim % ndim
    shape = x._data.shape
    return sh.reshape(x, shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :])


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise ShapeError(
                f"stack: tensor {i} has shape {t.shape} but tensor 0 has shape {shape}; all must match"
            )
    return sh.cat([unsqueeze(t, dim) for t in tensors], dim=dim)


# -- elementwise -----------------------------------------------------------------------------
def reciprocal(x: Tensor) -> Tensor:
    """y = 1 / x."""
    return ew.div(1.0, x)


def square(x: Tensor) -> Tensor:
    """y = x * x."""
    return ew.mul(x, x)


def rsqrt(x: Tensor) -> Tensor:
    """y = 1 / sqrt(x)."""
    return ew.div(1.0, ew.sqrt(x))


def log2(x: Tensor) -> Tensor:
    """y = log(x) / log(2)."""
    return ew.mul(ew.log(x), 1.0 / math.log(2.0))


# -- reductions ------------------------------------------------------------------------------
def norm(x: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Vector p-norm over ``dim``: (sum |x|^p)^(1/p); p may be 1, 2, inf, -inf, 0, any float, or 'fro'.

    'fro' is the 2-norm over ``dim`` (all elements when None). The 2-norm's gradient x / ||x|| is
    taken as 0 where ||x|| = 0, like PyTorch, instead of 0/0.

    Example:
        >>> import deepgrad as dg
        >>> dg.tensor([[3.0, 4.0]]).norm(dim=1)
        tensor([5.])
    """
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind not in "fV":
        raise TypeError(
            f"norm: needs a floating-point tensor (got {x.dtype}); use x.float().norm()"
        )
    if p == "fro":
        p = 2
    if isinstance(p, str) or not isinstance(p, (int, float)):
        raise ValueError(f"norm: p must be a number, inf, -inf or 'fro' (got {p!r})")
    dims = rd.normalize_dims("norm", dim, x._data.ndim)
    if p == 2:
        total = rd.Sum.apply(x * x, dims=dims, keepdim=keepdim)
        positive = total > 0
        # sqrt'(0) is infinite; evaluating sqrt at 1 where the sum is 0 keeps the gradient finite (0).
        return ew.where(positive, ew.sqrt(ew.where(positive, total, 1.0)), 0.0)
    if p in (math.inf, -math.inf) and any(x._data.shape[d] == 0 for d in dims):
        raise ShapeError(
            f"norm: cannot compute the {p} norm over dims {dims} of shape {x.shape}, an empty "
            "reduction with no identity (as in PyTorch); reduce over non-empty dims or use p=2."
        )
    magnitude = ew.abs(x)
    if p == math.inf:
        return rd.Amax.apply(magnitude, dims=dims, keepdim=keepdim)
    if p == -math.inf:
        return rd.Amin.apply(magnitude, dims=dims, keepdim=keepdim)
    if p == 0:
        return rd.Sum.apply((x != 0).to(x.dtype), dims=dims, keepdim=keepdim)
    if p == 1:
        return rd.Sum.apply(magnitude, dims=dims, keepdim=keepdim)
    return rd.Sum.apply(magnitude**p, dims=dims, keepdim=keepdim) ** (1.0 / p)


# -- shape -----------------------------------------------------------------------------------
def _dim(name: str, dim: int, ndim: int) -> int:
    (d,) = rd.normalize_dims(name, dim, ndim)
    return d


def _slice_along(x: Tensor, dim: int, start: int, stop: int, step: int = 1) -> Tensor:
    return sh.getitem(x, (slice(None),) * dim + (slice(start, stop, step),))


def unflatten(x: Tensor, dim: int, sizes) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one may be -1): the inverse of flatten."""
    d = _dim("unflatten", dim, x._data.ndim)
    sizes = tuple(int(s) for s in sizes)
    n = x._data.shape[d]
    known = math.prod(s for s in sizes if s != -1)
    if (
        sizes.count(-1) > 1
        or (-1 in sizes and (known == 0 or n % known))
        or (-1 not in sizes and known != n)
    ):
        raise ShapeError(
            f"unflatten: sizes {sizes} do not multiply to dim {dim}'s size {n} (shape {x.shape})"
        )
    if -1 in sizes:
        sizes = tuple(n // known if s == -1 else s for s in sizes)
    shape = x._data.shape
    return sh.reshape(x, shape[:d] + sizes + shape[d + 1 :])


def broadcast_to(x: Tensor, size) -> Tensor:
    """``x`` broadcast to ``size`` (a view; gradient summed back)."""
    return sh.expand(x, tuple(size))


def movedim(x: Tensor, source, destination) -> Tensor:
    """Move dimension(s) ``source`` to position(s) ``destination``; the others keep their order."""
    ndim = x._data.ndim
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(
            f"movedim: source {source} and destination {destination} need the same length"
        )
    src = tuple(_dim("movedim", s, ndim) for s in src)
    dst = tuple(_dim("movedim", s, ndim) for s in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated dims in source {source} or destination {destination}")
    rest = iter(d for d in range(ndim) if d not in src)
    placed = dict(zip(dst, src))
    order = tuple(placed[i] if i in placed else next(rest) for i in range(ndim))
    return sh.permute(x, order)


def repeat(x: Tensor, *sizes) -> Tensor:
    """Tile ``x`` ``sizes[i]`` times along dimension i (leading new dims allowed), copying the data."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < x._data.ndim:
        raise ShapeError(
            f"repeat: {len(sizes)} repeat counts for a tensor of shape {x.shape}; give at least one per dimension."
        )
    for i, s in enumerate(sizes):
        non_negative_int(s, f"repeat count {i} of {sizes}", "repeat")
    shape = (1,) * (len(sizes) - x._data.ndim) + x._data.shape
    # (a, b) repeated (r, s): view as (1, a, 1, b), broadcast to (r, a, s, b), merge to (r*a, s*b).
    interleaved = tuple(v for n in shape for v in (1, n))
    expanded = tuple(v for r, n in zip(sizes, shape) for v in (r, n))
    y = sh.expand(sh.reshape(x, interleaved), expanded)
    return sh.reshape(y, tuple(r * n for r, n in zip(sizes, shape)))


def tile(x: Tensor, dims) -> Tensor:
    """Like ``repeat``, but missing leading counts are 1 (``tile(x, (2,))`` on a 2-D x repeats columns)."""
    dims = tuple(dims)
    return repeat(x, (1,) * (x._data.ndim - len(dims)) + dims)


def split(x: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of ``x`` along ``dim``: of size ``split_size_or_sections`` (the last may be smaller),
    or of the listed sizes (which must add up to the dimension's size)."""
    d = _dim("split", dim, x._data.ndim)
    n = x._data.shape[d]
    if isinstance(split_size_or_sections, int):
        size = positive_int(split_size_or_sections, "split_size", "split")
        sizes = [min(size, n - start) for start in range(0, n, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ShapeError(
                f"split: sizes {sizes} add up to {sum(sizes)} but dim {dim} of shape {x.shape} has size {n}"
            )
    pieces, start = [], 0
    for size in sizes:
        pieces.append(_slice_along(x, d, start, start + size))
        start += size
    return tuple(pieces)


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``x`` restricted to ``start <= i < start + length`` along ``dim`` (a view, as slicing).

    ``start`` may be negative (counted from the end), as in PyTorch.
    """
    size = x.shape[dim]
    begin = start + size if start < 0 else start
    if not 0 <= begin <= size or length < 0 or begin + length > size:
        raise IndexError(
            f"narrow: start {start} and length {length} do not fit dimension {dim} of size {size}"
            f" (shape {x.shape}); pick start in [-{size}, {size}] and start + length <= {size}."
        )
    index = [slice(None)] * x.ndim
    index[dim] = slice(begin, begin + length)
    return x[tuple(index)]


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of size ceil(n / chunks) along ``dim`` (fewer if n is small)."""
    chunks = positive_int(chunks, "chunks", "chunk")
    n = x._data.shape[_dim("chunk", dim, x._data.ndim)]
    return split(x, max(-(-n // chunks), 1), dim)


def unbind(x: Tensor, dim: int = 0) -> tuple:
    """The slices of ``x`` along ``dim``, with that dimension removed."""
    d = _dim("unbind", dim, x._data.ndim)
    lead = (slice(None),) * d
    return tuple(sh.getitem(x, lead + (i,)) for i in range(x._data.shape[d]))


def cumprod(x: Tensor, dim: int, dtype=None) -> Tensor:
    """Running product along ``dim``: y_i = x_0 * x_1 * ... * x_i.

    Written as one multiplication per step (y_i = y_(i-1) * x_i), so the gradient is exact where x
    has zeros (where dividing y by x would fail) and differentiable again; it costs one op per
    element of ``dim``.

    Example:
        >>> import deepgrad as dg
        >>> dg.tensor([1, 2, 3]).cumprod(0)
        tensor([1, 2, 6])
    """
    if dtype is not None:
        x = x.to(dtype)
    elif x._data.dtype.kind in "bu" or (x._data.dtype.kind == "i" and x._data.dtype.itemsize < 8):
        x = x.to("int64")  # like PyTorch
    if x._data.ndim == 0:
        rd.normalize_dims("cumprod", dim, 0)
        return x
    (d,) = rd.normalize_dims("cumprod", dim, x._data.ndim)
    if x.shape[d] <= 1:
        return x
    running = [_slice_along(x, d, 0, 1)]
    for i in range(1, x.shape[d]):
        running.append(ew.mul(running[-1], _slice_along(x, d, i, i + 1)))
    return sh.cat(running, d)


def flip(x: Tensor, dims) -> Tensor:
    """Reverse the order of elements along ``dims``."""
    dims = rd.normalize_dims("flip", dims, x._data.ndim)
    if not dims:
        return x
    return sh.getitem(
        x, tuple(slice(None, None, -1) if i in dims else slice(None) for i in range(max(dims) + 1))
    )


def roll(x: Tensor, shifts, dims=None) -> Tensor:
    """Shift elements along ``dims`` by ``shifts``, wrapping around; without dims, over the flattened x."""
    if dims is None:
        if not isinstance(shifts, int):
            (shifts,) = shifts
        return sh.reshape(roll(sh.reshape(x, -1), shifts, 0), x._data.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} need the same length")
    for shift, dim in zip(shifts, dims):
        d = _dim("roll", dim, x._data.ndim)
        n = x._data.shape[d]
        s = shift % n if n else 0
        if s:
            x = sh.cat([_slice_along(x, d, n - s, n), _slice_along(x, d, 0, n - s)], dim=d)
    return x


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad the last len(pad)/2 dimensions: ``pad = (left, right)`` for the last one, then the one
    before it, and so on (PyTorch's order). Negative amounts crop.

    Args:
        input: the tensor.
        pad: (last_left, last_right, second_last_left, second_last_right, ...).
        mode: 'constant' (fill with ``value``, default 0), 'reflect' (mirror without repeating the
            edge, amounts < size), 'replicate' (repeat the edge), 'circular' (wrap around).
        value: the fill value for 'constant'.

    Example:
        >>> import deepgrad as dg
        >>> dg.pad(dg.tensor([1.0, 2.0, 3.0]), (2, 1), mode="reflect")
        tensor([3., 2., 1., 2., 3., 2.])
    """
    pad = tuple(int(p) for p in pad)
    ndim = input._data.ndim
    if len(pad) % 2 or len(pad) // 2 > ndim:
        raise ValueError(
            f"pad: pad needs an even length of at most 2 * ndim = {2 * ndim} (got {pad} for shape {input.shape})"
        )
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: unknown mode {mode!r}; allowed: {', '.join(_PAD_MODES)}")
    if mode != "constant" and value not in (None, 0):
        raise ValueError(
            f"pad: value is only used with mode='constant' (got mode={mode!r}, value={value})"
        )
    amounts = {ndim - 1 - i: (pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)}
    x = input
    crop = tuple(
        slice(max(-amounts[d][0], 0), x._data.shape[d] - max(-amounts[d][1], 0))
        if d in amounts
        else slice(None)
        for d in range(ndim)
    )
    if any(min(a) < 0 for a in amounts.values()):
        x = sh.getitem(x, crop)
    amounts = {
        d: (max(left, 0), max(right, 0))
        for d, (left, right) in amounts.items()
        if left > 0 or right > 0
    }
    if not amounts:
        return x
    if mode == "constant":
        return _pad_constant(x, amounts, 0 if value is None else value)
    xp = x.xp
    for d, (left, right) in amounts.items():
        n = x._data.shape[d]
        if mode == "reflect" and (left >= n or right >= n):
            raise ValueError(
                f"pad: reflect padding ({left}, {right}) must be smaller than the size {n} of dim {d} (shape {x.shape})"
            )
        if mode == "circular" and (left > n or right > n):
            raise ValueError(
                f"pad: circular padding ({left}, {right}) must be at most the size {n} of dim {d} (shape {x.shape})"
            )
        if n == 0:
            raise ShapeError(f"pad: cannot {mode}-pad an empty dim {d} (shape {x.shape})")
        positions = xp.arange(-left, n + right)
        if mode == "reflect":
            period = 2 * (n - 1) if n > 1 else 1
            positions = xp.abs(positions) % period
            positions = xp.where(positions >= n, period - positions, positions)
        elif mode == "replicate":
            positions = xp.clip(positions, 0, n - 1)
        else:
            positions = positions % n
        x = sh.Index.apply(x, index=(slice(None),) * d + (positions,))
    return x


def _pad_constant(x: Tensor, amounts: dict, value) -> Tensor:
    shape = tuple(n + sum(amounts.get(d, (0, 0))) for d, n in enumerate(x._data.shape))
    inside = tuple(
        slice(amounts[d][0], amounts[d][0] + n) if d in amounts else slice(None)
        for d, n in enumerate(x._data.shape)
    )
    y = sh.IndexPutAdd.apply(x, shape=shape, index=inside)
    if value == 0:
        return y
    border = x.xp.full(shape, value, dtype=x.dtype)
    border[inside] = 0
    return ew.add(y, Tensor._make(border, None))


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (elements with column - row <= diagonal), zeros elsewhere."""
    return _triangle("tril", x, diagonal, lower=True)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (elements with column - row >= diagonal), zeros elsewhere."""
    return _triangle("triu", x, diagonal, lower=False)


def _triangle(name: str, x: Tensor, diagonal: int, lower: bool) -> Tensor:
    if x._data.ndim < 2:
        raise ShapeError(f"{name}: needs at least 2 dimensions (got shape {x.shape})")
    rows, cols = x._data.shape[-2:]
    xp = x.xp
    offset = xp.arange(cols)[None, :] - xp.arange(rows)[:, None]
    keep = offset <= diagonal if lower else offset >= diagonal
    return ew.where(Tensor._make(keep, None), x, 0)
