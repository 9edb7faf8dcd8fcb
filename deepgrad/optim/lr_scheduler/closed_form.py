"""Closed-form schedules: the rate at step t is a formula of t and the group's starting rate."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence

from deepgrad.backend.validation import (
    in_interval,
    non_negative_float,
    non_negative_int,
    positive_int,
    probability,
)
from deepgrad.optim.lr_scheduler.base import LRScheduler, per_group
from deepgrad.optim.optimizer import Optimizer


class StepLR(LRScheduler):
    """Decay by ``gamma`` every ``step_size`` steps: lr_t = base_lr · gamma^floor(t / step_size).

    Args:
        optimizer: the optimizer to schedule.
        step_size: steps between decays.
        gamma: multiplicative factor of each decay. Default: 0.1.
        last_epoch: see :class:`LRScheduler`. Default: -1.
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ):
        positive_int(step_size, "step_size", "StepLR")
        non_negative_float(gamma, "gamma", "StepLR")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs
        ]


class MultiStepLR(LRScheduler):
    """Decay by ``gamma`` at each milestone: lr_t = base_lr · gamma^(number of milestones <= t).

    Args:
        optimizer: the optimizer to schedule.
        milestones: step indices of the decays (a milestone listed twice decays twice).
        gamma: multiplicative factor of each decay. Default: 0.1.
        last_epoch: see :class:`LRScheduler`. Default: -1.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Sequence[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ):
        milestones = list(milestones)
        for index, milestone in enumerate(milestones):
            non_negative_int(milestone, f"milestones[{index}]", "MultiStepLR")
        non_negative_float(gamma, "gamma", "MultiStepLR")
        self.milestones = sorted(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        decays = bisect.bisect_right(self.milestones, self.last_epoch)
        return [base_lr * self.gamma**decays for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Decay by ``gamma`` every step: lr_t = base_lr · gamma^t.

    Args:
        optimizer: the optimizer to schedule.
        gamma: multiplicative factor per step.
        last_epoch: see :class:`LRScheduler`. Default: -1.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        non_negative_float(gamma, "gamma", "ExponentialLR")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from base_lr down to eta_min over T_max steps:

        lr_t = eta_min + (base_lr - eta_min) · (1 + cos(π · t / T_max)) / 2

    Past T_max the cosine goes on (back up after T_max, down again after 2·T_max), as in PyTorch.
    Loshchilov & Hutter, 2017, "SGDR: Stochastic Gradient Descent with Warm Restarts" (without
    the restarts).

    Args:
        optimizer: the optimizer to schedule.
        T_max: steps of the half period.
        eta_min: the lowest rate. Default: 0.
        last_epoch: see :class:`LRScheduler`. Default: -1.
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ):
        positive_int(T_max, "T_max", "CosineAnnealingLR")
        non_negative_float(eta_min, "eta_min", "CosineAnnealingLR")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale linearly from start_factor to end_factor over total_iters steps (warm-up):

        lr_t = base_lr · (start_factor + (end_factor - start_factor) · min(t, total_iters) / total_iters)

    Args:
        optimizer: the optimizer to schedule.
        start_factor: factor at step 0, in (0, 1]. Default: 1/3.
        end_factor: factor from step total_iters on, in [0, 1]. Default: 1.
        total_iters: steps of the ramp. Default: 5.
        last_epoch: see :class:`LRScheduler`. Default: -1.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        zero_start = "a zero start would make every warm-up step a no-op at step 0"
        in_interval(
            start_factor,
            "start_factor",
            "LinearLR",
            low=0,
            high=1,
            include_low=False,
            fix=zero_start,
        )
        probability(end_factor, "end_factor", "LinearLR", closed=True)
        positive_int(total_iters, "total_iters", "LinearLR")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        progress = min(self.last_epoch, self.total_iters) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base_lr * factor for base_lr in self.base_lrs]


class LambdaLR(LRScheduler):
    """Any schedule as a function of the step: lr_t = base_lr · lr_lambda(t).

    Args:
        optimizer: the optimizer to schedule.
        lr_lambda: a function of the step index returning a factor, or a list of such
            functions, one per parameter group.
        last_epoch: see :class:`LRScheduler`. Default: -1.

    The functions are not part of :meth:`state_dict`: rebuild the scheduler with them, then load.

    Example:
        >>> import deepgrad as dg
        >>> from deepgrad.optim import SGD
        >>> opt = SGD([dg.zeros(2, requires_grad=True)], lr=0.1)
        >>> warmup = LambdaLR(opt, lambda t: min(1.0, (t + 1) / 10))
        >>> round(opt.param_groups[0]["lr"], 6)
        0.01
    """

    _unsaved = ("optimizer", "lr_lambdas")

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable],
        last_epoch: int = -1,
    ):
        lambdas = per_group("LambdaLR", "lr_lambda", lr_lambda, optimizer.param_groups)
        for fn in lambdas:
            if not callable(fn):
                raise TypeError(f"LambdaLR: lr_lambda must be callable (got {type(fn).__name__}).")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            base_lr * fn(self.last_epoch) for base_lr, fn in zip(self.base_lrs, self.lr_lambdas)
        ]
