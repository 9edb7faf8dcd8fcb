"""LeNet5 and ConvNet: shapes, gradients, and a short training run on digits."""

from __future__ import annotations

import pytest
from model_helpers import directional_gradcheck, mnist_arrays

import deepgrad as dg
from deepgrad import nn
from deepgrad.backend import ShapeError
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.models import ConvNet, LeNet5
from deepgrad.nn import functional as F
from deepgrad.optim import Adam
from deepgrad.train import Trainer


@pytest.mark.parametrize(
    "make", [LeNet5, lambda: ConvNet(channels=(4, 8), hidden=16, batch_norm=True)]
)
def test_digits_in_as_images_or_flat_give_class_scores(make):
    net = make()
    assert net(dg.randn(3, 1, 28, 28)).shape == (3, 10)
    assert net(dg.randn(3, 784)).shape == (3, 10)
    with pytest.raises(ShapeError, match=r"\(N, 1, 28, 28\).*\(3, 3, 28, 28\)"):
        net(dg.randn(3, 3, 28, 28))


def test_lenet5_has_the_classic_layer_sizes():
    net = LeNet5(num_classes=7, activation="tanh", pool="avg", dropout=0.2)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 6), (6, 16)]
    assert [(m.in_features, m.out_features) for m in linears] == [(400, 120), (120, 84), (84, 7)]
    assert sum(isinstance(m, nn.AvgPool2d) for m in net.modules()) == 2
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: LeNet5(pool="min"), r"^LeNet5: pool must be 'max' or 'avg' \(got 'min'\)\.$"),
        (lambda: LeNet5(activation="nope"), "unknown activation"),
        (
            lambda: LeNet5(dropout=1.0),
            r"^LeNet5: dropout must be in \[0, 1\) \(got 1\.0\); it is the probability of zeroing",
        ),
        (lambda: ConvNet(channels=(8,)), "two positive ints"),
        (
            lambda: ConvNet(dropout=-0.1),
            (
                r"^ConvNet: dropout must be in \[0, 1\) \(got -0\.1\); "
                r"it is the probability of zeroing a unit while training; 0 turns dropout off\.$"
            ),
        ),
    ],
)
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_dropout_that_is_not_a_number_is_a_type_error():
    message = r"^ConvNet: dropout must be a number \(got str '0\.5'\); it is"
    with pytest.raises(TypeError, match=message):
        ConvNet(dropout="0.5")


@pytest.mark.parametrize(
    "make", [lambda: LeNet5(activation="tanh"), lambda: ConvNet(channels=(2, 3), hidden=5)]
)
def test_gradients_match_finite_differences_in_float64(make):
    dg.manual_seed(0)
    net = make().double().eval()
    x = dg.randn(2, 1, 28, 28, dtype=dg.float64, requires_grad=True)
    y = dg.tensor([3, 7])
    directional_gradcheck(lambda: F.cross_entropy(net(x), y), [*net.parameters(), x])


@pytest.mark.parametrize("make", [LeNet5, lambda: ConvNet(channels=(8, 16), hidden=32)])
def test_convnets_learn_digits_in_three_epochs(make):
    x, y, xt, yt = mnist_arrays(1000, 500, flat=False)
    dg.manual_seed(0)
    net = make()
    trainer = Trainer(
        net, F.cross_entropy, Adam(net.parameters(), lr=1e-3), metrics=["accuracy"], progress=False
    )
    trainer.fit(DataLoader(TensorDataset(x, y), batch_size=50, shuffle=True), epochs=3)
    assert trainer.evaluate(DataLoader(TensorDataset(xt, yt), batch_size=500))["accuracy"] >= 0.8
