"""Op-table entries for the composite layer functions of issue 11 (collected by op_db.all_specs):
F.interpolate, F.pixel_shuffle / pixel_unshuffle, F.scaled_dot_product_attention,
F.instance_norm and F.group_norm.

Each NumPy reference is written from the formula a different way than the deepgrad code: the
resampling as a dense interpolation matrix per axis (deepgrad gathers two neighbours), pixel
shuffle as explicit loops, attention and the norms directly.
"""

from __future__ import annotations

import numpy as np
from op_db import OpSpec, _erf, case

import deepgrad as dg
import deepgrad.nn.functional as F


def _np_resample_matrix(n_in: int, n_out: int, mode: str, align_corners: bool) -> np.ndarray:
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        if mode == "nearest":
            m[o, min(int(np.floor(o * n_in / n_out)), n_in - 1)] = 1.0
            continue
        if align_corners:
            s = o * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            s = max((o + 0.5) * n_in / n_out - 0.5, 0.0)
        i = min(int(np.floor(s)), n_in - 1)
        m[o, i] += 1.0 - (s - i)
        m[o, min(i + 1, n_in - 1)] += s - i
    return m


def _np_interpolate(x, size, mode="nearest", align_corners=None):
    for axis, n_out in enumerate(size):
        m = _np_resample_matrix(x.shape[axis + 2], n_out, mode, bool(align_corners))
        x = np.moveaxis(np.tensordot(m, np.moveaxis(x, axis + 2, 0), axes=1), 0, axis + 2)
    return x


def _np_pixel_shuffle(x, upscale_factor):
    r = upscale_factor
    n, cr2, h, w = x.shape
    y = np.zeros((n, cr2 // (r * r), h * r, w * r))
    for c in range(cr2 // (r * r)):
        for i in range(r):
            for j in range(r):
                y[:, c, i::r, j::r] = x[:, c * r * r + i * r + j]
    return y


def _np_pixel_unshuffle(x, downscale_factor):
    r = downscale_factor
    n, c, hr, wr = x.shape
    y = np.zeros((n, c * r * r, hr // r, wr // r))
    for k in range(c):
        for i in range(r):
            for j in range(r):
                y[:, k * r * r + i * r + j] = x[:, k, i::r, j::r]
    return y


def _np_sdpa(q, k, v, mask=None, is_causal=False):
    scores = (
        q @ np.swapaxes(k, -1, -2) / np.sqrt(max(q.shape[-1], 1))
    )  # E = 0: scores 0, as PyTorch
    allowed = np.ones(scores.shape[-2:], dtype=bool) if mask is None else mask
    if is_causal:
        allowed = allowed & np.tril(np.ones(scores.shape[-2:], dtype=bool))
    scores = np.where(allowed, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True) @ v


def _sdpa(q, k, v, mask=None, is_causal=False):
    attn_mask = None if mask is None else dg.tensor(mask, device=q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)


def _np_normalize(x, axes, eps=1e-5):
    centered = x - x.mean(axis=axes, keepdims=True)
    return centered / np.sqrt((centered**2).mean(axis=axes, keepdims=True) + eps)


def _np_instance_norm(x, w=None, b=None):
    y = _np_normalize(x, tuple(range(2, x.ndim)))
    view = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return y if w is None else y * w.reshape(view) + b.reshape(view)


def _np_group_norm(x, w, b, num_groups):
    n, c = x.shape[:2]
    y = _np_normalize(x.reshape(n, num_groups, -1), (2,)).reshape(x.shape)
    view = (1, c) + (1,) * (x.ndim - 2)
    return y * w.reshape(view) + b.reshape(view)


MASK = np.array([[True, False, True, True], [False, True, True, False], [True, True, False, True]])

OPS = [
    OpSpec(
        "interpolate_nearest",
        lambda x, size: F.interpolate(x, size=size, mode="nearest"),
        lambda x, size: _np_interpolate(x, size, "nearest"),
        [
            case((2, 3, 4), size=(7,)),
            case((1, 2, 3, 4), size=(5, 3)),
            case((1, 1, 2, 3, 2), size=(3, 5, 1)),
        ],
        covers=("Index",),
    ),
    OpSpec(
        "interpolate_bilinear",
        lambda x, size, align_corners: F.interpolate(
            x, size=size, mode="bilinear", align_corners=align_corners
        ),
        lambda x, size, align_corners: _np_interpolate(x, size, "bilinear", align_corners),
        [
            case((1, 2, 3, 4), size=(5, 7), align_corners=False),
            case((2, 1, 4, 5), size=(3, 2), align_corners=False),
            case((1, 2, 3, 4), size=(5, 7), align_corners=True),
            case((1, 1, 4, 3), size=(1, 5), align_corners=True),
        ],
        covers=("Index",),
    ),
    OpSpec(
        "interpolate_linear_trilinear",
        lambda x, size, mode: F.interpolate(x, size=size, mode=mode),
        lambda x, size, mode: _np_interpolate(x, size, mode),
        [
            case((2, 3, 4), size=(7,), mode="linear"),
            case((1, 1, 2, 3, 2), size=(3, 4, 3), mode="trilinear"),
        ],
        covers=("Index",),
    ),
    OpSpec(
        "pixel_shuffle",
        F.pixel_shuffle,
        _np_pixel_shuffle,
        [case((2, 8, 2, 3), upscale_factor=2), case((1, 9, 1, 2), upscale_factor=3)],
        covers=("Reshape", "Permute"),
    ),
    OpSpec(
        "pixel_unshuffle",
        F.pixel_unshuffle,
        _np_pixel_unshuffle,
        [case((2, 2, 4, 6), downscale_factor=2), case((1, 1, 3, 3), downscale_factor=3)],
        covers=("Reshape", "Permute"),
    ),
    OpSpec(
        "scaled_dot_product_attention",
        _sdpa,
        _np_sdpa,
        [
            case((2, 3, 5), (2, 4, 5), (2, 4, 2)),
            case((2, 2, 3, 4), (2, 2, 4, 4), (2, 2, 4, 3), mask=MASK),
            case((1, 3, 4), (1, 3, 4), (1, 3, 4), is_causal=True),
            case((2, 3, 4), (2, 4, 4), (2, 4, 2), mask=MASK, is_causal=True),
            case((2, 2, 3, 4), (1, 2, 4, 4), (2, 1, 4, 3), is_causal=True),  # broadcast heads
            case((1, 5, 3), (1, 2, 3), (1, 2, 2), is_causal=True),  # more queries than keys
        ],
        covers=("Softmax", "MatMul", "ScaledDotProductAttention"),
    ),
    OpSpec(
        "layer_norm",
        lambda x, w, b, shape: F.layer_norm(x, shape, weight=w, bias=b),
        lambda x, w, b, shape: _np_normalize(x, tuple(range(x.ndim - len(shape), x.ndim))) * w + b,
        [
            case((2, 3, 5), (5,), (5,), shape=(5,)),
            case((2, 3, 4), (3, 4), (3, 4), shape=(3, 4)),
            case((4,), (4,), (4,), shape=(4,)),
        ],
        covers=("LayerNorm",),
        atol32=1e-4,
    ),
    OpSpec(
        "layer_norm_weight_only",
        lambda x, w: F.layer_norm(x, (3,), weight=w),
        lambda x, w: _np_normalize(x, (x.ndim - 1,)) * w,
        [case((2, 3), (3,)), case((1, 2, 3), (3,))],
        covers=("LayerNorm",),
        atol32=1e-4,
    ),
    OpSpec(
        "layer_norm_no_affine",
        lambda x: F.layer_norm(x, x.shape[-1:]),
        lambda x: _np_normalize(x, (x.ndim - 1,)),
        [case((2, 3)), case((2, 1, 4))],
        covers=("LayerNorm",),
        atol32=1e-4,
    ),
    OpSpec(
        "gelu",
        F.gelu,
        lambda x: x * (1 + _erf(x / np.sqrt(2))) / 2,
        [case((3, 4)), case(())],
        domain=(-4.5, 4.5),
        covers=("Gelu",),
    ),
    OpSpec(
        "instance_norm",
        lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
        _np_instance_norm,
        [case((2, 3, 5), (3,), (3,)), case((2, 2, 3, 4), (2,), (2,))],
        atol32=1e-4,
    ),
    OpSpec(
        "instance_norm_no_affine",
        F.instance_norm,
        _np_instance_norm,
        [case((3, 2, 4)), case((1, 1, 2, 3))],
        atol32=1e-4,
    ),
    OpSpec(
        "group_norm",
        lambda x, w, b, num_groups: F.group_norm(x, num_groups, w, b),
        _np_group_norm,
        [
            case((2, 4, 3), (4,), (4,), num_groups=2),
            case((2, 6, 2, 2), (6,), (6,), num_groups=3),
            case((3, 4), (4,), (4,), num_groups=1),
        ],
        atol32=1e-4,
    ),
]
