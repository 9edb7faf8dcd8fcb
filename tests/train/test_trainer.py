"""The Trainer on real (small) models: results, step order, hooks, stopping, errors."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from train_helpers import assert_same_weights, loader, mlp, weights

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.data import make_moons
from deepgrad.optim import SGD, Adam
from deepgrad.optim.lr_scheduler import ReduceLROnPlateau, StepLR
from deepgrad.train import Callback, EarlyStopping, GradientClipping, History, ProgressBar, Trainer


def test_fits_two_moons_to_98_percent():
    dg.manual_seed(0)
    x, y = make_moons(512, noise=0.1, generator=dg.Generator().manual_seed(0))
    xv, yv = make_moons(256, noise=0.1, generator=dg.Generator().manual_seed(1))
    model = mlp(width=32)
    trainer = Trainer(
        model,
        F.cross_entropy,
        Adam(model.parameters(), lr=0.01),
        metrics=["accuracy"],
        progress=False,
    )
    started = time.perf_counter()
    history = trainer.fit(loader(x, y), loader(xv, yv, batch_size=256, shuffle=False), epochs=15)
    elapsed = time.perf_counter() - started
    assert history.epochs[-1]["val_accuracy"] >= 0.98
    assert trainer.evaluate(loader(xv, yv, shuffle=False))["accuracy"] >= 0.98
    print(f"two moons: {elapsed:.2f}s")  # shown with -s; the test never asserts timings


def test_same_weights_as_a_hand_written_loop(moons_data):
    (x, y), _ = moons_data

    def hand_written():
        dg.manual_seed(1)
        model = mlp()
        opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = StepLR(opt, step_size=7, gamma=0.5)
        for _ in range(3):
            for xb, yb in loader(x, y):
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 0.5)
                opt.step()
                sched.step()
        return weights(model)

    dg.manual_seed(1)
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = Trainer(
        model,
        F.cross_entropy,
        opt,
        scheduler=StepLR(opt, step_size=7, gamma=0.5),
        grad_clip=0.5,
        metrics=["accuracy", "f1"],
        progress=False,
    )
    trainer.fit(loader(x, y), epochs=3)
    assert_same_weights(weights(model), hand_written())


def test_step_order(moons_data):
    (x, y), _ = moons_data
    calls = []
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    sched = StepLR(opt, step_size=1)

    def spy(obj, name):
        original = getattr(obj, name)

        def wrapper(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)

        setattr(obj, name, wrapper)

    spy(opt, "zero_grad")
    spy(opt, "step")
    spy(sched, "step")
    spy(model, "forward")

    def loss_fn(output, target):
        calls.append("loss")
        loss = F.cross_entropy(output, target)
        loss.register_hook(lambda g: calls.append("backward"))
        return loss

    class Clip(GradientClipping):
        def clip(self, trainer):
            calls.append("clip")
            super().clip(trainer)

    class Batch(Callback):
        def on_batch_start(self, trainer, logs):
            calls.append("on_batch_start")

        def on_batch_end(self, trainer, logs):
            calls.append("on_batch_end")

    trainer = Trainer(
        model, loss_fn, opt, scheduler=sched, callbacks=[Clip(1.0), Batch()], progress=False
    )
    trainer.fit(loader(x[:4], y[:4], batch_size=4), epochs=1)
    assert calls == [
        "on_batch_start",
        "forward",
        "loss",
        "zero_grad",
        "backward",
        "clip",
        "step",
        "step",
        "on_batch_end",
    ]
    # the two "step"s: optimizer first, scheduler second
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def _log(self, name, logs):
        self.calls.append((name, dict(logs)))

    def on_fit_start(self, trainer, logs):
        self._log("on_fit_start", logs)

    def on_fit_end(self, trainer, logs):
        self._log("on_fit_end", logs)

    def on_epoch_start(self, trainer, logs):
        self._log("on_epoch_start", logs)

    def on_epoch_end(self, trainer, logs):
        self._log("on_epoch_end", logs)

    def on_batch_start(self, trainer, logs):
        self._log("on_batch_start", logs)

    def on_batch_end(self, trainer, logs):
        self._log("on_batch_end", logs)

    def on_eval_start(self, trainer, logs):
        self._log("on_eval_start", logs)

    def on_eval_end(self, trainer, logs):
        self._log("on_eval_end", logs)


def test_hook_order_and_logs(moons_data):
    (x, y), (xv, yv) = moons_data
    rec = Recorder()
    model = mlp()
    trainer = Trainer(
        model,
        F.cross_entropy,
        SGD(model.parameters(), lr=0.1),
        metrics=["accuracy"],
        callbacks=[rec],
        progress=False,
    )
    trainer.fit(loader(x[:8], y[:8], batch_size=4), loader(xv[:8], yv[:8], batch_size=8), epochs=2)
    names = [name for name, _ in rec.calls]
    epoch = [
        "on_epoch_start",
        "on_batch_start",
        "on_batch_end",
        "on_batch_start",
        "on_batch_end",
        "on_eval_start",
        "on_eval_end",
        "on_epoch_end",
    ]
    assert names == ["on_fit_start"] + epoch * 2 + ["on_fit_end"]
    logs = dict(rec.calls)
    assert logs["on_fit_start"] == {
        "epochs": 2,
        "start_epoch": 0,
        "start_step": 0,
        "resumed": False,
    }
    batch_end = [l for n, l in rec.calls if n == "on_batch_end"]
    assert [l["step"] for l in batch_end] == [1, 2, 3, 4]
    assert [l["epoch"] for l in batch_end] == [1, 1, 2, 2]
    assert set(batch_end[0]) == {"epoch", "batch", "step", "loss", "size", "lr"}
    epoch_end = [l for n, l in rec.calls if n == "on_epoch_end"]
    assert list(epoch_end[0]) == [
        "epoch",
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "lr",
        "time",
    ]
    assert logs["on_fit_end"] == {
        "status": "completed",
        "stop_reason": "completed 2 epochs",
        "epochs_run": 2,
    }


def test_history_records(moons_data, tmp_path):
    (x, y), (xv, yv) = moons_data
    model = mlp()
    trainer = Trainer(
        model,
        F.cross_entropy,
        SGD(model.parameters(), lr=0.1),
        metrics=["accuracy"],
        progress=False,
    )
    history = trainer.fit(
        loader(x[:64], y[:64], batch_size=16), loader(xv, yv, batch_size=64), epochs=3
    )
    assert isinstance(history, History) and history is trainer.history
    assert len(history.epochs) == 3 and len(history.steps) == 12
    assert history.steps[5] == {"step": 6, "epoch": 2, "loss": history.steps[5]["loss"], "lr": 0.1}
    # the epoch loss is the sample-weighted mean of its step losses
    assert history.epochs[0]["loss"] == pytest.approx(np.mean(history.step_column("loss")[:4]))
    best = history.best("val_loss", "min")
    assert best["val_loss"] == min(history["val_loss"])
    assert history.best("val_accuracy", "max")["val_accuracy"] == max(history["val_accuracy"])
    with pytest.raises(
        ValueError, match=r"History.best: mode must be 'min' or 'max' \(got 'lowest'\)"
    ):
        history.best("val_loss", "lowest")
    with pytest.raises(KeyError, match="available: epoch, loss, accuracy, val_loss"):
        history["val_acc"]
    history.to_csv(tmp_path / "epochs.csv")
    history.to_csv(tmp_path / "steps.csv", per="step")
    lines = (tmp_path / "epochs.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,accuracy,val_loss,val_accuracy,lr,time" and len(lines) == 4
    assert (tmp_path / "steps.csv").read_text().splitlines()[0] == "step,epoch,loss,lr"
    assert "3 epochs, 12 steps" in repr(history)


def test_evaluate_and_predict(moons_data):
    (x, y), _ = moons_data
    model = mlp()
    trainer = Trainer(
        model,
        F.cross_entropy,
        SGD(model.parameters(), lr=0.1),
        metrics=["accuracy"],
        progress=False,
    )
    model.train()
    out = trainer.predict(loader(x[:10], y[:10], batch_size=4, shuffle=False))
    assert out.shape == (10, 2) and model.training  # mode restored
    with dg.no_grad():
        expected = model(dg.tensor(x[:10]))
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)
    assert trainer.predict([dg.tensor(x[:3]), (dg.tensor(x[3:5]),)]).shape == (5, 2)
    results = trainer.evaluate(loader(x[:10], y[:10], batch_size=3, shuffle=False))
    assert results["loss"] == pytest.approx(
        float(F.cross_entropy(expected, dg.tensor(y[:10]))), rel=1e-5
    )
    assert results["accuracy"] == pytest.approx(
        float(np.mean(expected.numpy().argmax(1) == y[:10]))
    )


def test_request_stop_from_a_callback(moons_data):
    (x, y), _ = moons_data

    class StopAtStep(Callback):
        def on_batch_end(self, trainer, logs):
            if logs["step"] == 3:
                trainer.request_stop(reason="enough steps")

    model = mlp()
    out = io.StringIO()
    trainer = Trainer(
        model,
        F.cross_entropy,
        SGD(model.parameters(), lr=0.1),
        callbacks=[StopAtStep(), ProgressBar(file=out)],
    )
    history = trainer.fit(loader(x[:64], y[:64], batch_size=16), epochs=5)
    assert len(history.steps) == 3 and len(history.epochs) == 1
    assert history.stop_reason == "enough steps" and trainer.stop_requested
    assert out.getvalue().splitlines()[-1] == "training stopped: enough steps"
    with pytest.raises(ValueError, match="reason"):
        trainer.request_stop("")


def test_early_stopping_restores_best_weights_on_interrupt(moons_data):
    (x, y), (xv, yv) = moons_data
    snapshots = {}

    class Snapshot(Callback):
        def on_epoch_end(self, trainer, logs):
            snapshots[logs["epoch"]] = (logs["val_loss"], weights(trainer.model))

    class Interrupt(Callback):
        def on_batch_end(self, trainer, logs):
            if logs["epoch"] == 4 and logs["batch"] == 1:
                raise KeyboardInterrupt

    rec = Recorder()
    model = mlp()
    stopper = EarlyStopping(patience=100)
    trainer = Trainer(
        model,
        F.cross_entropy,
        SGD(model.parameters(), lr=1.0),
        callbacks=[stopper, Snapshot(), Interrupt(), rec],
        progress=False,
    )
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(loader(x, y), loader(xv, yv, batch_size=256), epochs=10)
    best_epoch = min(snapshots, key=lambda e: snapshots[e][0])
    assert stopper.best_epoch == best_epoch
    assert_same_weights(weights(model), snapshots[best_epoch][1])
    assert rec.calls[-1][0] == "on_fit_end" and rec.calls[-1][1]["status"] == "interrupted"
    assert trainer.history.stop_reason == "interrupted by KeyboardInterrupt in epoch 4"
    assert len(trainer.history.epochs) == 3


def test_early_stopping_in_a_real_run(moons_data):
    (x, y), (xv, yv) = moons_data
    model = mlp()
    stopper = EarlyStopping(monitor="val_loss", patience=2)
    trainer = Trainer(
        model, F.cross_entropy, SGD(model.parameters(), lr=2.0), callbacks=[stopper], progress=False
    )
    history = trainer.fit(loader(x, y), loader(xv, yv, batch_size=256), epochs=60)
    val = history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) == best + 1 + 2  # stopped two epochs after the best
    assert history.stop_reason.startswith("early stopping: val_loss did not improve for 2 epochs")
    assert trainer.evaluate(loader(xv, yv, batch_size=256))["loss"] == pytest.approx(
        val[best], rel=1e-6
    )


def test_bad_arguments():
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="LRSchedulerCallback"):
        Trainer(model, F.cross_entropy, opt, scheduler=ReduceLROnPlateau(opt))
    with pytest.raises(ValueError, match="same name"):
        Trainer(model, F.cross_entropy, opt, metrics=["accuracy", "accuracy"])
    with pytest.raises(ValueError, match="allowed names"):
        Trainer(model, F.cross_entropy, opt, metrics=["acc"])
    with pytest.raises(TypeError, match="Callback instances"):
        Trainer(model, F.cross_entropy, opt, callbacks=[print])
    with pytest.raises(ValueError, match="grad_clip"):
        Trainer(model, F.cross_entropy, opt, grad_clip=-1)
    trainer = Trainer(model, F.cross_entropy, opt, progress=False)
    with pytest.raises(ValueError, match="epochs must be"):
        trainer.fit([], epochs=0)
    with pytest.raises(TypeError, match="tuple"):
        trainer.fit([dg.zeros(4, 2)])
    with pytest.raises(ValueError, match="no batches"):
        trainer.fit([])
    with pytest.raises(ValueError, match="scalar"):
        Trainer(
            model, lambda o, t: F.cross_entropy(o, t, reduction="none"), opt, progress=False
        ).fit([(dg.zeros(4, 2), dg.zeros(4, dtype=dg.int64))])


def test_default_progress_bar_is_added_once():
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    assert (
        sum(isinstance(c, ProgressBar) for c in Trainer(model, F.cross_entropy, opt).callbacks) == 1
    )
    bar = ProgressBar()
    assert Trainer(model, F.cross_entropy, opt, callbacks=[bar]).callbacks == [bar]
    assert Trainer(model, F.cross_entropy, opt, progress=False).callbacks == []


def test_device_argument_moves_model_and_batches(moons_data):
    (x, y), _ = moons_data
    model = mlp()
    trainer = Trainer(
        model, F.cross_entropy, SGD(model.parameters(), lr=0.1), device="cpu", progress=False
    )
    assert str(trainer.device) == "cpu"
    trainer.fit(loader(x[:32], y[:32], batch_size=16), epochs=1)
    assert (
        trainer.predict(loader(x[:8], y[:8], batch_size=8, shuffle=False)).device == trainer.device
    )
