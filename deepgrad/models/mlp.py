"""The multilayer perceptron, and seed 004's MNIST classifier 784-1000-500-100-10."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from deepgrad import nn
from deepgrad.autograd import Tensor
from deepgrad.backend.validation import probability
from deepgrad.models.common import (
    DROPOUT_FIX,
    check_activation,
    check_init,
    initialize,
    make_activation,
)


class MLP(nn.Module):
    """A fully connected network: (Linear -> [BatchNorm1d] -> activation -> [Dropout]) per hidden layer,
    then a last Linear that gives the raw scores (logits).

    h_0 = x,   h_k = dropout(act(bn(h_{k-1} @ W_k.T + b_k))),   y = h_{L-1} @ W_L.T + b_L

    Args:
        sizes: the layer widths, input first and output last, e.g. ``[784, 1000, 500, 100, 10]``
            (at least two).
        activation: the hidden activation's name, any of ``models.ACTIVATIONS`` ("relu", "tanh",
            "sigmoid", "leaky_relu", "elu", ...). Default: "relu".
        dropout: the probability of zeroing a hidden unit during training (0 turns it off). Default: 0.
        batch_norm: a BatchNorm1d after each hidden Linear (before the activation). Default: False.
        init: the weight initialization: "zeros", "normal" (N(0, 1/n)), "xavier", "kaiming" or
            "default" (the layers' own U(-1/sqrt(n), 1/sqrt(n))); biases start at 0 except with
            "default". Default: "kaiming".

    Shape:
        x: (N, sizes[0]) or any (N, *) with prod(*) = sizes[0] (images are flattened) -> (N, sizes[-1]).

    Attributes:
        layers: the ``nn.Sequential`` of all the layers.

    Example:
        >>> import deepgrad as dg
        >>> net = MLP([784, 100, 10], activation="tanh", dropout=0.2)
        >>> net(dg.randn(32, 1, 28, 28)).shape
        (32, 10)
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        init: str = "kaiming",
    ) -> None:
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2 or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes
        ):
            raise ValueError(
                f"MLP: sizes must list at least two positive ints, input first and output last (got {sizes!r})."
            )
        check_activation("MLP", activation)
        probability(dropout, "dropout", "MLP", fix=DROPOUT_FIX)
        check_init("MLP", init)
        self.sizes = sizes
        self.activation = activation
        self.dropout = float(dropout)
        self.batch_norm = bool(batch_norm)
        self.init = init
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(pairwise(sizes)):
            layers.append(nn.Linear(n_in, n_out))
            if i == len(sizes) - 2:
                break
            if batch_norm:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(make_activation(activation, n_out))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.layers = nn.Sequential(*layers)
        initialize(self, init, activation)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        return self.layers(x)

    def extra_repr(self) -> str:
        return (
            f"sizes={self.sizes}, activation={self.activation!r}, dropout={self.dropout}, "
            f"batch_norm={self.batch_norm}, init={self.init!r}"
        )


MNIST_SIZES = (784, 1000, 500, 100, 10)


def mnist_mlp(
    activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False, init: str = "kaiming"
) -> MLP:
    """Seed 004's MNIST classifier: 784-1000-500-100-10 with ReLUs.

    The seed trains it with MSE on one-hot targets and SGD at lr = 1; the ``mnist-mlp`` recipe of the
    ``deepgrad`` command uses cross-entropy on the logits and Adam (lr = 1e-3), which train the same
    network faster and more reliably.

    Example:
        >>> sum(p.numel() for p in mnist_mlp().parameters())
        1336610
    """
    return MLP(
        list(MNIST_SIZES), activation=activation, dropout=dropout, batch_norm=batch_norm, init=init
    )


__all__ = ["MLP", "MNIST_SIZES", "mnist_mlp"]
