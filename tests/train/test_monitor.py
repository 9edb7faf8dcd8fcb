"""Monitor: statistics checked against hand computations, and training unchanged by it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from train_helpers import assert_same_weights, loader, mlp, moons, weights

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.optim import SGD, Adam
from deepgrad.train import Trainer
from deepgrad.train.monitor import KEYS, Monitor, mean_abs_correlation


def fit(model, opt, x, y, callbacks=(), epochs=2, **kwargs):
    trainer = Trainer(
        model, F.cross_entropy, opt, callbacks=list(callbacks), progress=False, **kwargs
    )
    return trainer.fit(loader(x, y), epochs=epochs)


def test_monitor_does_not_change_results():
    x, y = moons(256, 0.2, 0)

    def run(with_monitor):
        dg.manual_seed(3)
        model = nn.Sequential(
            nn.Linear(2, 16),
            nn.Tanh(),
            nn.Dropout(0.3),
            nn.Linear(16, 16),
            nn.ReLU(),
            nn.Linear(16, 2),
        )
        extra = [Monitor(every=1)] if with_monitor else []
        history = fit(model, Adam(model.parameters(), lr=0.01), x, y, callbacks=extra, epochs=3)
        return weights(model), history.step_column("loss"), extra

    plain, plain_losses, _ = run(False)
    watched, watched_losses, (monitor,) = run(True)
    assert_same_weights(plain, watched)
    np.testing.assert_array_equal(plain_losses, watched_losses)
    assert len(monitor.records) == 24 * len(monitor.layers)
    assert not any(m._forward_hooks for m in monitor._modules.values())  # hooks removed


def test_records_every_n_steps_and_layers():
    x, y = moons(128, 0.2, 0)
    model = mlp(width=8)
    monitor = Monitor(every=3)
    fit(model, SGD(model.parameters(), lr=0.1), x, y, callbacks=[monitor])  # 8 steps
    assert monitor.layers == ["0", "1", "2", "3", "4"]
    assert sorted(set(monitor.column("step"))) == [1.0, 4.0, 7.0]
    assert [r["kind"] for r in monitor.records[:5]] == [
        "Linear",
        "relu",
        "Linear",
        "relu",
        "Linear",
    ]
    assert set(monitor.records[0]) == set(KEYS)
    table = monitor.table(layer="1")
    assert table["step"] == [1, 4, 7] and len(table["dead_frac"]) == 3
    assert math.isnan(monitor.records[1]["grad_norm"]) and math.isnan(
        monitor.records[0]["dead_frac"]
    )
    assert monitor.histograms[0]["counts"].sum() > 0 and len(monitor.histograms[0]["edges"]) == 31
    with pytest.raises(ValueError, match="numeric statistic"):
        monitor.column("layer")
    with pytest.raises(ValueError, match="watched: 0, 1, 2, 3, 4"):
        monitor.column("act_std", layer="9")
    assert "relu" in monitor.summary()


def test_statistics_match_hand_computations():
    dg.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 4), nn.Sigmoid(), nn.Linear(4, 5), nn.Tanh()
    )
    with dg.no_grad():
        model[0].bias[:2] = -100.0  # units 0 and 1 of the ReLU layer are dead
        model[2].weight.mul_(30.0)  # the sigmoid layer saturates
    x = dg.randn(16, 3)
    target = dg.randn(16, 5)
    monitor = Monitor(every=1)
    before = weights(model)
    with dg.no_grad():
        h1 = F.relu(model[0](x)).numpy()
        h2 = F.sigmoid(model[2](dg.tensor(h1))).numpy()
        h3 = F.tanh(model[4](dg.tensor(h2))).numpy()
    trainer = Trainer(
        model, F.mse_loss, SGD(model.parameters(), lr=0.5), callbacks=[monitor], progress=False
    )
    trainer.fit([(x, target)], epochs=1)
    rec = {r["layer"]: r for r in monitor.records}
    assert rec["1"]["act_mean"] == pytest.approx(h1.mean(), rel=1e-5)
    assert rec["1"]["act_std"] == pytest.approx(h1.std(), rel=1e-5)
    assert rec["1"]["dead_frac"] == pytest.approx(
        np.mean([not (h1[:, j] > 0).any() for j in range(6)])
    )
    assert rec["1"]["dead_frac"] >= 2 / 6
    assert rec["3"]["saturated_frac"] == pytest.approx(np.mean((h2 < 0.03) | (h2 > 0.97)))
    assert rec["5"]["saturated_frac"] == pytest.approx(np.mean(np.abs(h3) > 0.97))
    # correlation: mean |corr| over pairs of non-constant units, by the textbook formula
    alive = [j for j in range(6) if h1[:, j].std() > 0]
    pairs = [abs(np.corrcoef(h1[:, i], h1[:, j])[0, 1]) for i in alive for j in alive if i != j]
    assert rec["1"]["corr"] == pytest.approx(np.mean(pairs), rel=1e-6)
    # gradient norm and update ratio of plain SGD: dw = -lr * g
    for layer in ("0", "2", "4"):
        module = model[int(layer)]
        grads = [module.weight.grad.numpy(), module.bias.grad.numpy()]
        grad_norm = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads))
        old = [before[f"{layer}.weight"], before[f"{layer}.bias"]]
        old_norm = math.sqrt(sum(float((w.astype(np.float64) ** 2).sum()) for w in old))
        assert rec[layer]["grad_norm"] == pytest.approx(grad_norm, rel=1e-5)
        assert rec[layer]["update_ratio"] == pytest.approx(0.5 * grad_norm / old_norm, rel=1e-4)


def test_mean_abs_correlation():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 1))
    copies = np.hstack([a, 2 * a + 1, -a])
    assert mean_abs_correlation(copies) == pytest.approx(1.0)
    independent = rng.normal(size=(5000, 4))
    assert mean_abs_correlation(independent) < 0.05
    assert math.isnan(
        mean_abs_correlation(np.hstack([a, np.zeros((200, 3))]))
    )  # one non-constant unit
    # subsampling of units keeps the value for identical columns
    assert mean_abs_correlation(np.repeat(a, 100, axis=1), max_units=8) == pytest.approx(1.0)


def test_conv_maps_count_channels_as_units():
    monitor = Monitor()
    array = np.ones((2, 3, 4, 4), dtype=np.float32)
    array[:, 1] = -1.0
    stats = monitor._activation_stats("relu", array)
    assert stats["dead_frac"] == pytest.approx(1 / 3)


def test_monitor_arguments():
    with pytest.raises(ValueError, match=r"^Monitor: every must be a positive int \(got 0\)\.$"):
        Monitor(every=0)
    with pytest.raises(ValueError, match=r"^Monitor: max_units must be an int >= 2 \(got 1\)\.$"):
        Monitor(max_units=1)
    with pytest.raises(TypeError, match=r"every must be a positive int \(got float 1\.5\)"):
        Monitor(every=1.5)
    with pytest.raises(ValueError, match="layers must be a list"):
        Monitor(layers="0")
    model = mlp()
    with pytest.raises(ValueError, match=r"no module named \['9'\].*available: 0, 1, 2, 3, 4"):
        fit(
            model,
            SGD(model.parameters(), lr=0.1),
            *moons(32, 0.1, 0),
            callbacks=[Monitor(layers=["9"])],
        )
    monitor = Monitor(layers=["1"])
    fit(model, SGD(model.parameters(), lr=0.1), *moons(32, 0.1, 0), callbacks=[monitor])
    assert monitor.layers == ["1"]


def test_trainer_monitor_flag_and_csv(tmp_path):
    model = mlp()
    trainer = Trainer(
        model, F.cross_entropy, SGD(model.parameters(), lr=0.1), monitor=True, progress=False
    )
    assert isinstance(trainer.monitor, Monitor) and trainer.monitor in trainer.callbacks
    trainer.fit(loader(*moons(64, 0.1, 0)), epochs=1)
    trainer.monitor.to_csv(tmp_path / "m.csv")
    lines = (tmp_path / "m.csv").read_text().splitlines()
    assert lines[0] == ",".join(KEYS) and len(lines) == 1 + len(trainer.monitor.records)
    mine = Monitor(every=2)
    assert (
        Trainer(model, F.cross_entropy, SGD(model.parameters(), lr=0.1), monitor=mine).monitor
        is mine
    )


def test_inputs_are_checked_every_training_step_but_not_in_evaluation():
    x, y = moons(64, 0.1, 0)
    x[[5, 6], 0] = np.nan
    x[6, 1] = np.inf
    dg.manual_seed(0)
    model = mlp(nn.ReLU)
    monitor = Monitor(every=100)
    trainer = Trainer(
        model,
        F.cross_entropy,
        SGD(model.parameters(), lr=0.0),
        callbacks=[monitor],
        progress=False,
        nan_policy="skip_step",
    )
    clean = x.copy()
    clean[5:7] = 0.0
    trainer.fit(loader(x, y, batch_size=16, shuffle=False), loader(clean, y, 16), epochs=2)
    assert monitor.checked_steps == 8 and monitor.checked_samples == 128  # validation not counted
    assert monitor.nonfinite_inputs == [
        {"step": s, "epoch": e, "nan": 2, "inf": 1, "values": 32, "bad_samples": 2, "samples": 16}
        for s, e in ((1, 1), (5, 2))
    ]
    assert not model._forward_hooks  # the input hook goes with the fit
    trainer.evaluate(loader(x, y, 16))
    assert monitor.checked_steps == 8


def test_histogram_of_nearly_equal_float32_activations():
    """Regression (RL recipes, batch of one): float32 outputs a few ulps apart made np.histogram
    raise 'Too many bins for data range'; the bins are now computed in float64."""
    five = np.float32(5.0)
    close = np.array([[five, np.nextafter(five, np.float32(6.0))]], dtype=np.float32)
    stats = Monitor()._activation_stats("linear", close)
    counts, edges = stats["histogram"]
    assert counts.sum() == 2 and len(edges) == 31
