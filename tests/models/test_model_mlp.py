"""MLP and seed 004's MNIST network: shapes, structure, gradients, and a short training run."""

from __future__ import annotations

import itertools

import pytest
from model_helpers import directional_gradcheck, mnist_arrays

import deepgrad as dg
from deepgrad import nn
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.models import MLP, mnist_mlp
from deepgrad.models.mlp import MNIST_SIZES
from deepgrad.nn import functional as F
from deepgrad.optim import Adam
from deepgrad.train import Trainer


def test_forward_shapes_flatten_images():
    net = MLP([784, 32, 10])
    assert net(dg.randn(5, 784)).shape == (5, 10)
    assert net(dg.randn(5, 1, 28, 28)).shape == (5, 10)


def test_layers_follow_the_options():
    net = MLP([8, 6, 4, 2], activation="tanh", dropout=0.5, batch_norm=True)
    kinds = [type(m) for m in net.layers]
    hidden = [nn.Linear, nn.BatchNorm1d, nn.Tanh, nn.Dropout]
    assert kinds == hidden + hidden + [nn.Linear]
    assert [type(m) for m in MLP([3, 2]).layers] == [nn.Linear]


def test_seed_network_has_the_lecture_sizes():
    net = mnist_mlp()
    linears = [m for m in net.layers if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == list(
        itertools.pairwise(MNIST_SIZES)
    )
    expected = sum(a * b + b for a, b in itertools.pairwise(MNIST_SIZES))
    assert sum(p.numel() for p in net.parameters()) == expected
    assert all(isinstance(m, nn.ReLU) for m in net.layers if not isinstance(m, nn.Linear))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sizes": [784]}, "at least two"),
        ({"sizes": [784, 0, 10]}, "positive ints"),
        ({"sizes": [4, 2], "activation": "swish"}, "unknown activation"),
        (
            {"sizes": [4, 2], "dropout": 1.0},
            (
                r"^MLP: dropout must be in \[0, 1\) \(got 1\.0\); "
                r"it is the probability of zeroing a unit while training; 0 turns dropout off\.$"
            ),
        ),
        ({"sizes": [4, 2], "init": "he"}, "unknown init 'he'"),
    ],
)
def test_bad_arguments_are_refused_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP(**kwargs)


def test_a_dropout_that_is_not_a_number_is_a_type_error():
    message = r"^MLP: dropout must be a number \(got bool True\); it is the"
    with pytest.raises(TypeError, match=message):
        MLP([4, 2], dropout=True)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_gradients_match_finite_differences_in_float64(batch_norm):
    dg.manual_seed(0)
    net = MLP([5, 4, 3, 3], activation="tanh", batch_norm=batch_norm).double()
    x = dg.randn(6, 5, dtype=dg.float64, requires_grad=True)
    y = dg.tensor([0, 1, 2, 0, 1, 2])
    directional_gradcheck(lambda: F.cross_entropy(net(x), y), [*net.parameters(), x])


def test_short_training_on_mnist_digits_reaches_85_percent():
    x, y, xt, yt = mnist_arrays(1000, 500)
    dg.manual_seed(0)
    net = MLP([784, 128, 10])
    trainer = Trainer(
        net, F.cross_entropy, Adam(net.parameters(), lr=1e-3), metrics=["accuracy"], progress=False
    )
    loader = DataLoader(
        TensorDataset(x, y), batch_size=50, shuffle=True, generator=dg.Generator().manual_seed(0)
    )
    trainer.fit(loader, epochs=5)
    assert trainer.evaluate(DataLoader(TensorDataset(xt, yt), batch_size=500))["accuracy"] >= 0.85
