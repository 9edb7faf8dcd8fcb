"""Normalization: batch norm (a fused primitive in training) and layer norm (a fused primitive);
instance and group norm (composites)."""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.nn.functional._utils import _check_tensor
from deepgrad.ops import composite as cp
from deepgrad.ops.creation import ones, zeros
from deepgrad.ops.fused import BatchNorm
from deepgrad.ops.fused_layers import LayerNorm

__all__ = ["batch_norm", "layer_norm", "instance_norm", "group_norm"]


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
    if input._data.size == 0:
        return _batch_norm_empty(input, channels, weight, bias)
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


def _batch_norm_empty(
    input: Tensor, channels: int, weight: Tensor | None, bias: Tensor | None
) -> Tensor:
    """An empty input (no samples or no channels) gives an empty output and leaves the running
    statistics alone, as in PyTorch (issue 12); weight and bias get zero gradients."""
    y = input * 1.0
    view = (1, channels) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(view)
    return y if bias is None else y + bias.reshape(view)


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
    params = [t for t in (weight, bias) if t is not None]
    if input.dtype.kind in "fV" and all(
        t.dtype == input.dtype and type(t._data) is type(input._data) for t in params
    ):  # the fused primitive; the composite below is its reference (and promotes mixed dtypes)
        return LayerNorm.apply(input, *params, ndim=k, eps=eps, weight=weight is not None,
                               bias=bias is not None)  # fmt: skip
    dims = tuple(range(input.ndim - k, input.ndim))
    centered = input - cp.mean(input, dim=dims, keepdim=True)
    y = centered * (cp.mean(centered * centered, dim=dims, keepdim=True) + eps) ** -0.5
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def _normalize(x: Tensor, dims: tuple, eps: float) -> Tensor:
    """(x - mean) / sqrt(var + eps), mean and biased var over ``dims`` (kept)."""
    centered = x - cp.mean(x, dim=dims, keepdim=True)
    return centered * (cp.mean(centered * centered, dim=dims, keepdim=True) + eps) ** -0.5


def _affine(y: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """y * weight + bias with per-channel (C,) parameters broadcast on dim 1."""
    view = (1, y.shape[1]) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(view)
    if bias is not None:
        y = y + bias.reshape(view)
    return y


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias, with mean and var (biased) over the
    spatial dimensions of each sample and channel (Ulyanov et al., 2016).

    With ``use_input_stats`` and running statistics given, these are updated in place:
    running = (1 - momentum) * running + momentum * (the batch average of the per-instance
    statistics; the unbiased variance for running_var). Without ``use_input_stats``, the running
    statistics are used instead.

    Args:
        input: (N, C, *) with at least one spatial dimension.
        running_mean, running_var: (C,) buffers, or None.
        weight, bias: (C,) or None.
        use_input_stats: normalize with each instance's statistics. Default: True.
        momentum: the weight of the new statistics in the running ones. Default: 0.1.
        eps: added to the variance. Default: 1e-5.

    Shape:
        (N, C, *) -> the same shape.

    Example:
        >>> import deepgrad as dg
        >>> instance_norm(dg.tensor([[[1.0, 3.0], [2.0, 6.0]]]))
        tensor([[[-1.,  1.],
                 [-1.,  1.]]])
    """
    _check_channels(
        "instance_norm", input, running_mean=running_mean, running_var=running_var,
        weight=weight, bias=bias,
    )  # fmt: skip
    if input.ndim < 3:
        raise ShapeError(
            f"instance_norm: expected an input (N, C, *) with spatial dimensions (got shape "
            f"{input.shape}); for unbatched (C, L) input add the batch dimension with unsqueeze(0)."
        )
    dims = tuple(range(2, input.ndim))
    if use_input_stats:
        if running_mean is not None and running_var is not None:
            _update_instance_stats(input, dims, running_mean, running_var, momentum)
        return _affine(_normalize(input, dims, eps), weight, bias)
    if running_mean is None or running_var is None:
        raise ValueError(
            "instance_norm: use_input_stats=False needs running_mean and running_var (got None)."
        )
    view = (1, input.shape[1]) + (1,) * len(dims)
    xp = input.xp
    invstd = Tensor._make(1.0 / xp.sqrt(running_var._data + eps), None).reshape(view)
    y = (input - running_mean.detach().reshape(view)) * invstd.to(input.dtype)
    return _affine(y, weight, bias)


def _update_instance_stats(
    input: Tensor, dims: tuple, running_mean: Tensor, running_var: Tensor, momentum: float
) -> None:
    """The running statistics' in-place update (raw arrays: no graph), as an in-place op."""
    x = input._data
    count = x[0, 0].size if x.size else 0
    mean = x.mean(axis=dims)
    var = x.var(axis=dims) * (count / max(count - 1, 1))
    for buffer, value in ((running_mean, mean), (running_var, var)):
        buffer._data *= 1.0 - momentum
        buffer._data += momentum * value.mean(axis=0).astype(buffer._data.dtype)
        buffer._version += 1


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias, with mean and var (biased) over each
    group of C / num_groups channels (and all spatial positions) of each sample (Wu & He, 2018).

    num_groups = 1 normalizes like layer norm over (C, *); num_groups = C like instance norm.

    Args:
        input: (N, C, *).
        num_groups: the number of groups; must divide C.
        weight, bias: (C,) per-channel scale and shift, or None.
        eps: added to the variance. Default: 1e-5.

    Shape:
        (N, C, *) -> the same shape.

    Example:
        >>> import deepgrad as dg
        >>> group_norm(dg.tensor([[1.0, 3.0, 5.0, 9.0]]), 2)
        tensor([[-1.,  1., -1.,  1.]])
    """
    channels = _check_channels("group_norm", input, weight=weight, bias=bias)
    if not isinstance(num_groups, int) or num_groups < 1 or channels % num_groups:
        raise ValueError(
            f"group_norm: num_groups must be a positive divisor of the {channels} channels (got "
            f"{num_groups!r}, input shape {input.shape})."
        )
    shape = input.shape
    grouped = input.reshape(shape[0], num_groups, -1)
    y = _normalize(grouped, (2,), eps).reshape(shape)
    return _affine(y, weight, bias)
