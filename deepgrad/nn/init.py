"""Weight initialization: fill a tensor in place from a distribution (PyTorch's ``nn.init``).

Every function writes into the tensor's array without recording a graph (as under
``no_grad``) and returns the tensor. Random draws come from ``generator`` or the
default generator, so ``deepgrad.manual_seed(s)`` makes them repeatable.

Fans (``_calculate_fan_in_and_fan_out``): for a weight of shape
(out, in, *kernel), ``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.
A Linear weight is (out_features, in_features).

Example:
    >>> import deepgrad as dg
    >>> w = dg.empty(256, 128)
    >>> _ = kaiming_normal_(w, nonlinearity="relu")   # std = sqrt(2 / 128) = 0.125
    >>> abs(float(w.std()) - 0.125) < 0.01
    True
"""

from __future__ import annotations

import math

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.backend.validation import non_negative_float, one_of
from deepgrad.ops.creation import normal, uniform

_GAINS = {
    "linear": 1.0,
    "identity": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4,
}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain (std multiplier) for a nonlinearity.

    linear, conv*, sigmoid: 1;  tanh: 5/3;  relu: sqrt(2);
    leaky_relu: sqrt(2 / (1 + negative_slope^2)) (``param`` is the slope, default 0.01);  selu: 3/4.
    """
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope must be a number (got {param!r})")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity not in _GAINS:
        allowed = ", ".join(sorted([*_GAINS, "leaky_relu"]))
        raise ValueError(
            f"calculate_gain: unknown nonlinearity {nonlinearity!r}; allowed: {allowed}."
        )
    return _GAINS[nonlinearity]


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in = shape[1] * prod(shape[2:]),  fan_out = shape[0] * prod(shape[2:])."""
    if tensor.ndim < 2:
        raise ShapeError(
            f"init: fan in and fan out need a tensor with at least 2 dimensions (got shape {tensor.shape}); "
            "use uniform_/normal_/constant_ for biases."
        )
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fan(tensor: Tensor, mode: str) -> int:
    one_of(mode, ("fan_in", "fan_out"), "mode", "init")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _write(tensor: Tensor, values) -> Tensor:
    """Copy ``values`` (a Tensor or array) into ``tensor`` in place, recording nothing."""
    with no_grad():
        tensor._data[...] = values._data if isinstance(values, Tensor) else values
    tensor._version += 1
    return tensor


# -- constants --------------------------------------------------------------------------------
def constant_(tensor: Tensor, val: float) -> Tensor:
    """tensor[...] = val."""
    return _write(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """tensor[...] = 0."""
    return _write(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """tensor[...] = 1."""
    return _write(tensor, 1)


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix (ones on the diagonal) in a 2-D tensor; rectangular shapes allowed."""
    if tensor.ndim != 2:
        raise ShapeError(f"eye_: needs a 2-D tensor (got shape {tensor.shape})")
    return _write(tensor, tensor.xp.eye(*tensor.shape, dtype=tensor.dtype))


# -- plain distributions ----------------------------------------------------------------------
def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """tensor ~ U(a, b)."""
    if b < a:
        raise ValueError(f"uniform_: b must be >= a (got a={a}, b={b})")
    values = uniform(
        a, b, tensor.shape, generator=generator, dtype=tensor.dtype, device=tensor.device
    )
    return _write(tensor, values)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """tensor ~ N(mean, std^2)."""
    non_negative_float(std, "std", "normal_")
    values = normal(
        mean, std, tensor.shape, generator=generator, dtype=tensor.dtype, device=tensor.device
    )
    return _write(tensor, values)


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator=None,
) -> Tensor:
    """tensor ~ N(mean, std^2) restricted to [a, b] (absolute bounds, as in PyTorch).

    Drawn by rejection: values outside [a, b] are redrawn until none is left.
    """
    non_negative_float(std, "std", "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b (got a={a}, b={b})")
    if std == 0:
        if not a <= mean <= b:
            raise ValueError(f"trunc_normal_: std=0 and mean={mean} outside [a, b] = [{a}, {b}]")
        return constant_(tensor, mean)

    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf((x - mean) / (std * math.sqrt(2))))

    if cdf(b) - cdf(a) < 1e-3:
        raise ValueError(
            f"trunc_normal_: [a, b] = [{a}, {b}] holds less than 0.1% of N({mean}, {std}^2); "
            "move the bounds closer to the mean."
        )
    xp = tensor.xp
    values = normal(
        mean, std, tensor.shape, generator=generator, dtype="float64", device=tensor.device
    )._data
    outside = (values < a) | (values > b)
    while bool(outside.any()):
        count = int(outside.sum())
        redraw = normal(
            mean, std, (count,), generator=generator, dtype="float64", device=tensor.device
        )._data
        values[outside] = redraw
        outside = (values < a) | (values > b)
    return _write(tensor, xp.asarray(values, dtype=tensor.dtype))


# -- scaled by the fans -----------------------------------------------------------------------
def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010): tensor ~ U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator=generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010): tensor ~ N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator=generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    """He et al. (2015): tensor ~ U(-b, b), b = gain * sqrt(3 / fan).

    ``gain = calculate_gain(nonlinearity, a)`` (``a`` is the leaky-ReLU slope), ``fan`` is
    fan_in (keeps the forward variance) or fan_out (keeps the backward variance).
    With a = sqrt(5) (Linear's default) this is U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """
    fan = _fan(tensor, mode)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan) if fan else 0.0
    return uniform_(tensor, -bound, bound, generator=generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    """He et al. (2015): tensor ~ N(0, std^2), std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a).

    For ReLU networks, ``kaiming_normal_(w, nonlinearity="relu")`` gives std = sqrt(2 / fan_in).
    """
    fan = _fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0
    return normal_(tensor, 0.0, std, generator=generator)


def lecun_normal_(tensor: Tensor, generator=None) -> Tensor:
    """LeCun et al. (1998): tensor ~ N(0, 1 / fan_in), i.e. std = 1 / sqrt(fan_in)."""
    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, 1.0 / math.sqrt(fan_in) if fan_in else 0.0, generator=generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Saxe et al. (2014): a (semi-)orthogonal matrix times ``gain``.

    The tensor is viewed as (shape[0], prod(shape[1:])); its rows (or columns, whichever
    are fewer) are orthonormal. Q comes from the QR decomposition of a standard normal
    matrix, with the signs of R's diagonal folded in so that Q is uniformly distributed.
    """
    if tensor.ndim < 2:
        raise ShapeError(
            f"orthogonal_: needs a tensor with at least 2 dimensions (got shape {tensor.shape})"
        )
    rows = tensor.shape[0]
    cols = tensor.numel() // rows if rows else 0
    if tensor.numel() == 0:
        return tensor
    xp = tensor.xp
    flat = normal(
        0.0, 1.0, (rows, cols), generator=generator, dtype="float64", device=tensor.device
    )._data
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diagonal(r))
    if rows < cols:
        q = q.T
    return _write(tensor, (gain * q).reshape(tensor.shape).astype(tensor.dtype))


__all__ = [
    "calculate_gain",
    "constant_",
    "eye_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "lecun_normal_",
    "normal_",
    "ones_",
    "orthogonal_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]
