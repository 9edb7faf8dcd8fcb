"""The fused recurrent layers: ``RNNRecurrence``, ``LSTMRecurrence`` and ``GRURecurrence``.

Each runs the whole recurrence of one layer and one direction as one primitive
(docs/performance.md, note 6), given the inputs of all time steps projected by one matrix
multiply before the loop (``x @ W_ih^T + b``, an ordinary MatMul, in ``rnn``):

- each step does one matrix multiply for all gates, then a few NumPy calls writing into
  preallocated buffers; sigmoid(x) = 0.5 * tanh(0.5 x) + 0.5, with the 0.5 folded into the
  weights so that one tanh call serves all four LSTM gates;
- backward runs back through time on arrays, and the recurrent weight gradient is one matrix
  multiply over all steps after the loop.

This NumPy code is the reference. On float32 NumPy arrays with numba installed
(``deepgrad[fast]``), and on CuPy arrays for the LSTM, the LSTM and GRU hand their loops to
compiled kernels (``rnn_kernels``); tests compare the two. Under ``create_graph=True`` the
backward is built from primitives (``rnn_graph``), so higher-order gradients work too.
"""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.function import Context, Function
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError, blas, cuda_kernels
from deepgrad.backend.gemm_tn import matmul_tn
from deepgrad.backend.kernels import float32_numpy, kernel
from deepgrad.ops import rnn_kernels
from deepgrad.ops.rnn_graph import _gru_backward_graph, _lstm_backward_graph, _rnn_backward_graph
from deepgrad.ops.rnn_steps import (
    _lstm_backward_buffers,
    _lstm_gradients,
    _previous_states_matmul,
    _recording_backward,
    _steps,
    _tensors,
)


def _step_kernel(xp, name: str, *arrays):
    """One time step's elementwise work as one compiled call, or None (the array code runs).

    numba's kernel on float32 NumPy arrays (deepgrad.backend.kernels), for the LSTM a CUDA kernel
    of the same signature on CuPy arrays (deepgrad.backend.cuda_kernels.lstm_step; None for GRU).
    """
    if float32_numpy(*arrays):
        return kernel(name)
    return cuda_kernels.lstm_step(xp, name, arrays)


class Projection(Function):
    """y = x W^T + b for every row of x: a recurrent layer's input projection, all steps at once.

        dx = dy W,   dW = dy^T x  (a sum over the T * B rows),   db = sum over the rows of dy

    Shapes: x (N, I), W (G, I), b (G,) (optional: two inputs without it); y (N, G). Both
    products read x and dy in their row-major layout through ``matmul_tn`` (numba's gemm_tn
    where it measured faster than NumPy's BLAS, docs/performance.md, note 19), and y starts as
    b, so the bias costs no pass of its own. Composite reference: ``x @ W.mT + b``.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, w: Any, b: Any = None) -> Any:
        _check_projection(x, w, b)
        xp = ctx.xp
        y = xp.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
        y[...] = 0 if b is None else b
        ctx.save_inputs(0, 1)
        return matmul_tn(x.T, xp.ascontiguousarray(w.T), y)

    @staticmethod
    def backward(ctx: Context, dy: Tensor) -> tuple:
        x, w = ctx.saved_inputs
        need_x, need_w, *need_b = ctx.needs_input_grad
        if _recording_backward():
            grads = [dy @ w if need_x else None, dy.mT @ x if need_w else None]
            return tuple(grads + [dy.sum(0) if need else None for need in need_b])
        d = ctx.xp.ascontiguousarray(dy._data)
        dx = blas.matmul(d, w._data) if need_x else None
        dw = matmul_tn(d, x._data) if need_w else None
        db = [d.sum(axis=0) if need else None for need in need_b]
        return _tensors(dx, dw, *db)


def _check_projection(x: Any, w: Any, b: Any) -> None:
    if (
        x.ndim != 2
        or w.ndim != 2
        or x.shape[1] != w.shape[1]
        or (b is not None and b.shape != w.shape[:1])
    ):
        shapes = f"x {x.shape}, w {w.shape}" + ("" if b is None else f", b {b.shape}")
        raise ShapeError(
            f"Projection: x must be (N, I), w (G, I) and b (G,) (got {shapes}); "
            "reshape x to rows of features first."
        )


class RNNRecurrence(Function):
    """h_t = act(xg_t + h_{t-1} W_hh^T) for t = 1..T (act = tanh or relu), y = (h_1, ..., h_T).

    dz_t = (dy_t + dz_{t+1} W_hh) * act'(h_t),  dxg = dz,  dW_hh = sum_t dz_t^T h_{t-1},  dh0 = dz_1 W_hh
    """

    @staticmethod
    def forward(
        ctx: Context, xg: Any, w_hh: Any, h0: Any, nonlinearity: str = "tanh", reverse: bool = False
    ) -> Any:
        xp = ctx.xp
        length = xg.shape[0]
        y = xp.empty_like(xg)
        w_t = w_hh.T
        h = h0
        for t, _ in _steps(length, reverse):
            out = y[t]
            xp.matmul(h, w_t, out=out)
            out += xg[t]
            if nonlinearity == "tanh":
                xp.tanh(out, out=out)
            else:
                xp.maximum(out, 0, out=out)
            h = out
        ctx.save_inputs(0, 1, 2)
        ctx.save_outputs()
        ctx.nonlinearity, ctx.reverse = nonlinearity, reverse
        return y

    @staticmethod
    def backward(ctx: Context, dy: Tensor) -> tuple:
        if _recording_backward():
            xg, w_hh, h0 = ctx.saved_inputs
            return _rnn_backward_graph(xg, w_hh, h0, dy, ctx.nonlinearity, ctx.reverse)
        xp = ctx.xp
        w_hh, h0 = (t._data for t in ctx.saved_inputs[1:])
        y = ctx.saved_output_array
        dy = dy._data
        length = y.shape[0]
        deriv = 1.0 - y * y if ctx.nonlinearity == "tanh" else (y > 0).astype(y.dtype)
        dz = xp.empty_like(y)
        dh = xp.zeros_like(h0)
        for t, _ in reversed(_steps(length, ctx.reverse)):
            dh += dy[t]
            xp.multiply(dh, deriv[t], out=dz[t])
            xp.matmul(dz[t], w_hh, out=dh)
        need_x, need_w, need_h = ctx.needs_input_grad
        dw = _previous_states_matmul(xp, dz, y, h0, ctx.reverse) if need_w else None
        return _tensors(dz if need_x else None, dw, dh if need_h else None)


class LSTMRecurrence(Function):
    """The LSTM recurrence over T steps (lstm_cell's equations) given xg_t = x_t W_ih^T + b_ih + b_hh:

        i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of the quarters of xg_t + h_{t-1} W_hh^T
        c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
        y = (h_1, ..., h_T, c_T)  stacked: (T + 1, B, H)

    Backward through time: dc_t = dc_{t+1} * f_{t+1} + dh_t * o * (1 - tanh(c_t)^2),
        d(i, f, g, o) = (dc * g, dc * c_{t-1}, dc * i, dh * tanh(c_t)) times the activations' slopes,
        dh_{t-1} = dgates_t W_hh,  dW_hh = sum_t dgates_t^T h_{t-1}.
    """

    @staticmethod
    def forward(ctx: Context, xg: Any, w_hh: Any, h0: Any, c0: Any, reverse: bool = False) -> Any:
        ctx.backward_sequence = None
        sequence = rnn_kernels.lstm_sequence_kernels(ctx.xp, xg, w_hh, h0, c0)
        if sequence is not None:
            return rnn_kernels._lstm_forward_sequence(ctx, sequence, xg, w_hh, h0, c0, reverse)
        step = _step_kernel(ctx.xp, "lstm_forward_step", xg, w_hh, h0, c0)
        if step is not None:
            return rnn_kernels._lstm_forward_compiled(ctx, step, xg, w_hh, h0, c0, reverse)
        xp = ctx.xp
        length, batch, four_h = xg.shape
        hidden = four_h // 4
        # sigmoid(x) = 0.5 * tanh(0.5 x) + 0.5 and g = tanh(x): scaling the i, f, o columns of the
        # pre-activations by 0.5 (folded into xg and W_hh) lets one tanh call serve all four gates.
        scale = xp.full(four_h, 0.5, dtype=xg.dtype)
        scale[2 * hidden : 3 * hidden] = 1.0
        shift = xp.full(four_h, 0.5, dtype=xg.dtype)
        shift[2 * hidden : 3 * hidden] = 0.0
        gates = xg * scale  # (T, B, 4H); becomes the activated gates, step by step
        w_t = xp.ascontiguousarray((w_hh * scale[:, None]).T)
        y = xp.empty((length + 1, batch, hidden), dtype=xg.dtype)
        cells = xp.empty((length, batch, hidden), dtype=xg.dtype)
        tanh_cells = xp.empty_like(cells)
        recurrent = xp.empty((batch, four_h), dtype=xg.dtype)
        ig = xp.empty((batch, hidden), dtype=xg.dtype)
        h, c = h0, c0
        for t, _ in _steps(length, reverse):
            a = gates[t]
            xp.matmul(h, w_t, out=recurrent)
            a += recurrent
            xp.tanh(a, out=a)
            a *= scale
            a += shift
            xp.multiply(a[:, :hidden], a[:, 2 * hidden : 3 * hidden], out=ig)
            c_t = cells[t]
            xp.multiply(a[:, hidden : 2 * hidden], c, out=c_t)
            c_t += ig
            xp.tanh(c_t, out=tanh_cells[t])
            xp.multiply(a[:, 3 * hidden :], tanh_cells[t], out=y[t])
            h, c = y[t], c_t
        y[length] = c
        ctx.save_inputs(0, 1, 2, 3)
        ctx.save_outputs()
        ctx.gates, ctx.cells, ctx.tanh_cells, ctx.reverse = gates, cells, tanh_cells, reverse
        return y

    @staticmethod
    def backward(ctx: Context, dy: Tensor) -> tuple:
        if _recording_backward():
            xg, w_hh, h0, c0 = ctx.saved_inputs
            return _lstm_backward_graph(xg, w_hh, h0, c0, dy, ctx.reverse)
        xp = ctx.xp
        w_hh, h0, c0 = (t._data for t in ctx.saved_inputs[1:])
        y = ctx.saved_output_array
        gates, cells, tanh_cells = ctx.gates, ctx.cells, ctx.tanh_cells
        dy = dy._data
        if ctx.backward_sequence is not None and float32_numpy(dy):
            return rnn_kernels._lstm_backward_sequence(ctx, w_hh, h0, c0, y, dy)
        step = _step_kernel(xp, "lstm_backward_step", gates, dy, w_hh)
        if step is not None:
            return rnn_kernels._lstm_backward_compiled(ctx, step, w_hh, h0, c0, y, dy)
        length, batch, hidden = cells.shape
        h1, h2, h3 = hidden, 2 * hidden, 3 * hidden
        dy, c0, dgates, dh, dc = _lstm_backward_buffers(xp, cells, dy, c0, gates)
        tmp = xp.empty((batch, hidden), dtype=y.dtype)
        slope = xp.empty((batch, 4 * hidden), dtype=y.dtype)
        # Slopes are computed step by step on cache-sized blocks: whole-sequence temporaries made
        # backward ~15% slower (memory traffic).
        for t, prev in reversed(_steps(length, ctx.reverse)):
            a, d, tc = gates[t], dgates[t], tanh_cells[t]
            dh += dy[t]
            xp.multiply(dh, tc, out=d[:, h3:])  # d o
            xp.multiply(tc, tc, out=tmp)
            xp.subtract(1.0, tmp, out=tmp)
            tmp *= a[:, h3:]
            tmp *= dh
            dc += tmp  # dc_t = dc from step t+1 + dh * o * (1 - tanh(c)^2)
            xp.multiply(dc, a[:, h2:h3], out=d[:, :h1])  # d i
            xp.multiply(dc, cells[prev] if prev >= 0 else c0, out=d[:, h1:h2])  # d f
            xp.multiply(dc, a[:, :h1], out=d[:, h2:h3])  # d g
            dc *= a[:, h1:h2]
            xp.subtract(1.0, a, out=slope)
            slope *= a  # s (1 - s) for the sigmoid gates ...
            g = a[:, h2:h3]
            xp.multiply(g, g, out=slope[:, h2:h3])
            xp.subtract(1.0, slope[:, h2:h3], out=slope[:, h2:h3])  # ... and 1 - g^2 for g
            d *= slope
            xp.matmul(d, w_hh, out=dh)
        return _lstm_gradients(ctx, dgates, y, h0, dh, dc)


class GRURecurrence(Function):
    """The GRU recurrence over T steps (gru_cell's equations) given xg_t = x_t W_ih^T + b_ih:

        hg_t = h_{t-1} W_hh^T + b_hh
        r, z = sigmoid of (xg_t + hg_t) for the r and z thirds,  n = tanh(xg_n + r * hg_n)
        h_t = n + z * (h_{t-1} - n),   y = (h_1, ..., h_T)

    Backward through time: dn = dh (1 - z), dz = dh (h_{t-1} - n), dr = dn (1 - n^2) * hg_n;
        dhg = (dr_pre, dz_pre, dn_pre * r), dh_{t-1} = dh z + dhg W_hh,
        dW_hh = sum_t dhg_t^T h_{t-1}, db_hh = sum_t dhg_t.
    """

    @staticmethod
    def forward(ctx: Context, xg: Any, w_hh: Any, b_hh: Any, h0: Any, reverse: bool = False) -> Any:
        step = _step_kernel(ctx.xp, "gru_forward_step", xg, w_hh, b_hh, h0)
        if step is not None:
            return rnn_kernels._gru_forward_compiled(ctx, step, xg, w_hh, b_hh, h0, reverse)
        xp = ctx.xp
        length, batch, three_h = xg.shape
        hidden = three_h // 3
        h2 = 2 * hidden
        # The r and z columns are scaled by 0.5 for sigmoid(x) = 0.5 tanh(0.5 x) + 0.5; n's are not.
        scale = xp.full(three_h, 0.5, dtype=xg.dtype)
        scale[h2:] = 1.0
        w_t = xp.ascontiguousarray((w_hh * scale[:, None]).T)
        bias = b_hh * scale
        x_rz = xg[:, :, :h2] * 0.5
        acts = xp.empty_like(xg)  # r, z, n per step
        hg = xp.empty_like(xg)  # h W_hh^T + b_hh per step (its n third is kept for backward)
        y = xp.empty((length, batch, hidden), dtype=xg.dtype)
        h = h0
        for t, _ in _steps(length, reverse):
            a, g = acts[t], hg[t]
            xp.matmul(h, w_t, out=g)
            g += bias
            rz = a[:, :h2]
            xp.add(x_rz[t], g[:, :h2], out=rz)
            xp.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            n = a[:, h2:]
            xp.multiply(a[:, :hidden], g[:, h2:], out=n)
            n += xg[t, :, h2:]
            xp.tanh(n, out=n)
            out = y[t]
            xp.subtract(h, n, out=out)
            out *= a[:, hidden:h2]
            out += n
            h = out
        ctx.save_inputs(0, 1, 2, 3)
        ctx.save_outputs()
        ctx.acts, ctx.hg, ctx.reverse = acts, hg, reverse
        return y

    @staticmethod
    def backward(ctx: Context, dy: Tensor) -> tuple:
        if _recording_backward():
            xg, w_hh, b_hh, h0 = ctx.saved_inputs
            return _gru_backward_graph(xg, w_hh, b_hh, h0, dy, ctx.reverse)
        xp = ctx.xp
        _, w_hh, _, h0 = (t._data for t in ctx.saved_inputs)
        y = ctx.saved_output_array
        acts = ctx.acts
        dy = dy._data
        step = _step_kernel(xp, "gru_backward_step", acts, dy, w_hh)
        if step is not None:
            return rnn_kernels._gru_backward_compiled(ctx, step, w_hh, h0, y, dy)
        length, batch, hidden = y.shape
        h2 = 2 * hidden
        hg_n = ctx.hg[:, :, h2:]
        dx = xp.empty_like(acts)
        dhg = xp.empty_like(acts)
        dh = xp.zeros((batch, hidden), dtype=y.dtype)
        dh_next = xp.empty_like(dh)
        slope = xp.empty((batch, h2), dtype=y.dtype)
        for t, prev in reversed(_steps(length, ctx.reverse)):
            a, d, dg = acts[t], dx[t], dhg[t]
            r, z, n = a[:, :hidden], a[:, hidden:h2], a[:, h2:]
            dh += dy[t]
            h_prev = y[prev] if prev >= 0 else h0
            dn = d[:, h2:]
            xp.multiply(n, n, out=dn)
            xp.subtract(1.0, dn, out=dn)
            dn *= dh
            xp.subtract(dn, z * dn, out=dn)  # dn_pre = dh (1 - z) (1 - n^2)
            xp.subtract(h_prev, n, out=d[:, hidden:h2])
            d[:, hidden:h2] *= dh  # dz
            xp.multiply(dn, hg_n[t], out=d[:, :hidden])  # dr
            xp.subtract(1.0, a[:, :h2], out=slope)
            slope *= a[:, :h2]
            d[:, :h2] *= slope
            dg[:, :h2] = d[:, :h2]
            xp.multiply(dn, r, out=dg[:, h2:])
            xp.multiply(dh, z, out=dh_next)
            xp.matmul(dg, w_hh, out=dh)
            dh += dh_next
        need_x, need_w, need_b, need_h = ctx.needs_input_grad
        dw = _previous_states_matmul(xp, dhg, y, h0, ctx.reverse) if need_w else None
        db = dhg.sum(axis=(0, 1)) if need_b else None
        return _tensors(dx if need_x else None, dw, db, dh if need_h else None)


__all__ = ["GRURecurrence", "LSTMRecurrence", "Projection", "RNNRecurrence"]
