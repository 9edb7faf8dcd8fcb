"""The PyTorch model snippets of lecture deck 003 run unchanged with ``import deepgrad as torch``.

Deck: ../shared/seeds/003_da38b009e143b572.txt (MLP as Sequential and as a Module subclass,
BCE / cross-entropy / MSE losses, dropout and batch-norm models with train/eval, weights_init
applied with model.apply). The deck's MLP class is garbled by its PDF extraction (fc3 and out are
used but not defined, and it returns x); it is written here the way the slide means it.
"""

from __future__ import annotations

import numpy as np

import deepgrad as torch
from deepgrad.nn import functional as F

nn = torch.nn


def test_sequential_mlp_trains_one_step():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 1024),
        torch.nn.ReLU(),
        torch.nn.Linear(1024, 1),
        torch.nn.Sigmoid(),
    )
    x = torch.randn(32, 2)
    y = (x[:, :1] * x[:, 1:] > 0).float()
    criterion = torch.nn.BCELoss()
    loss = criterion(model(x), y)
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    assert float(criterion(model(x), y)) < float(loss)


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(2, 16)
        self.fc2 = torch.nn.Linear(16, 64)
        self.fc3 = torch.nn.Linear(64, 1024)
        self.out = torch.nn.Linear(1024, 1)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = F.relu(self.fc3(x))
        out = F.sigmoid(self.out(x))
        return out


def test_mlp_module_subclass():
    model = MLP()
    out = model(torch.randn(5, 2))
    assert out.shape == (5, 1) and float(out.min()) > 0 and float(out.max()) < 1
    assert len(list(model.parameters())) == 8


def test_the_three_losses_of_the_deck():
    scores = torch.randn(4, 3, requires_grad=True)
    torch.nn.CrossEntropyLoss()(scores, torch.tensor([0, 2, 1, 2])).backward()
    assert scores.grad.shape == (4, 3)
    prediction = torch.randn(4, 2, requires_grad=True)
    torch.nn.MSELoss()(prediction, torch.zeros(4, 2)).backward()
    assert np.allclose(prediction.grad._data, 2 * prediction._data / 8, atol=1e-6)


def test_dropout_and_batchnorm_models_switch_modes():
    model = torch.nn.Sequential(
        torch.nn.Linear(1, 100),
        torch.nn.ReLU(),
        torch.nn.Dropout(),
        torch.nn.Linear(100, 50),
        torch.nn.ReLU(),
        torch.nn.Dropout(),
        torch.nn.Linear(50, 2),
    )
    x = torch.randn(8, 1)
    model.eval()
    assert np.array_equal(model(x)._data, model(x)._data)  # no dropout in eval mode
    model.train()
    bn = torch.nn.Sequential(
        torch.nn.Linear(1, 100),
        torch.nn.ReLU(),
        torch.nn.BatchNorm1d(100),
        torch.nn.Linear(100, 50),
        torch.nn.ReLU(),
        torch.nn.BatchNorm1d(50),
        torch.nn.Linear(50, 2),
    )
    assert bn(x).shape == (8, 2)
    bn.eval()
    assert bn(x[:1]).shape == (1, 2)  # eval mode uses running statistics, batch of one is fine


def test_weights_init_with_apply():
    def weights_init(m):
        if isinstance(m, nn.Linear):
            size = m.weight.size()
            n_out = size[0]
            n_in = size[1]
            variance = np.sqrt(2.0 / (n_in + n_out))
            m.weight.data.normal_(0.0, variance)

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(400, 600), torch.nn.ReLU(), torch.nn.Linear(600, 2))
    model.apply(weights_init)
    std = float(model[0].weight._data.std())
    assert abs(std - np.sqrt(2.0 / 1000)) < 0.01 * np.sqrt(2.0 / 1000)
    assert model[0].weight.requires_grad and model[0].weight.is_leaf
