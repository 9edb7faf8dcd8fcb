"""Helpers of the model tests: a directional gradient check over all of a model's parameters, and
small fixed subsets of the shipped MNIST digits."""

from __future__ import annotations

import numpy as np

from deepgrad.autograd import no_grad
from deepgrad.data import load_embedded_mnist


def directional_gradcheck(
    loss_of,
    tensors,
    directions: int = 3,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    seed: int = 0,
) -> None:
    """Check backward's gradient of the scalar ``loss_of()`` w.r.t. ``tensors`` along random directions.

    For each direction v (one standard-normal array per tensor), the analytical <grad, v> must match
    the central difference (L(t + eps v) - L(t - eps v)) / (2 eps). Run it in float64 with a
    deterministic ``loss_of`` (eval mode, or seeded noise). Checks all parameters at once, which a
    full Jacobian check cannot afford for a real model.
    """
    tensors = list(tensors)
    for t in tensors:
        t.grad = None
    loss = loss_of()
    loss.backward()
    grads = [
        np.zeros(t.shape) if t.grad is None else np.array(t.grad._data, dtype=np.float64)
        for t in tensors
    ]
    assert any(np.abs(g).sum() > 0 for g in grads), "the loss has no gradient at all"
    rng = np.random.default_rng(seed)
    for _ in range(directions):
        vs = [rng.standard_normal(t.shape) for t in tensors]
        analytic = sum(float((g * v).sum()) for g, v in zip(grads, vs))
        values = []
        for sign in (1.0, -1.0):
            with no_grad():
                for t, v in zip(tensors, vs):
                    t._data += sign * eps * v
                values.append(float(loss_of()._data))
                for t, v in zip(tensors, vs):
                    t._data -= sign * eps * v
        numeric = (values[0] - values[1]) / (2 * eps)
        assert abs(analytic - numeric) <= atol + rtol * abs(numeric), (analytic, numeric)


def mnist_arrays(n_train: int, n_test: int, flat: bool = True):
    """(x_train, y_train, x_test, y_test) float32 in [0, 1], a fixed random subset of the shipped digits."""
    images, labels = load_embedded_mnist(True)
    test_images, test_labels = load_embedded_mnist(False)
    rng = np.random.default_rng(0)
    train = rng.permutation(len(images))[:n_train]
    test = rng.permutation(len(test_images))[:n_test]
    shape = (-1, 784) if flat else (-1, 1, 28, 28)
    x = (images[train] / 255.0).astype(np.float32).reshape(shape)
    xt = (test_images[test] / 255.0).astype(np.float32).reshape(shape)
    return x, labels[train], xt, test_labels[test]
