"""Helpers shared by the fused recurrent layers (``rnn_fused``) and their kernel paths (``rnn_kernels``)."""

from __future__ import annotations

from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor


def _recording_backward() -> bool:
    """True under create_graph=True: the backward must then be built from primitives (differentiable)."""
    return GradMode.enabled


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


def _tensors(*arrays):
    return tuple(None if a is None else Tensor._make(a, None) for a in arrays)
