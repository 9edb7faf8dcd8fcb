"""Recurrent networks: one step as a composite (the reference) and whole layers over a sequence.

The cells ``rnn_cell``, ``lstm_cell`` and ``gru_cell`` are written with ordinary tensor
operations: they read like the equations, get their gradients for free and are differentiable
to any order. Running a layer step by step through them costs ~30 primitives per time step.

The layers ``rnn_layer``, ``lstm_layer`` and ``gru_layer`` project the inputs of all time steps
with one matrix multiply, then run the recurrence as one fused primitive (``RNNRecurrence``,
``LSTMRecurrence``, ``GRURecurrence`` in ``deepgrad/ops/rnn_fused.py``; their compiled-kernel
paths are in ``rnn_kernels.py``, their differentiable backward passes in ``rnn_graph.py``).
Tests assert fused == composite, outputs and gradients, and gradgradcheck the fused layers.
"""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.backend.validation import one_of
from deepgrad.ops import elementwise as ew
from deepgrad.ops.rnn_fused import GRURecurrence, LSTMRecurrence, Projection, RNNRecurrence


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


# -- one layer, one direction ----------------------------------------------------------------------
def _project(x: Tensor, w_ih: Tensor, bias: Tensor | None) -> Tensor:
    """x (T, B, I) -> x W_ih^T + bias as (T, B, G): all time steps in one fused ``Projection``."""
    length, batch, features = x.shape
    rows = x.reshape(length * batch, features)
    xg = Projection.apply(rows, w_ih) if bias is None else Projection.apply(rows, w_ih, bias)
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
