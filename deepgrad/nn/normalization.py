"""Normalization layers: BatchNorm1d/2d, LayerNorm, InstanceNorm1d/2d/3d, GroupNorm (the math is
in ``functional``)."""

from __future__ import annotations

import warnings

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.backend.validation import positive_float, positive_int, probability
from deepgrad.nn import functional as F
from deepgrad.nn import init
from deepgrad.nn.module import Module
from deepgrad.nn.parameter import Parameter
from deepgrad.ops.creation import empty, ones, tensor, zeros

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "GroupNorm",
]


class _NormBase(Module):
    """The parameters and running statistics shared by batch and instance norm (PyTorch's names)."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        positive_int(num_features, "num_features", name)
        positive_float(eps, "eps", name)
        if momentum is not None:
            probability(
                momentum, "momentum", name, closed=True, fix="pass None for a cumulative average"
            )
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(empty(num_features, device=device, dtype=dtype))
            self.bias = Parameter(empty(num_features, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype="int64", device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        """Reset the running statistics, and weight = 1, bias = 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    """The shared body of BatchNorm1d / BatchNorm2d; subclasses name the input ranks they accept."""

    _ranks: tuple = ()
    _shape_text = ""

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in self._ranks or input.shape[1] != self.num_features:
            raise ShapeError(
                f"{type(self).__name__}: expected input of shape {self._shape_text} with C = num_features = "
                f"{self.num_features} (got {input.shape})."
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / int(self.num_batches_tracked.item())
        # Batch statistics in training, and also in evaluation when no running statistics are kept.
        use_batch_stats = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization (Ioffe & Szegedy, 2015) over a batch of vectors or sequences:
    y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta, per feature c.

    In training, E[x] and Var[x] (biased) are the batch's statistics over N (and L), and the
    running estimates are updated: running = (1 - momentum) * running + momentum * batch (the
    unbiased variance for running_var; momentum=None uses the cumulative average over all
    batches so far). In evaluation (``.eval()``), the running estimates are used.

    Args:
        num_features: C, the number of features.
        eps: added to the variance. Default: 1e-5.
        momentum: the weight of each new batch in the running statistics, or None for a
            cumulative average. Default: 0.1.
        affine: learn gamma (weight) and beta (bias). Default: True.
        track_running_stats: keep running statistics; if False, evaluation also uses batch
            statistics. Default: True.
        device, dtype: of the parameters and buffers. Default: cpu, float32.

    Shape:
        x: (N, C) or (N, C, L) -> y: the same shape.

    Parameters and buffers:
        weight: (C,), ones. bias: (C,), zeros. running_mean: (C,), zeros. running_var: (C,), ones.
        num_batches_tracked: int64 scalar, the number of training batches seen.

    Example:
        >>> import deepgrad as dg
        >>> bn = BatchNorm1d(2)
        >>> bn(dg.tensor([[1.0, 10.0], [3.0, 30.0]]))
        tensor([[-1., -1.],
                [ 1.,  1.]], grad_fn=<BatchNormBackward>)
        >>> bn.running_mean
        tensor([0.2, 2. ])
    """

    _ranks = (2, 3)
    _shape_text = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization over a batch of images: y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta,
    per channel c, with statistics over N, H and W (see BatchNorm1d for training vs evaluation).

    Args:
        num_features: C, the number of channels.
        eps: added to the variance. Default: 1e-5.
        momentum: the weight of each new batch in the running statistics, or None for a
            cumulative average. Default: 0.1.
        affine: learn gamma (weight) and beta (bias). Default: True.
        track_running_stats: keep running statistics. Default: True.
        device, dtype: of the parameters and buffers. Default: cpu, float32.

    Shape:
        x: (N, C, H, W) -> y: the same shape.

    Example:
        >>> import deepgrad as dg
        >>> BatchNorm2d(3)(dg.randn(4, 3, 5, 5)).shape
        (4, 3, 5, 5)
    """

    _ranks = (4,)
    _shape_text = "(N, C, H, W)"


class LayerNorm(Module):
    """Layer normalization (Ba et al., 2016): y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta,
    with E and Var (biased) over the trailing ``normalized_shape`` dimensions of each sample.
    The same in training and evaluation.

    Args:
        normalized_shape: an int or tuple, the trailing dimensions to normalize over.
        eps: added to the variance. Default: 1e-5.
        elementwise_affine: learn gamma (weight) and beta (bias) of shape ``normalized_shape``. Default: True.
        bias: learn beta (with elementwise_affine). Default: True.
        device, dtype: of the parameters. Default: cpu, float32.

    Shape:
        x: (*, *normalized_shape) -> y: the same shape.

    Example:
        >>> import deepgrad as dg
        >>> LayerNorm(2)(dg.tensor([[1.0, 3.0]]))
        tensor([[-1.,  1.]], grad_fn=<LayerNormBackward>)
    """

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        shape = (
            (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        )
        if not shape or any(not isinstance(n, int) or n < 1 for n in shape):
            raise ValueError(
                f"LayerNorm: normalized_shape must be positive ints (got {normalized_shape!r})."
            )
        positive_float(eps, "eps", "LayerNorm")
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(shape, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(empty(shape, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


class _InstanceNorm(_NormBase):
    """The shared body of InstanceNorm1d/2d/3d; subclasses name their spatial rank."""

    _spatial = 1

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        name, unbatched = type(self).__name__, self._spatial + 1
        if input.ndim not in (unbatched, unbatched + 1):
            raise ShapeError(
                f"{name}: expected a {unbatched + 1}-D input (N, C, *spatial) or a {unbatched}-D "
                f"unbatched one (got shape {input.shape})."
            )
        if input.ndim == unbatched:
            return self.forward(input.unsqueeze(0)).squeeze(0)
        if input.shape[1] != self.num_features:
            if self.affine or self.track_running_stats:
                raise ShapeError(
                    f"{name}: expected C = num_features = {self.num_features} channels on dim 1 "
                    f"(got input shape {input.shape})."
                )
            # PyTorch warns here too: without parameters or buffers the size is not needed.
            warnings.warn(
                f"{name}: input has {input.shape[1]} channels but num_features is "
                f"{self.num_features}; the input is normalized all the same.",
                stacklevel=2,
            )
        use_input_stats = self.training or not self.track_running_stats
        momentum = 0.0 if self.momentum is None else self.momentum
        return F.instance_norm(
            input, self.running_mean, self.running_var, self.weight, self.bias,
            use_input_stats, momentum, self.eps,
        )  # fmt: skip


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization (Ulyanov et al., 2016): y = (x - E[x]) / sqrt(Var[x] + eps) * gamma
    + beta, with E and Var (biased) over the length of each sample and channel separately.

    Unlike batch norm, by default it has no parameters (``affine=False``) and keeps no running
    statistics (``track_running_stats=False``), so training and evaluation agree. With
    ``track_running_stats=True``, training updates running = (1 - momentum) * running + momentum *
    (the batch average of the per-instance statistics) and evaluation uses them.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance. Default: 1e-5.
        momentum: the weight of each batch in the running statistics. Default: 0.1.
        affine: learn gamma (weight, ones) and beta (bias, zeros) of shape (C,). Default: False.
        track_running_stats: keep running statistics for evaluation. Default: False.
        device, dtype: of the parameters and buffers. Default: cpu, float32.

    Shape:
        x: (N, C, L) or (C, L) -> y: the same shape.

    Example:
        >>> import deepgrad as dg
        >>> InstanceNorm1d(1)(dg.tensor([[[1.0, 3.0]]]))
        tensor([[[-1.,  1.]]])
    """

    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of images: y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta, with
    E and Var over H and W of each sample and channel (see InstanceNorm1d for the arguments).

    Shape:
        x: (N, C, H, W) or (C, H, W) -> y: the same shape.

    Example:
        >>> import deepgrad as dg
        >>> InstanceNorm2d(3, affine=True)(dg.randn(2, 3, 4, 4)).shape
        (2, 3, 4, 4)
    """

    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of volumes: statistics over D, H and W of each sample and channel
    (see InstanceNorm1d for the arguments).

    Shape:
        x: (N, C, D, H, W) or (C, D, H, W) -> y: the same shape.
    """

    _spatial = 3


class GroupNorm(Module):
    """Group normalization (Wu & He, 2018): the C channels are split into ``num_groups`` groups
    and y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta, with E and Var (biased) over each
    group's channels and positions, per sample. Independent of the batch size; the same in
    training and evaluation.

    Args:
        num_groups: the number of groups; must divide num_channels.
        num_channels: C.
        eps: added to the variance. Default: 1e-5.
        affine: learn a per-channel gamma (weight, ones) and beta (bias, zeros). Default: True.
        device, dtype: of the parameters. Default: cpu, float32.

    Shape:
        x: (N, C, *) -> y: the same shape.

    Example:
        >>> import deepgrad as dg
        >>> GroupNorm(2, 4)(dg.randn(3, 4, 5)).shape
        (3, 4, 5)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        for arg, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            positive_int(value, arg, "GroupNorm")
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels {num_channels} must be divisible by num_groups "
                f"{num_groups}."
            )
        if not eps > 0:
            raise ValueError(f"GroupNorm: eps must be > 0 (got {eps}).")
        self.num_groups, self.num_channels, self.eps, self.affine = (
            num_groups, num_channels, eps, affine
        )  # fmt: skip
        if affine:
            self.weight = Parameter(empty(num_channels, device=device, dtype=dtype))
            self.bias = Parameter(empty(num_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0."""
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ShapeError(
                f"GroupNorm: expected an input (N, C, *) with C = num_channels = "
                f"{self.num_channels} (got shape {input.shape})."
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
