"""The common elementwise primitives compute their ordinary backward on arrays (graph recording
off) and keep their Tensor formula for ``create_graph=True``: both paths must agree exactly."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import grad

OPS = {
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "sub": lambda a, b: a - b,
    "neg": lambda a, b: -a + b,
    "exp": lambda a, b: a.exp() * b,
    "log": lambda a, b: (a.abs() + 0.5).log() + b,
    "tanh": lambda a, b: (a * b).tanh(),
    "sigmoid": lambda a, b: (a - b).sigmoid(),
    "relu": lambda a, b: (a * b).relu(),
}


@pytest.mark.parametrize("shape", [(3, 4), ()], ids=["matrix", "0-d"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_array_backward_equals_recorded_backward(name, dtype, shape):
    rng = np.random.default_rng(0)
    a = dg.tensor(rng.standard_normal(shape) + 2.0, dtype=dtype, requires_grad=True)
    b = dg.tensor(rng.standard_normal(shape) + 2.0, dtype=dtype, requires_grad=True)
    seed = dg.tensor(rng.standard_normal(shape), dtype=dtype)
    fast = grad(OPS[name](a, b), [a, b], seed)
    recorded = grad(OPS[name](a, b), [a, b], seed, create_graph=True)
    for f, r in zip(fast, recorded):
        assert type(f._data) is np.ndarray and f.dtype == r.dtype and f.shape == r.shape
        np.testing.assert_array_equal(f.detach().numpy(), r.detach().numpy())
