"""Op-table entries for the fused nn primitives of ``deepgrad/ops/fused.py`` (collected by op_db.all_specs).

Each runs through its ``deepgrad.nn.functional`` entry point and is compared with a NumPy
reference written from the formula; ``tests/nn`` also checks each against its composite.
"""

from __future__ import annotations

import numpy as np
from op_db import OpSpec, case

import deepgrad as dg
import deepgrad.nn.functional as F


def _np_log_softmax(a, dim):
    shifted = a - np.max(a, axis=dim, keepdims=True, initial=-np.inf)  # empty dim: empty result
    return shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))


def _np_softmax(a, dim):
    return np.exp(_np_log_softmax(a, dim))


def _np_cross_entropy(a, target):
    return -_np_log_softmax(a, 1)[np.arange(a.shape[0]), target]


def _np_batch_norm(x, w=None, b=None, eps=1e-5):
    dims = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    y = (x - x.mean(axis=dims, keepdims=True)) / np.sqrt(x.var(axis=dims, keepdims=True) + eps)
    if w is not None:
        y = y * w.reshape(shape) + b.reshape(shape)
    return y


def _ce(a, target):
    return F.cross_entropy(a, dg.tensor(target, device=a.device), reduction="none")


SOFTMAX_CASES = [
    case((3, 4), dim=1),
    case((3, 4), dim=0),
    case((2, 3, 4), dim=-1),
    case((2, 3, 2), dim=1),
    case((5,), dim=0),
    case((), dim=0),
    case((1, 1), dim=1),
    case((0, 3), dim=1),
    case((16, 12), dim=1),
]
TARGETS_3 = np.array([0, 3, 1])
TARGETS_16 = np.arange(16) * 5 % 12

OPS = [
    OpSpec("log_softmax", F.log_softmax, _np_log_softmax, SOFTMAX_CASES, covers=("LogSoftmax",)),
    OpSpec("softmax", F.softmax, _np_softmax, SOFTMAX_CASES, covers=("Softmax",)),
    OpSpec(
        "log_softmax_large",
        F.log_softmax,
        _np_log_softmax,
        [case((3, 4), dim=1)],
        domain=(-1000.0, 1000.0),
        covers=("LogSoftmax",),
        atol32=1e-3,
    ),
    OpSpec(
        "softmax_cross_entropy",
        _ce,
        _np_cross_entropy,
        [
            case((3, 4), target=TARGETS_3),
            case((1, 1), target=np.array([0])),
            case((16, 12), target=TARGETS_16),
            case((0, 5), target=np.zeros(0, dtype=np.int64)),
        ],
        covers=("SoftmaxCrossEntropy", "Softmax"),
    ),
    OpSpec(
        "softmax_cross_entropy_large",
        _ce,
        _np_cross_entropy,
        [case((3, 4), target=TARGETS_3)],
        domain=(-1000.0, 1000.0),
        covers=("SoftmaxCrossEntropy",),
        atol32=1e-3,
    ),
    OpSpec(
        "batch_norm_train",
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        _np_batch_norm,
        [
            case((4, 3), (3,), (3,)),
            case((2, 2, 3), (2,), (2,)),
            case((2, 3, 2, 2), (3,), (3,)),
            case((16, 4, 3), (4,), (4,)),
        ],
        covers=("BatchNorm",),
        atol32=1e-4,
    ),
    OpSpec(
        "batch_norm_train_no_affine",
        lambda x: F.batch_norm(x, None, None, training=True),
        _np_batch_norm,
        [case((4, 3)), case((2, 3, 2, 2)), case((3, 1, 5))],
        covers=("BatchNorm",),
        atol32=1e-4,
    ),
    OpSpec(
        "linear",
        lambda x, w, b: F.linear(x, w, b),
        lambda x, w, b: x @ w.T + b,
        [
            case((3, 4), (5, 4), (5,)),
            case((2, 3, 4), (5, 4), (5,)),
            case((1, 4), (1, 4), (1,)),
            case((0, 4), (2, 4), (2,)),
        ],
        covers=("Linear",),
    ),
    OpSpec(
        "linear_no_bias",
        lambda x, w: F.linear(x, w),
        lambda x, w: x @ w.T,
        [case((3, 4), (5, 4)), case((2, 2, 3), (4, 3))],
        covers=("Linear",),
    ),
]
