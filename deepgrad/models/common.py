"""What the reference models share: activations by name and weight initialization schemes.

``make_activation("relu")`` builds any activation layer of ``deepgrad.nn`` from its name, so a
model (and the ``deepgrad`` command) can take ``activation="tanh"``; ``initialize(model, "xavier",
"tanh")`` re-draws every Linear/Conv weight with one of the schemes of the initialization lab
(zero, N(0, 1/n), Xavier, Kaiming) and zeroes the biases.
"""

from __future__ import annotations

from collections.abc import Callable

from deepgrad import nn
from deepgrad.nn import init as nn_init

# name -> (factory taking the number of units or None, nonlinearity name for nn.init.calculate_gain, its parameter)
_ACTIVATIONS: dict[str, tuple[Callable[[int | None], nn.Module], str, float | None]] = {
    "relu": (lambda n: nn.ReLU(), "relu", None),
    "relu6": (lambda n: nn.ReLU6(), "relu", None),
    "leaky_relu": (lambda n: nn.LeakyReLU(0.01), "leaky_relu", 0.01),
    "vlrelu": (lambda n: nn.VLReLU(), "leaky_relu", 1.0 / 3.0),
    "rrelu": (lambda n: nn.RReLU(), "leaky_relu", (1.0 / 8.0 + 1.0 / 3.0) / 2),
    "prelu": (lambda n: nn.PReLU(n or 1), "leaky_relu", 0.25),
    "apl": (lambda n: _needs_units("apl", n, nn.APL), "relu", None),
    "elu": (lambda n: nn.ELU(), "relu", None),
    "selu": (lambda n: nn.SELU(), "selu", None),
    "celu": (lambda n: nn.CELU(), "relu", None),
    "gelu": (lambda n: nn.GELU(), "relu", None),
    "silu": (lambda n: nn.SiLU(), "relu", None),
    "mish": (lambda n: nn.Mish(), "relu", None),
    "softplus": (lambda n: nn.Softplus(), "relu", None),
    "centered_softplus": (lambda n: nn.CenteredSoftplus(), "relu", None),
    "sigmoid": (lambda n: nn.Sigmoid(), "sigmoid", None),
    "tanh": (lambda n: nn.Tanh(), "tanh", None),
    "softsign": (lambda n: nn.Softsign(), "tanh", None),
    "hardtanh": (lambda n: nn.Hardtanh(), "tanh", None),
}
ACTIVATIONS: tuple[str, ...] = tuple(_ACTIVATIONS)
INITS: tuple[str, ...] = ("zeros", "normal", "xavier", "kaiming", "default")
# the "; how to fix" tail of every model's dropout check (backend.validation.probability)
DROPOUT_FIX = "it is the probability of zeroing a unit while training; 0 turns dropout off"


def _needs_units(name: str, units: int | None, factory):
    if units is None:
        raise ValueError(
            f"make_activation: {name!r} learns one set of parameters per unit; pass num_features."
        )
    return factory(units)


def check_activation(owner: str, activation: str) -> str:
    """``activation`` if it names an activation, else a ValueError listing the allowed names."""
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"{owner}: unknown activation {activation!r}; allowed: {', '.join(ACTIVATIONS)}."
        )
    return activation


def check_init(owner: str, scheme: str) -> str:
    """``scheme`` if it names an initialization scheme, else a ValueError listing the allowed ones."""
    if scheme not in INITS:
        raise ValueError(f"{owner}: unknown init {scheme!r}; allowed: {', '.join(INITS)}.")
    return scheme


def make_activation(name: str, num_features: int | None = None) -> nn.Module:
    """A fresh activation layer by name: "relu", "tanh", "sigmoid", "leaky_relu", "elu", ... (see ``ACTIVATIONS``).

    Args:
        name: the activation's name.
        num_features: the number of units, for activations with per-unit parameters ("prelu",
            "apl"). Default: None (one shared PReLU slope; "apl" then raises).

    Example:
        >>> make_activation("tanh")
        Tanh()
    """
    return _ACTIVATIONS[check_activation("make_activation", name)][0](num_features)


def gain_of(activation: str) -> tuple[str, float | None]:
    """(nonlinearity, param) for ``nn.init.calculate_gain`` that suits an activation name."""
    _, nonlinearity, param = _ACTIVATIONS[check_activation("gain_of", activation)]
    return nonlinearity, param


def init_weight(weight, scheme: str, activation: str = "relu") -> None:
    """Fill one weight tensor in place with an initialization scheme.

    - ``zeros``: W = 0 (every unit of a layer computes the same thing: symmetry is never broken);
    - ``normal``: W ~ N(0, 1/n), n = fan_in (LeCun);
    - ``xavier``: W ~ U(-b, b), b = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010, as in the
      lectures: no activation gain, so that it differs from Kaiming for ReLU networks);
    - ``kaiming``: W ~ N(0, gain^2 / fan_in) (He et al., 2015), gain = sqrt(2) for ReLU.

    Kaiming's gain follows ``activation`` (``nn.init.calculate_gain``).
    """
    check_init("init_weight", scheme)
    nonlinearity, param = gain_of(activation)
    if scheme == "zeros":
        nn_init.zeros_(weight)
    elif scheme == "normal":
        nn_init.lecun_normal_(weight)
    elif scheme == "xavier":
        nn_init.xavier_uniform_(weight)
    elif scheme == "kaiming":
        a = 0.0 if param is None else param
        nn_init.kaiming_normal_(weight, a=a, nonlinearity=nonlinearity)


_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d)


def initialize(model: nn.Module, scheme: str = "kaiming", activation: str = "relu") -> nn.Module:
    """Re-draw the weights of every Linear and (transposed) convolution of ``model``; zero the biases.

    ``scheme="default"`` leaves the layers' own initialization (PyTorch's
    U(-1/sqrt(fan_in), 1/sqrt(fan_in))) untouched. See ``init_weight`` for the schemes.

    Args:
        model: the module to initialize (in place).
        scheme: "zeros", "normal" (N(0, 1/n)), "xavier", "kaiming" or "default". Default: "kaiming".
        activation: the hidden activation, which sets the gain. Default: "relu".

    Returns:
        ``model``.

    Example:
        >>> import deepgrad.nn as nn
        >>> net = initialize(nn.Sequential(nn.Linear(4, 3)), "zeros")
        >>> float(net[0].weight.abs().sum())
        0.0
    """
    check_init("initialize", scheme)
    check_activation("initialize", activation)
    if scheme == "default":
        return model
    for module in model.modules():
        if isinstance(module, _WEIGHTED):
            init_weight(module.weight, scheme, activation)
            if module.bias is not None:
                nn_init.zeros_(module.bias)
        elif isinstance(module, nn.TiedLinear) and module.bias is not None:
            nn_init.zeros_(module.bias)  # its weight is the encoder's, drawn above
    return model


__all__ = [
    "ACTIVATIONS",
    "DROPOUT_FIX",
    "INITS",
    "check_activation",
    "check_init",
    "gain_of",
    "init_weight",
    "initialize",
    "make_activation",
]
