"""Plots: the drawn data is the recorded data; PNGs are written; bad arguments are refused."""

from __future__ import annotations

import numpy as np
import pytest
from train_helpers import loader, mlp, moons

import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.optim import SGD, find_lr
from deepgrad.optim.lr_scheduler import StepLR
from deepgrad.train import LRSchedulerCallback, Trainer, plots
from deepgrad.train.history import History
from deepgrad.train.monitor import Monitor

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run():
    model = mlp(nn.Tanh, width=16)
    opt = SGD(model.parameters(), lr=0.1)
    monitor = Monitor(every=4)
    trainer = Trainer(
        model,
        F.cross_entropy,
        opt,
        metrics=["accuracy"],
        progress=False,
        callbacks=[monitor, LRSchedulerCallback(StepLR(opt, step_size=2, gamma=0.5))],
    )
    history = trainer.fit(
        loader(*moons(128, 0.2, 0)), loader(*moons(64, 0.2, 1), batch_size=64), epochs=4
    )
    return history, monitor


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_plot_history(run, tmp_path):
    history, _ = run
    fig = plots.plot_history(history, path=tmp_path / "h.png", title="moons")
    assert (tmp_path / "h.png").read_bytes()[:8] == PNG
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy", "learning rate"]
    loss = lines_by_label(axes[0])
    np.testing.assert_allclose(loss["training"].get_ydata(), history["loss"])
    np.testing.assert_allclose(loss["validation"].get_ydata(), history["val_loss"])
    np.testing.assert_allclose(loss["training (per step)"].get_ydata(), history.step_column("loss"))
    best = int(np.argmin(history["val_loss"])) + 1
    assert f"best (epoch {best})" in loss
    np.testing.assert_allclose(
        lines_by_label(axes[1])["validation"].get_ydata(), history["val_accuracy"]
    )
    # the step positions run through each epoch: 4 steps in epoch 1 at 0.25 .. 1.0
    np.testing.assert_allclose(loss["training (per step)"].get_xdata()[:4], [0.25, 0.5, 0.75, 1.0])
    with pytest.raises(ValueError, match="unknown keys"):
        plots.plot_history(history, keys=["f1"])
    with pytest.raises(ValueError, match="no epochs"):
        plots.plot_history(History())


def test_activation_histograms_and_monitor_plot(run, tmp_path):
    _, monitor = run
    fig = plots.plot_activation_histograms(monitor, path=tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == [
        "layer '0' (Linear)",
        "layer '1' (tanh)",
        "layer '2' (Linear)",
        "layer '3' (tanh)",
        "layer '4' (Linear)",
    ]
    with pytest.raises(ValueError, match="were not recorded"):
        plots.plot_activation_histograms(monitor, steps=[2])
    fig = plots.plot_monitor(monitor, path=tmp_path / "m.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == [
        "act_std",
        "saturated_frac",
        "corr",
        "grad_norm",
        "update_ratio",
    ]  # no dead_frac: no ReLU
    act_std = lines_by_label(fig.axes[0])
    np.testing.assert_allclose(act_std["1"].get_ydata(), monitor.column("act_std", "1"))
    with pytest.raises(ValueError, match="unknown statistics"):
        plots.plot_monitor(monitor, keys=("dead",))


def test_compare_runs(run, tmp_path):
    history, _ = run
    other = History()
    for epoch, loss in enumerate([0.9, 0.5, 0.4], start=1):
        other.add_epoch({"epoch": epoch, "loss": loss, "val_loss": loss + 0.1})
    fig = plots.compare_runs({"tanh": history, "other": other}, path=tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG
    val = lines_by_label(fig.axes[1])
    np.testing.assert_allclose(val["other"].get_ydata(), [1.0, 0.6, 0.5])
    np.testing.assert_allclose(val["tanh"].get_ydata(), history["val_loss"])
    with pytest.raises(ValueError, match="no run has the key"):
        plots.compare_runs({"a": other}, keys=("accuracy",))


def test_lr_finder_plot(tmp_path):
    model = mlp(width=8)
    result = find_lr(
        model,
        F.cross_entropy,
        SGD(model.parameters(), lr=1e-3),
        loader(*moons(256, 0.2, 0)),
        start_lr=1e-4,
        end_lr=10.0,
        num_steps=40,
    )
    fig = plots.plot_lr_finder(result, path=tmp_path / "lr.png")
    assert (tmp_path / "lr.png").read_bytes()[:8] == PNG
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    if result.suggestion is not None:
        marks = [line for line in ax.get_lines() if line.get_label().startswith("suggestion")]
        assert marks and marks[0].get_xdata()[0] == result.suggestion


def test_activation_histograms_of_chosen_layers_keep_the_title_above_the_panels(run):
    _, monitor = run
    fig = plots.plot_activation_histograms(monitor, layers=["1", "3"], title="hidden layers")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["layer '1' (tanh)", "layer '3' (tanh)"]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title_bottom = fig._suptitle.get_window_extent(renderer).y0
    assert all(ax.get_tightbbox(renderer).y1 <= title_bottom + 1 for ax in visible)
    with pytest.raises(ValueError, match=r"layers \['9'\] have no histograms"):
        plots.plot_activation_histograms(monitor, layers=["9"])
