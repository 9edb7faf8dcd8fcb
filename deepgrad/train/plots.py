"""Plots of training runs with matplotlib (optional extra: ``pip install deepgrad[plot]``).

Every function returns a matplotlib ``Figure`` and, given ``path``, saves it as a PNG.
matplotlib is imported only when a plot is drawn. Figures are made without a GUI backend
(a plain ``matplotlib.figure.Figure``, rendered by Agg) unless ``matplotlib.pyplot`` is
already imported, in which case they are pyplot figures, so ``plt.show()`` and notebooks
display them as usual. This also means plotting works on machines without a display.

- ``plot_history``: learning curves (training and validation loss and metrics per epoch, the
  per-step loss faintly behind, the best validation epoch marked, the learning rate if it moved);
- ``plot_lr_finder``: the learning-rate range test curve with the suggested rate marked;
- ``plot_activation_histograms``: per-layer activation histograms recorded by a ``Monitor``,
  first and last recorded step overlaid;
- ``plot_monitor``: per-layer statistics of a ``Monitor`` over the steps;
- ``compare_runs``: several runs overlaid, one curve per run, for comparisons.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import numpy as np

_SKIP = ("epoch", "lr", "time")


def _figure(rows: int, cols: int, width: float, height: float):
    """(figure, flat list of axes); a pyplot figure only if pyplot is already in use."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "deepgrad.train.plots needs matplotlib: pip install 'deepgrad[plot]'."
        ) from exc
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(width, height))
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(width, height))
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def _finish(fig, axes: list, used: int, path, title: str | None):
    for ax in axes[used:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.set_layout_engine(
        "constrained"
    )  # unlike tight_layout, it keeps a figure title above the panels
    if path is not None:
        fig.savefig(os.fspath(path), dpi=100)
    return fig


def _grid(count: int, max_cols: int = 3) -> tuple[int, int]:
    cols = min(max_cols, max(1, count))
    return math.ceil(count / cols), cols


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _scalar_keys(history) -> list[str]:
    """Training keys with a number in some epoch (loss first), without val_ twins and bookkeeping."""
    keys = [
        k
        for k in history.keys
        if k not in _SKIP
        and not k.startswith("val_")
        and any(_is_number(r.get(k)) for r in history.epochs)
    ]
    val_only = [
        k[4:]
        for k in history.keys
        if k.startswith("val_")
        and k[4:] not in keys
        and any(_is_number(r.get(k)) for r in history.epochs)
    ]
    keys += val_only
    return sorted(keys, key=lambda k: (k != "loss", keys.index(k)))


def _series(history, key: str) -> tuple[np.ndarray, np.ndarray]:
    epochs, values = [], []
    for record in history.epochs:
        value = record.get(key)
        if _is_number(value) and np.isfinite(value):  # a diverged run: NaN/inf left out
            epochs.append(record["epoch"])
            values.append(float(value))
    return np.asarray(epochs, dtype=np.float64), np.asarray(values, dtype=np.float64)


def _step_positions(history) -> np.ndarray:
    """Each step's position on the epoch axis: step i of n in epoch e sits at e - 1 + (i + 1) / n."""
    epochs = history.step_column("epoch")
    positions = np.empty_like(epochs)
    for epoch in np.unique(epochs):
        where = np.flatnonzero(epochs == epoch)
        positions[where] = epoch - 1 + (np.arange(where.size) + 1) / where.size
    return positions


def _log_if_wide(ax, *arrays) -> None:
    values = (
        np.concatenate([a[np.isfinite(a)] for a in arrays if a.size]) if arrays else np.array([])
    )
    values = values[values > 0] if values.size else values
    if values.size and values.max() / values.min() > 100:
        ax.set_yscale("log")


def plot_history(
    history, keys: list[str] | None = None, steps: bool = True, path=None, title: str | None = None
):
    """Learning curves: one panel per quantity, training solid, validation dashed, per epoch.

    Args:
        history: a ``History`` from ``Trainer.fit``.
        keys: the quantities to draw ("loss", "accuracy", ...; their ``val_`` twins come along).
            Default: the loss and every scalar metric.
        steps: draw the per-step training loss faintly behind the loss curve. Default: True.
        path: save the figure there as PNG. Default: None.
        title: the figure's title. Default: None.

    The best validation epoch (lowest ``val_loss``) is marked; a learning-rate panel is added
    when the rate changed during the run. NaN and infinite values (a diverged run) are left out.
    """
    if not history.epochs:
        raise ValueError("plot_history: the history has no epochs yet; train first.")
    keys = _scalar_keys(history) if keys is None else list(keys)
    unknown = [k for k in keys if k not in history.keys and "val_" + k not in history.keys]
    if unknown:
        raise ValueError(
            f"plot_history: unknown keys {unknown}; available: {', '.join(_scalar_keys(history))}"
        )
    lrs = history.step_column("lr")
    show_lr = lrs.size > 1 and np.ptp(lrs) > 0
    panels = len(keys) + int(show_lr)
    rows, cols = _grid(panels)
    fig, axes = _figure(rows, cols, 4.6 * cols, 3.4 * rows)
    for ax, key in zip(axes, keys):
        train_x, train_y = _series(history, key)
        val_x, val_y = _series(history, "val_" + key)
        step_loss = history.step_column("loss")
        finite = np.isfinite(step_loss)
        if key == "loss" and steps and finite.any():
            ax.plot(
                _step_positions(history)[finite],
                step_loss[finite],
                color="C0",
                alpha=0.25,
                linewidth=0.8,
                label="training (per step)",
            )
        if train_y.size:
            ax.plot(train_x, train_y, "o-", color="C0", markersize=3, label="training")
        if val_y.size:
            ax.plot(val_x, val_y, "s--", color="C1", markersize=3, label="validation")
        if key == "loss" and val_y.size and np.isfinite(val_y).any():
            best = int(np.nanargmin(val_y))
            ax.plot(
                val_x[best],
                val_y[best],
                "*",
                color="C3",
                markersize=12,
                label=f"best (epoch {int(val_x[best])})",
            )
        if key == "loss":
            _log_if_wide(ax, train_y, val_y)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_title(key)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if show_lr:
        ax = axes[len(keys)]
        ax.plot(_step_positions(history), lrs, color="C2")
        ax.set_xlabel("epoch")
        ax.set_ylabel("learning rate")
        ax.set_title("learning rate")
        ax.grid(True, alpha=0.3)
    return _finish(fig, axes, panels, path, title)


def plot_lr_finder(result, path=None, title: str | None = None):
    """The learning-rate range test (``deepgrad.optim.find_lr``): loss against learning rate
    (log scale), the batch losses faintly, the suggested rate marked (drawn by ``result.plot``)."""
    fig, axes = _figure(1, 1, 6.0, 4.0)
    ax = result.plot(ax=axes[0])
    ax.grid(True, alpha=0.3)
    if result.suggestion is not None:
        ax.axvline(result.suggestion, color="C3", linestyle=":", linewidth=1)
    smoothed = np.asarray(result.losses, dtype=np.float64)
    smoothed = smoothed[np.isfinite(smoothed)]
    raw = np.asarray(result.raw_losses, dtype=np.float64)
    raw = raw[np.isfinite(raw)]
    if smoothed.size:
        # the blow-up at the end would squash the interesting part: show up to a little above the start
        low, start = (
            float(min(smoothed.min(), raw.min() if raw.size else np.inf)),
            float(smoothed[0]),
        )
        margin = max(start - low, 1e-3 * max(abs(start), 1.0))
        ax.set_ylim(low - 0.1 * margin, start + 0.6 * margin)
    return _finish(fig, axes, 1, path, title)


def plot_activation_histograms(
    monitor,
    steps: list[int] | None = None,
    path=None,
    title: str | None = None,
    layers: list[str] | None = None,
):
    """Histograms of each watched layer's outputs, as recorded by a ``Monitor``.

    Args:
        monitor: a ``Monitor`` that has recorded at least one step.
        steps: the recorded steps to overlay. Default: the first and the last recorded step.
        path: save the figure there as PNG. Default: None.
        layers: the watched layers to draw (names as in ``monitor.layers``). Default: all of them.

    Healthy hidden layers show a spread of values; a spike at 0 is dead ReLUs, spikes at the
    ends of (0, 1) or (-1, 1) are saturated sigmoid/tanh units.
    """
    if not monitor.histograms:
        raise ValueError(
            "plot_activation_histograms: the monitor has no histograms; train with it first."
        )
    recorded = sorted({h["step"] for h in monitor.histograms})
    steps = [recorded[0], recorded[-1]] if steps is None else list(steps)
    missing = [s for s in steps if s not in recorded]
    if missing:
        raise ValueError(
            f"plot_activation_histograms: steps {missing} were not recorded; recorded: {recorded}"
        )
    steps = sorted(set(steps))
    from deepgrad.train.monitor import kind_label

    kinds = {r["layer"]: kind_label(r["kind"]) for r in monitor.records}
    recorded_layers = [
        name for name in monitor.layers if any(h["layer"] == name for h in monitor.histograms)
    ]
    if layers is None:
        layers = recorded_layers
    else:
        unknown = [name for name in layers if name not in recorded_layers]
        if unknown:
            raise ValueError(
                f"plot_activation_histograms: layers {unknown} have no histograms; recorded: {recorded_layers}"
            )
    rows, cols = _grid(len(layers), 4)
    fig, axes = _figure(rows, cols, 3.6 * cols, 2.8 * rows)
    by_key = {(h["layer"], h["step"]): h for h in monitor.histograms}
    for ax, layer in zip(axes, layers):
        for i, step in enumerate(steps):
            h = by_key.get((layer, step))
            if h is None:
                continue
            counts, edges = (
                np.asarray(h["counts"], dtype=np.float64),
                np.asarray(h["edges"], dtype=np.float64),
            )
            # scaled to a peak of 1: a narrow histogram (at initialization) and a wide one (after
            # training) stay both visible when overlaid, whatever their bins
            height = counts / max(counts.max(), 1.0)
            ax.stairs(
                height,
                edges,
                fill=i == 0,
                alpha=0.35 if i == 0 else 1.0,
                color=f"C{i}",
                label=f"step {step}",
            )
        ax.set_title(f"layer '{layer}' ({kinds.get(layer, '?')})", fontsize=9)
        ax.set_xlabel("activation")
        ax.set_ylabel("frequency (peak = 1)")
        ax.legend(fontsize=7)
    return _finish(fig, axes, len(layers), path, title)


MONITOR_KEYS = ("act_std", "dead_frac", "saturated_frac", "corr", "grad_norm", "update_ratio")


def plot_monitor(
    monitor, keys: tuple[str, ...] = MONITOR_KEYS, path=None, title: str | None = None
):
    """Each monitored statistic against the step, one line per layer that has it."""
    from deepgrad.train.monitor import KEYS

    bad = [k for k in keys if k not in KEYS[4:]]
    if bad:
        raise ValueError(f"plot_monitor: unknown statistics {bad}; allowed: {', '.join(KEYS[4:])}")
    if not monitor.records:
        raise ValueError("plot_monitor: the monitor has no records; train with it first.")
    keys = [
        k for k in keys if np.isfinite(monitor.column(k)).any()
    ]  # e.g. no saturation without sigmoid/tanh
    if not keys:
        raise ValueError(
            "plot_monitor: none of the requested statistics has a value in the records."
        )
    rows, cols = _grid(len(keys))
    fig, axes = _figure(rows, cols, 4.6 * cols, 3.2 * rows)
    for ax, key in zip(axes, keys):
        for i, layer in enumerate(monitor.layers):
            values = monitor.column(key, layer)
            if values.size and np.isfinite(values).any():
                ax.plot(monitor.column("step", layer), values, color=f"C{i % 10}", label=layer)
        if key in ("grad_norm", "update_ratio"):
            positive = np.concatenate([monitor.column(key, l) for l in monitor.layers])
            if (positive[np.isfinite(positive)] > 0).any():
                ax.set_yscale("log")
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize=7, title="layer", title_fontsize=7)
    return _finish(fig, axes, len(keys), path, title)


def compare_runs(
    runs: dict[str, Any],
    keys: tuple[str, ...] = ("loss", "val_loss"),
    path=None,
    title: str | None = None,
):
    """Several runs overlaid: one panel per epoch key, one colour per run.

    Args:
        runs: ``{"name": history}``, e.g. ``{"zeros": h1, "xavier": h2, "kaiming": h3}``.
        keys: the epoch keys to compare. Default: ("loss", "val_loss").
        path: save the figure there as PNG. Default: None.
    """
    if not runs:
        raise ValueError("compare_runs: give at least one run as {'name': history}")
    for key in keys:
        if not any(key in h.keys for h in runs.values()):
            raise ValueError(f"compare_runs: no run has the key {key!r}")
    rows, cols = _grid(len(keys))
    fig, axes = _figure(rows, cols, 4.8 * cols, 3.4 * rows)
    for ax, key in zip(axes, keys):
        wide = []
        for i, (name, history) in enumerate(runs.items()):
            x, y = _series(history, key)
            if y.size:
                ax.plot(x, y, "o-", markersize=3, color=f"C{i % 10}", label=name)
                wide.append(y)
        if "loss" in key:
            _log_if_wide(ax, *wide)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return _finish(fig, axes, len(keys), path, title)
