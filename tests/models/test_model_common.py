"""models.common: activations by name and the initialization schemes of the initialization lab."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.models.common import ACTIVATIONS, INITS, initialize, make_activation


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_activation_name_builds_a_layer_that_keeps_the_shape(name):
    layer = make_activation(name, 5)
    assert isinstance(layer, nn.Module)
    assert layer(dg.randn(4, 5)).shape == (4, 5)


def test_activation_names_map_to_the_nn_classes():
    assert type(make_activation("relu")) is nn.ReLU
    assert type(make_activation("tanh")) is nn.Tanh
    assert type(make_activation("sigmoid")) is nn.Sigmoid
    assert make_activation("prelu", 7).weight.shape == (7,)


def test_unknown_activation_lists_the_allowed_names():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*relu.*tanh"):
        make_activation("swish")
    with pytest.raises(ValueError, match="apl.*num_features"):
        make_activation("apl")


def _wide_net():
    return nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 200))


@pytest.mark.parametrize(
    ("scheme", "activation", "expected_std"),
    [
        ("normal", "relu", lambda fan_in, fan_out: 1 / math.sqrt(fan_in)),
        ("kaiming", "relu", lambda fan_in, fan_out: math.sqrt(2 / fan_in)),
        ("kaiming", "tanh", lambda fan_in, fan_out: (5 / 3) / math.sqrt(fan_in)),
        # U(-b, b) has std b / sqrt(3), b = sqrt(6 / (fan_in + fan_out)) (no activation gain)
        (
            "xavier",
            "sigmoid",
            lambda fan_in, fan_out: math.sqrt(6 / (fan_in + fan_out)) / math.sqrt(3),
        ),
        (
            "xavier",
            "tanh",
            lambda fan_in, fan_out: math.sqrt(2 / (fan_in + fan_out)),
        ),  # no gain: the lectures' Xavier
    ],
)
def test_schemes_draw_weights_with_the_textbook_spread_and_zero_biases(
    scheme, activation, expected_std
):
    dg.manual_seed(0)
    net = initialize(_wide_net(), scheme, activation)
    for layer in (net[0], net[2]):
        fan_out, fan_in = layer.weight.shape
        w = layer.weight.detach().numpy()
        assert abs(w.mean()) < 0.05 * expected_std(fan_in, fan_out)
        assert w.std() == pytest.approx(expected_std(fan_in, fan_out), rel=0.03)
        assert not layer.bias.detach().numpy().any()


def test_zeros_scheme_makes_every_weight_zero():
    net = initialize(_wide_net(), "zeros")
    assert all(not p.detach().numpy().any() for p in net.parameters())


def test_default_scheme_keeps_the_layers_own_initialization():
    dg.manual_seed(1)
    net = _wide_net()
    before = [p.detach().numpy().copy() for p in net.parameters()]
    initialize(net, "default")
    assert all(np.array_equal(a, p.detach().numpy()) for a, p in zip(before, net.parameters()))


def test_initialize_reaches_convolutions_and_tied_decoders():
    dg.manual_seed(0)
    enc = nn.Linear(6, 3)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), enc, nn.TiedLinear(enc))
    initialize(model, "zeros")
    assert not model[0].weight.detach().numpy().any() and not model[3].bias.detach().numpy().any()


def test_unknown_scheme_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown init 'he'.*" + ".*".join(INITS)):
        initialize(_wide_net(), "he")
