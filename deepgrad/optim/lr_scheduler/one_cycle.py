"""OneCycleLR: the 1cycle policy, stepped once per batch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from deepgrad.backend.validation import one_of, positive_float, positive_int, probability
from deepgrad.optim.lr_scheduler.base import LRScheduler, check_optimizer, per_group
from deepgrad.optim.optimizer import Optimizer


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm up to max_lr, then anneal far below the start; step it every batch.

    With initial_lr = max_lr / div_factor and min_lr = initial_lr / final_div_factor, the rate
    (and, with cycle_momentum, the momentum, in the opposite direction) follows these phases,
    each an annealing f(start, end, pct) over its steps (pct from 0 to 1)::

        two phases:   steps 0 .. pct_start·T - 1:   initial_lr -> max_lr,  max_momentum -> base_momentum
                      ... T - 1:                    max_lr -> min_lr,      base_momentum -> max_momentum
        three_phase:  steps 0 .. pct_start·T - 1:   initial_lr -> max_lr,  max_momentum -> base_momentum
                      ... 2·pct_start·T - 2:        max_lr -> initial_lr,  base_momentum -> max_momentum
                      ... T - 1:                    initial_lr -> min_lr,  momentum stays max_momentum
        cos:     f = end + (start - end) · (1 + cos(π · pct)) / 2
        linear:  f = start + (end - start) · pct

    Momentum is SGD's ``momentum`` or Adam's β1 (``betas[0]``). Smith & Topin, 2017,
    "Super-Convergence: Very Fast Training of Neural Networks Using Large Learning Rates".

    Args:
        optimizer: the optimizer to schedule.
        max_lr: peak rate, or one per group.
        total_steps: number of steps in the cycle; or give epochs and steps_per_epoch.
        epochs: with steps_per_epoch, total_steps = epochs · steps_per_epoch.
        steps_per_epoch: see epochs.
        pct_start: fraction of the cycle spent warming up. Default: 0.3.
        anneal_strategy: ``"cos"`` or ``"linear"``. Default: ``"cos"``.
        cycle_momentum: cycle the momentum inversely to the rate. Default: True.
        base_momentum: lowest momentum (at max_lr), or one per group. Default: 0.85.
        max_momentum: highest momentum, or one per group. Default: 0.95.
        div_factor: initial_lr = max_lr / div_factor. Default: 25.
        final_div_factor: min_lr = initial_lr / final_div_factor. Default: 1e4.
        three_phase: come back down to initial_lr before the final annealing. Default: False.
        last_epoch: see :class:`LRScheduler`. Default: -1.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ):
        name = "OneCycleLR"
        check_optimizer(name, optimizer)
        total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        probability(pct_start, "pct_start", name, closed=True)
        one_of(anneal_strategy, ("cos", "linear"), "anneal_strategy", name)
        positive_float(div_factor, "div_factor", name)
        positive_float(final_div_factor, "final_div_factor", name)
        self.total_steps = total_steps
        self.anneal_strategy = anneal_strategy
        self.cycle_momentum = cycle_momentum
        self._schedule_phases = _phases(total_steps, pct_start, three_phase)
        groups = optimizer.param_groups
        max_lrs = per_group(name, "max_lr", max_lr, groups)
        if last_epoch == -1:
            for lr, group in zip(max_lrs, groups):
                group["initial_lr"] = lr / div_factor
                group["max_lr"] = lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        if cycle_momentum:
            self._init_momentum(optimizer, base_momentum, max_momentum, fresh=last_epoch == -1)
        super().__init__(optimizer, last_epoch)

    def _init_momentum(
        self, optimizer: Optimizer, base_momentum: Any, max_momentum: Any, fresh: bool
    ) -> None:
        """Record each group's momentum range; a fresh cycle also starts every group at max_momentum."""
        name = "OneCycleLR"
        if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
            raise ValueError(
                f"{name}: cycle_momentum=True needs an optimizer with momentum or betas "
                f"(got {type(optimizer).__name__}); pass cycle_momentum=False."
            )
        self._use_beta1 = "betas" in optimizer.defaults
        groups = optimizer.param_groups
        max_momentums = per_group(name, "max_momentum", max_momentum, groups)
        base_momentums = per_group(name, "base_momentum", base_momentum, groups)
        if fresh:
            for top, bottom, group in zip(max_momentums, base_momentums, groups):
                self._set_momentum(group, top)
                group["max_momentum"] = top
                group["base_momentum"] = bottom

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _set_momentum(self, group: dict, momentum: float) -> None:
        if self._use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def _values(self) -> tuple[list[float], list[float]]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"OneCycleLR: stepped {step} times but the cycle has total_steps={self.total_steps}; "
                "set total_steps (or epochs and steps_per_epoch) to the number of optimizer steps."
            )
        lrs, momentums = [], []
        for group in self.optimizer.param_groups:
            start = 0.0
            for index, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if step <= end or index == len(self._schedule_phases) - 1:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        momentums.append(
                            self._anneal(
                                group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                            )
                        )
                    break
                start = end
        return lrs, momentums

    def get_lr(self) -> list[float]:
        return self._values()[0]

    def _set_lrs(self, lrs: list[float]) -> None:
        super()._set_lrs(lrs)
        if self.cycle_momentum:
            for group, momentum in zip(self.optimizer.param_groups, self._values()[1]):
                self._set_momentum(group, momentum)


def _total_steps(total_steps: int | None, epochs: int | None, steps_per_epoch: int | None) -> int:
    """total_steps itself, or epochs · steps_per_epoch."""
    if total_steps is not None:
        return positive_int(total_steps, "total_steps", "OneCycleLR")
    if epochs is not None and steps_per_epoch is not None:
        return positive_int(epochs, "epochs", "OneCycleLR") * positive_int(
            steps_per_epoch, "steps_per_epoch", "OneCycleLR"
        )
    raise ValueError("OneCycleLR: give total_steps, or both epochs and steps_per_epoch.")


# Each phase anneals from one group value to another, for the rate and for the momentum (the
# names are keys of the group), and ends at its end_step.
_WARM_UP = ("initial_lr", "max_lr", "max_momentum", "base_momentum")
_TWO_PHASE_DOWN = ("max_lr", "min_lr", "base_momentum", "max_momentum")
_THREE_PHASE_BACK = ("max_lr", "initial_lr", "base_momentum", "max_momentum")
_THREE_PHASE_DOWN = ("initial_lr", "min_lr", "max_momentum", "max_momentum")


def _phases(total_steps: int, pct_start: float, three_phase: bool) -> list[dict[str, Any]]:
    """The cycle's phases, each {end_step, start_lr, end_lr, start_momentum, end_momentum}."""
    warmup_end = float(pct_start * total_steps) - 1
    if three_phase:
        rows = [
            (warmup_end, _WARM_UP),
            (float(2 * pct_start * total_steps) - 2, _THREE_PHASE_BACK),
            (total_steps - 1, _THREE_PHASE_DOWN),
        ]
    else:
        rows = [(warmup_end, _WARM_UP), (total_steps - 1, _TWO_PHASE_DOWN)]
    keys = ("start_lr", "end_lr", "start_momentum", "end_momentum")
    phases = [dict(end_step=end_step, **dict(zip(keys, names))) for end_step, names in rows]
    start = 0.0
    for index, phase in enumerate(phases):
        if not phase["end_step"] > start:
            raise ValueError(
                f"OneCycleLR: phase {index} of the cycle has no steps (pct_start={pct_start}, "
                f"total_steps={total_steps}); make pct_start·total_steps at least 2 and leave steps after it."
            )
        start = phase["end_step"]
    return phases
