"""Resuming is bit-exact, and checkpoint files are never partial."""

from __future__ import annotations

import os

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
    EarlyStopping,
    LRSchedulerCallback,
    ModelCheckpoint,
    Trainer,
    load_checkpoint,
)

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
    plateau = ReduceLROnPlateau(opt, patience=1, factor=0.5, threshold=0.3)  # reduces often: its state matters
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

    trainer, model, train, val = build(run_dir, seed=0, loader_generator=gen(), extra=[InterruptAt(epoch=3)])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(train, val, epochs=EPOCHS)
    assert load_checkpoint(run_dir / "last.safetensors")["epoch"] == 2

    # a fresh process: other initial weights and random state, the same construction
    trainer, model, train, val = build(run_dir, seed=123, loader_generator=gen() if own_generator else None)
    if own_generator:
        train.generator.manual_seed(99)
    resumed = trainer.fit(train, val, epochs=EPOCHS, resume_from=run_dir / "last.safetensors")

    assert_same_weights(weights(model), expected)
    stopper = trainer.callbacks[1]
    assert (stopper.best, stopper.best_epoch) == (reference_stopper.best, reference_stopper.best_epoch)
    resumed_last = load_checkpoint(run_dir / "last.safetensors")
    for key in last["model"]:
        np.testing.assert_array_equal(resumed_last["model"][key].numpy(), last["model"][key].numpy())
    assert resumed.epochs == [{**r, "time": resumed.epochs[i]["time"]} for i, r in enumerate(reference.epochs)]
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
    assert sorted(os.listdir(tmp_path)) == sorted(["ckpt.safetensors", "best.safetensors", "last.safetensors", "last.latest.json"])
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
