"""Helpers shared by the fused recurrent layers (``rnn_fused``) and their kernel paths (``rnn_kernels``)."""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend.gemm_tn import matmul_tn


def _recording_backward() -> bool:
    """True under create_graph=True: the backward must then be built from primitives (differentiable)."""
    return GradMode.enabled


def _steps(length: int, reverse: bool):
    """Time indices in processing order, each with the index of the step before it (-1: the initial state)."""
    if reverse:
        return [(t, t + 1 if t + 1 < length else -1) for t in range(length - 1, -1, -1)]
    return [(t, t - 1) for t in range(length)]


def _previous_states_matmul(xp, grads, states, initial, reverse: bool):
    """sum over steps of grads[t]^T @ (state before step t): one matrix multiply for all but one step.

    The products go through ``matmul_tn`` (numba's gemm_tn where it measured faster than NumPy's
    BLAS: docs/performance.md, note 19), which takes both operands in their row-major layout.
    """
    length = grads.shape[0]
    g_cols = grads.shape[2]
    if reverse:
        head, tail = grads[:-1], states[1:length]
        first = grads[length - 1]
    else:
        head, tail = grads[1:], states[: length - 1]
        first = grads[0]
    out = matmul_tn(first, initial)
    if length > 1:
        matmul_tn(head.reshape(-1, g_cols), tail.reshape(-1, tail.shape[2]), out)
    return out


def _tensors(*arrays):
    return tuple(None if a is None else Tensor._make(a, None) for a in arrays)


def _lstm_backward_buffers(xp: Any, cells: Any, dy: Any, c0: Any, gates: Any) -> tuple:
    """(dy, c0) contiguous, and the buffers an LSTM backward fills: dgates, dh, dc (= dy's c)."""
    length, batch, hidden = cells.shape
    dh = xp.zeros((batch, hidden), dtype=dy.dtype)
    dy = xp.ascontiguousarray(dy)
    return dy, xp.ascontiguousarray(c0), xp.empty_like(gates), dh, xp.array(dy[length])


def _lstm_gradients(ctx: Any, dgates: Any, y: Any, h0: Any, dh: Any, dc: Any) -> tuple:
    """The LSTM recurrence's input gradients from its backward's buffers; dW_hh as one GEMM."""
    need_x, need_w, need_h, need_c = ctx.needs_input_grad
    dw = _previous_states_matmul(ctx.xp, dgates, y, h0, ctx.reverse) if need_w else None
    return _tensors(dgates if need_x else None, dw, dh if need_h else None, dc if need_c else None)
