"""deepgrad.nn.functional (imported as ``F``): the math of every layer, activation and loss.

Layers in ``deepgrad.nn`` own their parameters and call the functions here, so each formula lives
in one place (STYLE.md 3.1). Most functions are composites of primitives and get their gradients
for free; softmax, log-softmax, softmax cross-entropy and training-mode batch norm are fused
primitives (``deepgrad/ops/fused.py``). Names and arguments follow ``torch.nn.functional``.

Every function is stable for inputs of magnitude 1000: no inf or nan where the true value is finite.

Example:
    >>> import deepgrad as dg
    >>> import deepgrad.nn.functional as F
    >>> F.relu(dg.tensor([-1.0, 2.0]))
    tensor([0., 2.])
"""

from __future__ import annotations

import math

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DeviceError, DTypeError, ShapeError, amp_state, to_dtype
from deepgrad.backend.random import Generator
from deepgrad.ops import composite as cp
from deepgrad.ops import elementwise as ew
from deepgrad.ops import reduce as rd
from deepgrad.ops import shape as sh
from deepgrad.ops.creation import full_like, ones, rand, uniform, zeros
from deepgrad.ops.fused import BatchNorm, LogSoftmax, Softmax, SoftmaxCrossEntropy, log_softmax, softmax
from deepgrad.ops.autocast import FLOAT32, autocast_inputs
from deepgrad.ops.index import one_hot
from deepgrad.ops.linalg import linear as _linear
from deepgrad.ops.linalg import matmul
from deepgrad.ops.tensor_methods import _inplace

__all__ = [
    # linear
    "linear",
    # activations
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
    # dropout
    "dropout",
    "dropout2d",
    "alpha_dropout",
    # normalization
    "batch_norm",
    "layer_norm",
    # sparse
    "embedding",
    "one_hot",
    # losses
    "mse_loss",
    "l1_loss",
    "huber_loss",
    "smooth_l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
    "kl_div",
    "gaussian_nll_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


# -- argument checks -----------------------------------------------------------------------------
def _check_tensor(name: str, arg: str, value) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{name}: {arg} must be a deepgrad Tensor (got {type(value).__name__}); wrap it with deepgrad.tensor(...)."
        )


def _check_reduction(name: str, reduction: str, allowed: tuple = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {', '.join(map(repr, allowed))} (got {reduction!r}).")


def _check_same_shape(name: str, input: Tensor, target: Tensor) -> None:
    _check_tensor(name, "input", input)
    _check_tensor(name, "target", target)
    if input.shape != target.shape:
        raise ShapeError(
            f"{name}: input and target shapes differ (got input {input.shape}, target {target.shape}); "
            "they must match element for element (reshape or squeeze the one with extra size-1 dimensions)."
        )


def _check_same_device(name: str, input: Tensor, other: Tensor, arg: str) -> None:
    if type(other._data) is not type(input._data):
        raise DeviceError(
            f"{name}: {arg} is on {other.device} but the other tensor is on {input.device}; "
            f"move it with {arg}.to(device) first."
        )


def _check_probability(name: str, p: float) -> None:
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p < 1.0:
        raise ValueError(f"{name}: dropout probability p must be in [0, 1) (got {p!r}).")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return cp.mean(loss)
    if reduction == "sum":
        return loss.sum()
    return loss


def _maybe_inplace(name: str, fn, input: Tensor, inplace: bool, *args) -> Tensor:
    """Run ``fn(input, *args)``, writing the result into ``input`` when ``inplace`` (deepgrad's in-place rules)."""
    if inplace:
        return _inplace(name, fn)(input, *args)
    return fn(input, *args)


def _channel_view(name: str, param: Tensor, input: Tensor) -> Tensor:
    """A per-channel parameter of shape (C,) reshaped to broadcast against input (N, C, *) on dim 1."""
    count = param._data.size
    if count == 1:
        return param.reshape(())
    channels = input.shape[1] if input.ndim >= 2 else (input.shape[0] if input.ndim == 1 else 1)
    if channels != count:
        raise ShapeError(
            f"{name}: the parameter has {count} entries but the input has {channels} channels "
            f"(input shape {input.shape}, channels on dim 1, or dim 0 for 1-D input); "
            "use one entry or one per channel."
        )
    if input.ndim <= 1:
        return param.reshape(count)
    return param.reshape((1, count) + (1,) * (input.ndim - 2))


# -- linear --------------------------------------------------------------------------------------
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ W^T + b.

    Args:
        input: (*, in_features).
        weight: (out_features, in_features).
        bias: (out_features,) or None.

    Returns:
        (*, out_features).

    Example:
        >>> import deepgrad as dg
        >>> linear(dg.ones(2, 3), dg.ones(4, 3), dg.zeros(4)).shape
        (2, 4)
    """
    _check_tensor("linear", "input", input)
    return _linear(input, weight, bias)


# -- activations ---------------------------------------------------------------------------------
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


def _softplus(z: Tensor) -> Tensor:
    # ln(1 + e^z) = max(z, 0) + ln(1 + e^-|z|) never overflows; maximum (unlike relu) splits the
    # tie at z = 0 evenly, which gives the exact gradient there, sigmoid(0) = 1/2.
    return ew.maximum(z, 0.0) + ew.log1p(ew.exp(-ew.abs(z)))


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
    """y = max(x, a x) for 0 <= a < 1: y = x where x > 0, else a * x (LReLU, Maas et al., 2013; a ~ 0.01).

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
    a = (lower + upper) / 2. The lecture's table uses U(0.1, 0.5): ``rrelu(x, 0.1, 0.5, training=True)``.

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
    slopes = uniform(lower, upper, input.shape, generator=generator, dtype=input.dtype, device=input.device)
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


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """y = scale * elu(x, alpha), alpha = 1.6733, scale = 1.0507 (self-normalizing, Klambauer et al., 2017)."""
    return _maybe_inplace("selu", lambda x: _elu(x, _SELU_ALPHA) * _SELU_SCALE, input, inplace)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """y = max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (Barron, 2017)."""
    if alpha == 0:
        raise ValueError("celu: alpha must be nonzero (got 0).")
    return _maybe_inplace(
        "celu", lambda x: ew.where(x > 0, x, ew.expm1(ew.clamp(x, max=0.0) / alpha) * alpha), input, inplace
    )


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (Hendrycks & Gimpel, 2016).

    With ``approximate='tanh'``: y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    """
    if approximate == "none":
        return input * (ew.erf(input * (1.0 / math.sqrt(2.0))) + 1.0) * 0.5
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * (ew.tanh(inner) + 1.0) * 0.5
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh' (got {approximate!r}).")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """y = x * sigmoid(x) (SiLU / swish)."""
    return _maybe_inplace("silu", lambda x: x * ew.sigmoid(x), input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """y = x * tanh(softplus(x)) (Misra, 2019)."""
    return _maybe_inplace("mish", lambda x: x * ew.tanh(_softplus(x)), input, inplace)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """y = min(max(x, min_val), max_val)."""
    if not min_val < max_val:
        raise ValueError(f"hardtanh: min_val must be < max_val (got min_val={min_val}, max_val={max_val}).")
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
    if not isinstance(pieces, int) or pieces < 1:
        raise ValueError(f"maxout: pieces must be a positive int (got {pieces!r}).")
    (d,) = rd.normalize_dims("maxout", dim, input.ndim)
    size = input.shape[d]
    if size % pieces:
        raise ShapeError(
            f"maxout: the size of dim {dim} ({size}, input shape {input.shape}) is not a multiple of "
            f"pieces={pieces}; the layer before needs units * pieces outputs."
        )
    grouped = input.reshape(input.shape[:d] + (size // pieces, pieces) + input.shape[d + 1 :])
    return rd.amax(grouped, dim=d + 1)


def apl(input: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Adaptive piecewise linear unit (Agostinelli et al., 2014):
    y_i = max(x_i, 0) + sum_s a_i^s * max(0, -x_i + b_i^s), with learnable a, b per unit i and hinge s.

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
        raise ShapeError(f"apl: a and b must both have shape (hinges, units) (got a {a.shape}, b {b.shape}).")
    hinges, units = a.shape
    channels = input.shape[1] if input.ndim >= 2 else (input.shape[0] if input.ndim == 1 else None)
    if channels != units:
        raise ShapeError(
            f"apl: input of shape {input.shape} has {channels} units on dim 1 but a, b have {units} "
            "(they are (hinges, units))."
        )
    view = (hinges, units) if input.ndim == 1 else (hinges, 1, units) + (1,) * (input.ndim - 2)
    bends = ew.relu(b.reshape(view) - cp.unsqueeze(input, 0))
    return ew.relu(input) + (a.reshape(view) * bends).sum(dim=0)


# -- dropout -------------------------------------------------------------------------------------
def _keep_mask(input: Tensor, shape: tuple, p: float, generator) -> Tensor:
    """1 / (1 - p) with probability 1 - p, else 0: the scaled keep mask of inverted dropout."""
    draw = rand(shape, generator=generator, dtype=input.dtype, device=input.device)._data
    mask = (draw >= p).astype(input.dtype)
    mask *= 1.0 / (1.0 - p)
    return Tensor._make(mask, None)


def dropout(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """y = x * m / (1 - p), m ~ Bernoulli(1 - p) per element, in training; y = x otherwise.

    Inverted dropout (Srivastava et al., 2014): scaling at training time keeps E[y] = x, so
    evaluation needs no change. Draws come from ``generator`` (default: deepgrad's default
    generator, so ``deepgrad.manual_seed`` makes masks repeatable).

    Args:
        input: any shape.
        p: the probability of zeroing an element, in [0, 1). Default: 0.5.
        training: apply dropout (True) or return the input (False). Default: True.
        inplace: write the result into ``input``. Default: False.
        generator: the random generator. Default: deepgrad's default generator.

    Example:
        >>> import deepgrad as dg
        >>> dropout(dg.ones(3), p=0.5, training=False)
        tensor([1., 1., 1.])
    """
    _check_probability("dropout", p)
    if not training or p == 0:
        return input
    mask = _keep_mask(input, input.shape, p, generator)
    return _maybe_inplace("dropout", ew.mul, input, inplace, mask)


def dropout2d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Channel dropout: zero whole channels, y[n, c] = x[n, c] * m[n, c] / (1 - p), in training.

    Neighbouring pixels of a feature map are correlated, so dropping single pixels barely
    regularizes a convolutional layer; dropping whole channels does (Tompson et al., 2015).

    Args:
        input: (N, C, H, W), or (C, H, W) for one unbatched sample.
        p: the probability of zeroing a channel, in [0, 1). Default: 0.5.
    """
    _check_probability("dropout2d", p)
    if input.ndim not in (3, 4):
        raise ShapeError(
            f"dropout2d: expected a 4-D input (N, C, H, W) or a 3-D one (C, H, W) (got shape {input.shape}); "
            "use dropout for other shapes."
        )
    if not training or p == 0:
        return input
    shape = input.shape[:-2] + (1, 1)
    mask = _keep_mask(input, shape, p, generator)
    return _maybe_inplace("dropout2d", ew.mul, input, inplace, mask)


def alpha_dropout(
    input: Tensor,
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Dropout for SELU networks: dropped units are set to SELU's negative saturation value
    alpha' = -scale * alpha, then y = a * (x * m + alpha' * (1 - m)) + b with
    a = ((1 - p) (1 + p alpha'^2))^(-1/2) and b = -a alpha' p keeps zero mean and unit variance
    (Klambauer et al., 2017). Identity when not training.
    """
    _check_probability("alpha_dropout", p)
    if not training or p == 0:
        return input
    saturation = -_SELU_ALPHA * _SELU_SCALE
    a = 1.0 / math.sqrt((1.0 - p) * (1.0 + p * saturation * saturation))
    draw = rand(input.shape, generator=generator, dtype=input.dtype, device=input.device)._data
    keep = (draw >= p).astype(input.dtype)
    scale = Tensor._make(keep * a, None)
    offset = Tensor._make(((1.0 - keep) * (a * saturation) - a * saturation * p).astype(input.dtype), None)
    return _maybe_inplace("alpha_dropout", lambda x: x * scale + offset, input, inplace)


# -- normalization -------------------------------------------------------------------------------
def _check_channels(name: str, input: Tensor, **params) -> int:
    _check_tensor(name, "input", input)
    if input.ndim < 2:
        raise ShapeError(f"{name}: expected an input (N, C, *) with at least 2 dimensions (got shape {input.shape}).")
    channels = input.shape[1]
    for arg, value in params.items():
        if value is not None and value.shape != (channels,):
            raise ShapeError(
                f"{name}: {arg} has shape {value.shape} but the input has {channels} channels on dim 1 "
                f"(input shape {input.shape}); it must be ({channels},)."
            )
    return channels


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias per channel (Ioffe & Szegedy, 2015).

    In training, mean and var are the batch's statistics over every dimension but 1 (a fused
    primitive), and the running statistics, when given, are updated in place:
    running = (1 - momentum) * running + momentum * batch (the unbiased variance for running_var).
    In evaluation, the running statistics are used.

    Args:
        input: (N, C, *).
        running_mean, running_var: (C,) buffers, or None (then ``training`` must be True).
        weight, bias: (C,) or None (no scale / no shift).
        training: use batch statistics and update the running ones. Default: False.
        momentum: the weight of the new batch in the running statistics. Default: 0.1.
        eps: added to the variance. Default: 1e-5.

    Example:
        >>> import deepgrad as dg
        >>> y = batch_norm(dg.tensor([[1.0], [3.0]]), None, None, training=True)
        >>> y
        tensor([[-1.],
                [ 1.]])
    """
    name = "batch_norm"
    channels = _check_channels(
        name, input, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias
    )
    if training:
        if input._data.size // max(channels, 1) <= 1:
            raise ValueError(
                f"{name}: expected more than 1 value per channel when training (got input shape {input.shape}); "
                "use a batch of more than one sample, or eval mode."
            )
        affine = ()
        if weight is not None or bias is not None:
            affine = (
                weight if weight is not None else ones(channels, dtype=input.dtype, device=input.device),
                bias if bias is not None else zeros(channels, dtype=input.dtype, device=input.device),
            )
        y = BatchNorm.apply(
            input,
            *affine,
            eps=eps,
            running_mean=None if running_mean is None else running_mean._data,
            running_var=None if running_var is None else running_var._data,
            momentum=momentum,
        )
        for buffer in (running_mean, running_var):
            if buffer is not None:
                buffer._version += 1
        return y
    if running_mean is None or running_var is None:
        raise ValueError(
            f"{name}: evaluation mode needs running_mean and running_var (got None); "
            "pass training=True to normalize with the batch statistics."
        )
    xp = input.xp
    invstd = Tensor._make(1.0 / xp.sqrt(running_var._data + eps), None)
    scale = invstd if weight is None else invstd * weight
    shift = -running_mean.detach() * scale
    if bias is not None:
        shift = shift + bias
    view = (1, channels) + (1,) * (input.ndim - 2)
    return input * scale.reshape(view).to(input.dtype) + shift.reshape(view).to(input.dtype)


def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias, statistics over the trailing
    ``normalized_shape`` dimensions of each sample (Ba et al., 2016).

    Args:
        input: (*, *normalized_shape).
        normalized_shape: an int or a tuple, the trailing dimensions to normalize over.
        weight, bias: of shape ``normalized_shape``, or None.
        eps: added to the variance. Default: 1e-5.

    Example:
        >>> import deepgrad as dg
        >>> layer_norm(dg.tensor([[1.0, 3.0]]), 2)
        tensor([[-1.,  1.]])
    """
    _check_tensor("layer_norm", "input", input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.shape[input.ndim - k :] != shape or input.ndim < k:
        raise ShapeError(
            f"layer_norm: normalized_shape {shape} must be the trailing dimensions of the input "
            f"(got input shape {input.shape})."
        )
    for arg, value in (("weight", weight), ("bias", bias)):
        if value is not None and value.shape != shape:
            raise ShapeError(f"layer_norm: {arg} has shape {value.shape} but normalized_shape is {shape}.")
    dims = tuple(range(input.ndim - k, input.ndim))
    centered = input - cp.mean(input, dim=dims, keepdim=True)
    y = centered * (cp.mean(centered * centered, dim=dims, keepdim=True) + eps) ** -0.5
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


# -- sparse --------------------------------------------------------------------------------------
def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """y[...] = weight[input[...]]: one row of the table per index.

    The gradient adds into the looked-up rows (repeated indices accumulate). The row at
    ``padding_idx`` gets no gradient, so it stays as initialized (zeros in ``nn.Embedding``).

    Args:
        input: integer indices of any shape, each in [0, num_embeddings).
        weight: the table, (num_embeddings, embedding_dim).
        padding_idx: an index whose row receives no gradient, or None. Negative counts from the end.

    Returns:
        (*input.shape, embedding_dim).

    Example:
        >>> import deepgrad as dg
        >>> embedding(dg.tensor([2, 0]), dg.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))
        tensor([[2., 2.],
                [0., 0.]])
    """
    _check_tensor("embedding", "input", input)
    _check_tensor("embedding", "weight", weight)
    if input.dtype.kind not in "iu":
        raise DTypeError(f"embedding: indices must be an integer tensor (got {input.dtype}); use input.long().")
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim) (got shape {weight.shape}).")
    _check_same_device("embedding", weight, input, "input")
    count = weight.shape[0]
    indices = input._data
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= count):
        raise ValueError(
            f"embedding: indices must lie in [0, {count}) for a table of {count} rows "
            f"(got min {int(indices.min())}, max {int(indices.max())})."
        )
    rows = sh.Index.apply(weight, index=(indices,))
    if padding_idx is None:
        return rows
    padding_idx = _padding_index(padding_idx, count)
    used = Tensor._make((indices != padding_idx)[..., None], None)
    return ew.where(used, rows, rows.detach())


def _padding_index(padding_idx: int, count: int) -> int:
    if not -count <= padding_idx < count:
        raise ValueError(f"embedding: padding_idx must be in [-{count}, {count}) (got {padding_idx}).")
    return padding_idx % count


# -- losses --------------------------------------------------------------------------------------
def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """loss = (x - y)^2 per element, then reduced ('mean' | 'sum' | 'none').

    Example:
        >>> import deepgrad as dg
        >>> mse_loss(dg.tensor([1.0, 2.0]), dg.tensor([1.0, 4.0]))
        tensor(2.)
    """
    _check_reduction("mse_loss", reduction)
    _check_same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """loss = |x - y| per element, then reduced."""
    _check_reduction("l1_loss", reduction)
    _check_same_shape("l1_loss", input, target)
    return _reduce(ew.abs(input - target), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """loss = 0.5 d^2 where |d| < delta, else delta * (|d| - 0.5 delta), d = x - y (Huber, 1964)."""
    _check_reduction("huber_loss", reduction)
    _check_same_shape("huber_loss", input, target)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0 (got {delta}).")
    diff = input - target
    size = ew.abs(diff)
    loss = ew.where(size < delta, diff * diff * 0.5, (size - 0.5 * delta) * delta)
    return _reduce(loss, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """loss = 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, d = x - y (Girshick, 2015).

    Huber loss divided by beta; beta = 0 gives the L1 loss.
    """
    _check_reduction("smooth_l1_loss", reduction)
    _check_same_shape("smooth_l1_loss", input, target)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0 (got {beta}).")
    diff = input - target
    size = ew.abs(diff)
    if beta == 0:
        return _reduce(size, reduction)
    loss = ew.where(size < beta, diff * diff * (0.5 / beta), size - 0.5 * beta)
    return _reduce(loss, reduction)


def _clamped_log(p: Tensor) -> Tensor:
    # PyTorch clamps log(p) at -100 so that p = 0 gives a finite loss. The log is taken of 1 where
    # p = 0, so the unused branch (and its gradient 1/p) stays finite: the gradient there is 0.
    positive = p > 0
    return ew.clamp(ew.where(positive, ew.log(ew.where(positive, p, 1.0)), -100.0), min=-100.0)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """loss = -w * (y log p + (1 - y) log(1 - p)) per element, logs clamped to >= -100 (as PyTorch).

    Args:
        input: probabilities p in [0, 1] (after a sigmoid), any shape.
        target: y in [0, 1], the same shape.
        weight: a rescaling weight broadcast to the input's shape, or None.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.

    Example:
        >>> import deepgrad as dg
        >>> binary_cross_entropy(dg.tensor([0.0, 1.0]), dg.tensor([1.0, 1.0]))
        tensor(50.)
    """
    name = "binary_cross_entropy"
    _check_reduction(name, reduction)
    _check_same_shape(name, input, target)
    data = input._data
    # One reduction read back, so a GPU waits once per call; nan fails both comparisons.
    if data.size and not bool(((data >= 0.0) & (data <= 1.0)).all()):
        raise ValueError(
            f"{name}: input must hold probabilities in [0, 1] (got min {float(data.min())}, max {float(data.max())}); "
            "apply sigmoid first, or use binary_cross_entropy_with_logits on the raw scores."
        )
    loss = -(target * _clamped_log(input) + (1.0 - target) * _clamped_log(1.0 - input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """loss = -w * (pw * y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))) per element, on logits x.

    Computed as (1 - y) x + (1 + (pw - 1) y) softplus(-x), which is exact for logits of any size
    (a sigmoid followed by binary_cross_entropy saturates at |x| ~ 17 in float32).

    Args:
        input: logits, any shape.
        target: y in [0, 1], the same shape.
        weight: a rescaling weight broadcast to the input's shape, or None.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.
        pos_weight: weight of the positive term, broadcast along the last dimension (one per class).

    Example:
        >>> import deepgrad as dg
        >>> binary_cross_entropy_with_logits(dg.tensor([1000.0, -1000.0]), dg.tensor([1.0, 1.0]), reduction="none")
        tensor([   0., 1000.])
    """
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    _check_same_shape(name, input, target)
    softplus_neg = _softplus(-input)
    if pos_weight is None:
        loss = (1.0 - target) * input + softplus_neg
    else:
        loss = (1.0 - target) * input + ((pos_weight - 1.0) * target + 1.0) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _class_targets(name: str, input: Tensor, target: Tensor, ignore_index: int) -> tuple:
    """Rows of scores (M, C) with the classes last, the class indices (M,), and the batch shape."""
    _check_tensor(name, "input", input)
    _check_tensor(name, "target", target)
    if input.ndim == 0:
        raise ShapeError(f"{name}: input needs a class dimension (got a 0-d tensor).")
    if amp_state.active():
        (input,) = autocast_inputs(FLOAT32, input)
    class_dim = 1 if input.ndim >= 2 else 0
    classes = input.shape[class_dim]
    batch_shape = input.shape[:class_dim] + input.shape[class_dim + 1 :]
    if target.shape != batch_shape:
        raise ShapeError(
            f"{name}: target of shape {target.shape} does not match input of shape {input.shape}; class-index "
            f"targets need shape {batch_shape} (the input without its class dimension {class_dim})."
        )
    _check_same_device(name, input, target, "target")
    t = target._data
    if t.dtype.kind not in "iu":
        raise DTypeError(f"{name}: class-index targets must be integers (got {target.dtype}); use target.long().")
    rows = cp.movedim(input, class_dim, -1).reshape(-1, classes) if input.ndim > 2 else input.reshape(-1, classes)
    t = t.reshape(-1)
    valid = t != ignore_index
    # One reduction read back, so a GPU waits once per call (not for a masked copy, a min and a max).
    if t.size and bool((valid & ((t < 0) | (t >= classes))).any()):
        picked = t[valid]
        raise ValueError(
            f"{name}: target class indices must lie in [0, {classes}) for {classes} classes "
            f"(got min {int(picked.min())}, max {int(picked.max())}; ignore_index={ignore_index})."
        )
    return rows, t, valid, batch_shape, classes


def _class_weights(name: str, weight: Tensor | None, classes: int, t, valid, dtype):
    """Per-row weights: weight[t] (or 1), 0 where the target is ignored, as an array."""
    if weight is None:
        return valid.astype(dtype)
    if weight.shape != (classes,):
        raise ShapeError(f"{name}: weight must have shape ({classes},), one per class (got {weight.shape}).")
    xp = weight.xp
    return xp.where(valid, weight._data[xp.where(valid, t, 0)], 0).astype(dtype)


def _weighted_reduce(loss: Tensor, row_weights, reduction: str, batch_shape: tuple) -> Tensor:
    """PyTorch's weighted mean: sum(w_n * loss_n) / sum(w_n); ``loss`` is already multiplied by w_n."""
    if reduction == "none":
        return loss.reshape(batch_shape)
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / Tensor._make(row_weights.sum(keepdims=True).reshape(()), None)


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """loss_n = -w[t_n] * x[n, t_n] on log-probabilities x; the mean divides by sum_n w[t_n].

    Args:
        input: log-probabilities, (N, C), (N, C, d1, ...) or (C,).
        target: class indices, (N,), (N, d1, ...) or ().
        weight: one weight per class (C,), or None.
        ignore_index: a target value that contributes neither loss nor weight. Default: -100.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.

    Example:
        >>> import deepgrad as dg
        >>> nll_loss(dg.tensor([[-1.0, -2.0], [-3.0, -4.0]]), dg.tensor([1, 0]))
        tensor(2.5)
    """
    name = "nll_loss"
    _check_reduction(name, reduction)
    rows, t, valid, batch_shape, classes = _class_targets(name, input, target, ignore_index)
    xp = rows.xp
    row_weights = _class_weights(name, weight, classes, t, valid, rows.dtype)
    picked = sh.Index.apply(rows, index=(xp.arange(t.size), xp.where(valid, t, 0)))
    loss = -picked * Tensor._make(row_weights, None)
    return _weighted_reduce(loss, row_weights, reduction, batch_shape)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """loss_n = -w[t_n] * log softmax(x_n)[t_n]: softmax and negative log-likelihood in one stable step.

    With class indices t the mean divides by sum_n w[t_n] over non-ignored n (PyTorch's weighted
    mean). With class probabilities (a float target of the input's shape) the loss is
    -sum_c w_c y_c log softmax(x)_c and the mean divides by the number of rows. Label smoothing
    eps mixes the target with the uniform distribution: (1 - eps) * target + eps / C.

    Args:
        input: logits, (N, C), (N, C, d1, ...) or (C,). Stable for logits of +-1000.
        target: class indices (N,), (N, d1, ...) or (), or class probabilities of the input's shape.
        weight: one weight per class (C,), or None.
        ignore_index: a class index that contributes neither loss nor weight. Default: -100.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.
        label_smoothing: eps in [0, 1]. Default: 0.

    Example:
        >>> import deepgrad as dg
        >>> cross_entropy(dg.tensor([[1000.0, -1000.0], [0.0, 0.0]]), dg.tensor([0, 1]))
        tensor(0.3466)
    """
    name = "cross_entropy"
    _check_reduction(name, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1] (got {label_smoothing}).")
    _check_tensor(name, "input", input)
    _check_tensor(name, "target", target)
    if target.dtype.kind in "fV":
        return _cross_entropy_probabilities(input, target, weight, ignore_index, reduction, label_smoothing)
    rows, t, valid, batch_shape, classes = _class_targets(name, input, target, ignore_index)
    xp = rows.xp
    row_weights = _class_weights(name, weight, classes, t, valid, rows.dtype)
    safe_t = xp.where(valid, t, 0)
    if label_smoothing == 0:
        loss = SoftmaxCrossEntropy.apply(rows, target=safe_t)
        if weight is not None or not valid.all():
            loss = loss * Tensor._make(row_weights, None)
        return _weighted_reduce(loss, row_weights, reduction, batch_shape)
    # PyTorch's label smoothing with class indices: (1 - eps) * nll + eps / C * sum_c -w_c log p_c,
    # both reduced with the same weighted mean.
    log_probs = LogSoftmax.apply(rows, dim=1)
    nll = -sh.Index.apply(log_probs, index=(xp.arange(t.size), safe_t))
    smooth = log_probs if weight is None else log_probs * weight.detach()
    smooth = -smooth.sum(dim=1)
    loss = nll * Tensor._make(row_weights * (1.0 - label_smoothing), None) + smooth * Tensor._make(
        valid.astype(rows.dtype) * (label_smoothing / classes), None
    )
    return _weighted_reduce(loss, row_weights, reduction, batch_shape)


def _cross_entropy_probabilities(input, target, weight, ignore_index, reduction, label_smoothing) -> Tensor:
    name = "cross_entropy"
    if target.shape != input.shape:
        raise ShapeError(
            f"{name}: probability targets must have the input's shape (got input {input.shape}, target "
            f"{target.shape}); for class indices pass an integer target."
        )
    if ignore_index != -100:
        raise ValueError(
            f"{name}: ignore_index (got {ignore_index}) applies only to class-index targets, not to "
            "class probabilities; give ignored rows zero probability instead."
        )
    class_dim = 1 if input.ndim >= 2 else 0
    classes = input.shape[class_dim]
    log_probs = log_softmax(input, dim=class_dim)
    if label_smoothing > 0:
        target = target * (1.0 - label_smoothing) + label_smoothing / classes
    terms = log_probs * target
    if weight is not None:
        if weight.shape != (classes,):
            raise ShapeError(f"{name}: weight must have shape ({classes},), one per class (got {weight.shape}).")
        terms = terms * weight.reshape((classes,) + (1,) * (input.ndim - class_dim - 1))
    loss = -terms.sum(dim=class_dim)
    return _reduce(loss, reduction)


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """loss = y * (log y - x) per element, x = log q the input's log-probabilities, y the target
    probabilities (0 where y = 0); with ``log_target`` the target is log y: exp(log y) (log y - x).

    ``reduction='batchmean'`` divides the sum by the batch size, which is the KL divergence
    KL(y || q) per sample; 'mean' divides by the number of elements (as PyTorch).

    Example:
        >>> import deepgrad as dg
        >>> kl_div(dg.tensor([0.0, -1000.0]), dg.tensor([1.0, 0.0]), reduction="sum")
        tensor(0.)
    """
    name = "kl_div"
    _check_reduction(name, reduction, _REDUCTIONS + ("batchmean",))
    _check_same_shape(name, input, target)
    if log_target:
        loss = ew.exp(target) * (target - input)
    else:
        positive = target > 0
        loss = ew.where(positive, target * ew.log(ew.where(positive, target, 1.0)), 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var: Tensor | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """loss = 0.5 * (log max(var, eps) + (x - y)^2 / max(var, eps)) [+ 0.5 log(2 pi) when full].

    The negative log-likelihood of y under N(x, var). The clamp to eps changes the value, not
    the gradient (as PyTorch).

    Args:
        input: the predicted means, any shape.
        target: the same shape.
        var: the predicted variances (>= 0): the input's shape, the input's shape with the last
            dimension 1 or dropped (one variance shared across it), or a number.
        full: add the constant 0.5 log(2 pi). Default: False.
        eps: the smallest variance used. Default: 1e-6.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.
    """
    name = "gaussian_nll_loss"
    _check_reduction(name, reduction)
    _check_same_shape(name, input, target)
    if not isinstance(var, Tensor):
        var = full_like(input, float(var))
    if var.shape != input.shape:
        if input.ndim and var.shape == input.shape[:-1]:
            var = cp.unsqueeze(var, -1)
        elif not (input.ndim and var.shape == input.shape[:-1] + (1,)):
            raise ShapeError(
                f"{name}: var of shape {var.shape} does not fit input of shape {input.shape}; use the input's shape, "
                "or the input's shape with the last dimension 1 or dropped."
            )
    if var._data.size and float(var._data.min()) < 0:
        raise ValueError(f"{name}: var must be >= 0 (got min {float(var._data.min())}).")
    var = var + (ew.clamp(var, min=eps) - var).detach()
    diff = input - target
    loss = (ew.log(var) + diff * diff / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2.0 * math.pi)
    return _reduce(loss, reduction)


# -- convolution, pooling and recurrent layers (deepgrad/ops/conv.py, pool.py, rnn.py) --
# The math and the docs live next to the primitives; F re-exports them under PyTorch's names.
from deepgrad.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: E402
from deepgrad.ops.pool import (  # noqa: E402
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)

__all__ += [
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
]
