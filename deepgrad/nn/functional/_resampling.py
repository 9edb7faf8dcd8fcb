"""Resampling as weight matrices: interpolate's bicubic mode and its antialiased modes.

Each of these modes is separable: along one spatial axis, output pixel o is a weighted sum of
the input pixels, y[o] = sum_j W[o, j] x[j], with a (n_out, n_in) matrix W that depends only on
the sizes, the scale and the mode. A 4-D image is resampled as y = W_h @ x @ W_w^T, two matmuls,
so the gradient (dx = W_h^T @ dy @ W_w) comes from the matmul primitive.

The matrices are dense: O(n_out * n_in) memory per axis and a matmul instead of a few taps per
output pixel, which is cheap at the sizes this framework trains on and keeps the math on one
screen. Private to ``deepgrad.nn.functional``; ``vision.interpolate`` is the public entry.
"""

from __future__ import annotations

import numpy as np  # the weights are constants computed from Python ints and floats

from deepgrad.autograd.tensor import Tensor


def _triangle(d: np.ndarray) -> np.ndarray:
    """max(1 - |d|, 0): linear interpolation's filter."""
    return np.maximum(1.0 - np.abs(d), 0.0)


def _cubic(d: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel (1981) with free parameter a:
    (a + 2)|d|^3 - (a + 3)|d|^2 + 1 for |d| <= 1, a(|d|^3 - 5|d|^2 + 8|d| - 4) for 1 < |d| < 2,
    else 0."""
    d = np.abs(d)
    inner = ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0
    outer = a * (((d - 5.0) * d + 8.0) * d - 4.0)
    return np.where(d <= 1.0, inner, np.where(d < 2.0, outer, 0.0))


def _lanczos3(d: np.ndarray) -> np.ndarray:
    """sinc(d) sinc(d / 3) for |d| < 3, else 0 (sinc(t) = sin(pi t) / (pi t))."""
    return np.where(np.abs(d) < 3.0, np.sinc(d) * np.sinc(d / 3.0), 0.0)


_ANTIALIAS_FILTERS = {
    "bilinear": _triangle,
    # a = -0.5 when antialiasing (PIL's and PyTorch's choice); plain bicubic uses -0.75.
    "bicubic": lambda d: _cubic(d, -0.5),
    "lanczos": _lanczos3,
}


def axis_scale(n_in: int, n_out: int, scale: float | None, align_corners: bool) -> float:
    """Input pixels per output pixel r: (n_in - 1) / (n_out - 1) with ``align_corners`` (0 for
    a single output pixel), else ``scale`` (1 / scale_factor) when given, else n_in / n_out."""
    if align_corners:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return float(scale) if scale is not None else n_in / n_out


def bicubic_weights(n_in: int, n_out: int, scale: float | None, align_corners: bool) -> np.ndarray:
    """W[o, j] of bicubic convolution (a = -0.75): the taps floor(s) - 1 .. floor(s) + 2 around
    the source coordinate s(o), with indices past the edges clamped to the edge pixel.

    s(o) = o * r (``align_corners``) or (o + 0.5) * r - 0.5 (pixel centres, not clamped at 0).
    """
    r = axis_scale(n_in, n_out, scale, align_corners)
    o = np.arange(n_out, dtype=np.float64)
    source = o * r if align_corners else (o + 0.5) * r - 0.5
    base = np.floor(source)
    frac = source - base
    weights = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    for tap in (-1, 0, 1, 2):
        cols = np.clip(base.astype(np.int64) + tap, 0, n_in - 1)
        np.add.at(weights, (rows, cols), _cubic(frac - tap, -0.75))
    return weights


def antialias_weights(
    n_in: int, n_out: int, scale: float | None, align_corners: bool, mode: str
) -> np.ndarray:
    """W[o, j] = f((j + 0.5 - c_o) / max(r, 1)) / sum_j' f(...), c_o = r (o + 0.5): the filter f
    of ``mode`` centred on output pixel o, widened by the scale r when downsampling (r > 1, so
    each output pixel averages all the input pixels it covers), normalized over the in-range
    input pixels.

    When upsampling (r <= 1) the filter keeps its width, which for 'bilinear' without
    ``align_corners`` is plain bilinear interpolation.
    """
    r = axis_scale(n_in, n_out, scale, align_corners)
    stretch = max(r, 1.0)
    centres = r * (np.arange(n_out, dtype=np.float64) + 0.5)
    offsets = np.arange(n_in, dtype=np.float64)[None, :] + 0.5 - centres[:, None]
    weights = _ANTIALIAS_FILTERS[mode](offsets / stretch)
    total = weights.sum(axis=1, keepdims=True)
    # A row whose filter misses every input pixel stays zero (never 0 / 0).
    return np.divide(weights, total, out=np.zeros_like(weights), where=total != 0)


def resample_2d(x: Tensor, weights_h: np.ndarray | None, weights_w: np.ndarray | None) -> Tensor:
    """y = W_h @ x @ W_w^T over the last two axes of x (N, C, H, W); None skips that axis."""
    xp, dtype = x.xp, x._data.dtype
    if weights_w is not None:
        x = x @ Tensor._make(xp.asarray(weights_w.T, dtype=dtype), None)
    if weights_h is not None:
        x = Tensor._make(xp.asarray(weights_h, dtype=dtype), None) @ x
    return x
