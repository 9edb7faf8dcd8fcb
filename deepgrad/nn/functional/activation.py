"""Activation functions: relu and its relatives, sigmoid, tanh, gelu, maxout, APL, softmax.

softmax and log_softmax are fused primitives (``deepgrad/ops/fused.py``) re-exported here; the
others are composites of elementwise primitives and get their gradients for free.
"""

from __future__ import annotations

import math

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.backend.random import Generator
from deepgrad.backend.validation import one_of, positive_int
from deepgrad.nn.functional._utils import (
    _SELU_ALPHA,
    _SELU_SCALE,
    _check_tensor,
    _maybe_inplace,
    _softplus,
)
from deepgrad.ops import composite as cp
from deepgrad.ops import elementwise as ew
from deepgrad.ops import reduce as rd
from deepgrad.ops.creation import uniform
from deepgrad.ops.fused import log_softmax, softmax
from deepgrad.ops.fused_layers import Gelu

__all__ = [
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "relu6",
    "softplus",
    "centered_softplus",
    "logsigmoid",
    "leaky_relu",
    "vleaky_relu",
    "rrelu",
    "prelu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "hardtanh",
    "softsign",
    "softmax",
    "log_softmax",
    "maxout",
    "apl",
]


def _channel_view(name: str, param: Tensor, input: Tensor) -> Tensor:
    """A per-channel parameter (C,) reshaped to broadcast against input (N, C, *) on dim 1."""
    count = param._data.size
    if count == 1:
        return param.reshape(())
    channels = input.shape[1] if input.ndim >= 2 else (input.shape[0] if input.ndim == 1 else 1)
    if channels != count:
        raise ShapeError(
            f"{name}: the parameter has {count} entries but the input has {channels} channels "
            f"(input shape {input.shape}, channels on dim 1, or dim 0 for 1-D input); use one "
            "entry or one per channel."
        )
    if input.ndim <= 1:
        return param.reshape(count)
    return param.reshape((1, count) + (1,) * (input.ndim - 2))


def identity(input: Tensor) -> Tensor:
    """y = x."""
    return input


def sigmoid(input: Tensor) -> Tensor:
    """y = 1 / (1 + exp(-x)).   Stable for any x (computed as 0.5 * tanh(x / 2) + 0.5)."""
    return ew.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """y = (e^2x - 1) / (e^2x + 1)."""
    return ew.tanh(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """y = max(x, 0); the gradient at 0 is taken as 0.

    Example:
        >>> import deepgrad as dg
        >>> relu(dg.tensor([-2.0, 0.0, 3.0]))
        tensor([0., 0., 3.])
    """
    return _maybe_inplace("relu", ew.relu, input, inplace)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """y = min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """y = ln(1 + exp(beta * x)) / beta, and y = x where beta * x > threshold (as PyTorch).

    A smooth ReLU (Dugas et al., 2001). Stable for any x.

    Args:
        input: any shape.
        beta: the sharpness; larger is closer to ReLU. Default: 1.
        threshold: above beta * x > threshold the function is taken as linear. Default: 20.

    Example:
        >>> import deepgrad as dg
        >>> softplus(dg.tensor([0.0, 1000.0]))
        tensor([6.9315e-01, 1.0000e+03])
    """
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero (got 0).")
    z = input if beta == 1 else input * beta
    soft = _softplus(z) if beta == 1 else _softplus(z) / beta
    return ew.where(z > threshold, input, soft)


def centered_softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """y = softplus(x) - ln(2) / beta, so that y(0) = 0: ln(e^x + 1) - ln 2 for beta = 1.

    The "(centered) SoftPlus" of the activation table in the lecture (Glorot et al., 2011).

    Example:
        >>> import deepgrad as dg
        >>> centered_softplus(dg.tensor([0.0]))
        tensor([0.])
    """
    return softplus(input, beta, threshold) - math.log(2.0) / beta


def logsigmoid(input: Tensor) -> Tensor:
    """y = ln(sigmoid(x)) = -softplus(-x), stable for any x."""
    return -_softplus(-input)


def _leaky(x: Tensor, slope) -> Tensor:
    # where(x > 0, ...) gives the gradient `slope` at x = 0, as PyTorch.
    return ew.where(x > 0, x, x * slope)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """y = max(x, a x) for 0 <= a < 1: y = x where x > 0, else a * x.

    LReLU (Maas et al., 2013; a ~ 0.01).

    Example:
        >>> import deepgrad as dg
        >>> leaky_relu(dg.tensor([-100.0, 2.0]))
        tensor([-1.,  2.])
    """
    return _maybe_inplace("leaky_relu", _leaky, input, inplace, negative_slope)


def vleaky_relu(input: Tensor, negative_slope: float = 1.0 / 3.0, inplace: bool = False) -> Tensor:
    """Very leaky ReLU: y = x where x > 0, else a * x with a large slope a (0.1..0.5; default 1/3).

    The VLReLU of the lecture's activation table (Graham, 2014).
    """
    return _maybe_inplace("vleaky_relu", _leaky, input, inplace, negative_slope)


def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8.0,
    upper: float = 1.0 / 3.0,
    training: bool = False,
    inplace: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Randomized leaky ReLU (Xu et al., 2015): y = x where x > 0, else a * x.

    In training, a ~ U(lower, upper) is drawn per element from ``generator`` (the default
    generator when None, so ``deepgrad.manual_seed`` makes it repeatable); in evaluation
    a = (lower + upper) / 2. The lecture's table uses U(0.1, 0.5):
    ``rrelu(x, 0.1, 0.5, training=True)``.

    Args:
        input: any shape.
        lower, upper: the range of the random slope. Default: 1/8, 1/3 (PyTorch's).
        training: draw random slopes (True) or use their mean (False). Default: False.
        inplace: write the result into ``input``. Default: False.
        generator: the random generator. Default: deepgrad's default generator.
    """
    if not lower <= upper:
        raise ValueError(f"rrelu: lower must be <= upper (got lower={lower}, upper={upper}).")
    if not training:
        return _maybe_inplace("rrelu", _leaky, input, inplace, (lower + upper) / 2.0)
    slopes = uniform(
        lower, upper, input.shape, generator=generator, dtype=input.dtype, device=input.device
    )
    return _maybe_inplace("rrelu", _leaky, input, inplace, slopes)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """y = x where x > 0, else a * x, with a learnable slope a per channel (He et al., 2015).

    Args:
        input: (N, C, *) with channels on dim 1 (or any shape when ``weight`` has one entry).
        weight: the slopes, (1,) or (C,).
    """
    _check_tensor("prelu", "weight", weight)
    return _leaky(input, _channel_view("prelu", weight, input))


def _elu(x: Tensor, alpha: float) -> Tensor:
    # expm1 of min(x, 0): the unused branch for large positive x stays finite (no inf * 0 = nan).
    return ew.where(x > 0, x, ew.expm1(ew.clamp(x, max=0.0)) * alpha)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """y = x where x > 0, else alpha * (exp(x) - 1) (Clevert et al., 2015).

    Example:
        >>> import deepgrad as dg
        >>> elu(dg.tensor([-1000.0, 1.0]))
        tensor([-1.,  1.])
    """
    return _maybe_inplace("elu", _elu, input, inplace, alpha)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """y = scale * elu(x, alpha), alpha = 1.6733, scale = 1.0507.

    Self-normalizing (Klambauer et al., 2017).
    """
    return _maybe_inplace("selu", lambda x: _elu(x, _SELU_ALPHA) * _SELU_SCALE, input, inplace)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """y = max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (Barron, 2017)."""
    if alpha == 0:
        raise ValueError("celu: alpha must be nonzero (got 0).")
    return _maybe_inplace(
        "celu",
        lambda x: ew.where(x > 0, x, ew.expm1(ew.clamp(x, max=0.0) / alpha) * alpha),
        input,
        inplace,
    )


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (Hendrycks & Gimpel, 2016).

    With ``approximate='tanh'``: y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    """
    if one_of(approximate, ("none", "tanh"), "approximate", "gelu") == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * (ew.tanh(inner) + 1.0) * 0.5
    if isinstance(input, Tensor) and input.dtype.kind in "fV":
        return Gelu.apply(input)  # fused; composite reference below
    return input * (ew.erf(input * (1.0 / math.sqrt(2.0))) + 1.0) * 0.5


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """y = x * sigmoid(x) (SiLU / swish)."""
    return _maybe_inplace("silu", lambda x: x * ew.sigmoid(x), input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """y = x * tanh(softplus(x)) (Misra, 2019)."""
    return _maybe_inplace("mish", lambda x: x * ew.tanh(_softplus(x)), input, inplace)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """y = min(max(x, min_val), max_val)."""
    if not min_val < max_val:
        raise ValueError(
            f"hardtanh: min_val must be < max_val (got min_val={min_val}, max_val={max_val})."
        )
    return _maybe_inplace("hardtanh", _hardtanh, input, inplace, min_val, max_val)


def _hardtanh(x: Tensor, min_val: float, max_val: float) -> Tensor:
    # The gradient is 1 strictly inside (min_val, max_val) and 0 at the bounds, as PyTorch (so relu6
    # has relu's gradient 0 at x = 0).
    inside = (x > min_val) & (x < max_val)
    return ew.where(inside, x, ew.clamp(x.detach(), min_val, max_val))


def softsign(input: Tensor) -> Tensor:
    """y = x / (1 + |x|)."""
    return input / (ew.abs(input) + 1.0)


def maxout(input: Tensor, pieces: int, dim: int = -1) -> Tensor:
    """y_j = max(x_{j k}, ..., x_{j k + k - 1}) for k = ``pieces``: the max of each group of k
    consecutive features along ``dim`` (Goodfellow et al., 2013).

    Applied to a linear layer with k * units outputs this is the maxout unit
    y = max(W_1 x + b_1, ..., W_k x + b_k); ties share the gradient.

    Args:
        input: size along ``dim`` a multiple of ``pieces``.
        pieces: k, the number of linear pieces per unit.
        dim: the feature dimension. Default: -1.

    Example:
        >>> import deepgrad as dg
        >>> maxout(dg.tensor([[1.0, 5.0, -2.0, -3.0]]), pieces=2)
        tensor([[ 5., -2.]])
    """
    _check_tensor("maxout", "input", input)
    pieces = positive_int(pieces, "pieces", "maxout")
    (d,) = rd.normalize_dims("maxout", dim, input.ndim)
    size = input.shape[d]
    if size % pieces:
        raise ShapeError(
            f"maxout: the size of dim {dim} ({size}, input shape {input.shape}) is not a multiple "
            f"of pieces={pieces}; the layer before needs units * pieces outputs."
        )
    grouped = input.reshape(input.shape[:d] + (size // pieces, pieces) + input.shape[d + 1 :])
    return rd.amax(grouped, dim=d + 1)


def apl(input: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Adaptive piecewise linear unit (Agostinelli et al., 2014):
    y_i = max(x_i, 0) + sum_s a_i^s * max(0, -x_i + b_i^s),
    with learnable a, b per unit i and hinge s.

    Args:
        input: (N, C, *) with the units on dim 1, or (C,).
        a: the hinge slopes, (S, C).
        b: the hinge positions, (S, C).

    Example:
        >>> import deepgrad as dg
        >>> apl(dg.tensor([[-1.0, 2.0]]), a=dg.tensor([[1.0, 1.0]]), b=dg.tensor([[0.0, 0.0]]))
        tensor([[1., 2.]])
    """
    _check_tensor("apl", "input", input)
    if a.ndim != 2 or a.shape != b.shape:
        raise ShapeError(
            f"apl: a and b must both have shape (hinges, units) (got a {a.shape}, b {b.shape})."
        )
    hinges, units = a.shape
    channels = input.shape[1] if input.ndim >= 2 else (input.shape[0] if input.ndim == 1 else None)
    if channels != units:
        raise ShapeError(
            f"apl: input of shape {input.shape} has {channels} units on dim 1 but a, b have "
            f"{units} (they are (hinges, units))."
        )
    view = (hinges, units) if input.ndim == 1 else (hinges, 1, units) + (1,) * (input.ndim - 2)
    bends = ew.relu(b.reshape(view) - cp.unsqueeze(input, 0))
    return ew.relu(input) + (a.reshape(view) * bends).sum(dim=0)
