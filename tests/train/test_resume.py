"""Resuming is bit-exact, and checkpoint files are never partial."""

from __future__ import annotations

import csv
import json
import os
import signal

import numpy as np
import pytest
from train_helpers import assert_same_weights, loader, moons, weights

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.io import serialization
from deepgrad.optim import Adam
from deepgrad.optim.lr_scheduler import ReduceLROnPlateau, StepLR
from deepgrad.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    Trainer,
    load_checkpoint,
)
from deepgrad.train.checkpoint import latest_checkpoint
from deepgrad.train.guards import TrainingInterrupted

EPOCHS = 5


class InterruptAt(Callback):
    """Raises KeyboardInterrupt in the middle of an epoch, as Ctrl-C would."""

    def __init__(self, epoch, batch=2):
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, trainer, logs):
        if logs["epoch"] == self.epoch and logs["batch"] == self.batch:
            raise KeyboardInterrupt


def build(tmp_path, seed, loader_generator=None, extra=()):
    """A run with dropout (random per step), shuffling, Adam, a per-step and a per-epoch scheduler,
    early stopping and a last-checkpoint callback."""
    dg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 2))
    opt = Adam(model.parameters(), lr=0.01)
    plateau = ReduceLROnPlateau(
        opt, patience=1, factor=0.5, threshold=0.3
    )  # reduces often: its state matters
    callbacks = [
        LRSchedulerCallback(plateau, monitor="val_loss"),
        EarlyStopping(patience=50),
        ModelCheckpoint(tmp_path / "best.safetensors", save_last=True),
        *extra,
    ]
    trainer = Trainer(
        model,
        F.cross_entropy,
        opt,
        scheduler=StepLR(opt, step_size=5, gamma=0.9),
        metrics=["accuracy"],
        callbacks=callbacks,
        progress=False,
    )
    (x, y), (xv, yv) = moons(256, 0.2, 0), moons(128, 0.2, 1)
    train = loader(x, y, batch_size=32, generator=loader_generator)
    val = loader(xv, yv, batch_size=128, shuffle=False)
    return trainer, model, train, val


@pytest.mark.parametrize("own_generator", [False, True])
def test_resume_is_bit_exact(tmp_path, own_generator):
    gen = (lambda: dg.Generator().manual_seed(7)) if own_generator else (lambda: None)
    reference_dir, run_dir = tmp_path / "ref", tmp_path / "run"
    reference_dir.mkdir()
    run_dir.mkdir()

    trainer, model, train, val = build(reference_dir, seed=0, loader_generator=gen())
    reference = trainer.fit(train, val, epochs=EPOCHS)
    reference_stopper = trainer.callbacks[1]
    assert len(set(reference.step_column("lr"))) > 3  # both schedulers changed the rate
    expected = weights(model)  # EarlyStopping restored its best epoch: compare the last state too
    last = load_checkpoint(reference_dir / "last.safetensors")

    trainer, model, train, val = build(
        run_dir, seed=0, loader_generator=gen(), extra=[InterruptAt(epoch=3)]
    )
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(train, val, epochs=EPOCHS)
    assert load_checkpoint(run_dir / "last.safetensors")["epoch"] == 2

    # a fresh process: other initial weights and random state, the same construction
    trainer, model, train, val = build(
        run_dir, seed=123, loader_generator=gen() if own_generator else None
    )
    if own_generator:
        train.generator.manual_seed(99)
    resumed = trainer.fit(train, val, epochs=EPOCHS, resume_from=run_dir / "last.safetensors")

    assert_same_weights(weights(model), expected)
    stopper = trainer.callbacks[1]
    assert (stopper.best, stopper.best_epoch) == (
        reference_stopper.best,
        reference_stopper.best_epoch,
    )
    resumed_last = load_checkpoint(run_dir / "last.safetensors")
    for key in last["model"]:
        np.testing.assert_array_equal(
            resumed_last["model"][key].numpy(), last["model"][key].numpy()
        )
    assert resumed.epochs == [
        {**r, "time": resumed.epochs[i]["time"]} for i, r in enumerate(reference.epochs)
    ]
    np.testing.assert_array_equal(resumed.step_column("loss"), reference.step_column("loss"))
    np.testing.assert_array_equal(resumed.step_column("lr"), reference.step_column("lr"))
    assert trainer.global_step == len(reference.steps)


def test_resume_after_the_last_epoch_does_nothing(tmp_path):
    trainer, model, train, val = build(tmp_path, seed=0)
    trainer.fit(train, val, epochs=2)
    trainer.save_checkpoint(tmp_path / "end.safetensors")
    before = weights(model)
    trainer, model, train, val = build(tmp_path, seed=1)
    history = trainer.fit(train, val, epochs=2, resume_from=tmp_path / "end.safetensors")
    assert len(history.epochs) == 2 and "nothing to do" in history.stop_reason
    assert_same_weights(weights(model), before)


def test_resume_errors(tmp_path):
    trainer, model, train, _val = build(tmp_path, seed=0)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        trainer.fit(train, epochs=1, resume_from=tmp_path / "missing.safetensors")
    dg.save(model.state_dict(), tmp_path / "weights.safetensors")
    with pytest.raises(ValueError, match="not a Trainer checkpoint.*model.load_state_dict"):
        trainer.fit(train, epochs=1, resume_from=tmp_path / "weights.safetensors")


def test_checkpoint_survives_a_crash_during_write(tmp_path, monkeypatch):
    trainer, model, train, val = build(tmp_path, seed=0)
    trainer.fit(train, val, epochs=1)
    path = tmp_path / "ckpt.safetensors"
    trainer.save_checkpoint(path)
    good_bytes = path.read_bytes()
    saved_weights = weights(model)
    trainer.fit(train, val, epochs=2)  # the weights move on

    def crash_half_way(f, data):
        f.write(memoryview(data)[: len(data) // 2])
        f.flush()
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(serialization, "_write_chunks", crash_half_way)
    with pytest.raises(OSError, match="simulated"):
        trainer.save_checkpoint(path)
    monkeypatch.undo()

    assert path.read_bytes() == good_bytes
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["ckpt.safetensors", "best.safetensors", "last.safetensors", "last.latest.json"]
    )
    state = load_checkpoint(path)
    assert state["epoch"] == 1
    for key, value in saved_weights.items():
        np.testing.assert_array_equal(state["model"][key].numpy(), value)


def test_model_checkpoint_crash_keeps_the_previous_file(tmp_path, monkeypatch):
    trainer, _model, train, val = build(tmp_path, seed=0)
    trainer.fit(train, val, epochs=2)
    last = tmp_path / "last.safetensors"
    before = last.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # killed between writing the temporary file and renaming it

    monkeypatch.setattr(serialization.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(train, val, epochs=4, resume_from=tmp_path / "last.safetensors")
    monkeypatch.undo()
    assert last.read_bytes() == before  # ModelCheckpoint(save_last) writes it every epoch
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert load_checkpoint(last)["epoch"] == 2


# -- inside an epoch: exceptions, signals, every N steps ----------------------------------------
STEPS_PER_EPOCH = 8  # 256 samples, batches of 32


class StopAt(Callback):
    """Ends the run after step ``step``'s on_batch_end: by an exception, SIGINT or SIGTERM."""

    def __init__(self, step, how):
        self.step, self.how = step, how

    def on_batch_end(self, trainer, logs):
        if logs["step"] != self.step:
            return
        if self.how == "exception":
            raise RuntimeError("a logger crashed (simulated)")
        signal.raise_signal(signal.SIGINT if self.how == "sigint" else signal.SIGTERM)


class CrashInBackward(Callback):
    """Raises inside a step (between backward and the optimizer step): no boundary there."""

    def __init__(self, step):
        self.step = step

    def on_backward_end(self, trainer, logs):
        if logs["step"] == self.step:
            raise OSError("disk full (simulated)")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    trainer, model, train, val = build(folder, seed=0)
    history = trainer.fit(train, val, epochs=EPOCHS)
    return weights(model), load_checkpoint(folder / "last.safetensors"), history


def assert_same_run(trainer, model, folder, reference):
    expected, last, history = reference
    assert_same_weights(weights(model), expected)
    resumed_last = load_checkpoint(folder / "last.safetensors")
    for part in ("model", "optimizer"):
        flat_a, flat_b = _flatten(resumed_last[part]), _flatten(last[part])
        assert flat_a.keys() == flat_b.keys()
        for key in flat_a:
            assert np.array_equal(flat_a[key], flat_b[key]), (part, key)
    got = trainer.history
    assert [{**r, "time": 0} for r in got.epochs] == [{**r, "time": 0} for r in history.epochs]
    np.testing.assert_array_equal(got.step_column("step"), np.arange(1, len(history.steps) + 1))
    np.testing.assert_array_equal(got.step_column("loss"), history.step_column("loss"))
    np.testing.assert_array_equal(got.step_column("lr"), history.step_column("lr"))


def _flatten(obj, prefix=""):
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    if isinstance(obj, (list, tuple)):
        return _flatten(dict(enumerate(obj)), prefix)
    return {prefix: obj.numpy() if isinstance(obj, dg.Tensor) else np.asarray(obj)}


@pytest.mark.parametrize("how", ["exception", "sigint", "sigterm"])
@pytest.mark.parametrize("step", [1, 19, 3 * STEPS_PER_EPOCH])  # first, mid-epoch 3, last of 3
def test_mid_epoch_interruption_resumes_bit_exactly(tmp_path, uninterrupted, how, step):
    trainer, model, train, val = build(tmp_path, seed=0, extra=[StopAt(step, how)])
    previous = signal.getsignal(signal.SIGTERM)
    expected_error = RuntimeError if how == "exception" else TrainingInterrupted
    with pytest.raises(expected_error):
        trainer.fit(train, val, epochs=EPOCHS)
    assert signal.getsignal(signal.SIGTERM) is previous  # fit restored the handlers
    assert trainer.global_step == step  # the step in progress was finished, no other begun
    manifest = json.loads((tmp_path / "last.latest.json").read_text())
    assert manifest["global_step"] == step
    if step % STEPS_PER_EPOCH:
        assert manifest["latest"] == f"last.step{step:08d}.safetensors"
        if step > STEPS_PER_EPOCH:  # the last complete epoch's checkpoint is still there
            assert (
                load_checkpoint(tmp_path / "last.safetensors")["epoch"] == step // STEPS_PER_EPOCH
            )

    trainer, model, train, val = build(tmp_path, seed=123)  # a fresh process
    trainer.fit(train, val, epochs=EPOCHS, resume_from=tmp_path)
    assert_same_run(trainer, model, tmp_path, uninterrupted)
    assert not list(tmp_path.glob("last.step*"))  # the epoch checkpoints replaced them


def test_every_n_steps_survives_a_crash_inside_a_step(tmp_path, uninterrupted):
    checkpoints = ModelCheckpoint(
        tmp_path / "steps" / "unused.safetensors", save_best_only=True, every_n_steps=5
    )
    trainer, model, train, val = build(tmp_path, seed=0, extra=[checkpoints, CrashInBackward(23)])
    with pytest.raises(OSError, match="simulated"):
        trainer.fit(train, val, epochs=EPOCHS)
    assert trainer.interrupted_state is None  # inside a step: nothing consistent to write
    steps = tmp_path / "steps"
    assert sorted(p.name for p in steps.glob("last.step*")) == ["last.step00000020.safetensors"]
    assert latest_checkpoint(steps).name == "last.step00000020.safetensors"

    trainer, model, train, val = build(tmp_path, seed=5)
    trainer.fit(train, val, epochs=EPOCHS, resume_from=steps)
    assert_same_run(trainer, model, tmp_path, uninterrupted)


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path):
    trainer, _model, train, val = build(tmp_path, seed=0, extra=[StopAt(12, "sigint")])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(train, val, epochs=EPOCHS)
    newest = tmp_path / "last.step00000012.safetensors"
    assert latest_checkpoint(tmp_path) == newest
    newest.write_bytes(newest.read_bytes()[:100])  # cut short, e.g. by a full disk elsewhere
    assert latest_checkpoint(tmp_path) == tmp_path / "last.safetensors"
    leftover = tmp_path / ".last.safetensors.abc123xy.tmp"
    leftover.write_bytes(b"half a checkpoint")
    trainer, _model, train, val = build(tmp_path, seed=1)
    trainer.fit(train, val, epochs=2, resume_from=tmp_path)
    assert not leftover.exists()
    assert [r["epoch"] for r in trainer.history.epochs] == [1, 2]


def test_a_second_signal_stops_at_once(tmp_path):
    class TwoSignals(Callback):
        def on_batch_end(self, trainer, logs):
            if logs["step"] == 3:
                signal.raise_signal(signal.SIGINT)
                signal.raise_signal(signal.SIGINT)

    trainer, _model, train, val = build(tmp_path, seed=0, extra=[TwoSignals()])
    with pytest.raises(KeyboardInterrupt) as info:
        trainer.fit(train, val, epochs=EPOCHS)
    assert not isinstance(info.value, TrainingInterrupted)
    assert "second SIGINT" in str(info.value)


def test_logs_are_cut_back_to_the_checkpoint(tmp_path, uninterrupted):
    def loggers():
        return [CSVLogger(tmp_path / "metrics.csv"), JSONLogger(tmp_path / "run.jsonl", steps=True)]

    trainer, _model, train, val = build(
        tmp_path, seed=0, extra=[*loggers(), StopAt(30, "exception")]
    )
    with pytest.raises(RuntimeError):
        trainer.fit(train, val, epochs=EPOCHS)
    # the checkpoint of step 24 is the newest that survives (as after a SIGKILL)
    (tmp_path / "last.step00000030.safetensors").unlink()
    trainer, _model, train, val = build(tmp_path, seed=0, extra=loggers())
    trainer.fit(train, val, epochs=EPOCHS, resume_from=tmp_path)
    with open(tmp_path / "metrics.csv", newline="") as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == list(range(1, EPOCHS + 1))
    records = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if r["event"] == "step"]
    assert steps == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))
    assert [r["epoch"] for r in records if r["event"] == "epoch"] == list(range(1, EPOCHS + 1))
