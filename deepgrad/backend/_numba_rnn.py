"""Whole-sequence numba kernels for the LSTM: the time loop, its GEMMs and its step kernels in one call.

Imported only through ``deepgrad.backend.kernels`` on first use, like ``_numba_kernels``, whose
options (serial, cached, float32 with NaN-preserving fast-math) and step kernels these reuse.

The recurrent product of a step, h_{t-1} W_hh^T (64x128 by 128x512 in the benchmark), is small
and in cache (W_hh is 256 KB). NumPy's OpenBLAS runs it at ~120 GFLOP/s with the Haswell kernels
that ``OPENBLAS_CORETYPE=Haswell`` selects (docs/performance.md, note 2). ``gemm_tn``
(``_numba_gemm``) keeps an 8x32 tile of the product in vector registers and takes h through its
transposed view, no copy: ~1.6x the Haswell kernels' rate where the processor has 512-bit
registers (docs/performance.md, note 19; ``gemm_nt``, the dot-product kernel of note 16, was
slower by 1.6x forward). The forward product uses W_hh^T as B and the backward product
dh = dgates W_hh uses W_hh itself.
"""

from __future__ import annotations

import numpy as np

from deepgrad.backend._numba_gemm import gemm_tn
from deepgrad.backend._numba_kernels import _jit, lstm_backward_step, lstm_forward_step

_ZERO = np.float32(0.0)


@_jit()
def lstm_forward_sequence(xg, w_hh_t, h0, c0, gates, cells, tanh_cells, y, reverse):
    """LSTMRecurrence's forward loop: per step gates[t] = h_{t-1} W_hh^T, then lstm_forward_step.

    xg, gates (T, B, 4H); w_hh_t (H, 4H): W_hh^T, contiguous; h0, c0 (B, H); cells, tanh_cells
    (T, B, H); y (T + 1, B, H) receives h_1..h_T and c_T. reverse: the steps run from t = T - 1
    down to 0. The product is gemm_tn's (h^T)^T W_hh^T: h's transposed view, no copy.
    """
    length = xg.shape[0]
    h, c = h0, c0
    for s in range(length):
        t = length - 1 - s if reverse else s
        gates[t][:] = _ZERO
        gemm_tn(h.T, w_hh_t, gates[t])
        lstm_forward_step(gates[t], xg[t], c, cells[t], tanh_cells[t], y[t])
        h, c = y[t], cells[t]
    y[length] = c


@_jit()
def lstm_backward_sequence(gates, tanh_cells, cells, c0, dy, w_hh, dh, dc, dgates, reverse):
    """LSTMRecurrence's backward loop: per step lstm_backward_step, then dh = dgates[t] W_hh.

    w_hh (4H, H), contiguous. dh (B, H) starts at zero and dc (B, H) at dy[T]; both end as the
    gradients of h0 and c0. dgates (T, B, 4H) receives the pre-activation gradients.
    """
    length = gates.shape[0]
    for s in range(length):
        t = s if reverse else length - 1 - s
        first = t == length - 1 if reverse else t == 0
        c_prev = c0 if first else cells[t + 1 if reverse else t - 1]
        lstm_backward_step(gates[t], tanh_cells[t], c_prev, dy[t], dh, dc, dgates[t])
        dh[:] = _ZERO
        gemm_tn(dgates[t].T, w_hh, dh)
