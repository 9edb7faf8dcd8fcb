"""Vision functions: pad, interpolate (resampling), pixel_shuffle and pixel_unshuffle.

All are composites of shape and index primitives (gather along one axis, reshape, permute) or,
for interpolate's bicubic, Lanczos and antialiased modes, of matmuls with constant per-axis
weight matrices (``_resampling.py``), and get their gradients for free. ``pad`` lives in
``deepgrad/ops/composite.py`` (``deepgrad.pad``) and is re-exported here under PyTorch's ``F.pad``.
"""

from __future__ import annotations

import math

import numpy as np  # coordinate bookkeeping on Python ints and floats only

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError, validation
from deepgrad.nn.functional import _resampling
from deepgrad.nn.functional._utils import _check_tensor
from deepgrad.ops.composite import pad
from deepgrad.ops.index import index_select
from deepgrad.ops.pool import adaptive_avg_pool1d, adaptive_avg_pool2d

__all__ = ["pad", "interpolate", "pixel_shuffle", "pixel_unshuffle"]

_NEAREST = ("nearest", "nearest-exact")
# The linear modes and the input rank each one takes: (N, C, L), (N, C, H, W), (N, C, D, H, W).
_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5}
# The modes resampled with weight matrices (4-D input only); 'lanczos' needs antialias=True.
_MATRIX = ("bicubic", "lanczos")
_ANTIALIAS = ("bilinear", "bicubic", "lanczos")
_MODES = _NEAREST + tuple(_LINEAR) + _MATRIX + ("area",)


def interpolate(
    input: Tensor,
    size: int | tuple | None = None,
    scale_factor: float | tuple | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resample the spatial dimensions of (N, C, *spatial) to ``size`` or by ``scale_factor``.

    Each output position o along an axis of input size n_in and output size n_out reads the
    source coordinate s(o), with scale r = 1 / scale_factor when ``scale_factor`` is given (and
    ``recompute_scale_factor`` is not True), else n_in / n_out:

    - ``nearest``: y[o] = x[min(floor(o * r), n_in - 1)];
      ``nearest-exact``: y[o] = x[min(floor((o + 0.5) * r), n_in - 1)].
    - ``linear`` / ``bilinear`` / ``trilinear``: y[o] = (1 - w) * x[i] + w * x[i + 1], i = floor(s),
      w = s - i, applied axis after axis, with s = max((o + 0.5) * r - 0.5, 0)
      (``align_corners=False``: pixel centres line up) or s = o * (n_in - 1) / (n_out - 1)
      (``align_corners=True``: the corner pixels line up).
    - ``bicubic``: y[o] = sum_{k=-1..2} K(w - k) x[i + k], Keys' cubic kernel K (a = -0.75).
    - ``area``: adaptive average pooling to the output size.
    - ``antialias=True``: y[o] = sum_j f((j + 0.5 - c) / max(r, 1)) x[j] / sum_j f(...),
      c = r (o + 0.5), f the mode's filter (triangle, cubic a = -0.5, Lanczos-3) widened by r
      when downsampling, as PIL (details in ``_resampling.py``).

    Args:
        input: (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        size: the output spatial size, an int or one int per spatial dimension.
        scale_factor: the multiplier of the spatial size, a float or one per spatial dimension;
            the output size is floor(n_in * scale_factor). Give exactly one of size and
            scale_factor.
        mode: 'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear', 'bicubic', 'lanczos'
            (4-D), 'trilinear' (5-D) or 'area' (3-D or 4-D). Default: 'nearest'.
        align_corners: for the linear modes and 'bicubic' (see above). Default: None (False).
        recompute_scale_factor: compute the scale from the output size instead of using
            ``scale_factor``. Default: None (use ``scale_factor``).
        antialias: filter while downsampling ('bilinear', 'bicubic', 'lanczos'). Default: False.

    Returns:
        (N, C, *output_size), the dtype of the input.

    Shape:
        (N, C, *spatial) -> (N, C, *output_size).

    Example:
        >>> import deepgrad as dg
        >>> interpolate(dg.tensor([[[1.0, 2.0]]]), scale_factor=2, mode="nearest")
        tensor([[[1., 1., 2., 2.]]])
        >>> interpolate(dg.tensor([[[1.0, 2.0]]]), size=3, mode="linear", align_corners=True)
        tensor([[[1. , 1.5, 2. ]]])
    """
    _check_interpolate_args(input, mode, align_corners, antialias)
    spatial = input.shape[2:]
    out_size, scales = _output_size(spatial, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        pool = adaptive_avg_pool1d if len(spatial) == 1 else adaptive_avg_pool2d
        return pool(input, out_size)
    return _resample(input, mode, out_size, scales, bool(align_corners), antialias)


def _resample_matrix(x: Tensor, mode: str, out_size: tuple, scales: tuple, align_corners: bool,
                     antialias: bool) -> Tensor:  # fmt: skip
    """Bicubic, Lanczos or antialiased resampling of (N, C, H, W): y = W_h @ x @ W_w^T."""
    weights: list[np.ndarray | None] = []
    for n_in, n_out, scale in zip(x.shape[2:], out_size, scales):
        if n_in == n_out and scale is None:  # the identity: skip the matmul
            weights.append(None)
        elif antialias:
            weights.append(_resampling.antialias_weights(n_in, n_out, scale, align_corners, mode))
        else:
            weights.append(_resampling.bicubic_weights(n_in, n_out, scale, align_corners))
    return _resampling.resample_2d(x, *weights)


def _resample(x: Tensor, mode: str, out_size: tuple, scales: tuple, align_corners: bool,
              antialias: bool) -> Tensor:  # fmt: skip
    """Nearest or linear resampling, one spatial axis after the other (the modes are separable);
    the weight-matrix modes go to _resample_matrix."""
    if antialias or mode in _MATRIX:
        return _resample_matrix(x, mode, out_size, scales, align_corners, antialias)
    for axis, (n_in, n_out, scale) in enumerate(zip(x.shape[2:], out_size, scales)):
        if n_in == n_out and scale is None:
            continue
        if mode in _NEAREST:
            x = _nearest_axis(x, axis + 2, n_in, n_out, scale, exact=mode == "nearest-exact")
        else:
            x = _linear_axis(x, axis + 2, n_in, n_out, scale, align_corners)
    return x


def _check_interpolate_args(input: Tensor, mode: str, align_corners, antialias: bool) -> None:
    _check_tensor("interpolate", "input", input)
    if mode not in _MODES:
        raise ValueError(
            f"interpolate: unknown mode {mode!r}; allowed: {', '.join(map(repr, _MODES))}."
        )
    if antialias and not (mode in _ANTIALIAS and input.ndim == 4):
        raise ValueError(
            f"interpolate: antialias=True needs mode 'bilinear', 'bicubic' or 'lanczos' and a 4-D "
            f"input (N, C, H, W) (got mode={mode!r}, input shape {input.shape}); pass "
            "antialias=False."
        )
    if mode == "lanczos" and not antialias:
        raise ValueError("interpolate: mode 'lanczos' needs antialias=True (got False).")
    if mode == "lanczos" and align_corners:
        raise ValueError(
            "interpolate: mode 'lanczos' does not support align_corners=True; leave it None."
        )
    if align_corners is not None and mode not in (*_LINEAR, *_MATRIX):
        raise ValueError(
            f"interpolate: align_corners can only be set with the modes "
            f"{', '.join((*_LINEAR, 'bicubic'))} (got mode={mode!r}); leave it None."
        )
    ranks = (_LINEAR[mode],) if mode in _LINEAR else ((3, 4) if mode == "area" else (3, 4, 5))
    ranks = (4,) if mode in _MATRIX else ranks
    if input.ndim not in ranks:
        raise ShapeError(
            f"interpolate: mode {mode!r} expects an input with {' or '.join(map(str, ranks))} "
            f"dimensions (N, C, *spatial) (got shape {input.shape}); add the batch and channel "
            "dimensions with unsqueeze."
        )
    if input._data.dtype.kind != "f":
        raise TypeError(f"interpolate: needs a floating-point input (got {input.dtype}).")


def _per_axis(name: str, value, count: int) -> tuple:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * count
    if len(values) != count:
        raise ValueError(
            f"interpolate: {name} needs one value per spatial dimension ({count}) (got {value!r})."
        )
    return values


def _output_size(spatial: tuple, size, scale_factor, recompute: bool | None) -> tuple:
    """The output size, and the scale r = 1 / scale_factor per axis (None: use n_in / n_out)."""
    if (size is None) == (scale_factor is None):
        raise ValueError(
            f"interpolate: give exactly one of size and scale_factor (got size={size!r}, "
            f"scale_factor={scale_factor!r})."
        )
    count = len(spatial)
    if size is not None:
        out = tuple(int(s) for s in _per_axis("size", size, count))
        if any(s < 1 for s in out):
            raise ValueError(f"interpolate: size must be positive (got {size!r}).")
        return out, (None,) * count
    factors = tuple(float(f) for f in _per_axis("scale_factor", scale_factor, count))
    if any(not f > 0 for f in factors):
        raise ValueError(f"interpolate: scale_factor must be positive (got {scale_factor!r}).")
    out = tuple(math.floor(n * f) for n, f in zip(spatial, factors))
    if any(s < 1 for s in out):
        raise ValueError(
            f"interpolate: scale_factor {scale_factor!r} gives an empty output for the input "
            f"size {spatial}; use a larger scale_factor."
        )
    scales = (None,) * count if recompute else tuple(1.0 / f for f in factors)
    return out, scales


def _nearest_axis(x: Tensor, dim: int, n_in: int, n_out: int, scale, exact: bool) -> Tensor:
    # float32 coordinates, as PyTorch computes them, so both pick the same source pixels.
    r = np.float32(n_in / n_out if scale is None else scale)
    dst = np.arange(n_out, dtype=np.float32) + np.float32(0.5 if exact else 0.0)
    source = np.minimum(np.floor(dst * r).astype(np.int64), n_in - 1)
    return index_select(x, dim, Tensor._make(x.xp.asarray(source), None))


def _linear_axis(x: Tensor, dim: int, n_in: int, n_out: int, scale, align_corners: bool) -> Tensor:
    # Coordinates in the input's precision (float32 or float64), as PyTorch computes them.
    ftype = np.float64 if x._data.dtype == np.float64 else np.float32
    dst = np.arange(n_out, dtype=ftype)
    if align_corners:
        r = ftype((n_in - 1) / (n_out - 1)) if n_out > 1 else ftype(0.0)
        source = dst * r
    else:
        r = ftype(n_in / n_out if scale is None else scale)
        source = np.maximum((dst + ftype(0.5)) * r - ftype(0.5), ftype(0.0))
    left = np.minimum(np.floor(source).astype(np.int64), n_in - 1)
    right = np.minimum(left + 1, n_in - 1)
    weight = np.clip(source - left, 0.0, 1.0).reshape((n_out,) + (1,) * (x.ndim - 1 - dim))
    xp = x.xp
    w = Tensor._make(xp.asarray(weight, dtype=x._data.dtype), None)
    x_left = index_select(x, dim, Tensor._make(xp.asarray(left), None))
    x_right = index_select(x, dim, Tensor._make(xp.asarray(right), None))
    return x_left + (x_right - x_left) * w


def _check_factor(name: str, arg: str, factor: int) -> None:
    validation.positive_int(factor, arg, name)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """y[n, c, h*r + i, w*r + j] = x[n, c*r*r + i*r + j, h, w] with r = upscale_factor: channels
    become an r x r block of pixels (Shi et al., 2016, sub-pixel convolution).

    Args:
        input: (*, C * r^2, H, W).
        upscale_factor: r.

    Returns:
        (*, C, H * r, W * r).

    Shape:
        (*, C * r^2, H, W) -> (*, C, H * r, W * r).

    Example:
        >>> import deepgrad as dg
        >>> pixel_shuffle(dg.arange(4.0).reshape(1, 4, 1, 1), 2)
        tensor([[[[0., 1.],
                  [2., 3.]]]])
    """
    _check_tensor("pixel_shuffle", "input", input)
    _check_factor("pixel_shuffle", "upscale_factor", upscale_factor)
    r = upscale_factor
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise ShapeError(
            f"pixel_shuffle: expected an input (*, C * {r * r}, H, W) whose channel count is "
            f"divisible by upscale_factor^2 = {r * r} (got shape {input.shape})."
        )
    *lead, channels, h, w = input.shape
    c = channels // (r * r)
    k = len(lead)
    y = input.reshape(*lead, c, r, r, h, w)
    y = y.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return y.reshape(*lead, c, h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """y[n, c*r*r + i*r + j, h, w] = x[n, c, h*r + i, w*r + j] with r = downscale_factor: the
    inverse of pixel_shuffle, each r x r block of pixels becomes r^2 channels.

    Args:
        input: (*, C, H * r, W * r).
        downscale_factor: r.

    Returns:
        (*, C * r^2, H, W).

    Shape:
        (*, C, H * r, W * r) -> (*, C * r^2, H, W).

    Example:
        >>> import deepgrad as dg
        >>> pixel_unshuffle(dg.arange(4.0).reshape(1, 1, 2, 2), 2).flatten()
        tensor([0., 1., 2., 3.])
    """
    _check_tensor("pixel_unshuffle", "input", input)
    _check_factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    r = downscale_factor
    if input.ndim < 3 or input.shape[-2] % r or input.shape[-1] % r:
        raise ShapeError(
            f"pixel_unshuffle: expected an input (*, C, H, W) with H and W divisible by "
            f"downscale_factor = {r} (got shape {input.shape})."
        )
    *lead, c, hr, wr = input.shape
    h, w = hr // r, wr // r
    k = len(lead)
    y = input.reshape(*lead, c, h, r, w, r)
    y = y.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return y.reshape(*lead, c * r * r, h, w)
