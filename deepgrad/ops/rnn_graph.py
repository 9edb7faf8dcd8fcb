"""The fused recurrent layers' backward passes built from primitives, for ``create_graph=True``.

Each recomputes the forward as a graph and goes back through time with tensor operations (the
equations of the layer's docstring in ``rnn_fused``), so higher-order gradients work through the
fused layers too.
"""

from __future__ import annotations

from deepgrad.ops import elementwise as ew
from deepgrad.ops.composite import stack
from deepgrad.ops.rnn_steps import _steps
from deepgrad.ops.shape import cat


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
