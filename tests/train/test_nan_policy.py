"""nan_policy: a non-finite loss raises, skips its step or stops the run; a diverging run keeps
its records, and no logger or plot crashes on NaN or inf."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from train_helpers import loader, mlp, moons, weights

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.optim import SGD
from deepgrad.train import Callback, CSVLogger, JSONLogger, Monitor, Trainer, Updater
from deepgrad.train.guards import NonFiniteLossError


def data_with_nan(batch: int):
    """64 samples in batches of 16; the batch number ``batch`` holds a NaN input."""
    x, y = moons(64, 0.1, 0)
    x[batch * 16] = np.nan
    return loader(x, y, batch_size=16, shuffle=False)


def trainer(policy, callbacks=()):
    dg.manual_seed(0)
    model = mlp(width=8, depth=1)
    return Trainer(
        model,
        F.cross_entropy,
        SGD(model.parameters(), lr=0.1),
        metrics=["accuracy"],
        callbacks=list(callbacks),
        progress=False,
        nan_policy=policy,
    )


def test_raise_names_the_step_epoch_and_value():
    t = trainer("raise")
    before = weights(t.model)
    with pytest.raises(NonFiniteLossError, match=r"the loss is nan at step 3 \(epoch 1\)"):
        t.fit(data_with_nan(2), epochs=1)
    assert isinstance(NonFiniteLossError("x"), FloatingPointError)
    assert t.global_step == 2  # the failing step is in the history (for the Doctor), not applied
    assert len(t.history.steps) == 3 and np.isnan(t.history.step_column("loss")[2])
    assert all(np.isfinite(w).all() for w in weights(t.model).values())
    assert any(not np.array_equal(before[k], v) for k, v in weights(t.model).items())


def test_skip_step_drops_the_update_and_counts_it():
    t = trainer("skip_step")
    history = t.fit(data_with_nan(1), epochs=2)
    assert t.skipped_steps == 2 and [r["skipped_steps"] for r in history.epochs] == [1, 1]
    assert all(np.isfinite(w).all() for w in weights(t.model).values())
    losses = history.step_column("loss")
    assert np.isnan(losses[[1, 5]]).all() and np.isfinite(np.delete(losses, [1, 5])).all()
    assert math.isfinite(history.epochs[0]["loss"])  # the mean of the applied steps
    assert history.epochs[0]["loss"] == pytest.approx(np.mean(losses[[0, 2, 3]]))

    # the skipped step changed nothing: the same run without that batch reaches the same weights
    reference = trainer("raise")
    x, y = moons(64, 0.1, 0)
    keep = np.r_[0:16, 32:64]
    batches = [b for i, b in enumerate(loader(x, y, batch_size=16, shuffle=False)) if i != 1]
    reference.fit(batches, epochs=2)
    for key, value in weights(reference.model).items():
        np.testing.assert_allclose(weights(t.model)[key], value, rtol=1e-6)
    assert keep.size == 48


def test_stop_ends_the_run_with_the_reason_and_records(tmp_path):
    csv_logger, json_logger = CSVLogger(tmp_path / "m.csv"), JSONLogger(tmp_path / "r.jsonl")
    t = trainer("stop", [csv_logger, json_logger])
    history = t.fit(data_with_nan(2), epochs=3)
    assert "non-finite loss (nan) at step 3 (epoch 1)" in history.stop_reason
    assert len(history.epochs) == 1 and t.global_step == 3
    assert all(np.isfinite(w).all() for w in weights(t.model).values())
    with open(tmp_path / "m.csv", newline="") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["1"]
    end = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[-1])
    assert end["event"] == "fit_end" and end["status"] == "stopped"


class LateCheck(Updater):
    """Steps first, reports the loss after: the Trainer can only apply the policy late."""

    def update(self, trainer, batch):
        inputs, target = trainer.split_batch(batch)
        loss = trainer.loss_fn(trainer.model(*inputs), target)
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
        return {"loss": float(loss._data), "size": int(target.shape[0])}


def test_an_updater_that_does_not_check_still_gets_raise_and_a_warning_for_skip(caplog):
    dg.manual_seed(0)
    model = mlp(width=8, depth=1)
    make = lambda policy: Trainer(
        model,
        F.cross_entropy,
        SGD(model.parameters(), lr=0.1),
        progress=False,
        updater=LateCheck(),
        nan_policy=policy,
    )
    with pytest.raises(NonFiniteLossError, match="step 2"):
        make("raise").fit(data_with_nan(1), epochs=1)
    make("skip_step").fit(data_with_nan(1), epochs=1)
    assert "call trainer.check_loss(loss) before optimizer.step()" in caplog.text


def test_nan_policy_is_checked():
    with pytest.raises(ValueError, match="nan_policy must be one of"):
        trainer("ignore")


class Collect(Callback):
    def __init__(self):
        self.ends = []

    def on_fit_end(self, trainer, logs):
        self.ends.append(logs["status"])


@pytest.mark.parametrize("policy", ["raise", "stop"])
def test_a_diverging_run_leaves_its_records(tmp_path, policy):
    """lr=10 on an unnormalised regression: the loss overflows to inf within a few steps."""
    pytest.importorskip("tensorboardX")
    from deepgrad.train import TensorBoardLogger

    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 4)) * 50).astype(np.float32)
    y = (x.sum(1, keepdims=True) * 3).astype(np.float32)
    dg.manual_seed(0)
    model = mlp(width=16, depth=2, inputs=4, outputs=1)
    collect = Collect()
    callbacks = [
        CSVLogger(tmp_path / "metrics.csv"),
        JSONLogger(tmp_path / "run.jsonl", steps=True),
        TensorBoardLogger(tmp_path / "tb", step_every=1),
        Monitor(every=1),
        collect,
    ]
    t = Trainer(
        model,
        F.mse_loss,
        SGD(model.parameters(), lr=10.0),
        callbacks=callbacks,
        progress=False,
        nan_policy=policy,
    )
    if policy == "raise":
        with pytest.raises(NonFiniteLossError):
            t.fit(loader(x, y, batch_size=8), epochs=20)
    else:
        t.fit(loader(x, y, batch_size=8), epochs=20)
    assert collect.ends == ["interrupted" if policy == "raise" else "stopped"]
    losses = t.history.step_column("loss")
    assert losses.size >= 2 and not np.isfinite(losses[-1]) and np.isfinite(losses[0])
    steps = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    assert steps[-1]["event"] == "fit_end"
    if policy == "stop":
        assert t.history.epochs and (tmp_path / "metrics.csv").read_text().count("\n") == 1 + len(
            t.history.epochs
        )
    assert list((tmp_path / "tb").iterdir())  # event files written, the histograms did not crash


def test_tensorboard_skips_histograms_without_finite_values(tmp_path):
    pytest.importorskip("tensorboardX")
    from deepgrad.train import TensorBoardLogger

    logger = TensorBoardLogger(tmp_path)

    class Writer:
        def __init__(self):
            self.histograms = {}

        def add_histogram(self, tag, values, step):
            assert np.isfinite(values).all() and values.size
            self.histograms[tag] = values

    logger.writer = Writer()
    logger._histogram("all_nan", np.full(5, np.nan, np.float32), 1)
    logger._histogram("some_inf", np.array([1.0, np.inf, -np.inf, 2.0, np.nan]), 1)
    assert list(logger.writer.histograms) == ["some_inf"]
    np.testing.assert_array_equal(logger.writer.histograms["some_inf"], [1.0, 2.0])


def test_plot_history_skips_non_finite_points(tmp_path):
    pytest.importorskip("matplotlib")
    from deepgrad.train import History
    from deepgrad.train.plots import plot_history

    h = History()
    for step, loss in enumerate([2.0, 5.0, 1e30, math.inf, math.nan], start=1):
        h.add_step(step, 1 if step < 3 else 2, loss, 0.1)
    h.add_epoch({"epoch": 1, "loss": 3.5, "val_loss": math.inf})
    h.add_epoch({"epoch": 2, "loss": math.nan, "val_loss": math.nan})
    fig = plot_history(h, path=tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0
    line = fig.axes[0].get_lines()[0]
    assert np.isfinite(line.get_ydata()).all()
