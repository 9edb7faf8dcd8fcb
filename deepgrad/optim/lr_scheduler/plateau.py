"""ReduceLROnPlateau: divide the rate when a watched metric stops improving."""

from __future__ import annotations

import math
from collections.abc import Sequence

from deepgrad.backend.validation import non_negative_float, non_negative_int, one_of, probability
from deepgrad.optim.lr_scheduler.base import LRScheduler, check_optimizer, per_group
from deepgrad.optim.optimizer import Optimizer


class ReduceLROnPlateau(LRScheduler):
    """Divide the rate when a watched metric stops improving: ``scheduler.step(val_loss)``.

    After each ``step(metric)``: the metric improves on the best so far if (mode, threshold_mode)
    min/rel: metric < best·(1 - threshold); min/abs: metric < best - threshold; max/rel:
    metric > best·(1 + threshold); max/abs: metric > best + threshold. When more than
    ``patience`` steps in a row have not improved::

        lr ← max(lr · factor, min_lr)      (skipped when the change would be smaller than eps)

    and then ``cooldown`` steps pass, counting nothing, before bad steps count again.

    Args:
        optimizer: the optimizer to schedule.
        mode: ``"min"`` (the metric should go down, e.g. a loss) or ``"max"`` (e.g. accuracy). Default: "min".
        factor: multiplies the rate at each reduction, in [0, 1). Default: 0.1.
        patience: non-improving steps tolerated before a reduction. Default: 10.
        threshold: how much better counts as an improvement. Default: 1e-4.
        threshold_mode: ``"rel"`` or ``"abs"``. Default: "rel".
        cooldown: steps to wait after a reduction. Default: 0.
        min_lr: lowest rate, or one per group. Default: 0.
        eps: smallest change of the rate that is applied. Default: 1e-8.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
    ):
        name = "ReduceLROnPlateau"
        check_optimizer(name, optimizer)
        one_of(mode, ("min", "max"), "mode", name)
        one_of(threshold_mode, ("rel", "abs"), "threshold_mode", name)
        probability(factor, "factor", name, fix="the rate can only go down")
        non_negative_int(patience, "patience", name)
        non_negative_int(cooldown, "cooldown", name)
        non_negative_float(threshold, "threshold", name)
        non_negative_float(eps, "eps", name)
        self.optimizer = optimizer
        self.min_lrs = per_group(name, "min_lr", min_lr, optimizer.param_groups)
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.eps = eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def get_lr(self) -> list[float]:
        """The groups' current rates (this scheduler has no closed form: it reacts to the metric)."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def is_better(self, metric: float, best: float) -> bool:
        """Whether ``metric`` improves on ``best`` by more than the threshold.

        - mode "min": metric < best * (1 - threshold) ("rel"), metric < best - threshold ("abs");
        - mode "max": metric > best * (1 + threshold) ("rel"), metric > best + threshold ("abs").
        """
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return metric < best * (1.0 - self.threshold)
            return metric < best - self.threshold
        if self.threshold_mode == "rel":
            return metric > best * (1.0 + self.threshold)
        return metric > best + self.threshold

    def step(self, metrics) -> None:  # type: ignore[override]  # PyTorch's signature: the metric is required
        """Record one value of the watched metric (a number or a one-element tensor)."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                new_lr = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
