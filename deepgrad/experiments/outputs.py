"""Pictures a run leaves behind besides its learning curves: image grids and decision boundaries.

matplotlib is optional (``pip install 'deepgrad[plot]'``): ``have_matplotlib()`` says whether the
pictures can be drawn; every function here raises ImportError without it. Figures are drawn
without a GUI (a plain ``matplotlib.figure.Figure``), so they work on machines with no display.
"""

from __future__ import annotations

import importlib.util
import math
import os

import numpy as np

from deepgrad.autograd import Tensor, no_grad
from deepgrad.ops.creation import tensor

PLOT_HINT = "matplotlib is not installed (pip install 'deepgrad[plot]')"


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _host(images) -> np.ndarray:
    return images.numpy() if isinstance(images, Tensor) else np.asarray(images)


def save_image_grid(
    images, path: str | os.PathLike, title: str | None = None, rows: list[str] | None = None
) -> None:
    """Save grayscale images (N, H, W), (N, 1, H, W) or flat (N, 784) in [0, 1] as one PNG grid.

    Args:
        images: the images (a Tensor or an array).
        path: the PNG file.
        title: the figure's title. Default: None.
        rows: labels of the rows when the grid is read row by row
            (e.g. ["input", "reconstruction"]);
            the grid then has ``len(rows)`` rows. Default: a square-ish grid.
    """
    array = _host(images).astype(np.float32)
    if array.ndim == 2:
        side = round(math.sqrt(array.shape[1]))
        array = array.reshape(-1, side, side)
    elif array.ndim == 4:
        array = array[:, 0]
    n = array.shape[0]
    n_rows = len(rows) if rows else math.ceil(math.sqrt(n))
    n_cols = math.ceil(n / n_rows)
    fig = _figure(1.0 * n_cols + (0.8 if rows else 0), 1.0 * n_rows + (0.4 if title else 0))
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for index, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if index < n:
            ax.imshow(array[index], cmap="gray", vmin=0.0, vmax=1.0)
        else:
            ax.set_visible(False)
    if rows:
        for label, ax in zip(rows, axes[:, 0]):
            ax.set_ylabel(label, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=80)


def save_decision_boundary(
    model, x: np.ndarray, y: np.ndarray, path: str | os.PathLike, title: str | None = None
) -> None:
    """Save a 2-D classifier's decision regions with the points (x (N, 2), y (N,)) as a PNG."""
    x = np.asarray(x, dtype=np.float32)
    low, high = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(low[0], high[0], 200), np.linspace(low[1], high[1], 200))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            device = next(iter(model.parameters())).device
            scores = model(tensor(grid, device=device)).numpy()
    finally:
        model.train(was_training)
    regions = scores.argmax(axis=1).reshape(gx.shape)
    fig = _figure(5.0, 4.2)
    ax = fig.subplots()
    ax.contourf(
        gx, gy, regions, alpha=0.3, cmap="coolwarm", levels=np.arange(scores.shape[1] + 1) - 0.5
    )
    ax.scatter(
        x[:, 0], x[:, 1], c=np.asarray(y), cmap="coolwarm", s=8, edgecolors="k", linewidths=0.2
    )
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100)


__all__ = ["PLOT_HINT", "have_matplotlib", "save_decision_boundary", "save_image_grid"]
