"""The Trainer's step hook (``Updater``) and its single gradient-clipping path (``on_backward_end``)."""

from __future__ import annotations

import numpy as np
import pytest
from train_helpers import assert_same_weights, loader, mlp, weights

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.optim import SGD
from deepgrad.train import Callback, GradientClipping, StandardUpdater, Trainer, Updater


class DoubledLoss(StandardUpdater):
    """The standard step, recording each batch it gets and logging 2 * loss as an extra entry."""

    def __init__(self):
        self.batches = []

    def update(self, trainer, batch):
        self.batches.append(batch)
        logs = super().update(trainer, batch)
        logs["double_loss"] = 2.0 * logs["loss"]
        return logs


class BatchLogs(Callback):
    def __init__(self):
        self.logs = []

    def on_batch_end(self, trainer, logs):
        self.logs.append(dict(logs))


def _batches(x, y, sizes):
    out, start = [], 0
    for size in sizes:
        out.append((dg.tensor(x[start : start + size]), dg.tensor(y[start : start + size])))
        start += size
    return out


def test_custom_updater_gets_every_batch_and_its_logs_reach_callbacks_and_history(moons_data):
    (x, y), (xv, yv) = moons_data
    batches = _batches(x, y, [16, 16, 8])  # a short last batch: epoch means are weighted by size
    dg.manual_seed(0)
    model = mlp()
    updater, recorder = DoubledLoss(), BatchLogs()
    trainer = Trainer(
        model,
        F.cross_entropy,
        SGD(model.parameters(), lr=0.1),
        metrics=["accuracy"],
        callbacks=[recorder],
        updater=updater,
        progress=False,
    )
    history = trainer.fit(batches, loader(xv, yv, 64, shuffle=False), epochs=2)

    assert len(updater.batches) == 6
    assert all(got is sent for got, sent in zip(updater.batches, batches + batches))
    assert [list(logs) for logs in recorder.logs[:1]] == [
        ["epoch", "batch", "step", "loss", "size", "double_loss", "lr"]
    ]
    assert [logs["size"] for logs in recorder.logs] == [16, 16, 8] * 2
    assert all(logs["double_loss"] == 2 * logs["loss"] for logs in recorder.logs)

    record = history.epochs[-1]
    assert list(record) == [
        "epoch",
        "loss",
        "double_loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "lr",
        "time",
    ]
    last = recorder.logs[3:]
    expected = sum(logs["loss"] * logs["size"] for logs in last) / 40
    assert record["loss"] == pytest.approx(expected, rel=1e-12)
    assert record["double_loss"] == 2 * record["loss"]
    np.testing.assert_array_equal(
        history.step_column("loss"), [logs["loss"] for logs in recorder.logs]
    )


def test_default_updater_is_the_standard_step(moons_data):
    (x, y), _ = moons_data

    def run(**kwargs):
        dg.manual_seed(1)
        model = mlp()
        opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
        Trainer(model, F.cross_entropy, opt, progress=False, **kwargs).fit(
            loader(x, y, generator=dg.Generator().manual_seed(0)), epochs=2
        )
        return weights(model)

    assert isinstance(
        Trainer(mlp(), F.cross_entropy, SGD(mlp().parameters(), lr=0.1)).updater, StandardUpdater
    )
    assert_same_weights(run(), run(updater=StandardUpdater()))


class CountingUpdater(StandardUpdater):
    """A standard step with state of its own: how many batches it trained on."""

    def __init__(self):
        self.updates = 0

    def update(self, trainer, batch):
        self.updates += 1
        return super().update(trainer, batch)

    def state_dict(self):
        return {"updates": self.updates}

    def load_state_dict(self, state):
        self.updates = int(state["updates"])


def test_updater_state_is_checkpointed_and_resumed(tmp_path, moons_data):
    (x, y), _ = moons_data

    def build(seed):
        dg.manual_seed(seed)
        model = mlp()
        updater = CountingUpdater()
        trainer = Trainer(
            model, F.cross_entropy, SGD(model.parameters(), lr=0.1), updater=updater, progress=False
        )
        return trainer, model, updater, loader(x[:128], y[:128], batch_size=32)

    trainer, model, updater, train = build(0)
    trainer.fit(train, epochs=3)
    expected = weights(model)

    trainer, _, updater, train = build(0)
    trainer.fit(train, epochs=2)
    trainer.save_checkpoint(tmp_path / "ckpt.safetensors")
    trainer, model, updater, train = build(5)
    trainer.fit(train, epochs=3, resume_from=tmp_path / "ckpt.safetensors")
    assert updater.updates == 3 * 4
    assert_same_weights(weights(model), expected)


class Returns(Updater):
    def __init__(self, logs):
        self.logs = logs

    def update(self, trainer, batch):
        return self.logs


def test_bad_updaters_are_refused():
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    batches = [(dg.zeros(4, 2), dg.zeros(4, dtype=dg.int64))]
    with pytest.raises(TypeError, match="updater must be an Updater"):
        Trainer(model, F.cross_entropy, opt, updater=lambda trainer, batch: {"loss": 0.0})
    with pytest.raises(TypeError, match="abstract"):
        Updater()

    def fit(logs, metrics=()):
        Trainer(
            model, F.cross_entropy, opt, metrics=metrics, updater=Returns(logs), progress=False
        ).fit(batches)

    with pytest.raises(TypeError, match=r"a 'loss' \(got \['size'\]\)"):
        fit({"size": 4})
    with pytest.raises(TypeError, match=r"a 'loss' \(got float\)"):
        fit(0.5)
    with pytest.raises(ValueError, match="the updater logged 'lr'"):
        fit({"loss": 0.5, "size": 4, "lr": 0.1})
    with pytest.raises(ValueError, match="the updater logged 'val_accuracy'"):
        fit({"loss": 0.5, "size": 4, "val_accuracy": 0.1})
    with pytest.raises(ValueError, match=r"a metric both log \['accuracy'\]"):
        fit({"loss": 0.5, "size": 4, "accuracy": 1.0}, metrics=["accuracy"])


def test_size_defaults_to_one_per_step():
    model = mlp()
    steps = iter([1.0, 3.0])

    class Fixed(Updater):
        def update(self, trainer, batch):
            return {"loss": next(steps), "extra": 10.0}

    trainer = Trainer(
        model, F.cross_entropy, SGD(model.parameters(), lr=0.1), updater=Fixed(), progress=False
    )
    history = trainer.fit([None, None])  # the updater decides what a batch is
    assert history.epochs[0]["loss"] == 2.0 and history.epochs[0]["extra"] == 10.0
    assert trainer.global_step == 2


def _clipped_run(moons_data, **kwargs):
    (x, y), _ = moons_data
    dg.manual_seed(3)
    model = mlp()
    opt = SGD(model.parameters(), lr=0.2, momentum=0.9)
    trainer = Trainer(model, F.cross_entropy, opt, progress=False, **kwargs)
    trainer.fit(loader(x, y, generator=dg.Generator().manual_seed(4)), epochs=2)
    return trainer, weights(model)


def test_grad_clip_argument_and_callback_are_one_path_with_identical_weights(moons_data):
    trainer, by_argument = _clipped_run(moons_data, grad_clip=0.05)
    assert (
        isinstance(trainer.callbacks[0], GradientClipping) and trainer.callbacks[0].max_norm == 0.05
    )
    assert trainer.callbacks[0].last_norm > 0.05  # it did clip
    _, by_callback = _clipped_run(moons_data, callbacks=[GradientClipping(0.05)])
    assert_same_weights(by_argument, by_callback)
    _, unclipped = _clipped_run(moons_data)
    assert any(not np.array_equal(unclipped[k], by_argument[k]) for k in unclipped)


def test_any_callback_can_change_gradients_between_backward_and_step(moons_data):
    class ZeroGradients(Callback):
        def on_backward_end(self, trainer, logs):
            self.last = dict(logs)
            for p in trainer.model.parameters():
                p.grad.zero_()

    (x, y), _ = moons_data
    dg.manual_seed(0)
    model = mlp()
    before = weights(model)
    zero = ZeroGradients()
    trainer = Trainer(
        model, F.cross_entropy, SGD(model.parameters(), lr=0.5), callbacks=[zero], progress=False
    )
    trainer.fit(loader(x[:64], y[:64]), epochs=2)
    assert_same_weights(weights(model), before)  # every step saw zero gradients
    assert zero.last == {"epoch": 2, "step": trainer.global_step}
