"""Compiled training steps equal eager ones: forward, gradients, parameter updates, buffers."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_same, run_both

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn


def _batches(shape, classes, n=4, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    return [
        (
            dg.tensor(rng.standard_normal(shape).astype(dtype)),
            dg.tensor(rng.integers(0, classes, shape[0])),
        )
        for _ in range(n)
    ]


def _classifier_step(model, opt):
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mlp_with_dropout_and_momentum(dtype):
    def build():
        model = nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 4))
        model.to(dg.float64 if dtype == "float64" else dg.float32)
        opt = dg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return _classifier_step(model, opt), [model]

    results = run_both(build, _batches((6, 12), 4, n=5, dtype=dtype))
    tol = 1e-12 if dtype == "float64" else 1e-5
    assert_same(results, rtol=tol, atol=tol)


def test_lenet_with_batchnorm_and_adam():
    def build():
        model = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(6 * 2 * 2, 5),
        )
        opt = dg.optim.Adam(model.parameters(), lr=1e-2)
        return _classifier_step(model, opt), [model]

    results = run_both(build, _batches((3, 1, 8, 8), 5, n=4))
    assert_same(results, rtol=1e-5, atol=1e-6)


def test_lstm_regression_float64():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(3, 5, batch_first=True)
            self.head = nn.Linear(5, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[:, -1])

    def build():
        model = Net().to(dg.float64)
        opt = dg.optim.RMSprop(model.parameters(), lr=1e-2)

        def step(x, y):
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss

        return step, [model]

    rng = np.random.default_rng(3)
    batches = [
        (dg.tensor(rng.standard_normal((2, 4, 3))), dg.tensor(rng.standard_normal((2, 1))))
        for _ in range(4)
    ]
    assert_same(run_both(build, batches), rtol=1e-12, atol=1e-12)


def test_manual_sgd_in_place_updates_and_module_zero_grad():
    def build():
        model = nn.Linear(5, 3).to(dg.float64)

        def step(x, y):
            model.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            with dg.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
            return loss

        return step, [model]

    rng = np.random.default_rng(4)
    batches = [
        (dg.tensor(rng.standard_normal((4, 5))), dg.tensor(rng.standard_normal((4, 3))))
        for _ in range(4)
    ]
    assert_same(run_both(build, batches), rtol=1e-12, atol=1e-12)


def test_forward_only_under_no_grad_and_eval_mode_is_a_new_signature():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    f = dg.compile(model)
    x = dg.randn(2, 4)
    with dg.no_grad():
        model.eval()
        outs = [f(x)._data.copy() for _ in range(3)]
        model.train()
        dg.manual_seed(5)
        train_outs = [f(x)._data.copy() for _ in range(3)]
        dg.manual_seed(5)
        eager = [model(x)._data.copy() for _ in range(3)]
    np.testing.assert_array_equal(outs[2], model.eval()(x)._data)
    for a, b in zip(train_outs, eager):
        np.testing.assert_array_equal(a, b)
    assert len(f.cache) == 2


@pytest.fixture(params=[True, False], ids=["gelu-kernel", "gelu-numpy"])
def gelu_calls(request, monkeypatch):
    """Gelu's float32 kernel forced on and off (whatever the measurement would pick); the list
    counts the kernel's calls."""
    from deepgrad.ops import row_kernels

    calls = []
    kernel_forward = row_kernels.gelu_forward
    monkeypatch.setattr(row_kernels, "_gelu_faster", {})
    monkeypatch.setattr(row_kernels, "_measure_gelu", lambda x, reference: request.param)
    monkeypatch.setattr(row_kernels, "gelu_forward", lambda x: calls.append(1) or kernel_forward(x))
    expected = request.param and dg.backend.kernels.numba_available()
    yield calls
    assert bool(calls) == expected  # the path forced ran, in eager and compiled code


def test_gelu_mlp_compiled_equals_eager_bit_for_bit(gelu_calls):
    """Compiled code runs Gelu's own forward (the float32 numba kernel where it is chosen,
    docs/performance.md, note 20): the same bits as eager."""

    def build():
        model = nn.Sequential(nn.Linear(12, 32), nn.GELU(), nn.Linear(32, 4)).to(dg.float32)
        opt = dg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return _classifier_step(model, opt), [model]

    batches = _batches((6, 12), 4, n=4)
    for x, _ in batches:
        x._data *= 4  # erf's clipped tails too
    assert_same(run_both(build, batches))  # rtol = atol = 0


def test_gelu_compiled_equals_eager_on_nan_inf_and_signed_zero(gelu_calls):
    def step(x):
        y = F.gelu(x)
        (y * y).sum().backward()
        return y

    data = np.random.default_rng(5).standard_normal((3, 2000)).astype(np.float32) * 3
    data[0, :4] = [np.nan, np.inf, -np.inf, -0.0]
    runs, counts = [], []
    with np.errstate(all="ignore"):
        for fn in [step] + [dg.compile(step)] * 3:  # two traced calls, then the program
            x = dg.tensor(data, requires_grad=True)
            y = fn(x)
            runs.append((y.detach().numpy().view(np.uint32), x.grad.numpy().view(np.uint32)))
            counts.append(len(gelu_calls))
    assert fn.programs, fn.eager_reason
    assert counts[-1] - counts[-2] == counts[0]  # the program ran the path eager code ran
    for want, got in zip(runs[0], runs[-1]):
        np.testing.assert_array_equal(got, want)
