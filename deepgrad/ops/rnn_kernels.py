"""The fused recurrent layers' paths through compiled kernels (numba on the CPU, CUDA on the GPU).

``LSTMRecurrence`` and ``GRURecurrence`` (``rnn_fused``) hand their float32 work to these when a
kernel exists: per time step one GEMM and one kernel call for the elementwise work instead of
ten to sixteen NumPy calls (docs/performance.md, note 13), and for the LSTM on the CPU the whole
time loop in one numba call (note 16).
"""

from __future__ import annotations

from typing import Any

from deepgrad.backend.kernels import float32_numpy, kernel, kernel_wins
from deepgrad.ops.rnn_steps import (
    _lstm_backward_buffers,
    _lstm_gradients,
    _previous_states_matmul,
    _steps,
    _tensors,
)

_numba_gemm_faster: dict[tuple[int, int, int], bool] = {}
"""Per (batch, 4H, H): whether numba's gemm_tn measured faster than NumPy's BLAS on h W_hh^T."""


def lstm_sequence_kernels(xp: Any, xg: Any, w_hh: Any, h0: Any, c0: Any) -> tuple | None:
    """The whole-sequence LSTM kernels (forward, backward), or None (the per-step loop runs).

    They apply to float32 NumPy arrays with numba on, and are used only where their step GEMM
    (``gemm_tn``) measured faster than NumPy's BLAS on the step's product h W_hh^T, by the
    margin ``blas.MARGIN``: the first layer of each shape in a process measures it
    (docs/performance.md, notes 16 and 18). A processor without wide vector registers keeps
    the BLAS.
    """
    if not float32_numpy(xg, w_hh, h0, c0):
        return None
    forward = kernel("lstm_forward_sequence")
    if forward is None:
        return None
    key = (h0.shape[0], *w_hh.shape)
    if key not in _numba_gemm_faster:
        _numba_gemm_faster[key] = _measure_gemm(xp, h0, w_hh)
    if not _numba_gemm_faster[key]:
        return None
    return forward, kernel("lstm_backward_sequence")


def _measure_gemm(xp: Any, h: Any, w_hh: Any) -> bool:
    """Whether gemm_tn(h^T, W_hh^T) beats NumPy's h @ W_hh^T (a contiguous copy) by blas.MARGIN.

    The decision is remembered in the GEMM decisions file like the matmul's, so every process on
    this machine (a resumed run included) takes the same path and computes the same bits.
    """
    gemm_tn = kernel("gemm_tn")
    if gemm_tn is None:  # numba switched off meanwhile
        return False
    h = xp.ascontiguousarray(h)
    w_t = xp.ascontiguousarray(w_hh.T)
    out = xp.empty((h.shape[0], w_t.shape[1]), dtype=h.dtype)

    def numba_product(a: Any, b: Any) -> Any:
        out[:] = 0
        gemm_tn(a.T, b, out)
        return out

    batch, hidden = h.shape[0], w_t.shape[0]
    label = f"lstm step h W_hh^T (gemm_tn) float32 batch {batch} hidden {hidden}"
    return kernel_wins(label, lambda a, b: xp.dot(a, b, out=out), numba_product, h, w_t)


def _lstm_forward_sequence(ctx, kernels, xg, w_hh, h0, c0, reverse):
    """LSTMRecurrence.forward as one numba call: the time loop, each step's GEMM and its
    elementwise work (deepgrad/backend/_numba_rnn.py); no Python per time step."""
    xp = ctx.xp
    length, batch, four_h = xg.shape
    hidden = four_h // 4
    xg = xp.ascontiguousarray(xg)
    gates = xp.empty_like(xg)
    y = xp.empty((length + 1, batch, hidden), dtype=xg.dtype)
    cells = xp.empty((length, batch, hidden), dtype=xg.dtype)
    tanh_cells = xp.empty_like(cells)
    h0, c0 = xp.ascontiguousarray(h0), xp.ascontiguousarray(c0)
    w_t = xp.ascontiguousarray(w_hh.T)
    kernels[0](xg, w_t, h0, c0, gates, cells, tanh_cells, y, reverse)
    ctx.save_inputs(0, 1, 2, 3)
    ctx.save_outputs()
    ctx.gates, ctx.cells, ctx.tanh_cells, ctx.reverse = gates, cells, tanh_cells, reverse
    ctx.backward_sequence = kernels[1]
    return y


def _lstm_backward_sequence(ctx, w_hh, h0, c0, y, dy):
    """LSTMRecurrence.backward as one numba call for the time loop; dW_hh after it, one GEMM."""
    xp = ctx.xp
    gates, cells, tanh_cells = ctx.gates, ctx.cells, ctx.tanh_cells
    dy, c0, dgates, dh, dc = _lstm_backward_buffers(xp, cells, dy, c0, gates)
    w_hh = xp.ascontiguousarray(w_hh)
    ctx.backward_sequence(gates, tanh_cells, cells, c0, dy, w_hh, dh, dc, dgates, ctx.reverse)
    return _lstm_gradients(ctx, dgates, y, h0, dh, dc)


def _lstm_forward_compiled(ctx, step, xg, w_hh, h0, c0, reverse):
    """LSTMRecurrence.forward with each step's elementwise work in one compiled kernel
    (deepgrad.backend.kernels): per step one GEMM and one kernel call instead of ten NumPy calls."""
    xp = ctx.xp
    length, batch, four_h = xg.shape
    hidden = four_h // 4
    xg = xp.ascontiguousarray(xg)
    # Each step's GEMM h W_hh^T writes straight into gates[t] (no copy of xg, no extra buffer);
    # the kernel adds xg[t] and overwrites gates[t] with the activations. np.dot: ~0.4 us less
    # call overhead than np.matmul, the same GEMM.
    gates = xp.empty_like(xg)
    w_t = xp.ascontiguousarray(
        w_hh.T
    )  # a transposed view measured 1.3x slower without Haswell kernels
    y = xp.empty((length + 1, batch, hidden), dtype=xg.dtype)
    cells = xp.empty((length, batch, hidden), dtype=xg.dtype)
    tanh_cells = xp.empty_like(cells)
    h, c = xp.ascontiguousarray(h0), xp.ascontiguousarray(c0)
    for t, _ in _steps(length, reverse):
        xp.dot(h, w_t, out=gates[t])
        step(gates[t], xg[t], c, cells[t], tanh_cells[t], y[t])
        h, c = y[t], cells[t]
    y[length] = c
    ctx.save_inputs(0, 1, 2, 3)
    ctx.save_outputs()
    ctx.gates, ctx.cells, ctx.tanh_cells, ctx.reverse = gates, cells, tanh_cells, reverse
    return y


def _lstm_backward_compiled(ctx, step, w_hh, h0, c0, y, dy):
    """LSTMRecurrence.backward with each step's elementwise work in one compiled kernel."""
    xp = ctx.xp
    gates, cells, tanh_cells = ctx.gates, ctx.cells, ctx.tanh_cells
    dy, c0, dgates, dh, dc = _lstm_backward_buffers(xp, cells, dy, c0, gates)
    for t, prev in reversed(_steps(cells.shape[0], ctx.reverse)):
        step(gates[t], tanh_cells[t], cells[prev] if prev >= 0 else c0, dy[t], dh, dc, dgates[t])
        xp.dot(dgates[t], w_hh, out=dh)
    return _lstm_gradients(ctx, dgates, y, h0, dh, dc)


def _gru_forward_compiled(ctx, step, xg, w_hh, b_hh, h0, reverse):
    """GRURecurrence.forward with each step's elementwise work in one compiled kernel
    (deepgrad.backend.kernels): per step one GEMM and one kernel call instead of ~13 NumPy calls."""
    xp = ctx.xp
    length, batch, three_h = xg.shape
    xg = xp.ascontiguousarray(xg)
    w_t = xp.ascontiguousarray(w_hh.T)
    b_hh = xp.ascontiguousarray(b_hh)
    acts = xp.empty_like(xg)  # r, z, n per step
    hg = xp.empty_like(xg)  # h W_hh^T + b_hh per step (its n third is kept for backward)
    y = xp.empty((length, batch, three_h // 3), dtype=xg.dtype)
    h = xp.ascontiguousarray(h0)
    for t, _ in _steps(length, reverse):
        xp.dot(h, w_t, out=hg[t])
        step(xg[t], hg[t], b_hh, h, acts[t], y[t])
        h = y[t]
    ctx.save_inputs(0, 1, 2, 3)
    ctx.save_outputs()
    ctx.acts, ctx.hg, ctx.reverse = acts, hg, reverse
    return y


def _gru_backward_compiled(ctx, step, w_hh, h0, y, dy):
    """GRURecurrence.backward with each step's elementwise work in one compiled kernel: the
    gradient reaching h_{t-1} stays in two parts (dh z and dhg W_hh) that the next kernel adds."""
    xp = ctx.xp
    acts, hg = ctx.acts, ctx.hg
    length, batch, hidden = y.shape
    dy = xp.ascontiguousarray(dy)
    h0 = xp.ascontiguousarray(h0)
    dx = xp.empty_like(acts)
    dhg = xp.empty_like(acts)
    dh_gemm = xp.zeros((batch, hidden), dtype=y.dtype)
    dh_carry = xp.zeros_like(dh_gemm)
    for t, prev in reversed(_steps(length, ctx.reverse)):
        h_prev = y[prev] if prev >= 0 else h0
        step(acts[t], hg[t], h_prev, dy[t], dh_gemm, dh_carry, dx[t], dhg[t])
        xp.dot(dhg[t], w_hh, out=dh_gemm)
    need_x, need_w, need_b, need_h = ctx.needs_input_grad
    dw = _previous_states_matmul(xp, dhg, y, h0, ctx.reverse) if need_w else None
    db = dhg.sum(axis=(0, 1)) if need_b else None
    return _tensors(dx if need_x else None, dw, db, dh_carry + dh_gemm if need_h else None)
