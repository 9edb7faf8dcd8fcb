"""Synthetic problems: the TensorFlow Playground's and the textbooks' toy datasets.

Every ``make_*`` function draws from ``generator`` (default: the generator that
``deepgrad.manual_seed`` seeds), returns ``(x, y)`` NumPy arrays, or a
``TensorDataset`` with ``as_dataset=True``. Inputs are float32; classification labels
int64 (n,), regression targets float32 (n, 1) or as stated. Classes are interleaved
in random order, so the first rows do not all share one class.

| function | x | y |
|---|---|---|
| ``make_xor`` | (n, 2) in [-1, 1]^2 | 1 where x0 * x1 < 0 |
| ``make_moons`` | (n, 2) | two interleaved half circles |
| ``make_circles`` | (n, 2) | outer ring 0, inner ring 1 |
| ``make_spirals`` | (n, 2) | one spiral arm per class |
| ``make_blobs`` | (n, dim) | Gaussian clusters |
| ``make_checkerboard`` | (n, 2) in [-1, 1]^2 | alternating squares |
| ``make_sine`` | (n, 1) | sin(x) + noise, (n, 1) |
| ``make_polynomial`` | (n, 1) | sum_k c_k x^k + noise, (n, 1) |
| ``make_adding_problem`` | (n, T, 2) | sum of the 2 marked values, (n, 1) |
| ``make_copy_task`` | (n, 2L + delay) int64 | the L symbols recalled at the end |
| ``make_sine_series`` | (n, window, 1) | the next ``horizon`` values, (n, horizon) |
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepgrad.backend.random import Generator, default_generator
from deepgrad.backend.validation import (
    int_at_least,
    non_negative_float,
    positive_float,
    positive_int,
)
from deepgrad.data.dataset import TensorDataset


def _rng(generator: Generator | None) -> np.random.Generator:
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(f"generator must be a deepgrad.Generator (got {type(generator).__name__})")
    return (generator or default_generator).np


def _finish(x, y, rng, as_dataset: bool, shuffle: bool = True):
    if shuffle:
        order = rng.permutation(len(x))
        x, y = x[order], y[order]
    x = (
        np.ascontiguousarray(x, dtype=np.float32)
        if x.dtype.kind == "f"
        else np.ascontiguousarray(x)
    )
    y = (
        np.ascontiguousarray(y, dtype=np.float32)
        if y.dtype.kind == "f"
        else np.ascontiguousarray(y, dtype=np.int64)
    )
    return TensorDataset(x, y) if as_dataset else (x, y)


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if k < n % parts else 0) for k in range(parts)]


def make_xor(
    n: int = 200, noise: float = 0.0, generator: Generator | None = None, as_dataset: bool = False
):
    """XOR: points uniform in [-1, 1]^2, label 1 in the 2nd and 4th quadrants (x0 * x1 < 0).

    ``noise`` is the std of Gaussian noise added to the points after labelling.
    """
    n, noise, rng = (
        positive_int(n, "n", "make_xor"),
        non_negative_float(noise, "noise", "make_xor"),
        _rng(generator),
    )
    x = rng.uniform(-1, 1, size=(n, 2))
    y = (x[:, 0] * x[:, 1] < 0).astype(np.int64)
    return _finish(x + noise * rng.standard_normal((n, 2)), y, rng, as_dataset, shuffle=False)


def make_moons(
    n: int = 200, noise: float = 0.1, generator: Generator | None = None, as_dataset: bool = False
):
    """Two interleaving half circles: (cos t, sin t) is class 0, (1 - cos t, 1/2 - sin t) class 1."""
    n, noise, rng = (
        int_at_least(n, 2, "n", "make_moons"),
        non_negative_float(noise, "noise", "make_moons"),
        _rng(generator),
    )
    n0, n1 = _split(n, 2)
    t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n1)
    x = np.concatenate(
        [np.stack([np.cos(t0), np.sin(t0)], 1), np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)]
    )
    y = np.repeat([0, 1], [n0, n1])
    return _finish(x + noise * rng.standard_normal(x.shape), y, rng, as_dataset)


def make_circles(
    n: int = 200,
    noise: float = 0.05,
    factor: float = 0.5,
    generator: Generator | None = None,
    as_dataset: bool = False,
):
    """Two concentric rings: radius 1 is class 0, radius ``factor`` (< 1) class 1."""
    n, noise, rng = (
        int_at_least(n, 2, "n", "make_circles"),
        non_negative_float(noise, "noise", "make_circles"),
        _rng(generator),
    )
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor must lie in (0, 1) (got {factor!r})")
    n0, n1 = _split(n, 2)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.repeat([1.0, factor], [n0, n1])
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    y = np.repeat([0, 1], [n0, n1])
    return _finish(x + noise * rng.standard_normal(x.shape), y, rng, as_dataset)


def make_spirals(
    n: int = 300,
    n_classes: int = 2,
    noise: float = 0.05,
    turns: float = 1.5,
    generator: Generator | None = None,
    as_dataset: bool = False,
):
    """Interleaved spiral arms, one per class: radius r in [0.05, 1], angle = 2 pi (turns r + k / n_classes)."""
    rng, noise = _rng(generator), non_negative_float(noise, "noise", "make_spirals")
    n_classes = int_at_least(n_classes, 2, "n_classes", "make_spirals")
    n = int_at_least(n, n_classes, "n", "make_spirals")
    counts = _split(n, n_classes)
    y = np.repeat(np.arange(n_classes), counts)
    r = rng.uniform(0.05, 1.0, n)
    angle = 2 * np.pi * (turns * r + y / n_classes)
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], 1)
    return _finish(x + noise * rng.standard_normal(x.shape), y, rng, as_dataset)


def make_blobs(
    n: int = 300,
    centers: int | Sequence[Sequence[float]] = 3,
    dim: int = 2,
    std: float = 1.0,
    center_box: tuple[float, float] = (-5.0, 5.0),
    generator: Generator | None = None,
    as_dataset: bool = False,
):
    """Gaussian clusters of standard deviation ``std``, one class each.

    ``centers``: a number of clusters (centres drawn uniformly in ``center_box``^dim) or the
    centres themselves, (k, dim).
    """
    rng = _rng(generator)
    if isinstance(centers, (int, np.integer)):
        k = positive_int(centers, "centers", "make_blobs")
        dim = positive_int(dim, "dim", "make_blobs")
        middle = rng.uniform(*center_box, size=(k, dim))
    else:
        middle = np.asarray(centers, dtype=np.float64)
        if middle.ndim != 2:
            raise ValueError(
                f"make_blobs: centers must be a count or a (k, dim) array (got shape {middle.shape})"
            )
        k = middle.shape[0]
    n = int_at_least(n, k, "n", "make_blobs")
    y = np.repeat(np.arange(k), _split(n, k))
    x = middle[y] + std * rng.standard_normal((n, middle.shape[1]))
    return _finish(x, y, rng, as_dataset)


def make_checkerboard(
    n: int = 500,
    tiles: int = 4,
    noise: float = 0.0,
    generator: Generator | None = None,
    as_dataset: bool = False,
):
    """Points uniform in [-1, 1]^2 on a ``tiles`` x ``tiles`` checkerboard; the label is the square's colour."""
    n, rng = positive_int(n, "n", "make_checkerboard"), _rng(generator)
    tiles, noise = (
        int_at_least(tiles, 2, "tiles", "make_checkerboard"),
        non_negative_float(noise, "noise", "make_checkerboard"),
    )
    x = rng.uniform(-1, 1, size=(n, 2))
    cell = np.minimum(np.floor((x + 1) / 2 * tiles), tiles - 1).astype(np.int64)
    y = (cell[:, 0] + cell[:, 1]) % 2
    return _finish(x + noise * rng.standard_normal(x.shape), y, rng, as_dataset, shuffle=False)


def make_sine(
    n: int = 200,
    noise: float = 0.1,
    x_range: tuple[float, float] = (-np.pi, np.pi),
    generator: Generator | None = None,
    as_dataset: bool = False,
):
    """Regression: x uniform in ``x_range``, y = sin(x) + noise. Both (n, 1) float32."""
    n, noise, rng = (
        positive_int(n, "n", "make_sine"),
        non_negative_float(noise, "noise", "make_sine"),
        _rng(generator),
    )
    x = rng.uniform(*x_range, size=(n, 1))
    return _finish(
        x, np.sin(x) + noise * rng.standard_normal((n, 1)), rng, as_dataset, shuffle=False
    )


def make_polynomial(
    n: int = 200,
    coefficients: Sequence[float] = (0.5, -1.0, 0.0, 2.0),
    noise: float = 0.1,
    x_range: tuple[float, float] = (-1.0, 1.0),
    generator: Generator | None = None,
    as_dataset: bool = False,
):
    """Regression: y = c0 + c1 x + c2 x^2 + ... + noise, x uniform in ``x_range``. Both (n, 1) float32."""
    n, noise, rng = (
        positive_int(n, "n", "make_polynomial"),
        non_negative_float(noise, "noise", "make_polynomial"),
        _rng(generator),
    )
    coefficients = np.asarray(coefficients, dtype=np.float64).reshape(-1)
    if coefficients.size == 0:
        raise ValueError("make_polynomial: coefficients must not be empty")
    x = rng.uniform(*x_range, size=(n, 1))
    y = np.polynomial.polynomial.polyval(x, coefficients)
    return _finish(x, y + noise * rng.standard_normal((n, 1)), rng, as_dataset, shuffle=False)


def make_adding_problem(
    n: int = 1000, seq_len: int = 50, generator: Generator | None = None, as_dataset: bool = False
):
    """The adding problem (Hochreiter & Schmidhuber 1997), a test of long-range memory.

    Each step holds two numbers: a value uniform in [0, 1] and a marker. Exactly two
    markers are 1, one in each half of the sequence; the target is the sum of the two marked
    values. Predicting 1 always gives a mean squared error of about 1/6.

    Returns:
        x float32 (n, seq_len, 2), y float32 (n, 1).
    """
    n, rng = positive_int(n, "n", "make_adding_problem"), _rng(generator)
    seq_len = int_at_least(seq_len, 2, "seq_len", "make_adding_problem")
    values = rng.uniform(0, 1, size=(n, seq_len))
    half = seq_len // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, seq_len, size=n)
    markers = np.zeros((n, seq_len))
    rows = np.arange(n)
    markers[rows, first] = 1
    markers[rows, second] = 1
    y = (values[rows, first] + values[rows, second]).reshape(n, 1)
    return _finish(np.stack([values, markers], axis=2), y, rng, as_dataset, shuffle=False)


def make_copy_task(
    n: int = 1000,
    seq_len: int = 10,
    n_symbols: int = 8,
    delay: int = 20,
    generator: Generator | None = None,
    as_dataset: bool = False,
):
    """The copy (memory) task: read ``seq_len`` symbols, wait ``delay`` steps, then write them back.

    Tokens: 0 = blank, 1..n_symbols = symbols, n_symbols + 1 = the "now recall" delimiter.
    Input: the symbols, ``delay - 1`` blanks, the delimiter, then ``seq_len`` blanks. Target:
    ``seq_len + delay`` blanks, then the symbols. A model that remembers nothing (blanks, then
    a uniform guess among the symbols) scores a cross-entropy of
    seq_len log(n_symbols) / (2 seq_len + delay) per step (Arjovsky et al. 2016's baseline).

    Returns:
        x int64 (n, 2 seq_len + delay), y int64 (n, 2 seq_len + delay); vocabulary size n_symbols + 2.
    """
    n, rng = positive_int(n, "n", "make_copy_task"), _rng(generator)
    seq_len = positive_int(seq_len, "seq_len", "make_copy_task")
    n_symbols = positive_int(n_symbols, "n_symbols", "make_copy_task")
    delay = positive_int(delay, "delay", "make_copy_task")
    length = 2 * seq_len + delay
    symbols = rng.integers(1, n_symbols + 1, size=(n, seq_len))
    x = np.zeros((n, length), dtype=np.int64)
    y = np.zeros((n, length), dtype=np.int64)
    x[:, :seq_len] = symbols
    x[:, seq_len + delay - 1] = n_symbols + 1
    y[:, seq_len + delay :] = symbols
    return _finish(x, y, rng, as_dataset, shuffle=False)


def make_sine_series(
    n: int = 500,
    window: int = 20,
    horizon: int = 1,
    period: float = 25.0,
    noise: float = 0.1,
    generator: Generator | None = None,
    as_dataset: bool = False,
):
    """Forecasting: windows of a noisy sine wave and the values that follow them.

    One series s_t = sin(2 pi t / period + phase) + noise_t, t = 0 .. n + window + horizon - 2,
    with a random phase; sample i is (s_i .. s_{i+window-1}) and the target
    (s_{i+window} .. s_{i+window+horizon-1}). Windows are in time order (split train/test by
    position, not at random, to avoid overlap).

    Returns:
        x float32 (n, window, 1), y float32 (n, horizon).
    """
    n, rng, noise = (
        positive_int(n, "n", "make_sine_series"),
        _rng(generator),
        non_negative_float(noise, "noise", "make_sine_series"),
    )
    window = positive_int(window, "window", "make_sine_series")
    horizon = positive_int(horizon, "horizon", "make_sine_series")
    positive_float(period, "period", "make_sine_series")
    t = np.arange(n + window + horizon - 1)
    series = np.sin(
        2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)
    ) + noise * rng.standard_normal(t.shape)
    frames = np.lib.stride_tricks.sliding_window_view(series, window + horizon)[:n]
    return _finish(frames[:, :window, None], frames[:, window:], rng, as_dataset, shuffle=False)


__all__ = [
    "make_xor",
    "make_moons",
    "make_circles",
    "make_spirals",
    "make_blobs",
    "make_checkerboard",
    "make_sine",
    "make_polynomial",
    "make_adding_problem",
    "make_copy_task",
    "make_sine_series",
]
