"""Dropout and its variants: random masks applied in training, the identity in evaluation.

The module is named ``noise`` (Chainer's name for this kind) rather than ``dropout`` so that
``deepgrad.nn.functional.dropout`` is the function, never this submodule.
"""

from __future__ import annotations

import math

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.backend.random import Generator
from deepgrad.backend.validation import probability
from deepgrad.nn.functional._utils import (
    _SELU_ALPHA,
    _SELU_SCALE,
    _maybe_inplace,
)
from deepgrad.ops import elementwise as ew
from deepgrad.ops.creation import rand

__all__ = ["dropout", "dropout2d", "alpha_dropout"]

# The "; how to fix" tail of a bad p (nn.Dropout words it the same way).
_P_FIX = "pass the dropout probability, e.g. 0.5 (p = 1 would zero everything)"


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
    p = probability(p, "p", "dropout", fix=_P_FIX)
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
    p = probability(p, "p", "dropout2d", fix=_P_FIX)
    if input.ndim not in (3, 4):
        raise ShapeError(
            "dropout2d: expected a 4-D input (N, C, H, W) or a 3-D one (C, H, W) (got shape "
            f"{input.shape}); use dropout for other shapes."
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
    p = probability(p, "p", "alpha_dropout", fix=_P_FIX)
    if not training or p == 0:
        return input
    saturation = -_SELU_ALPHA * _SELU_SCALE
    a = 1.0 / math.sqrt((1.0 - p) * (1.0 + p * saturation * saturation))
    draw = rand(input.shape, generator=generator, dtype=input.dtype, device=input.device)._data
    keep = (draw >= p).astype(input.dtype)
    scale = Tensor._make(keep * a, None)
    offset = Tensor._make(
        ((1.0 - keep) * (a * saturation) - a * saturation * p).astype(input.dtype), None
    )
    return _maybe_inplace("alpha_dropout", lambda x: x * scale + offset, input, inplace)
