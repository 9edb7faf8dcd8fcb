"""Recurrent networks: one step as a composite (the reference) and whole layers as fused primitives.

The cells ``rnn_cell``, ``lstm_cell`` and ``gru_cell`` are written with ordinary tensor
operations: they read like the equations, get their gradients for free and are differentiable
to any order. Running a layer step by step through them costs ~30 primitives per time step.

The fused layer primitives ``RNNRecurrence``, ``LSTMRecurrence`` and ``GRURecurrence`` run the
whole recurrence of one layer and one direction (docs/performance.md, note 6):

- the inputs of all time steps are projected by one matrix multiply before the loop
  (``x @ W_ih^T + b``, an ordinary MatMul, so its gradients are ordinary too);
- each step does one matrix multiply for all gates, then a few NumPy calls writing into
  preallocated buffers; sigmoid(x) = 0.5 * tanh(0.5 x) + 0.5, with the 0.5 folded into the
  weights so that one tanh call serves all four LSTM gates;
- backward runs back through time on arrays, and the recurrent weight gradient is one matrix
  multiply over all steps after the loop.

With numba installed (``deepgrad[fast]``), LSTMRecurrence and GRURecurrence on float32 NumPy
arrays run each step's elementwise work (gates, cell update; and their backward) as one compiled
kernel call (``deepgrad.backend.kernels``); the NumPy code stays the fallback and the tests'
reference.

Under ``create_graph=True`` their backward is built from primitives instead (the same equations,
recomputing the forward as a graph), so higher-order gradients work through them too. Tests
assert fused == composite, outputs and gradients, and gradgradcheck the fused layers.
"""

from __future__ import annotations

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError, cuda_kernels
from deepgrad.backend.kernels import float32_numpy, kernel
from deepgrad.backend.validation import one_of
from deepgrad.ops import elementwise as ew
from deepgrad.ops.composite import stack
from deepgrad.ops.shape import cat


# -- cells: the reference, op by op ---------------------------------------------------------------
def _affine(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    y = x @ w.mT
    return y if b is None else y + b


def rnn_cell(
    input: Tensor,
    hx: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> Tensor:
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu.   Shapes: x (B, I), h (B, H)."""
    one_of(nonlinearity, ("tanh", "relu"), "nonlinearity", "rnn_cell")
    pre = _affine(input, w_ih, b_ih) + _affine(hx, w_hh, b_hh)
    return ew.tanh(pre) if nonlinearity == "tanh" else ew.relu(pre)


def lstm_cell(
    input: Tensor,
    hx: tuple,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> tuple:
    """One LSTM step (Hochreiter & Schmidhuber, 1997; gate order i, f, g, o as in PyTorch):

        i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of the quarters of x W_ih^T + b_ih + h W_hh^T + b_hh
        c' = f * c + i * g
        h' = o * tanh(c')

    Shapes: x (B, I), h and c (B, H); returns (h', c').
    """
    h, c = hx
    hidden = h.shape[-1]
    gates = _affine(input, w_ih, b_ih) + _affine(h, w_hh, b_hh)
    i = ew.sigmoid(gates[..., :hidden])
    f = ew.sigmoid(gates[..., hidden : 2 * hidden])
    g = ew.tanh(gates[..., 2 * hidden : 3 * hidden])
    o = ew.sigmoid(gates[..., 3 * hidden :])
    c_next = f * c + i * g
    return o * ew.tanh(c_next), c_next


def gru_cell(
    input: Tensor,
    hx: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> Tensor:
    """One GRU step (Cho et al., 2014; gate order r, z, n as in PyTorch):

        r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr),   z = sigmoid(... the z rows ...)
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
        h' = (1 - z) * n + z * h

    Shapes: x (B, I), h (B, H); returns h'.
    """
    hidden = hx.shape[-1]
    xg = _affine(input, w_ih, b_ih)
    hg = _affine(hx, w_hh, b_hh)
    r = ew.sigmoid(xg[..., :hidden] + hg[..., :hidden])
    z = ew.sigmoid(xg[..., hidden : 2 * hidden] + hg[..., hidden : 2 * hidden])
    n = ew.tanh(xg[..., 2 * hidden :] + r * hg[..., 2 * hidden :])
    return n + z * (hx - n)


# -- fused layers ----------------------------------------------------------------------------------
def _recording_backward() -> bool:
    """True under create_graph=True: the backward must then be built from primitives (differentiable)."""
    return GradMode.enabled


def _step_kernel(xp, name: str, *arrays):
    """One time step's elementwise work as one compiled call, or None (the array code runs).

    numba's kernel on float32 NumPy arrays (deepgrad.backend.kernels), for the LSTM a CUDA kernel
    of the same signature on CuPy arrays (deepgrad.backend.cuda_kernels.lstm_step; None for GRU).
    """
    if float32_numpy(*arrays):
        return kernel(name)
    return cuda_kernels.lstm_step(xp, name, arrays)


def _steps(length: int, reverse: bool):
    """Time indices in processing order, each with the index of the step before it (-1: the initial state)."""
    if reverse:
        return [(t, t + 1 if t + 1 < length else -1) for t in range(length - 1, -1, -1)]
    return [(t, t - 1) for t in range(length)]


def _previous_states_matmul(xp, grads, states, initial, reverse: bool):
    """sum over steps of grads[t]^T @ (state before step t): one matrix multiply for all but one step."""
    length = grads.shape[0]
    g_cols = grads.shape[2]
    if reverse:
        head, tail = grads[:-1], states[1:length]
        first = grads[length - 1]
    else:
        head, tail = grads[1:], states[: length - 1]
        first = grads[0]
    out = first.T @ initial
    if length > 1:
        out += head.reshape(-1, g_cols).T @ tail.reshape(-1, tail.shape[2])
    return out


class RNNRecurrence(Function):
    """h_t = act(xg_t + h_{t-1} W_hh^T) for t = 1..T (act = tanh or relu), y = (h_1, ..., h_T).

    dz_t = (dy_t + dz_{t+1} W_hh) * act'(h_t),  dxg = dz,  dW_hh = sum_t dz_t^T h_{t-1},  dh0 = dz_1 W_hh
    """

    @staticmethod
    def forward(ctx, xg, w_hh, h0, nonlinearity="tanh", reverse=False):
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
    def backward(ctx, dy):
        if _recording_backward():
            return _rnn_backward_graph(*ctx.saved_inputs, dy, ctx.nonlinearity, ctx.reverse)
        xp = ctx.xp
        w_hh, h0 = (t._data for t in ctx.saved_inputs[1:])
        (y,) = (t._data for t in ctx.saved_outputs)
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
    def forward(ctx, xg, w_hh, h0, c0, reverse=False):
        step = _step_kernel(ctx.xp, "lstm_forward_step", xg, w_hh, h0, c0)
        if step is not None:
            return _lstm_forward_compiled(ctx, step, xg, w_hh, h0, c0, reverse)
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
    def backward(ctx, dy):
        if _recording_backward():
            return _lstm_backward_graph(*ctx.saved_inputs, dy, ctx.reverse)
        xp = ctx.xp
        w_hh, h0, c0 = (t._data for t in ctx.saved_inputs[1:])
        (y,) = (t._data for t in ctx.saved_outputs)
        gates, cells, tanh_cells = ctx.gates, ctx.cells, ctx.tanh_cells
        dy = dy._data
        step = _step_kernel(xp, "lstm_backward_step", gates, dy, w_hh)
        if step is not None:
            return _lstm_backward_compiled(ctx, step, w_hh, h0, c0, y, dy)
        length, batch, hidden = cells.shape
        h1, h2, h3 = hidden, 2 * hidden, 3 * hidden
        dgates = xp.empty_like(gates)
        dh = xp.zeros((batch, hidden), dtype=y.dtype)
        dc = xp.array(dy[length])
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
        need_x, need_w, need_h, need_c = ctx.needs_input_grad
        dw = _previous_states_matmul(xp, dgates, y, h0, ctx.reverse) if need_w else None
        return _tensors(
            dgates if need_x else None, dw, dh if need_h else None, dc if need_c else None
        )


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
    length, batch, hidden = cells.shape
    dy = xp.ascontiguousarray(dy)
    c0 = xp.ascontiguousarray(c0)
    dgates = xp.empty_like(gates)
    dh = xp.zeros((batch, hidden), dtype=y.dtype)
    dc = xp.array(dy[length])
    for t, prev in reversed(_steps(length, ctx.reverse)):
        step(gates[t], tanh_cells[t], cells[prev] if prev >= 0 else c0, dy[t], dh, dc, dgates[t])
        xp.dot(dgates[t], w_hh, out=dh)
    need_x, need_w, need_h, need_c = ctx.needs_input_grad
    dw = _previous_states_matmul(xp, dgates, y, h0, ctx.reverse) if need_w else None
    return _tensors(dgates if need_x else None, dw, dh if need_h else None, dc if need_c else None)


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
    def forward(ctx, xg, w_hh, b_hh, h0, reverse=False):
        step = _step_kernel(ctx.xp, "gru_forward_step", xg, w_hh, b_hh, h0)
        if step is not None:
            return _gru_forward_compiled(ctx, step, xg, w_hh, b_hh, h0, reverse)
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
    def backward(ctx, dy):
        if _recording_backward():
            return _gru_backward_graph(*ctx.saved_inputs, dy, ctx.reverse)
        xp = ctx.xp
        _, w_hh, _, h0 = (t._data for t in ctx.saved_inputs)
        (y,) = (t._data for t in ctx.saved_outputs)
        acts = ctx.acts
        dy = dy._data
        step = _step_kernel(xp, "gru_backward_step", acts, dy, w_hh)
        if step is not None:
            return _gru_backward_compiled(ctx, step, w_hh, h0, y, dy)
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


# -- the same backward passes with primitives, for create_graph=True ---------------------------------
def _accumulate(total, term):
    return term if total is None else total + term


def _rnn_backward_graph(xg, w_hh, h0, dy, nonlinearity, reverse):
    """RNNRecurrence's backward as tensor operations: recompute the states, then go back through time."""
    steps = _steps(xg.shape[0], reverse)
    h, states = h0, {}
    for t, _ in steps:
        pre = xg[t] + h @ w_hh.mT
        states[t] = (h, ew.tanh(pre) if nonlinearity == "tanh" else ew.relu(pre))
        h = states[t][1]
    dh, dw, dz = None, None, [None] * xg.shape[0]
    for t, _ in reversed(steps):
        h_prev, h_t = states[t]
        dh = _accumulate(dh, dy[t])
        dz[t] = dh * (1.0 - h_t * h_t) if nonlinearity == "tanh" else ew.where(h_t > 0, dh, 0.0)
        dw = _accumulate(dw, dz[t].mT @ h_prev)
        dh = dz[t] @ w_hh
    return stack(dz), dw, dh


def _lstm_backward_graph(xg, w_hh, h0, c0, dy, reverse):
    """LSTMRecurrence's backward as tensor operations (the equations of its docstring)."""
    length, hidden = xg.shape[0], h0.shape[1]
    steps = _steps(length, reverse)
    h, c, states = h0, c0, {}
    for t, _ in steps:
        z = xg[t] + h @ w_hh.mT
        i, f = ew.sigmoid(z[:, :hidden]), ew.sigmoid(z[:, hidden : 2 * hidden])
        g, o = ew.tanh(z[:, 2 * hidden : 3 * hidden]), ew.sigmoid(z[:, 3 * hidden :])
        c_next = f * c + i * g
        tanh_c = ew.tanh(c_next)
        states[t] = (i, f, g, o, c, tanh_c, h)
        h, c = o * tanh_c, c_next
    dh, dw, dc, dz = None, None, dy[length], [None] * length
    for t, _ in reversed(steps):
        i, f, g, o, c_prev, tanh_c, h_prev = states[t]
        dh = _accumulate(dh, dy[t])
        dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
        dz[t] = cat(
            [
                dc * g * i * (1.0 - i),
                dc * c_prev * f * (1.0 - f),
                dc * i * (1.0 - g * g),
                dh * tanh_c * o * (1.0 - o),
            ],
            dim=1,
        )
        dc = dc * f
        dw = _accumulate(dw, dz[t].mT @ h_prev)
        dh = dz[t] @ w_hh
    return stack(dz), dw, dh, dc


def _gru_backward_graph(xg, w_hh, b_hh, h0, dy, reverse):
    """GRURecurrence's backward as tensor operations (the equations of its docstring)."""
    length, hidden = xg.shape[0], h0.shape[1]
    steps = _steps(length, reverse)
    h, states = h0, {}
    for t, _ in steps:
        hg = h @ w_hh.mT + b_hh
        r = ew.sigmoid(xg[t, :, :hidden] + hg[:, :hidden])
        z = ew.sigmoid(xg[t, :, hidden : 2 * hidden] + hg[:, hidden : 2 * hidden])
        n = ew.tanh(xg[t, :, 2 * hidden :] + r * hg[:, 2 * hidden :])
        states[t] = (r, z, n, hg[:, 2 * hidden :], h)
        h = n + z * (h - n)
    dh, dw, dx, dhg = None, None, [None] * length, [None] * length
    for t, _ in reversed(steps):
        r, z, n, hg_n, h_prev = states[t]
        dh = _accumulate(dh, dy[t])
        dn = dh * (1.0 - z) * (1.0 - n * n)
        dz = dh * (h_prev - n) * z * (1.0 - z)
        dr = dn * hg_n * r * (1.0 - r)
        dx[t] = cat([dr, dz, dn], dim=1)
        dhg[t] = cat([dr, dz, dn * r], dim=1)
        dw = _accumulate(dw, dhg[t].mT @ h_prev)
        dh = dh * z + dhg[t] @ w_hh
    dhg_all = stack(dhg)
    return stack(dx), dw, dhg_all.sum(dim=(0, 1)), dh


def _tensors(*arrays):
    return tuple(None if a is None else Tensor._make(a, None) for a in arrays)


# -- one layer, one direction ----------------------------------------------------------------------
def _project(x: Tensor, w_ih: Tensor, bias: Tensor | None) -> Tensor:
    """x (T, B, I) -> x W_ih^T + bias as (T, B, G): all time steps in one matrix multiply."""
    length, batch, features = x.shape
    xg = x.reshape(length * batch, features) @ w_ih.mT
    if bias is not None:
        xg = xg + bias
    return xg.reshape(length, batch, w_ih.shape[0])


def _check_layer(name: str, x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, gates: int) -> None:
    if x.ndim != 3 or x.shape[0] == 0:
        raise ShapeError(
            f"{name}: input must be (T, B, input_size) with T >= 1 (got shape {x.shape})"
        )
    hidden = w_hh.shape[1]
    if w_ih.shape != (gates * hidden, x.shape[2]) or w_hh.shape != (gates * hidden, hidden):
        raise ShapeError(
            f"{name}: weights must be ({gates} * hidden, input_size) and ({gates} * hidden, hidden) "
            f"(got w_ih {w_ih.shape}, w_hh {w_hh.shape} for input {x.shape})"
        )
    if h0.shape != (x.shape[1], hidden):
        raise ShapeError(
            f"{name}: the initial state must be (B, hidden) = {(x.shape[1], hidden)} (got {h0.shape})"
        )


def _summed_bias(b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


def rnn_layer(
    x: Tensor,
    h0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
    reverse: bool = False,
) -> tuple:
    """One Elman RNN layer over a sequence: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    Args:
        x: (T, B, I).  h0: (B, H).  w_ih: (H, I).  w_hh: (H, H).  b_ih, b_hh: (H,) or None.
        nonlinearity: 'tanh' or 'relu'.  reverse: run from t = T down to 1 (the backward direction).

    Returns:
        (output (T, B, H) with h_t at position t, h_n (B, H): the last state computed).
    """
    _check_layer("rnn_layer", x, h0, w_ih, w_hh, 1)
    one_of(nonlinearity, ("tanh", "relu"), "nonlinearity", "rnn_layer")
    xg = _project(x, w_ih, _summed_bias(b_ih, b_hh))
    y = RNNRecurrence.apply(xg, w_hh, h0, nonlinearity=nonlinearity, reverse=reverse)
    return y, y[0] if reverse else y[x.shape[0] - 1]


def lstm_layer(
    x: Tensor,
    hx: tuple,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    reverse: bool = False,
) -> tuple:
    """One LSTM layer over a sequence (the equations of ``lstm_cell``), fused.

    Args:
        x: (T, B, I).  hx: (h0, c0), each (B, H).  w_ih: (4H, I).  w_hh: (4H, H).  b_ih, b_hh: (4H,) or None.
        reverse: run from t = T down to 1 (the backward direction of a bidirectional layer).

    Returns:
        (output (T, B, H), (h_n, c_n)), the last hidden and cell states computed.
    """
    h0, c0 = hx
    _check_layer("lstm_layer", x, h0, w_ih, w_hh, 4)
    if c0.shape != h0.shape:
        raise ShapeError(f"lstm_layer: c0 must have h0's shape {h0.shape} (got {c0.shape})")
    length = x.shape[0]
    xg = _project(x, w_ih, _summed_bias(b_ih, b_hh))
    y = LSTMRecurrence.apply(xg, w_hh, h0, c0, reverse=reverse)
    return y[:length], (y[0] if reverse else y[length - 1], y[length])


def gru_layer(
    x: Tensor,
    h0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    reverse: bool = False,
) -> tuple:
    """One GRU layer over a sequence (the equations of ``gru_cell``), fused.

    Args:
        x: (T, B, I).  h0: (B, H).  w_ih: (3H, I).  w_hh: (3H, H).  b_ih, b_hh: (3H,) or None.
        reverse: run from t = T down to 1.

    Returns:
        (output (T, B, H), h_n (B, H)).
    """
    _check_layer("gru_layer", x, h0, w_ih, w_hh, 3)
    xg = _project(x, w_ih, b_ih)
    if b_hh is None:
        b_hh = Tensor._make(x.xp.zeros(w_hh.shape[0], dtype=x.dtype), None)
    y = GRURecurrence.apply(xg, w_hh, b_hh, h0, reverse=reverse)
    return y, y[0] if reverse else y[x.shape[0] - 1]


__all__ = [
    "GRURecurrence",
    "LSTMRecurrence",
    "RNNRecurrence",
    "gru_cell",
    "gru_layer",
    "lstm_cell",
    "lstm_layer",
    "rnn_cell",
    "rnn_layer",
]
