"""Callbacks driven by hand with a fake trainer and scripted metric lists (no real training)."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.optim import SGD
from deepgrad.optim.lr_scheduler import ReduceLROnPlateau, StepLR
from deepgrad.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientClipping,
    JSONLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    ProgressBar,
)


class FakeTrainer:
    """The part of the Trainer that callbacks see."""

    def __init__(self):
        self.model = nn.Linear(2, 1)
        self.metrics = []
        self.epochs = 10
        self.stop_reason = None
        self.saved = []
        self._train_loader = [None] * 4

    def request_stop(self, reason):
        if self.stop_reason is None:
            self.stop_reason = reason

    def save_checkpoint(self, path, after=None):
        self.saved.append(path)


def run_epochs(callback, trainer, values, key="val_loss", stop_on_request=True):
    """Drive a callback through scripted epochs; the weights of epoch e are filled with e."""
    callback.on_fit_start(trainer, {"epochs": len(values), "start_epoch": 0, "resumed": False})
    ran = 0
    for epoch, value in enumerate(values, start=1):
        callback.on_epoch_start(trainer, {"epoch": epoch})
        with dg.no_grad():
            for p in trainer.model.parameters():
                p.fill_(float(epoch))
        callback.on_epoch_end(trainer, {"epoch": epoch, "loss": 0.5, key: value})
        ran = epoch
        if stop_on_request and trainer.stop_reason is not None:
            break
    callback.on_fit_end(
        trainer, {"status": "stopped", "stop_reason": trainer.stop_reason, "epochs_run": ran}
    )
    return ran


def weights_value(trainer):
    values = {float(v) for p in trainer.model.parameters() for v in p.detach().numpy().ravel()}
    assert len(values) == 1
    return values.pop()


def test_early_stopping_stops_at_the_right_epoch_and_restores_best():
    trainer = FakeTrainer()
    stopper = EarlyStopping(monitor="val_loss", patience=3)
    ran = run_epochs(stopper, trainer, [1.0, 0.8, 0.9, 0.85, 0.81, 0.5, 0.4])
    assert ran == 5  # epochs 3, 4, 5 did not beat 0.8
    assert stopper.best == 0.8 and stopper.best_epoch == 2 and stopper.stopped_epoch == 5
    assert "val_loss did not improve for 3 epochs" in trainer.stop_reason
    assert "best 0.8 at epoch 2" in trainer.stop_reason
    assert weights_value(trainer) == 2.0


def test_early_stopping_restores_best_when_last_epoch_is_reached():
    trainer = FakeTrainer()
    stopper = EarlyStopping(patience=10)
    run_epochs(stopper, trainer, [0.9, 0.3, 0.5, 0.6])
    assert trainer.stop_reason is None
    assert weights_value(trainer) == 2.0


def test_early_stopping_restore_can_be_turned_off():
    trainer = FakeTrainer()
    run_epochs(
        EarlyStopping(patience=10, restore_best_weights=False), trainer, [0.9, 0.3, 0.5, 0.6]
    )
    assert weights_value(trainer) == 4.0


def test_early_stopping_max_mode_min_delta_and_patience_zero():
    trainer = FakeTrainer()
    stopper = EarlyStopping(monitor="val_accuracy", mode="max", patience=1, min_delta=0.05)
    # 0.62 improves on 0.6 by less than min_delta: no improvement -> stops after epoch 2
    assert run_epochs(stopper, trainer, [0.6, 0.62, 0.9], key="val_accuracy") == 2
    assert weights_value(trainer) == 1.0
    trainer = FakeTrainer()
    assert run_epochs(EarlyStopping(patience=0), trainer, [1.0, 0.9, 0.95, 0.1]) == 3


def test_early_stopping_nan_never_improves():
    trainer = FakeTrainer()
    stopper = EarlyStopping(patience=2)
    assert run_epochs(stopper, trainer, [0.5, math.nan, math.nan, 0.1]) == 3
    assert stopper.best == 0.5 and weights_value(trainer) == 1.0


def test_early_stopping_state_round_trip():
    trainer = FakeTrainer()
    stopper = EarlyStopping(patience=5)
    run_epochs(stopper, trainer, [0.9, 0.3, 0.5])
    other = EarlyStopping(patience=5)
    other.load_state_dict(stopper.state_dict())
    assert (other.best, other.best_epoch, other.wait) == (0.3, 2, 1)
    np.testing.assert_array_equal(other.best_weights["weight"], np.full((1, 2), 2.0, np.float32))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"mode": "mx"}, ValueError, r"mode must be 'min' or 'max' \(got 'mx'\)"),
        ({"patience": -1}, ValueError, "patience must be a non-negative int"),
        ({"patience": 1.5}, TypeError, "patience must be a non-negative int"),
        ({"min_delta": -0.1}, ValueError, "min_delta must be >= 0"),
        ({"monitor": ""}, ValueError, "monitor must be"),
    ],
)
def test_early_stopping_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        EarlyStopping(**kwargs)


def test_unknown_monitor_lists_available_keys():
    trainer = FakeTrainer()
    stopper = EarlyStopping(monitor="val_acc")
    stopper.on_fit_start(trainer, {})
    with pytest.raises(
        ValueError, match=r"monitor 'val_acc' is not in the logs.*available: loss, val_loss"
    ):
        stopper.on_epoch_end(trainer, {"epoch": 1, "loss": 0.5, "val_loss": 0.4})
    with pytest.raises(ValueError, match="need a val_loader"):
        EarlyStopping().on_epoch_end(trainer, {"epoch": 1, "loss": 0.5})


def test_model_checkpoint_best_only_and_last(tmp_path):
    trainer = FakeTrainer()
    cb = ModelCheckpoint(tmp_path / "best.safetensors", monitor="val_loss", save_last=True)
    run_epochs(cb, trainer, [1.0, 0.5, 0.7, 0.4])
    best, last = str(tmp_path / "best.safetensors"), str(tmp_path / "last.safetensors")
    # full checkpoints go through trainer.save_checkpoint: best at epochs 1, 2, 4; last every epoch
    assert trainer.saved == [best, last, best, last, last, best, last]
    assert cb.best == 0.4 and cb.best_epoch == 4 and cb.best_path == best


def test_model_checkpoint_every_epoch_with_template(tmp_path):
    trainer = FakeTrainer()
    cb = ModelCheckpoint(
        tmp_path / "ck-{epoch:02d}-{val_loss:.1f}.safetensors",
        save_best_only=False,
        weights_only=True,
    )
    run_epochs(cb, trainer, [1.0, 2.0])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ck-01-1.0.safetensors",
        "ck-02-2.0.safetensors",
    ]
    weights = dg.load(tmp_path / "ck-02-2.0.safetensors")
    np.testing.assert_array_equal(weights["weight"].numpy(), np.full((1, 2), 2.0, np.float32))
    bad = ModelCheckpoint(tmp_path / "{nope}.safetensors", save_best_only=False)
    with pytest.raises(
        ValueError, match="cannot fill the path template.*available keys: epoch, loss, val_loss"
    ):
        run_epochs(bad, trainer, [1.0])


def test_model_checkpoint_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        ModelCheckpoint(tmp_path / "a.safetensors", mode="best")
    with pytest.raises(ValueError, match="overwrite"):
        ModelCheckpoint(tmp_path / "last.safetensors", save_last=True)


def test_lr_scheduler_callback_per_epoch_and_per_step():
    trainer = FakeTrainer()
    opt = SGD(trainer.model.parameters(), lr=1.0)
    cb = LRSchedulerCallback(StepLR(opt, step_size=1, gamma=0.5), interval="epoch")
    for epoch in range(1, 4):
        for step in range(3):
            cb.on_batch_end(trainer, {"step": step})
        cb.on_epoch_end(trainer, {"epoch": epoch, "loss": 1.0})
    assert opt.param_groups[0]["lr"] == pytest.approx(0.125)
    opt = SGD(trainer.model.parameters(), lr=1.0)
    cb = LRSchedulerCallback(StepLR(opt, step_size=1, gamma=0.5), interval="step")
    for step in range(3):
        cb.on_batch_end(trainer, {"step": step})
    cb.on_epoch_end(trainer, {"epoch": 1, "loss": 1.0})
    assert opt.param_groups[0]["lr"] == pytest.approx(0.125)


def test_lr_scheduler_callback_plateau_reads_monitor():
    trainer = FakeTrainer()
    opt = SGD(trainer.model.parameters(), lr=1.0)
    plateau = ReduceLROnPlateau(opt, patience=0, factor=0.1)
    cb = LRSchedulerCallback(plateau, monitor="val_loss")
    for epoch, value in enumerate([1.0, 1.0, 1.0], start=1):
        cb.on_epoch_end(trainer, {"epoch": epoch, "val_loss": value})
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="pass monitor="):
        LRSchedulerCallback(plateau)
    with pytest.raises(ValueError, match=r"interval must be one of \('step', 'epoch'\)"):
        LRSchedulerCallback(StepLR(opt, step_size=1), interval="batch")
    with pytest.raises(ValueError, match="only for ReduceLROnPlateau"):
        LRSchedulerCallback(StepLR(opt, step_size=1), monitor="val_loss")


def test_gradient_clipping_clips_and_reports_norm():
    trainer = FakeTrainer()
    for p in trainer.model.parameters():
        p.grad = dg.full(p.shape, 3.0)
    clip = GradientClipping(max_norm=1.0)
    clip.clip(trainer)
    assert clip.last_norm == pytest.approx(math.sqrt(3 * 9.0))
    total = math.sqrt(sum(float((p.grad * p.grad).sum()) for p in trainer.model.parameters()))
    assert total == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError, match="positive"):
        GradientClipping(0)


def test_progress_bar_plain_lines():
    trainer = FakeTrainer()
    out = io.StringIO()
    bar = ProgressBar(file=out)
    bar.on_epoch_start(trainer, {"epoch": 1})
    bar.on_batch_end(
        trainer, {"loss": 1.0, "size": 4, "step": 1, "epoch": 1, "batch": 0, "lr": 0.1}
    )
    bar.on_epoch_end(
        trainer,
        {"epoch": 1, "loss": 0.25, "accuracy": 0.875, "val_loss": 0.5, "lr": 0.1, "time": 1.25},
    )
    bar.on_fit_end(
        trainer, {"status": "stopped", "stop_reason": "early stopping: reasons", "epochs_run": 1}
    )
    lines = out.getvalue().splitlines()
    assert lines == [
        "epoch 1/10  loss 0.2500  accuracy 0.8750  val_loss 0.5000  lr 0.1  (1.2s)",
        "training stopped: early stopping: reasons",
    ]


def test_progress_bar_tqdm_on_terminal():
    trainer = FakeTrainer()
    out = io.StringIO()
    bar = ProgressBar(file=out, dynamic=True, refresh_seconds=0)
    bar.on_epoch_start(trainer, {"epoch": 1})
    for step in range(4):
        bar.on_batch_end(
            trainer,
            {"loss": 0.5, "size": 2, "step": step + 1, "epoch": 1, "batch": step, "lr": 0.1},
        )
    bar.on_epoch_end(trainer, {"epoch": 1, "loss": 0.5, "time": 0.1, "lr": 0.1})
    text = out.getvalue()
    assert "epoch 1/10" in text and "4/4" in text and "loss 0.5000" in text


def test_csv_logger(tmp_path):
    trainer = FakeTrainer()
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    logger.on_fit_start(trainer, {"resumed": False})
    logger.on_epoch_end(
        trainer, {"epoch": 1, "loss": 0.5, "confusion_matrix": dg.zeros(2, 2), "lr": 0.1}
    )
    logger.on_epoch_end(
        trainer, {"epoch": 2, "loss": 0.25, "confusion_matrix": dg.zeros(2, 2), "lr": 0.1}
    )
    logger.on_fit_end(trainer, {})
    logger.on_fit_start(trainer, {"resumed": True, "start_epoch": 2})  # a resumed run appends
    logger.on_epoch_end(trainer, {"epoch": 3, "loss": 0.125, "lr": math.nan})
    logger.on_fit_end(trainer, {})
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["epoch", "loss", "lr"],
        ["1", "0.5", "0.1"],
        ["2", "0.25", "0.1"],
        ["3", "0.125", "nan"],
    ]
    logger.on_fit_start(trainer, {"resumed": True, "start_epoch": 1})  # from an older checkpoint
    logger.on_epoch_end(trainer, {"epoch": 2, "loss": 0.5, "lr": math.inf})
    logger.on_fit_end(trainer, {})
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["epoch", "loss", "lr"], ["1", "0.5", "0.1"], ["2", "0.5", "inf"]]


def test_json_logger(tmp_path):
    trainer = FakeTrainer()
    path = tmp_path / "log.jsonl"
    logger = JSONLogger(path, steps=True)
    logger.on_fit_start(trainer, {"epochs": 1, "start_epoch": 0, "resumed": False})
    logger.on_batch_end(
        trainer, {"step": 1, "epoch": 1, "batch": 0, "loss": 0.7, "lr": 0.1, "size": 4}
    )
    logger.on_epoch_end(
        trainer, {"epoch": 1, "loss": math.nan, "confusion_matrix": dg.tensor([[1, 0], [0, 1]])}
    )
    logger.on_fit_end(
        trainer, {"status": "completed", "stop_reason": "completed 1 epochs", "epochs_run": 1}
    )
    with open(path) as f:
        records = [json.loads(line) for line in f]
    assert [r["event"] for r in records] == ["fit_start", "step", "epoch", "fit_end"]
    assert records[1] == {"event": "step", "step": 1, "epoch": 1, "loss": 0.7, "lr": 0.1}
    assert records[2]["loss"] == "nan" and records[2]["confusion_matrix"] == [[1, 0], [0, 1]]


def test_custom_callback_by_subclassing_has_exactly_nine_hooks():
    from deepgrad.train.callbacks.base import HOOKS

    assert HOOKS == (
        "on_fit_start",
        "on_fit_end",
        "on_epoch_start",
        "on_epoch_end",
        "on_batch_start",
        "on_batch_end",
        "on_eval_start",
        "on_eval_end",
        "on_backward_end",
    )
    hooks = [name for name in dir(Callback) if name.startswith("on_")]
    assert sorted(hooks) == sorted(HOOKS)
