"""Shared helpers for the train tests: two-moons data and small MLPs (imported as ``train_helpers``;
pytest puts this folder on sys.path when it loads the folder's conftest)."""

from __future__ import annotations

import numpy as np

from deepgrad import nn
from deepgrad.data import DataLoader, TensorDataset


def moons(n: int, noise: float, seed: int):
    """Two interleaved half circles (x float32 (n, 2), y int64 (n,)), drawn with a private NumPy RNG."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.0, np.pi, n)
    label = rng.integers(0, 2, n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    x = np.where(label[:, None] == 0, upper, lower) + noise * rng.normal(size=(n, 2))
    return x.astype(np.float32), label.astype(np.int64)


def mlp(
    activation=nn.ReLU, width: int = 32, depth: int = 2, inputs: int = 2, outputs: int = 2
) -> nn.Sequential:
    layers, fan_in = [], inputs
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), activation()]
        fan_in = width
    layers.append(nn.Linear(fan_in, outputs))
    return nn.Sequential(*layers)


def loader(x, y, batch_size=32, shuffle=True, **kwargs) -> DataLoader:
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, **kwargs)


def weights(model) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
