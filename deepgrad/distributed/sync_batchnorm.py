"""SyncBatchNorm: batch normalization whose batch statistics cover every rank's batch."""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import no_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.distributed.collectives import ReduceOp, all_reduce
from deepgrad.distributed.group import GroupMember, ProcessGroup
from deepgrad.nn import functional as F
from deepgrad.nn.module import Module
from deepgrad.nn.normalization import _BatchNorm, _NormBase
from deepgrad.ops.shape import cat

__all__ = ["SyncBatchNorm", "all_reduce_sum"]


class AllReduceSum(Function, register=False):
    """y = sum over ranks of x (every rank gets y).   dx = sum over ranks of dy

    The gradient is itself an all-reduce: each rank's loss depends on every rank's x through
    y, so x's gradient sums the ranks' upstream gradients. Kept out of the primitive registry:
    it is a communication step, not array math (op_db has no entry for it).
    """

    @staticmethod
    def forward(ctx, x: Any, group: ProcessGroup) -> Any:
        ctx.group = group
        result = Tensor._make(x.copy(), None)
        all_reduce(result, ReduceOp.SUM, group=group)
        return result._data

    @staticmethod
    def backward(ctx, dy: Tensor) -> Tensor:
        return AllReduceSum.apply(dy, group=ctx.group)


def all_reduce_sum(x: Tensor, group: ProcessGroup) -> Tensor:
    """The differentiable sum of ``x`` over the ranks of ``group`` (see ``AllReduceSum``)."""
    return AllReduceSum.apply(x, group=group)


class SyncBatchNorm(_NormBase):
    """Batch normalization over the union of all ranks' batches (Ioffe & Szegedy, 2015):
    y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta, per channel c, where E and Var run
    over the batch, spatial positions and ranks.

    In training, each rank sums its x and its squared deviations per channel, the sums are
    all-reduced (two collectives in forward, two in backward, through a differentiable
    all-reduce), so every rank normalizes with the same statistics and gets the gradient of
    the sum of all ranks' losses. With one process, or in evaluation, it is ``BatchNorm``.

    Args:
        num_features: C, the channels (dim 1 of the input).
        eps: added to the variance. Default: 1e-5.
        momentum: the weight of a new batch in the running statistics (None: cumulative
            average). Default: 0.1.
        affine: learn gamma (init 1) and beta (init 0). Default: True.
        track_running_stats: keep running mean and (unbiased) variance. Default: True.
        process_group: the ranks that share statistics. Default: the world.

    Shape:
        input (N, C, *) -> output of the same shape.

    Example:
        >>> import deepgrad as dg, deepgrad.distributed as dist
        >>> bn = dist.SyncBatchNorm(2)
        >>> y = bn(dg.tensor([[1.0, 0.0], [3.0, 2.0]]))   # one process: BatchNorm
        >>> [[round(v, 3) for v in row] for row in y.tolist()]
        [[-1.0, -1.0], [1.0, 1.0]]
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: ProcessGroup | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < 2 or input.shape[1] != self.num_features:
            raise ShapeError(
                f"SyncBatchNorm: expected input of shape (N, C, *) with C = num_features = "
                f"{self.num_features} (got {input.shape})."
            )
        group = self.process_group or GroupMember.WORLD
        use_batch_stats = self.training or self.running_mean is None
        if group is None or group.size == 1 or not use_batch_stats:
            return self._local(input)
        channels = (1, -1) + (1,) * (input.ndim - 2)
        dims = tuple(d for d in range(input.ndim) if d != 1)
        local_count = input.numel() // self.num_features
        count_column = Tensor._make(input.xp.full(1, local_count, dtype=input.dtype), None)
        sums = all_reduce_sum(cat([input.sum(dim=dims), count_column]), group)
        count = float(sums._data[-1])
        mean = sums[:-1] / count
        centered = input - mean.reshape(channels)
        var = all_reduce_sum((centered * centered).sum(dim=dims), group) / count
        y = centered / (var + self.eps).sqrt().reshape(channels)
        if self.training and self.track_running_stats:
            self._update_running_stats(mean, var, count)
        if self.weight is not None:
            y = y * self.weight.reshape(channels) + self.bias.reshape(channels)
        return y

    def _local(self, input: Tensor) -> Tensor:
        """One process, or evaluation: the ordinary batch norm (as ``BatchNorm1d/2d``)."""
        factor = self._momentum_factor() if self.training and self.track_running_stats else 0.0
        use_batch_stats = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor or 0.0,
            self.eps,
        )

    def _momentum_factor(self) -> float:
        """Count this batch; the weight of its statistics in the running ones."""
        self.num_batches_tracked.add_(1)
        if self.momentum is None:
            return 1.0 / int(self.num_batches_tracked.item())
        return self.momentum

    def _update_running_stats(self, mean: Tensor, var: Tensor, count: float) -> None:
        factor = self._momentum_factor()
        unbiased = count / max(count - 1.0, 1.0)
        with no_grad():
            self.running_mean.mul_(1.0 - factor).add_(mean.detach() * factor)
            self.running_var.mul_(1.0 - factor).add_(var.detach() * (factor * unbiased))

    @classmethod
    def convert_sync_batchnorm(
        cls, module: Module, process_group: ProcessGroup | None = None
    ) -> Module:
        """Replace every BatchNorm1d/2d in ``module`` by a SyncBatchNorm with its parameters and
        running statistics (the module itself when it is one); returns the converted module."""
        if isinstance(module, _BatchNorm):
            converted = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                process_group,
            )
            with no_grad():
                for name in ("weight", "bias"):
                    if getattr(module, name) is not None:
                        setattr(converted, name, getattr(module, name))
                for name in ("running_mean", "running_var", "num_batches_tracked"):
                    if getattr(module, name) is not None:
                        getattr(converted, name).copy_(getattr(module, name))
            converted.train(module.training)
            return converted
        for name, child in list(module._modules.items()):
            if child is not None:
                new = cls.convert_sync_batchnorm(child, process_group)
                if new is not child:
                    setattr(module, name, new)
        return module
