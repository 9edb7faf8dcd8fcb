"""Normalization: batch norm (a fused primitive in training) and layer norm (a composite)."""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.nn.functional._utils import _check_tensor
from deepgrad.ops import composite as cp
from deepgrad.ops.creation import ones, zeros
from deepgrad.ops.fused import BatchNorm

__all__ = ["batch_norm", "layer_norm"]


def _check_channels(name: str, input: Tensor, **params) -> int:
    _check_tensor(name, "input", input)
    if input.ndim < 2:
        raise ShapeError(
            f"{name}: expected an input (N, C, *) with at least 2 dimensions (got shape "
            f"{input.shape})."
        )
    channels = input.shape[1]
    for arg, value in params.items():
        if value is not None and value.shape != (channels,):
            raise ShapeError(
                f"{name}: {arg} has shape {value.shape} but the input has {channels} channels on "
                f"dim 1 (input shape {input.shape}); it must be ({channels},)."
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
    channels = _check_channels(
        "batch_norm",
        input,
        running_mean=running_mean,
        running_var=running_var,
        weight=weight,
        bias=bias,
    )
    if training:
        return _batch_norm_train(
            input, channels, running_mean, running_var, weight, bias, momentum, eps
        )
    return _batch_norm_eval(input, channels, running_mean, running_var, weight, bias, eps)


def _batch_norm_train(
    input: Tensor,
    channels: int,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    momentum: float,
    eps: float,
) -> Tensor:
    """Normalize with the batch's statistics (the fused primitive) and update the running ones."""
    if input._data.size // max(channels, 1) <= 1:
        raise ValueError(
            "batch_norm: expected more than 1 value per channel when training (got input shape "
            f"{input.shape}); use a batch of more than one sample, or eval mode."
        )
    affine = ()
    if weight is not None or bias is not None:
        like = {"dtype": input.dtype, "device": input.device}
        affine = (
            weight if weight is not None else ones(channels, **like),
            bias if bias is not None else zeros(channels, **like),
        )
    y = BatchNorm.apply(
        input,
        *affine,
        eps=eps,
        running_mean=None if running_mean is None else running_mean._data,
        running_var=None if running_var is None else running_var._data,
        momentum=momentum,
    )
    # BatchNorm wrote the running statistics in place; bump their versions as an in-place op does.
    for buffer in (running_mean, running_var):
        if buffer is not None:
            buffer._version += 1
    return y


def _batch_norm_eval(
    input: Tensor,
    channels: int,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    eps: float,
) -> Tensor:
    """y = x * scale + shift per channel, scale = weight / sqrt(running_var + eps) and
    shift = bias - running_mean * scale: the running statistics are constants here."""
    if running_mean is None or running_var is None:
        raise ValueError(
            "batch_norm: evaluation mode needs running_mean and running_var (got None); pass "
            "training=True to normalize with the batch statistics."
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
            raise ShapeError(
                f"layer_norm: {arg} has shape {value.shape} but normalized_shape is {shape}."
            )
    dims = tuple(range(input.ndim - k, input.ndim))
    centered = input - cp.mean(input, dim=dims, keepdim=True)
    y = centered * (cp.mean(centered * centered, dim=dims, keepdim=True) + eps) ** -0.5
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y
