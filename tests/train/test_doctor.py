"""Each diagnosis is triggered by building its pathology for real, and is absent on a healthy run."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from train_helpers import loader, mlp, moons

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.optim import SGD, Adam
from deepgrad.train import Trainer
from deepgrad.train.doctor import Diagnosis, Doctor
from deepgrad.train.history import History
from deepgrad.train.monitor import Monitor

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow in the diverging runs


def diagnose(model, opt, data, epochs=10, val=None, loss_fn=F.cross_entropy, every=5):
    monitor = Monitor(every=every)
    trainer = Trainer(model, loss_fn, opt, callbacks=[monitor], progress=False, nan_policy="stop")
    history = trainer.fit(
        loader(*data), None if val is None else loader(*val, batch_size=512), epochs=epochs
    )
    found = Doctor(history, monitor).diagnose()
    return {d.code: d for d in found}, found


@pytest.fixture
def data():
    dg.manual_seed(0)
    return moons(512, 0.1, 0)


def regression(n=256):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x @ np.ones((4, 1))).astype(np.float32)


@pytest.mark.parametrize(
    "activation, make_opt",
    [
        (nn.ReLU, lambda p: Adam(p, lr=0.01)),
        (nn.Tanh, lambda p: SGD(p, lr=0.1, momentum=0.9)),
    ],
)
def test_healthy_runs_have_no_diagnosis(data, activation, make_opt):
    model = mlp(activation)
    _codes, found = diagnose(model, make_opt(model.parameters()), data, val=moons(512, 0.1, 1))
    assert found == []


def test_huge_learning_rate_diverges(data):
    model = mlp(nn.ReLU)
    codes, _ = diagnose(model, SGD(model.parameters(), lr=50.0), data)
    d = codes["diverging"]
    assert d.severity == "error" and "learning rate (50) is too large" in d.message
    assert d.evidence["lr"] == 50.0 and d.evidence["peak_loss"] > 100 * d.evidence["first_loss"]
    assert "exploding_gradients" in codes  # weights blew up on the way


def test_huge_learning_rate_gives_nan_loss():
    model = nn.Sequential(nn.Linear(4, 1))
    codes, found = diagnose(
        model, SGD(model.parameters(), lr=1.2), regression(), epochs=12, loss_fn=F.mse_loss
    )
    d = codes["nan_loss"]
    assert found[0] is d and d.severity == "error"
    assert not math.isfinite(d.evidence["value"]) and math.isfinite(d.evidence["last_finite_loss"])
    assert f"at step {d.evidence['step']}" in d.message and d.evidence["cause"] == "diverged"
    assert "Lower the learning rate (now 1.2) 10x or run the LR range test" in d.message
    assert "diverging" not in codes  # one loss-curve finding, the most specific


def test_too_large_rate_on_regression_grows_the_loss_and_the_updates():
    model = nn.Sequential(nn.Linear(4, 1))
    codes, _ = diagnose(
        model, SGD(model.parameters(), lr=1.2), regression(), epochs=5, loss_fn=F.mse_loss, every=2
    )
    assert (
        codes["diverging"].evidence["last_loss"] > 1e6 * codes["diverging"].evidence["first_loss"]
    )
    assert (
        codes["exploding_gradients"].evidence["max_grad_norm"]
        > 1e3 * codes["exploding_gradients"].evidence["first_grad_norm"]
    )
    large = codes["large_updates"]
    assert large.evidence["update_ratio"] > 0.1 and large.layer == "0"


def test_tiny_learning_rate_is_flat(data):
    model = mlp(nn.ReLU)
    codes, _ = diagnose(model, SGD(model.parameters(), lr=1e-5), data)
    d = codes["flat_loss"]
    assert d.severity == "warning" and abs(d.evidence["relative_change"]) < 0.01
    assert "learning rate (1e-05) may be too small" in d.message


def test_sigmoid_with_large_initial_weights_saturates(data):
    model = mlp(nn.Sigmoid)
    with dg.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                layer.weight.normal_(0.0, 10.0)
    _codes, found = diagnose(model, SGD(model.parameters(), lr=0.1), data)
    saturated = [d for d in found if d.code == "saturated_units"]
    assert {d.layer for d in saturated} == {"1", "3"}
    worst = max(saturated, key=lambda d: d.evidence["saturated_fraction"])
    assert worst.evidence["saturated_fraction"] > 0.9
    assert (
        f"{100 * worst.evidence['saturated_fraction']:.0f}% of the outputs of layer '{worst.layer}' (sigmoid)"
        in worst.message
    )
    assert "Xavier" in worst.message


def test_relu_with_strongly_negative_bias_has_dead_units(data):
    model = mlp(nn.ReLU)
    with dg.no_grad():
        model[0].bias.fill_(-5.0)
        model[2].bias.fill_(-5.0)
    codes, found = diagnose(model, SGD(model.parameters(), lr=0.1), data)
    dead = [d for d in found if d.code == "dead_units"]
    assert [d.layer for d in dead] == ["1", "3"]
    assert dead[0].message.startswith("100% of the units in layer '1' (ReLU) are dead ReLUs")
    assert "lower the learning rate or use Kaiming initialization" in dead[0].message
    assert "flat_loss" in codes  # nothing learns behind dead units


def test_constant_initialization_gives_correlated_units(data):
    model = mlp(nn.ReLU)
    with dg.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                layer.weight.fill_(0.3)
                layer.bias.fill_(0.1)
    _codes, found = diagnose(model, SGD(model.parameters(), lr=0.1), data)
    correlated = [d for d in found if d.code == "correlated_units"]
    assert [d.layer for d in correlated] == ["1", "3"]
    assert correlated[0].evidence["mean_abs_correlation"] > 0.999
    assert "initialize randomly" in correlated[0].message


def test_deep_sigmoid_network_has_vanishing_gradients(data):
    model = mlp(nn.Sigmoid, depth=8)
    codes, _ = diagnose(model, SGD(model.parameters(), lr=0.1), data)
    d = codes["vanishing_gradients"]
    assert d.evidence["first_layer"] == "0" and d.evidence["last_layer"] == "16"
    assert d.evidence["ratio"] < 1e-4


def test_tiny_training_set_overfits():
    dg.manual_seed(0)
    model = mlp(nn.ReLU, width=128)
    codes, found = diagnose(
        model,
        Adam(model.parameters(), lr=0.01),
        moons(16, 0.35, 5),
        epochs=150,
        val=moons(512, 0.35, 6),
        every=10,
    )
    assert [d.code for d in found] == ["overfitting"]
    e = codes["overfitting"].evidence
    assert (
        e["last_val_loss"] > 1.1 * e["best_val_loss"]
        and e["last_train_loss"] < e["train_loss_at_best"]
    )
    assert e["last_gap"] > e["gap_at_best"]
    assert f"epoch {e['best_epoch']}, its best" in codes["overfitting"].message
    assert (
        "early stopping" in codes["overfitting"].message.lower()
        and "dropout" in codes["overfitting"].message
    )


def test_scripted_history_rules():
    h = History()
    for step, loss in enumerate([2.3, 5.0, 40.0, float("nan")], start=1):
        h.add_step(step, 1, loss, 10.0)
    (d,) = Doctor(h).diagnose()
    assert (
        d.code == "nan_loss" and d.evidence["step"] == 4 and d.evidence["last_finite_loss"] == 40.0
    )
    assert str(d).startswith(
        "[error] nan_loss: The loss became NaN at step 4; the loss rose from 2.3 to 40"
    )
    short = History()
    for step in range(1, 6):
        short.add_step(step, 1, 1.0, 0.1)
    assert Doctor(short).diagnose() == []  # too few steps to call the loss flat
    empty = Doctor(History())
    assert empty.diagnose() == [] and "No problems found" in empty.report()


def test_thresholds_are_per_instance():
    h = History()
    for step in range(1, 41):
        h.add_step(step, 1, 1.0 - 0.002 * step, 0.1)  # fell by 8%
    doctor = Doctor(h)
    assert doctor.diagnose() == []
    doctor.flat_fraction = 0.1
    assert [d.code for d in doctor.diagnose()] == ["flat_loss"]


def test_trainer_prints_the_report(data, capsys):
    model = mlp(nn.ReLU)
    with dg.no_grad():
        model[0].bias.fill_(-5.0)
    trainer = Trainer(
        model, F.cross_entropy, SGD(model.parameters(), lr=0.1), doctor=True, progress=False
    )
    assert isinstance(trainer.monitor, Monitor)  # doctor=True brings a monitor
    trainer.fit(loader(*data), epochs=3)
    err = capsys.readouterr().err
    assert "Doctor: 48 steps, 3 epochs" in err and "problems found" in err
    assert "dead ReLUs" in err
    assert all(isinstance(d, Diagnosis) for d in trainer.diagnoses)
    assert "dead_units" in {d.code for d in trainer.diagnoses}


def _fit_through_nan(trainer, train_loader, epochs):
    """fit, keeping the run's history when the loss turns non-finite (with the Trainer's
    nan_policy, when it has one, set to 'stop': the run ends at that step)."""
    with contextlib.suppress(FloatingPointError):
        trainer.fit(train_loader, epochs=epochs)
    return trainer.history


def _trainer(model, opt, monitor, loss_fn=F.mse_loss):
    import inspect

    has_policy = "nan_policy" in inspect.signature(Trainer).parameters
    options = {"nan_policy": "stop"} if has_policy else {}
    return Trainer(model, loss_fn, opt, callbacks=[monitor], progress=False, **options)


def test_nan_in_the_data_is_blamed_on_the_data_with_counts():
    x, y = regression(64)
    x[[3, 40, 41], 1] = np.nan  # 3 of 64 samples, one NaN value each
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 1))
    monitor = Monitor(every=2)
    trainer = _trainer(model, SGD(model.parameters(), lr=0.01), monitor)
    history = _fit_through_nan(trainer, loader(x, y, 16, shuffle=False), 1)
    assert monitor.nonfinite_inputs[0] == {
        "step": 1,
        "epoch": 1,
        "nan": 1,
        "inf": 0,
        "values": 64,
        "bad_samples": 1,
        "samples": 16,
    }
    (d,) = [d for d in Doctor(history, monitor).diagnose() if d.code == "nan_loss"]
    assert d.evidence["cause"] == "inputs" and d.evidence["step"] == 1
    assert d.message.startswith("The loss was NaN from step 1; the model's inputs held NaN or inf")
    assert "(first at step 1: 1 NaN of 64 values, in 1 of 16 samples)" in d.message
    assert "the data, not the learning rate, is the cause" in d.message
    assert "clean the data" in d.message
    steps = monitor.checked_steps
    assert f"at {len(monitor.nonfinite_inputs)} of {steps} training steps" in d.message
    assert f"in {sum(r['bad_samples'] for r in monitor.nonfinite_inputs)} of the" in d.message
    # A NaN gradient caused by NaN data is not reported as an explosion (no learning-rate advice).
    assert "exploding_gradients" not in {f.code for f in Doctor(history, monitor).diagnose()}


def test_a_later_bad_batch_is_found_at_every_step_not_only_recorded_ones():
    x, y = regression(64)
    x[50, 0] = np.inf  # the 4th batch of 16 (step 4, not a recorded step with every=10)
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 1))
    monitor = Monitor(every=10)
    trainer = _trainer(model, SGD(model.parameters(), lr=0.01), monitor)
    history = _fit_through_nan(trainer, loader(x, y, 16, shuffle=False), 1)
    found = [(r["step"], r["inf"], r["bad_samples"]) for r in monitor.nonfinite_inputs]
    assert found == [(4, 1, 1)]
    d = Doctor(history, monitor).diagnose()[0]
    assert d.code == "nan_loss" and d.evidence["cause"] == "inputs" and d.evidence["step"] == 4
    assert d.message.startswith("The loss became ")
    assert "(first at step 4: 1 inf of 64 values, in 1 of 16 samples)" in d.message


def test_a_diverging_run_is_blamed_on_the_learning_rate_with_the_rise():
    x, y = regression(64)
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 1))
    monitor = Monitor(every=5)
    history = _fit_through_nan(
        _trainer(model, SGD(model.parameters(), lr=10.0), monitor), loader(x, y, 16), 60
    )
    losses = history.step_column("loss")
    assert not np.isfinite(losses).all() and np.isfinite(losses[0])
    assert monitor.nonfinite_inputs == [] and monitor.checked_steps == losses.size
    d = Doctor(history, monitor).diagnose()[0]
    e = d.evidence
    assert d.code == "nan_loss" and e["cause"] == "diverged" and e["lr"] == 10.0
    start, end = e["rise_start_step"], e["step"] - 1
    rise = f"the loss rose from {e['rise_start_loss']:.4g} to {e['last_finite_loss']:.4g} "
    assert rise in d.message
    assert f"over steps {start}-{end} before that: the run diverged." in d.message
    assert "Lower the learning rate (now 10) 10x or run the LR range test" in d.message
    assert e["last_finite_loss"] > 1e6 * e["rise_start_loss"]
    assert "last finite value" not in d.message and "nan" not in d.message.replace("NaN", "")


def test_nan_from_the_first_step_without_bad_inputs_clears_the_learning_rate():
    x, y = regression(32)
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 1))
    with dg.no_grad():
        model[0].bias.fill_(float("nan"))  # a broken initialization
    monitor = Monitor()
    history = _fit_through_nan(
        _trainer(model, SGD(model.parameters(), lr=0.1), monitor), loader(x, y, 16), 1
    )
    d = Doctor(history, monitor).diagnose()[0]
    assert d.code == "nan_loss" and d.evidence["cause"] == "first_step"
    assert "no update had happened yet, so the learning rate is not the cause" in d.message
    assert f"the model's inputs were finite at all {monitor.checked_steps} steps" in d.message
    assert "detect_anomaly()" in d.message


def test_sudden_nan_after_a_falling_loss_is_not_called_a_divergence():
    h = History()
    for step, loss in enumerate([2.3, 1.9, 1.5, 1.2, float("inf")], start=1):
        h.add_step(step, 1, loss, 0.1)
    (d,) = Doctor(h).diagnose()
    assert d.evidence["cause"] == "sudden"
    assert d.message.startswith("The loss became inf at step 5; it was 1.2 the step before")
    assert "pass a Monitor (Trainer(monitor=True)) to check the inputs for NaN" in d.message
