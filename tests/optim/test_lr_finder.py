"""The learning-rate range test: restores state exactly, stops on divergence, suggests a usable rate."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.optim import SGD, Adam, LRFinderResult, find_lr


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(8, 16)
        self.out = nn.Linear(16, 1)

    def forward(self, x):
        return self.out(dg.tanh(self.hidden(x)))


def mse(output, target):
    return ((output - target) ** 2).mean()


def _regression(seed=0, n=256, batch_size=64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = x @ rng.standard_normal((8, 1)).astype(np.float32) + 0.1 * rng.standard_normal(
        (n, 1)
    ).astype(np.float32)
    batches = [
        (dg.tensor(x[i : i + batch_size]), dg.tensor(y[i : i + batch_size]))
        for i in range(0, n, batch_size)
    ]
    return dg.tensor(x), dg.tensor(y), batches


def _train(model, optimizer, batches, steps):
    for step in range(steps):
        inputs, targets = batches[step % len(batches)]
        optimizer.zero_grad()
        mse(model(inputs), targets).backward()
        optimizer.step()


def _arrays(model, optimizer):
    """Copies of every array and number that describe the model and the optimizer."""
    params = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    state = {
        (i, k): (v.numpy().copy() if isinstance(v, dg.Tensor) else v)
        for i, s in optimizer.state_dict()["state"].items()
        for k, v in s.items()
    }
    groups = [dict(g.items()) for g in optimizer.state_dict()["param_groups"]]
    grads = [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()]
    return params, state, groups, grads


def _assert_same(before, after):
    for a, b in zip(before[:2], after[:2]):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=str(key))
    assert before[2] == after[2]
    for a, b in zip(before[3], after[3]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)


def _model_and_optimizer(seed=1, cls=SGD, **options):
    dg.manual_seed(seed)
    model = MLP()
    return model, cls(model.parameters(), **options)


def test_restores_model_and_optimizer_exactly_and_training_continues_identically():
    _, _, batches = _regression()
    model, opt = _model_and_optimizer(lr=0.01, momentum=0.9)
    twin, twin_opt = _model_and_optimizer(lr=0.01, momentum=0.9)
    _train(model, opt, batches, 3)  # momentum buffers and a gradient exist before the test
    _train(twin, twin_opt, batches, 3)
    before = _arrays(model, opt)
    weight, weight_array = model.hidden.weight, model.hidden.weight._data

    result = find_lr(model, mse, opt, batches)

    assert len(result.lrs) > 10
    _assert_same(before, _arrays(model, opt))
    assert model.hidden.weight is weight and model.hidden.weight._data is weight_array
    assert (
        opt.param_groups[0]["params"][0] is weight
        and opt.state[weight]["momentum_buffer"] is not None
    )
    _train(model, opt, batches, 4)
    _train(twin, twin_opt, batches, 4)
    for (name, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_restores_state_when_interrupted():
    _, _, batches = _regression()
    model, opt = _model_and_optimizer(cls=Adam, lr=1e-3)
    _train(model, opt, batches, 2)
    before = _arrays(model, opt)
    calls = []

    def flaky_loss(output, target):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return mse(output, target)

    with pytest.raises(KeyboardInterrupt):
        find_lr(model, flaky_loss, opt, batches)
    assert len(calls) == 7
    _assert_same(before, _arrays(model, opt))


def test_rates_grow_exponentially_and_the_test_stops_on_divergence():
    _, _, batches = _regression()
    model, opt = _model_and_optimizer(lr=0.01, momentum=0.9)
    result = find_lr(model, mse, opt, batches, start_lr=1e-6, end_lr=100.0, num_steps=80)
    assert result.diverged and 20 < len(result.lrs) < 80
    expected = [1e-6 * 1e8 ** (i / 79) for i in range(len(result.lrs))]
    np.testing.assert_allclose(result.lrs, expected, rtol=1e-12)
    assert result.losses[-1] > 4.0 * result.best_loss
    assert all(
        loss <= 4.0 * best
        for loss, best in zip(result.losses[:-1], np.minimum.accumulate(result.losses))
    )
    # the smoothed loss is the bias-corrected average of the raw ones
    average, smoothed = 0.0, []
    for i, raw in enumerate(result.raw_losses):
        average = 0.98 * average + 0.02 * raw
        smoothed.append(average / (1 - 0.98 ** (i + 1)))
    np.testing.assert_allclose(result.losses, smoothed, rtol=1e-12)


def test_stops_when_the_loss_becomes_nan():
    _, _, batches = _regression()
    model, opt = _model_and_optimizer(lr=0.01)
    calls = []

    def loss_that_breaks(output, target):
        calls.append(1)
        loss = mse(output, target)
        return loss * float("nan") if len(calls) > 12 else loss

    result = find_lr(model, loss_that_breaks, opt, batches, num_steps=50)
    assert (
        result.diverged and len(result.lrs) == 12 and all(math.isfinite(v) for v in result.losses)
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cls,options", [(SGD, dict(momentum=0.9)), (Adam, {})])
def test_suggestion_trains_and_a_hundred_times_more_diverges(seed, cls, options):
    x, y, batches = _regression(seed)
    model, opt = _model_and_optimizer(cls=cls, lr=1e-3, **options)
    suggestion = find_lr(model, mse, opt, batches).suggestion
    assert suggestion is not None

    def final_loss(lr):
        trained, trained_opt = _model_and_optimizer(cls=cls, lr=lr, **options)
        _train(trained, trained_opt, batches, 5 * len(batches))
        return mse(trained(x), y).item()

    start = mse(_model_and_optimizer(lr=0.0)[0](x), y).item()  # the same initial weights
    assert final_loss(suggestion) < 0.3 * start
    too_big = final_loss(100 * suggestion)
    assert not too_big < start, (
        f"lr={100 * suggestion:.3g} should diverge (loss {too_big} vs {start} at the start)"
    )


def test_callable_model_without_state_dict_and_a_cycled_loader():
    rng = np.random.default_rng(3)
    w = dg.tensor(rng.standard_normal((4, 1)).astype(np.float32), requires_grad=True)
    b = dg.zeros(1, requires_grad=True)
    batches = [
        (dg.tensor(rng.standard_normal((8, 4)).astype(np.float32)), dg.ones(8, 1)) for _ in range(3)
    ]
    served = []

    class Loader:
        def __iter__(self):
            served.append("epoch")
            return iter(batches)

    opt = SGD([w, b], lr=0.1)
    w_before, b_before = w.detach().numpy().copy(), b.detach().numpy().copy()
    result = find_lr(
        lambda inputs: inputs @ w + b, mse, opt, Loader(), start_lr=1e-5, end_lr=1e-2, num_steps=10
    )
    assert (
        len(result.lrs) == 10 and not result.diverged and len(served) == 4
    )  # 3 + 3 + 3 + 1 batches
    np.testing.assert_array_equal(w.detach().numpy(), w_before)
    np.testing.assert_array_equal(b.detach().numpy(), b_before)
    assert w.grad is None and opt.param_groups[0]["lr"] == 0.1 and opt.state == {}


def test_suggest_finds_the_steepest_descent_of_a_known_curve():
    lrs = list(np.logspace(-6, 0, 61))
    losses = [2.0 - math.tanh(2 * (math.log10(lr) + 3)) for lr in lrs]  # steepest at lr = 1e-3
    result = LRFinderResult(
        lrs=lrs, losses=losses, raw_losses=losses, diverged=False, best_loss=min(losses)
    )
    assert result.suggestion == pytest.approx(1e-3, rel=1e-9)
    assert result.suggest(skip_start=40) == pytest.approx(
        lrs[40 + 0], rel=1e-9
    )  # past the drop: the first point left
    # 4 points: the end point is skipped and the slopes need a neighbour on each side -> 2 left
    short = LRFinderResult(
        lrs=lrs[:4], losses=losses[:4], raw_losses=losses[:4], diverged=True, best_loss=1.0
    )
    assert short.suggestion is None
    with pytest.raises(
        ValueError,
        match=r"LRFinderResult.suggest: skip_start must be a non-negative int \(got -1\)",
    ):
        result.suggest(skip_start=-1)
    with pytest.raises(ValueError, match=r"skip_end must be a non-negative int \(got -2\)"):
        result.suggest(skip_end=-2)


def test_plot_marks_the_suggestion():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lrs = list(np.logspace(-6, 0, 61))
    losses = [2.0 - math.tanh(2 * (math.log10(lr) + 3)) for lr in lrs]
    result = LRFinderResult(
        lrs=lrs, losses=losses, raw_losses=losses, diverged=False, best_loss=min(losses)
    )
    ax = result.plot()
    labels = [line.get_label() for line in ax.get_lines()]
    assert ax.get_xscale() == "log" and "smoothed loss" in labels and "batch loss" in labels
    assert any(label.startswith("suggestion: 1.00e-03") for label in labels)
    plt.close(ax.figure)


@pytest.mark.parametrize(
    "options,message",
    [
        (dict(start_lr=1.0, end_lr=0.1), "need 0 < start_lr < end_lr"),
        (dict(start_lr=0.0), "need 0 < start_lr < end_lr"),
        (dict(num_steps=1), "num_steps must be an int >= 2"),
        (dict(smooth=1.0), r"smooth must be in \[0, 1\)"),
        (dict(diverge_threshold=1.0), "diverge_threshold must be > 1"),
    ],
)
def test_argument_checks(options, message):
    _, _, batches = _regression()
    model, opt = _model_and_optimizer(lr=0.1)
    with pytest.raises(ValueError, match=f"find_lr: {message}"):
        find_lr(model, mse, opt, batches, **options)


def test_empty_loader_and_wrong_optimizer():
    model, opt = _model_and_optimizer(lr=0.1)
    before = _arrays(model, opt)
    with pytest.raises(ValueError, match="find_lr: the loader yielded no batches"):
        find_lr(model, mse, opt, [])
    _assert_same(before, _arrays(model, opt))
    with pytest.raises(TypeError, match="optimizer must be a deepgrad Optimizer"):
        find_lr(model, mse, object(), [])
