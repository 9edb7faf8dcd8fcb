"""Layer norm's float32 path through the numba row kernels, chosen by measurement.

``fused_layers.LayerNorm`` computes its forward and backward as chains of NumPy calls, each a
pass over the whole array (nine forward, about a dozen backward). The kernels
``layer_norm_forward`` and ``layer_norm_backward`` (``backend/_numba_kernels.py``) take one row
at a time instead, the row in the L1 cache: the forward writes y and keeps each row's mean and
1 / std, the backward recomputes xhat from them and sums dw and db over the rows in the same pass.

They apply to float32 NumPy arrays with numba on, and are used where they measured faster than
the NumPy chain (forward and backward timed together, by ``blas.MARGIN``), once per shape class
(the rows' bit length and the row length), with the decision kept in the GEMM decisions file
like every other kernel decision (``blas.choose``): every process on a machine then computes the
same bits. docs/performance.md, note 20.

GELU's float32 forward goes the same way: ``gelu_forward`` runs the ~25 NumPy passes of its erf
(``backend/ops_compat.erf_float32``) as one loop of the same float32 operations in the same order
(the values are NumPy's bit for bit), chosen per bit length of the element count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad.backend.kernels import float32_numpy, kernel, kernel_wins, size_class

_kernels_faster: dict[tuple[int, int], bool] = {}
"""Per (bit length of the rows, row length): whether the kernels measured faster than NumPy."""

Reference = Callable[[np.ndarray, np.ndarray], Any]
"""The NumPy path's forward and backward on (x, dy), both (R, N): what the kernels replace."""


def layer_norm_applies(x: Any, weight: Any, bias: Any, ndim: int, reference: Reference) -> bool:
    """Whether LayerNorm runs the numba kernels on x (normalized over its last ``ndim`` dims).

    Args:
        x: the input array.
        weight, bias: the affine arrays, or None where the layer has none.
        ndim: how many trailing dims are normalized.
        reference: the NumPy path on (x, dy) as (R, N) arrays, timed against the kernels.
    """
    arrays = [a for a in (x, weight, bias) if a is not None]
    if not float32_numpy(*arrays) or x.size == 0 or kernel("layer_norm_forward") is None:
        return False
    n = int(np.prod(x.shape[x.ndim - ndim :]))
    rows = x.size // n
    key = (rows.bit_length(), n)
    if key not in _kernels_faster:
        _kernels_faster[key] = _measure(x.reshape(rows, n), reference)
    return _kernels_faster[key]


def _measure(x: np.ndarray, reference: Reference) -> bool:
    """Whether the kernels beat the NumPy path on x's rows (forward + backward, dy = x)."""
    rows, n = x.shape
    ones, zeros = np.ones(n, np.float32), np.zeros(n, np.float32)

    def kernels(a: np.ndarray, dy: np.ndarray) -> Any:
        _, stats = layer_norm_forward(a, ones, zeros, 1, 1e-5)
        return layer_norm_backward(a, dy, ones, stats, 1)

    x = np.ascontiguousarray(x)
    label = f"layer_norm float32 rows {size_class(rows)} features {n}"
    return kernel_wins(label, reference, kernels, x, x)


def layer_norm_forward(
    x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, ndim: int, eps: float
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, Callable[..., Any]]]:
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last ``ndim`` dims, by the
    forward kernel; returns y and what the backward reads: the statistics (mean, rstd) per row
    and the backward kernel (taken now: ``use_numba(False)`` before the backward cannot strand
    it without a NumPy path, which would need xhat)."""
    n = int(np.prod(x.shape[x.ndim - ndim :]))
    rows = np.ascontiguousarray(x).reshape(-1, n)
    w = np.ones(n, np.float32) if weight is None else np.ascontiguousarray(weight).reshape(n)
    b = np.zeros(n, np.float32) if bias is None else np.ascontiguousarray(bias).reshape(n)
    y = np.empty_like(rows)
    mean = np.empty(rows.shape[0], np.float32)
    rstd = np.empty_like(mean)
    _compiled("layer_norm_forward")(rows, w, b, np.float32(eps), y, mean, rstd)
    return y.reshape(x.shape), (mean, rstd, _compiled("layer_norm_backward"))


def layer_norm_backward(
    x: np.ndarray,
    dy: np.ndarray,
    weight: np.ndarray | None,
    stats: tuple[np.ndarray, np.ndarray, Callable[..., Any]],
    ndim: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dweight, dbias) by the backward kernel, from what ``layer_norm_forward`` returned
    besides y; dweight and dbias have the normalized shape."""
    shape = x.shape[x.ndim - ndim :]
    n = int(np.prod(shape))
    rows = np.ascontiguousarray(x).reshape(-1, n)
    g = np.ascontiguousarray(dy, dtype=np.float32).reshape(-1, n)
    w = np.ones(n, np.float32) if weight is None else np.ascontiguousarray(weight).reshape(n)
    dx = np.empty_like(rows)
    dw, db = np.zeros(n, np.float32), np.zeros(n, np.float32)
    mean, rstd, backward = stats
    backward(rows, g, w, mean, rstd, dx, dw, db)
    return dx.reshape(x.shape), dw.reshape(shape), db.reshape(shape)


_softmax_faster: dict[tuple[int, int, bool], bool] = {}
"""Per (bit length of the rows, row length, causal): whether the softmax kernels measured faster."""


def softmax_applies(scores: Any, causal: bool, reference: Reference) -> bool:
    """Whether attention's softmax (forward and backward) runs the numba kernels on ``scores``.

    Args:
        scores: the (..., L, S) attention scores q k^T, before the scale.
        causal: whether keys after the query are masked (top-left aligned).
        reference: the NumPy softmax forward and backward on (scores, dP), timed against them.
    """
    if (
        not float32_numpy(scores)
        or scores.ndim < 2
        or scores.size == 0
        or not scores.flags.c_contiguous
        or kernel("softmax_shift") is None
    ):
        return False
    rows, n = scores.size // scores.shape[-1], scores.shape[-1]
    key = (rows.bit_length(), n, causal)
    if key not in _softmax_faster:
        _softmax_faster[key] = _measure_softmax(scores, causal, reference)
    return _softmax_faster[key]


def _measure_softmax(scores: np.ndarray, causal: bool, reference: Reference) -> bool:
    """Whether the kernels beat the NumPy softmax on these scores (forward + backward, each on
    a copy, dP = the scores)."""

    def kernels(a: np.ndarray, dp: np.ndarray) -> Any:
        probs = a.copy()
        softmax_forward(probs, 0.125, causal)
        ds = dp.copy()
        softmax_backward(ds, probs, 0.125)
        return ds

    rows, n = scores.size // scores.shape[-1], scores.shape[-1]
    label = f"softmax float32 rows {size_class(rows)} length {n}{' causal' if causal else ''}"
    return kernel_wins(label, reference, kernels, scores, scores)


def softmax_forward(p: np.ndarray, scale: float, causal: bool) -> None:
    """p = softmax(p * scale) over the last axis, in place in the C-contiguous (..., L, S) p;
    with ``causal``, keys j > query i get probability 0."""
    rows = p.reshape(-1, p.shape[-1])
    _compiled("softmax_shift")(rows, np.float32(scale), p.shape[-2], causal)
    np.exp(rows, out=rows)
    _compiled("softmax_normalize")(rows, p.shape[-2], causal)


def softmax_backward_applies(ds: Any, p: Any) -> bool:
    """Whether the backward kernel takes dP (C-contiguous from the BLAS, numba still on)."""
    return (
        float32_numpy(ds)
        and ds.flags.c_contiguous
        and ds.shape == p.shape
        and kernel("softmax_backward") is not None
    )


def softmax_backward(ds: np.ndarray, p: np.ndarray, scale: float) -> None:
    """dS = P * (dP - sum(dP * P)) * scale over the last axis, in place in ds (holding dP)."""
    n = p.shape[-1]
    _compiled("softmax_backward")(ds.reshape(-1, n), p.reshape(-1, n), np.float32(scale))


_gelu_faster: dict[int, bool] = {}
"""Per bit length of the element count: whether the GELU kernel measured faster than NumPy."""


def gelu_applies(x: Any, reference: Callable[[np.ndarray], Any]) -> bool:
    """Whether Gelu's forward runs the numba kernel on x.

    Args:
        x: the input array.
        reference: the NumPy forward on x, timed against the kernel.
    """
    if not float32_numpy(x) or x.size == 0 or kernel("gelu_forward") is None:
        return False
    key = x.size.bit_length()
    if key not in _gelu_faster:
        _gelu_faster[key] = _measure_gelu(x, reference)
    return _gelu_faster[key]


def _measure_gelu(x: np.ndarray, reference: Callable[[np.ndarray], Any]) -> bool:
    """Whether the kernel beats the NumPy forward on x."""
    label = f"gelu float32 elements {size_class(x.size)}"
    with np.errstate(all="ignore"):  # x may hold inf or NaN
        return kernel_wins(label, lambda a, b: reference(a), lambda a, b: gelu_forward(a)[0], x, x)


def gelu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(y, phi) by the kernel: phi = (1 + erf(x / sqrt 2)) / 2 and y = x * phi, both x's shape;
    the values of ``fused_layers.Gelu``'s NumPy forward bit for bit."""
    flat = np.ascontiguousarray(x).reshape(-1)
    y, phi = np.empty_like(flat), np.empty_like(flat)
    _compiled("gelu_forward")(flat, y, phi)
    return y.reshape(x.shape), phi.reshape(x.shape)


def _compiled(name: str) -> Callable[..., Any]:
    """The kernel ``name``; the callers checked (``*_applies``) that the kernels are on."""
    function = kernel(name)
    if function is None:
        raise RuntimeError(
            f"row_kernels: the numba kernel {name} is off (numba missing or use_numba(False)); "
            "ask gelu_applies / layer_norm_applies / softmax_applies first."
        )
    return function


__all__ = [
    "gelu_applies",
    "gelu_forward",
    "layer_norm_applies",
    "layer_norm_backward",
    "layer_norm_forward",
    "softmax_applies",
    "softmax_backward",
    "softmax_backward_applies",
    "softmax_forward",
]
