"""Layers forward and backward, and whole training steps, on a CUDA device against the CPU.

Runs on the fake CuPy everywhere (arrays stay on the device through every layer) and on a real
GPU where CuPy and one are present (float32 numerics within tolerance).
"""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn

BACKENDS = ["fake"] + (
    [pytest.param("cuda", marks=pytest.mark.cuda)] if dg.cuda.is_available() else []
)


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    dg.manual_seed(0)
    if request.param == "fake":
        from fake_cupy import install

        install(monkeypatch)
    yield request.param
    dg.manual_seed(0)


LAYERS = {
    "linear": (lambda: nn.Linear(6, 5), (4, 6)),
    "conv2d": (lambda: nn.Conv2d(3, 4, 3, padding=1, stride=2), (2, 3, 7, 7)),
    "conv2d_groups_dilation": (lambda: nn.Conv2d(4, 6, 3, groups=2, dilation=2), (2, 4, 8, 8)),
    "conv1d": (lambda: nn.Conv1d(3, 4, 3, padding="same"), (2, 3, 9)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1), (2, 3, 5, 5)),
    "max_pool2d": (lambda: nn.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 7)),
    "avg_pool2d": (lambda: nn.AvgPool2d(2), (2, 3, 6, 6)),
    "adaptive_avg_pool2d": (lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 7, 8)),
    "batch_norm2d": (lambda: nn.BatchNorm2d(3), (4, 3, 5, 5)),
    "layer_norm": (lambda: nn.LayerNorm(6), (4, 3, 6)),
    "lstm": (lambda: nn.LSTM(5, 7, num_layers=2), (6, 3, 5)),
    "gru": (lambda: nn.GRU(5, 7, batch_first=True), (3, 6, 5)),
    "rnn": (lambda: nn.RNN(5, 7), (6, 3, 5)),
    "lstm_cell": (lambda: nn.LSTMCell(5, 7), (3, 5)),
    "sequential": (
        lambda: nn.Sequential(
            nn.Linear(6, 8),
            nn.Tanh(),
            nn.Sigmoid(),
            nn.GELU(),
            nn.Linear(8, 3),
            nn.LogSoftmax(dim=1),
        ),
        (4, 6),
    ),
    "prelu_elu_softplus": (
        lambda: nn.Sequential(nn.PReLU(), nn.ELU(), nn.Softplus(), nn.Mish()),
        (4, 6),
    ),
}


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_on_cuda_matches_cpu(backend, name):
    make, shape = LAYERS[name]
    dg.manual_seed(1)
    cpu_layer = make()
    gpu_layer = make()
    gpu_layer.load_state_dict(cpu_layer.state_dict())
    gpu_layer.to("cuda")
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    results = {}
    for device, layer in (("cpu", cpu_layer), ("cuda", gpu_layer)):
        inp = dg.tensor(x, device=device, requires_grad=True)
        out = _first(layer(inp))
        assert out.device.type == device
        seed = dg.tensor(
            np.random.default_rng(1).standard_normal(out.shape).astype(np.float32), device=device
        )
        (out * seed).sum().backward()
        grads = [inp.grad] + [p.grad for p in layer.parameters()]
        assert all(g.device.type == device for g in grads)
        results[device] = [out.detach().cpu().numpy()] + [g.cpu().numpy() for g in grads]
        results[device] += [b.cpu().numpy() for b in layer.buffers()]  # running statistics
    for got, want in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def _mlp():
    return nn.Sequential(
        nn.Linear(20, 32),
        nn.ReLU(),
        nn.Dropout(0.0),
        nn.Linear(32, 32),
        nn.Sigmoid(),
        nn.Linear(32, 4),
    )


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_training_steps_on_cuda_match_cpu(backend, optimizer):
    rng = np.random.default_rng(0)
    x_np, y_np = rng.standard_normal((64, 20)).astype(np.float32), rng.integers(0, 4, 64)
    params, losses = {}, {}
    for device in ("cpu", "cuda"):
        dg.manual_seed(0)
        model = _mlp().to(device)
        opt = (
            dg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            if optimizer == "SGD"
            else dg.optim.Adam(model.parameters(), lr=0.01)
        )
        x, y = dg.tensor(x_np, device=device), dg.tensor(y_np, device=device)
        losses[device] = []
        for _ in range(5):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            losses[device].append(loss.item())
        params[device] = [p.detach().cpu().numpy() for p in model.parameters()]
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=1e-5)
    assert losses["cuda"][-1] < losses["cuda"][0]
    for got, want in zip(params["cuda"], params["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_lenet_step_on_cuda(backend):
    dg.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(256, 120),
        nn.ReLU(),
        nn.Linear(120, 10),
    ).to("cuda")
    opt = dg.optim.SGD(model.parameters(), lr=0.05)
    x, y = dg.rand(16, 1, 28, 28, device="cuda"), dg.randint(0, 10, (16,), device="cuda")
    first = None
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first and all(p.device.type == "cuda" for p in model.parameters())
