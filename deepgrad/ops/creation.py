"""Creating tensors: from data, filled, ranges and random draws.

Floating-point data defaults to float32 (DESIGN principle 5); integer data to
int64 and booleans to bool, like ``torch.tensor``. NumPy arrays keep their dtype.
Random draws come from ``generator`` or the default generator that
``deepgrad.manual_seed`` seeds.
"""

from __future__ import annotations

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import (
    array_module_for,
    as_array,
    get_array_module,
    is_floating,
    parse_device,
    to_dtype,
)
from deepgrad.backend.random import default_generator
from deepgrad.backend.validation import non_negative_float, non_negative_int

float32 = np.dtype("float32")
int64 = np.dtype("int64")


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``.

    Example:
        >>> tensor([[1, 2], [3, 4]]).shape
        (2, 2)
        >>> tensor([1.5]).dtype
        dtype('float32')
    """
    array = as_array(data, dtype, device)
    if isinstance(data, (np.ndarray, Tensor)) or array is data:
        array = array.copy()
    t = Tensor._make(array, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with ``data`` when dtype and device allow."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return Tensor._make(as_array(data, dtype, device), None)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (its dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray (got {type(array).__name__})")
    return Tensor._make(array, None)


def _shape(size, owner: str) -> tuple:
    """``size`` (ints, or one tuple or list of them) as a tuple of ints >= 0, checked for ``owner``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for i, n in enumerate(size):
        if type(n) is not int or n < 0:  # fast path for plain ints; the check accepts np.int64 too
            non_negative_int(n, f"dimension {i} of size {tuple(size)}", owner)
    return tuple(int(n) for n in size)


def _finish(array, requires_grad: bool) -> Tensor:
    t = Tensor._make(array, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _module(device):
    return array_module_for(parse_device(device))


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of the given shape (``zeros(2, 3)`` or ``zeros((2, 3))``)."""
    return _finish(
        _module(device).zeros(_shape(size, "zeros"), dtype=to_dtype(dtype) or float32),
        requires_grad,
    )


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given shape."""
    return _finish(
        _module(device).ones(_shape(size, "ones"), dtype=to_dtype(dtype) or float32), requires_grad
    )


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialized tensor of the given shape."""
    return _finish(
        _module(device).empty(_shape(size, "empty"), dtype=to_dtype(dtype) or float32),
        requires_grad,
    )


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from it when not given)."""
    if dtype is None:
        dtype = (
            float32
            if isinstance(fill_value, float)
            else (np.dtype(bool) if isinstance(fill_value, bool) else int64)
        )
    size = _shape(size if isinstance(size, (tuple, list)) else (size,), "full")
    return _finish(_module(device).full(size, fill_value, dtype=to_dtype(dtype)), requires_grad)


def eye(
    n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """The n x m identity matrix."""
    return _finish(_module(device).eye(n, m, dtype=to_dtype(dtype) or float32), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 unless a bound is a float."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = float32 if any(isinstance(v, float) for v in (start, end, step)) else int64
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    return _finish(_module(device).arange(start, end, step, dtype=to_dtype(dtype)), requires_grad)


def linspace(
    start, end, steps: int, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    return _finish(
        _module(device).linspace(start, end, steps, dtype=to_dtype(dtype) or float32), requires_grad
    )


def _like(t: Tensor, dtype, device):
    return to_dtype(dtype) or t.dtype, device if device is not None else t.device


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros with ``t``'s shape (and its dtype and device unless given)."""
    dtype, device = _like(t, dtype, device)
    return zeros(t.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones with ``t``'s shape (and its dtype and device unless given)."""
    dtype, device = _like(t, dtype, device)
    return ones(t.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialized tensor with ``t``'s shape (and its dtype and device unless given)."""
    dtype, device = _like(t, dtype, device)
    return empty(t.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(
    t: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """A tensor filled with ``fill_value``, with ``t``'s shape (and its dtype and device unless given)."""
    dtype, device = _like(t, dtype, device)
    return full(t.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


# -- Tensor.new_*: same dtype and device as an existing tensor unless given ------------------
def _new(t: Tensor, dtype, device):
    return to_dtype(dtype) or t.dtype, device if device is not None else t.device


def new_tensor(t: Tensor, data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``t.new_tensor(data)``: a copy of ``data`` with ``t``'s dtype and device unless given."""
    dtype, device = _new(t, dtype, device)
    array = as_array(data, dtype, device)
    if array is getattr(data, "_data", data):
        array = array.copy()  # like torch: new_tensor always copies
    return _finish(array, requires_grad)


def new_zeros(t: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``t.new_zeros(size)``: zeros with ``t``'s dtype and device unless given."""
    dtype, device = _new(t, dtype, device)
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_ones(t: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``t.new_ones(size)``: ones with ``t``'s dtype and device unless given."""
    dtype, device = _new(t, dtype, device)
    return ones(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_empty(t: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``t.new_empty(size)``: an uninitialized tensor with ``t``'s dtype and device unless given."""
    dtype, device = _new(t, dtype, device)
    return empty(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_full(
    t: Tensor, size, fill_value, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """``t.new_full(size, fill_value)``: ``fill_value`` everywhere, ``t``'s dtype and device unless given."""
    dtype, device = _new(t, dtype, device)
    return full(size, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


# -- random draws ----------------------------------------------------------------------------
def _rng(generator, xp):
    return (generator or default_generator).rng_for(xp)


def _float_dtype(dtype):
    dtype = to_dtype(dtype) or float32
    if not is_floating(dtype):
        raise TypeError(f"random: a floating-point dtype is needed (got {dtype})")
    return dtype


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    xp = _module(device)
    dtype = _float_dtype(dtype)
    return _finish(
        _rng(generator, xp).random(_shape(size, "rand")).astype(dtype, copy=False), requires_grad
    )


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples N(0, 1)."""
    xp = _module(device)
    dtype = _float_dtype(dtype)
    return _finish(
        _rng(generator, xp).standard_normal(_shape(size, "randn")).astype(dtype, copy=False),
        requires_grad,
    )


def randint(low, high=None, size=(), generator=None, dtype=None, device=None) -> Tensor:
    """Integers uniform in [low, high) (``randint(high, size)`` also works)."""
    if high is None:
        low, high = 0, low
    xp = _module(device)
    rng = _rng(generator, xp)
    draw = (
        rng.integers(low, high, size=tuple(size))
        if xp is np
        else rng.randint(low, high, size=tuple(size))
    )
    return Tensor._make(xp.asarray(draw, dtype=to_dtype(dtype) or int64), None)


def normal(
    mean=0.0, std=1.0, size=(), generator=None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """Samples from N(mean, std^2)."""
    non_negative_float(std, "std", "normal")
    xp = _module(device)
    draw = _rng(generator, xp).standard_normal(tuple(size)) * std + mean
    return _finish(xp.asarray(draw, dtype=_float_dtype(dtype)), requires_grad)


def uniform(
    low=0.0, high=1.0, size=(), generator=None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """Samples uniform in [low, high)."""
    if high < low:
        raise ValueError(f"uniform: high must be >= low (got low={low}, high={high})")
    xp = _module(device)
    draw = _rng(generator, xp).random(tuple(size)) * (high - low) + low
    return _finish(xp.asarray(draw, dtype=_float_dtype(dtype)), requires_grad)


def bernoulli(p, generator=None) -> Tensor:
    """Samples 1 with probability ``p`` (a tensor of probabilities), else 0; same shape and dtype as p."""
    probs = p if isinstance(p, Tensor) else tensor(p)
    xp = probs.xp
    if xp.any((probs._data < 0) | (probs._data > 1)):
        raise ValueError("bernoulli: probabilities must lie in [0, 1]")
    draw = _rng(generator, xp).random(probs.shape) < probs._data
    return Tensor._make(draw.astype(probs.dtype), None)


def randperm(n: int, generator=None, dtype=None, device=None) -> Tensor:
    """A random permutation of 0 .. n-1."""
    xp = _module(device)
    perm = _rng(generator, xp).permutation(n)
    return Tensor._make(xp.asarray(perm, dtype=to_dtype(dtype) or int64), None)


def multinomial(
    input: Tensor, num_samples: int, replacement: bool = False, *, generator=None
) -> Tensor:
    """Draw ``num_samples`` category indices per row, with probabilities proportional to ``input``.

    With replacement each draw inverts the row's cumulative distribution at a uniform u:
    index = the first i with cdf_i > u (cdf = cumsum(p) / sum(p)). Without replacement the
    categories race: each gets an arrival time E_i / p_i with E_i ~ Exp(1), and the first
    ``num_samples`` arrivals are, in order, a draw without replacement (the exponential clocks
    are memoryless, so after each arrival the rest race again with the same weights).

    Args:
        input: non-negative weights (need not sum to 1), shape (C,) or (N, C).
        num_samples: draws per row (at most the number of non-zero weights without replacement).
        replacement: draw with replacement. Default: False.
        generator: the Generator to draw from. Default: ``deepgrad.default_generator``.

    Returns:
        int64 indices, shape (num_samples,) or (N, num_samples). Repeatable under ``manual_seed``.

    Example:
        >>> import deepgrad as dg
        >>> dg.multinomial(dg.tensor([0.0, 1.0, 0.0]), 2, replacement=True)
        tensor([1, 1])
    """
    weights = input._data
    if weights.ndim not in (1, 2) or weights.shape[-1] == 0:
        raise ValueError(
            f"multinomial: input must be 1-D or 2-D with at least one category (got shape {input.shape})."
        )
    if not is_floating(weights.dtype):
        raise TypeError(
            f"multinomial: input must be a floating-point tensor (got {weights.dtype}); use .float()."
        )
    num_samples = int(non_negative_int(num_samples, "num_samples", "multinomial"))
    xp = input.xp
    rows = weights.reshape(-1, weights.shape[-1]).astype(np.float64)
    if not bool(xp.isfinite(rows).all()) or bool((rows < 0).any()):
        raise ValueError(
            "multinomial: the weights must be finite and >= 0 (got inf, nan or a negative value)."
        )
    if bool((rows.sum(axis=1) <= 0).any()):
        raise ValueError(
            "multinomial: every row needs a positive sum of weights (got a row of zeros)."
        )
    if not replacement and num_samples > int((rows > 0).sum(axis=1).min()):
        raise ValueError(
            f"multinomial: cannot draw {num_samples} samples without replacement from a row with "
            f"{int((rows > 0).sum(axis=1).min())} non-zero weights; pass replacement=True or fewer samples."
        )
    uniform01 = _rng(generator, xp).random(
        (rows.shape[0], num_samples if replacement else rows.shape[1])
    )
    if replacement:
        cdf = xp.cumsum(rows, axis=1)
        cdf /= cdf[:, -1:]
        draws = xp.stack([xp.searchsorted(c, u, side="right") for c, u in zip(cdf, uniform01)])
        draws = xp.minimum(draws, rows.shape[1] - 1)  # u just below 1 and a rounded cdf
    else:
        positive = rows > 0
        arrival = -xp.log1p(-uniform01) / xp.where(positive, rows, 1.0)
        arrival = xp.where(positive, arrival, xp.inf)
        draws = xp.argsort(arrival, axis=1, kind="stable")[:, :num_samples]
    draws = draws.astype(int64, copy=False)
    return Tensor._make(draws.reshape(num_samples) if weights.ndim == 1 else draws, None)


def rand_like(t: Tensor, generator=None, dtype=None) -> Tensor:
    """Uniform draws in [0, 1) with ``t``'s shape, dtype and device (``generator``: default the global one)."""
    return rand(t.shape, generator=generator, dtype=dtype or t.dtype, device=t.device)


def randn_like(t: Tensor, generator=None, dtype=None) -> Tensor:
    """Standard normal draws N(0, 1) with ``t``'s shape, dtype and device (``generator``: default the global one)."""
    return randn(t.shape, generator=generator, dtype=dtype or t.dtype, device=t.device)


def scalar_like(value, like: Tensor) -> Tensor:
    """A 0-d tensor of ``value`` on ``like``'s device that does not upcast ``like`` (DESIGN principle 5)."""
    dtype = like._data.dtype
    if dtype.kind in "iub" and isinstance(value, float):
        dtype = float32
    elif dtype.kind == "b" and isinstance(value, int):
        dtype = int64
    if type(like._data) is np.ndarray:
        # Constants such as the 1.0 in tanh's backward recur every step: reuse their 0-d arrays
        # (read-only, so an in-place op can never change a shared constant).
        key = (type(value), value, dtype)
        array = _SCALARS.get(key)
        if array is None:
            if len(_SCALARS) > 4096:
                _SCALARS.clear()
            array = np.asarray(value, dtype=dtype)
            array.flags.writeable = False
            _SCALARS[key] = array
        return Tensor._make(array, None)
    return Tensor._make(get_array_module(like._data).asarray(value, dtype=dtype), None)


_SCALARS: dict = {}
