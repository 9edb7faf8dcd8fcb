"""a^T @ b for the recurrent layers' big products, through numba's ``gemm_tn`` where it measures faster.

The weight gradients of a recurrent layer, dW = sum over the T * B rows of dy[k]^T x[k], and its
input projection x W^T + b read two row-major arrays along their rows: the layout of ``gemm_tn``
(``deepgrad/backend/_numba_gemm.py``), a register-blocked kernel that adds a^T b into its output
without transposing either operand. NumPy's ``a.T @ b`` is the reference: for each shape class
(the bit lengths of k, m and n, and whether a's rows are contiguous, as in ``blas``) the first
product times both on its operands with ``blas.choose`` and keeps the kernel only where it beat
NumPy's BLAS by ``blas.MARGIN``; the decision is kept in the GEMM decisions file like the
matmul's (docs/performance.md, note 19). Anything but float32 NumPy arrays, or numba off, goes to
NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.backend.kernels import float32_numpy, kernel, kernel_wins, size_class

_uses_kernel: dict[tuple[int, int, int, bool], bool] = {}
"""Per shape class: whether gemm_tn measured faster than NumPy's a.T @ b."""


def matmul_tn(a: Any, b: Any, out: Any | None = None) -> Any:
    """a^T @ b, or out += a^T @ b when out is given (the same array is returned).

    Args:
        a: (K, M) array; any strides (a transposed view too).
        b: (K, N) array.
        out: (M, N) array to add the product to, or None for a new array.

    Returns:
        The (M, N) product (out itself when given).
    """
    gemm = kernel("gemm_tn") if float32_numpy(a, b) else None
    if gemm is not None and (out is None or float32_numpy(out)) and _chosen(gemm, a, b):
        if out is None:
            out = _zeros(a, b)
        b = b if b.strides[1] == b.itemsize else b.copy()
        if out.strides[1] == out.itemsize:
            gemm(a, b, out)
            return out
    product = a.T @ b
    if out is None:
        return product
    out += product
    return out


def _zeros(a: Any, b: Any) -> Any:
    """A zero (M, N) array for a^T b."""
    return np.zeros((a.shape[1], b.shape[1]), dtype=a.dtype)


def _chosen(gemm: Any, a: Any, b: Any) -> bool:
    """Whether this shape class uses gemm_tn: measured on the first product of the class."""
    depth, rows = a.shape
    cols = b.shape[1]
    contiguous = a.strides[1] == a.itemsize
    key = (depth.bit_length(), rows.bit_length(), cols.bit_length(), contiguous)
    if key not in _uses_kernel:
        _uses_kernel[key] = _measure(gemm, a, b, contiguous)
    return _uses_kernel[key]


def _measure(gemm: Any, a: Any, b: Any, contiguous: bool) -> bool:
    """Times gemm_tn against NumPy's a.T @ b on these operands (the reference first)."""
    b = b if b.strides[1] == b.itemsize else b.copy()

    def kernel_product(x: Any, y: Any) -> Any:
        out = _zeros(x, y)
        gemm(x, y, out)
        return out

    depth, rows = a.shape
    label = (
        f"a^T b float32 k {size_class(depth)} m {size_class(rows)} n {size_class(b.shape[1])}"
        f"{'' if contiguous else ' a strided'}"
    )
    return kernel_wins(label, lambda x, y: x.T @ y, kernel_product, a, b)


__all__ = ["matmul_tn"]
