"""Shared synthetic data and weights for the MLP cases (784-1000-500-100-10)."""

import itertools

import numpy as np

SIZES = (784, 1000, 500, 100, 10)


def data(batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], size=batch)
    return x, y


def weights(seed: int = 1):
    """(W, b) per layer, W of shape (in, out), PyTorch-like uniform init."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in itertools.pairwise(SIZES):
        bound = 1 / np.sqrt(n_in)
        params.append(
            (
                rng.uniform(-bound, bound, (n_in, n_out)).astype(np.float32),
                rng.uniform(-bound, bound, n_out).astype(np.float32),
            )
        )
    return params


def numpy_step(batch: int, lr: float = 0.01):
    """A hand-written NumPy training step: forward, softmax cross-entropy, backward, SGD."""
    x, y = data(batch)
    params = weights()
    onehot = np.eye(SIZES[-1], dtype=np.float32)[y]

    def step():
        acts = [x]
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        shifted = h - h.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        probs = e / e.sum(axis=1, keepdims=True)
        g = (probs - onehot) / batch
        for i in range(len(params) - 1, -1, -1):
            w, b = params[i]
            a_in = acts[i]
            dw = a_in.T @ g
            db = g.sum(axis=0)
            if i > 0:
                g = (g @ w.T) * (acts[i] > 0)
            w -= lr * dw
            b -= lr * db

    return step
