"""Whole-sequence numba kernels for the LSTM: the time loop, its GEMMs and its step kernels in one call.

Imported only through ``deepgrad.backend.kernels`` on first use, like ``_numba_kernels``, whose
options (serial, cached, float32 with NaN-preserving fast-math) and step kernels these reuse.

The recurrent product of a step, h_{t-1} W_hh^T (64x128 by 128x512 in the benchmark), is small
and in cache (W_hh is 256 KB). NumPy's OpenBLAS runs it at ~120 GFLOP/s with the Haswell kernels
that ``OPENBLAS_CORETYPE=Haswell`` selects (docs/performance.md, note 2). ``gemm_nt`` computes
C = A B^T as dot products along the rows of A and B, both contiguous, eight rows of A against
two of B at a time: sixteen accumulators that LLVM vectorizes with 512-bit registers where the
processor has them (docs/performance.md, note 16). The forward product uses W_hh itself as B and
the backward product dh = dgates W_hh uses W_hh^T, copied once per pass.
"""

from __future__ import annotations

import numpy as np

from deepgrad.backend._numba_kernels import _jit, lstm_backward_step, lstm_forward_step

_ZERO = np.float32(0.0)


@_jit(inline="always")
def _dot(x, y):
    s = _ZERO
    for k in range(x.shape[0]):
        s += x[k] * y[k]
    return s


@_jit(inline="always")
def _block8x2(a, b0, b1, c, i, n):
    """c[i:i+8, n:n+2] = a[i:i+8] . (b0, b1): sixteen dot products along the rows."""
    a0, a1, a2, a3, a4, a5, a6, a7 = (
        a[i],
        a[i + 1],
        a[i + 2],
        a[i + 3],
        a[i + 4],
        a[i + 5],
        a[i + 6],
        a[i + 7],
    )
    s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = _ZERO
    s40 = s41 = s50 = s51 = s60 = s61 = s70 = s71 = _ZERO
    for k in range(a.shape[1]):
        y0, y1 = b0[k], b1[k]
        s00 += a0[k] * y0
        s01 += a0[k] * y1
        s10 += a1[k] * y0
        s11 += a1[k] * y1
        s20 += a2[k] * y0
        s21 += a2[k] * y1
        s30 += a3[k] * y0
        s31 += a3[k] * y1
        s40 += a4[k] * y0
        s41 += a4[k] * y1
        s50 += a5[k] * y0
        s51 += a5[k] * y1
        s60 += a6[k] * y0
        s61 += a6[k] * y1
        s70 += a7[k] * y0
        s71 += a7[k] * y1
    c[i, n], c[i, n + 1], c[i + 1, n], c[i + 1, n + 1] = s00, s01, s10, s11
    c[i + 2, n], c[i + 2, n + 1], c[i + 3, n], c[i + 3, n + 1] = s20, s21, s30, s31
    c[i + 4, n], c[i + 4, n + 1], c[i + 5, n], c[i + 5, n + 1] = s40, s41, s50, s51
    c[i + 6, n], c[i + 6, n + 1], c[i + 7, n], c[i + 7, n + 1] = s60, s61, s70, s71


@_jit()
def gemm_nt(a, b, c):
    """c = a @ b.T for C-contiguous float32 a (M, K), b (N, K) and c (M, N)."""
    rows, cols = c.shape
    full_rows, full_cols = rows - rows % 8, cols - cols % 2
    for i in range(0, full_rows, 8):
        for n in range(0, full_cols, 2):
            _block8x2(a, b[n], b[n + 1], c, i, n)
        for n in range(full_cols, cols):
            for r in range(i, i + 8):
                c[r, n] = _dot(a[r], b[n])
    for r in range(full_rows, rows):
        for n in range(cols):
            c[r, n] = _dot(a[r], b[n])


@_jit()
def lstm_forward_sequence(xg, w_hh, h0, c0, gates, cells, tanh_cells, y, reverse):
    """LSTMRecurrence's forward loop: per step gates[t] = h_{t-1} W_hh^T, then lstm_forward_step.

    xg, gates (T, B, 4H); w_hh (4H, H); h0, c0 (B, H); cells, tanh_cells (T, B, H); y (T + 1, B, H)
    receives h_1..h_T and c_T. reverse: the steps run from t = T - 1 down to 0.
    """
    length = xg.shape[0]
    h, c = h0, c0
    for s in range(length):
        t = length - 1 - s if reverse else s
        gemm_nt(h, w_hh, gates[t])
        lstm_forward_step(gates[t], xg[t], c, cells[t], tanh_cells[t], y[t])
        h, c = y[t], cells[t]
    y[length] = c


@_jit()
def lstm_backward_sequence(gates, tanh_cells, cells, c0, dy, w_hh_t, dh, dc, dgates, reverse):
    """LSTMRecurrence's backward loop: per step lstm_backward_step, then dh = dgates[t] W_hh.

    w_hh_t (H, 4H): W_hh^T, contiguous. dh (B, H) starts at zero and dc (B, H) at dy[T]; both
    end as the gradients of h0 and c0. dgates (T, B, 4H) receives the pre-activation gradients.
    """
    length = gates.shape[0]
    for s in range(length):
        t = s if reverse else length - 1 - s
        first = t == length - 1 if reverse else t == 0
        c_prev = c0 if first else cells[t + 1 if reverse else t - 1]
        lstm_backward_step(gates[t], tanh_cells[t], c_prev, dy[t], dh, dc, dgates[t])
        gemm_nt(dgates[t], w_hh_t, dh)
