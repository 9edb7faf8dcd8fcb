"""Affine layers and shape helpers: Linear, TiedLinear, Maxout, Identity, Flatten, Unflatten."""

from __future__ import annotations

import math

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.backend.validation import non_negative_int, positive_int
from deepgrad.nn import functional as F
from deepgrad.nn import init
from deepgrad.nn.module import Module
from deepgrad.nn.parameter import Parameter
from deepgrad.ops.creation import empty


def _check_features(layer: str, **sizes: int) -> None:
    for name, value in sizes.items():
        non_negative_int(value, name, layer)


def _check_input(layer: str, x: Tensor, features: int, name: str) -> None:
    if x.ndim == 0 or x.shape[-1] != features:
        raise ShapeError(
            f"{layer}: input's last dimension must be {name}={features} (got input shape {x.shape}); "
            "check the previous layer's size or flatten the input first."
        )


class Linear(Module):
    """Affine map y = x @ W.T + b.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: whether to learn the additive bias b. Default: True.
        device, dtype: where and in which float type the parameters are made. Default: cpu, float32.

    Shape:
        x: (*, in_features) -> y: (*, out_features).

    Parameters:
        weight: (out_features, in_features), W ~ U(-1/sqrt(in_features), 1/sqrt(in_features))
            (PyTorch's default: kaiming_uniform_ with a = sqrt(5)).
        bias: (out_features,), b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).

    Example:
        >>> import deepgrad as dg
        >>> layer = Linear(784, 10)
        >>> layer(dg.randn(32, 784)).shape
        (32, 10)
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        _check_features("Linear", in_features=in_features, out_features=out_features)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in_features, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw W and b again from U(-1/sqrt(in_features), 1/sqrt(in_features))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class TiedLinear(Module):
    """Decoder sharing an encoder's weight, transposed: y = x @ W + b'.

    ``W`` is the encoder's (out, in) weight Parameter itself, so a tied-weights
    autoencoder ``x -> enc(x) -> dec(h)`` trains one matrix, and W's gradient is
    the sum of the encoder's and the decoder's contributions. ``parameters()``
    lists W once; ``state_dict()`` names it under both layers, as PyTorch does for
    shared parameters.

    Args:
        encoder: the Linear layer whose weight is shared.
        bias: whether to learn a decoder bias b'. Default: True.

    Shape:
        x: (*, encoder.out_features) -> y: (*, encoder.in_features).

    Parameters:
        weight: the encoder's weight (shared, not a copy).
        bias: (encoder.in_features,), b' ~ U(-1/sqrt(encoder.out_features), 1/sqrt(encoder.out_features)).

    Example:
        >>> import deepgrad as dg
        >>> enc = Linear(784, 64)
        >>> dec = TiedLinear(enc)
        >>> dec(enc(dg.randn(8, 784))).shape, dec.weight is enc.weight
        ((8, 784), True)
    """

    def __init__(self, encoder: Linear, bias: bool = True) -> None:
        super().__init__()
        weight = getattr(encoder, "weight", None)
        if not isinstance(weight, Parameter) or weight.ndim != 2:
            raise TypeError(
                f"TiedLinear: encoder must be a layer with a 2-D weight Parameter such as nn.Linear "
                f"(got {type(encoder).__name__})"
            )
        self.out_features, self.in_features = weight.shape[1], weight.shape[0]
        self.weight = weight
        if bias:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            self.bias = Parameter(
                empty(self.out_features, device=weight.device, dtype=weight.dtype)
            )
            init.uniform_(self.bias, -bound, bound)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        _check_input("TiedLinear", x, self.in_features, "encoder.out_features")
        return F.linear(x, self.weight.mT, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, tied"
        )


class Maxout(Module):
    """Maxout units (Goodfellow et al., 2013): y_j = max_k (x @ W[j, k].T + b[j, k]).

    Each of the ``out_features`` units computes ``pieces`` affine functions of the
    input and outputs their maximum: a learned piecewise-linear convex activation.

    Args:
        in_features: size of each input sample.
        out_features: number of maxout units.
        pieces: number k of linear pieces per unit (>= 1).
        bias: whether to learn biases. Default: True.

    Shape:
        x: (*, in_features) -> y: (*, out_features).

    Parameters:
        weight: (out_features, pieces, in_features), U(-1/sqrt(in_features), 1/sqrt(in_features)).
        bias: (out_features, pieces), same distribution.

    Example:
        >>> import deepgrad as dg
        >>> Maxout(20, 5, pieces=3)(dg.randn(4, 20)).shape
        (4, 5)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        pieces: int,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        _check_features("Maxout", in_features=in_features, out_features=out_features)
        positive_int(pieces, "pieces", "Maxout")
        self.in_features, self.out_features, self.pieces = in_features, out_features, pieces
        self.weight = Parameter(
            empty(out_features, pieces, in_features, device=device, dtype=dtype)
        )
        if bias:
            self.bias = Parameter(empty(out_features, pieces, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight, bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features)), as ``nn.Linear``."""
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        _check_input("Maxout", x, self.in_features, "in_features")
        units = self.out_features * self.pieces
        bias = None if self.bias is None else self.bias.reshape(units)
        z = F.linear(x, self.weight.reshape(units, self.in_features), bias)
        return z.reshape(*x.shape[:-1], self.out_features, self.pieces).amax(dim=-1)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"pieces={self.pieces}, bias={self.bias is not None}"
        )


class Identity(Module):
    """y = x. Accepts and ignores any constructor arguments (a placeholder layer)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default.

    Args:
        start_dim: first dimension to merge. Default: 1 (keeps the batch dimension).
        end_dim: last dimension to merge. Default: -1.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        if not isinstance(start_dim, int) or not isinstance(end_dim, int):
            raise TypeError(
                f"Flatten: start_dim and end_dim must be ints (got {start_dim!r}, {end_dim!r})"
            )
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        ndim = max(x.ndim, 1)
        start, end = self.start_dim, self.end_dim
        if not (-ndim <= start < ndim and -ndim <= end < ndim) or start % ndim > end % ndim:
            raise ShapeError(
                f"Flatten: start_dim={start}, end_dim={end} do not select a range of dimensions "
                f"of an input of shape {x.shape}; need start_dim <= end_dim within its {x.ndim} dims."
            )
        return x.flatten(start, end)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: (N, 784) -> (N, 1, 28, 28).

    Args:
        dim: the dimension to split.
        unflattened_size: the new sizes; their product must equal the size of ``dim``
            (one of them may be -1).
    """

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        if not isinstance(dim, int):
            raise TypeError(f"Unflatten: dim must be an int (got {dim!r})")
        sizes = tuple(unflattened_size)
        if (
            not all(isinstance(s, int) and (s >= 0 or s == -1) for s in sizes)
            or sizes.count(-1) > 1
        ):
            raise ValueError(
                f"Unflatten: unflattened_size must be non-negative ints with at most one -1 (got {unflattened_size!r})"
            )
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, x: Tensor) -> Tensor:
        ndim = x.ndim
        if not -ndim <= self.dim < ndim:
            raise ShapeError(
                f"Unflatten: dim={self.dim} is out of range for an input of shape {x.shape}"
            )
        d = self.dim % ndim
        sizes = self.unflattened_size
        known = math.prod(s for s in sizes if s != -1)
        if (-1 not in sizes and known != x.shape[d]) or (
            -1 in sizes and (known == 0 or x.shape[d] % known)
        ):
            raise ShapeError(
                f"Unflatten: sizes {sizes} do not multiply to the size {x.shape[d]} of dim {self.dim} "
                f"(input shape {x.shape})"
            )
        return x.reshape(*x.shape[:d], *sizes, *x.shape[d + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
