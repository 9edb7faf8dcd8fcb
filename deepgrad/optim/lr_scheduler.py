"""Learning-rate schedulers: set each parameter group's ``lr`` as training goes on.

Call ``scheduler.step()`` once per epoch (or per batch for OneCycleLR), after
``optimizer.step()``::

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, optimizer)
        scheduler.step()

Every scheduler here except ReduceLROnPlateau computes the rate in closed form from the
group's starting rate (``group["initial_lr"]``) and the step count ``last_epoch``: the values
are exactly the formulas in the docstrings, and never drift through repeated multiplication.
To run schedules one after another (warm-up, then decay) use :class:`SequentialLR`.
"""

from __future__ import annotations

import abc
import bisect
import copy
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

from deepgrad.optim.optimizer import Optimizer


class LRScheduler(abc.ABC):
    """Base class: ``step()`` advances ``last_epoch`` and writes ``get_lr()`` into the groups.

    Args:
        optimizer: the optimizer whose groups' ``lr`` is scheduled.
        last_epoch: index of the last step taken; -1 starts a new schedule. To resume, pass the
            saved value (the groups must then hold ``initial_lr``), or better, load a
            :meth:`state_dict`.

    Attributes:
        base_lrs: each group's starting rate (``group["initial_lr"]``, set to ``group["lr"]``
            the first time a scheduler sees the group).
        last_epoch: how many times ``step()`` has been called (0 right after construction).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected a deepgrad Optimizer (got {type(optimizer).__name__}).")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"{name}: last_epoch must be an int >= -1 (got {last_epoch!r}).")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            missing = [i for i, group in enumerate(optimizer.param_groups) if "initial_lr" not in group]
            if missing:
                raise ValueError(
                    f"{name}: resuming at last_epoch={last_epoch} but param_groups {missing} have no 'initial_lr'; "
                    "load the optimizer's state dict first, or start with last_epoch=-1."
                )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    @abc.abstractmethod
    def get_lr(self) -> list[float]:
        """The learning rate of every group at step ``last_epoch`` (closed form)."""

    def step(self) -> None:
        """Advance one step and set every group's ``lr``."""
        self.last_epoch += 1
        self._set_lrs(self.get_lr())

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step()`` set, one per group."""
        return list(self._last_lr)

    def _set_lrs(self, lrs: list[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def _restart_at(self, epoch: int) -> None:
        """Jump to step ``epoch`` (used by SequentialLR when this scheduler takes over)."""
        self.last_epoch = epoch
        self._set_lrs(self.get_lr())

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (and functions, which cannot be saved), as plain values."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items() if key not in self._unsaved}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (the optimizer's own ``lr`` comes from its state dict)."""
        self.__dict__.update(copy.deepcopy(state_dict))

    _unsaved = ("optimizer",)


def _check_positive_int(owner: str, option: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: {option} must be a positive int (got {value!r}).")


def _check_factor(owner: str, option: str, value, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{owner}: {option} must be in [{low}, {high}] (got {value!r}).")


def _per_group(owner: str, option: str, value, groups: list) -> list:
    """One value per parameter group: a list of the right length, or a scalar repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(groups):
            raise ValueError(
                f"{owner}: expected {len(groups)} values of {option}, one per parameter group (got {len(value)})."
            )
        return list(value)
    return [value] * len(groups)


class StepLR(LRScheduler):
    """Decay by ``gamma`` every ``step_size`` steps: lr_t = base_lr · gamma^floor(t / step_size).

    Args:
        optimizer: the optimizer to schedule.
        step_size: steps between decays.
        gamma: multiplicative factor of each decay. Default: 0.1.
        last_epoch: see :class:`LRScheduler`. Default: -1.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        _check_positive_int("StepLR", "step_size", step_size)
        _check_factor("StepLR", "gamma", gamma, 0.0, math.inf)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Decay by ``gamma`` at each milestone: lr_t = base_lr · gamma^(number of milestones <= t).

    Args:
        optimizer: the optimizer to schedule.
        milestones: step indices of the decays (a milestone listed twice decays twice).
        gamma: multiplicative factor of each decay. Default: 0.1.
        last_epoch: see :class:`LRScheduler`. Default: -1.
    """

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1, last_epoch: int = -1):
        milestones = list(milestones)
        if any(isinstance(m, bool) or not isinstance(m, int) or m < 0 for m in milestones):
            raise ValueError(f"MultiStepLR: milestones must be ints >= 0 (got {milestones}).")
        _check_factor("MultiStepLR", "gamma", gamma, 0.0, math.inf)
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
        _check_factor("ExponentialLR", "gamma", gamma, 0.0, math.inf)
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

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        _check_positive_int("CosineAnnealingLR", "T_max", T_max)
        _check_factor("CosineAnnealingLR", "eta_min", eta_min, 0.0, math.inf)
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
        if isinstance(start_factor, bool) or not isinstance(start_factor, (int, float)) or not 0 < start_factor <= 1:
            raise ValueError(
                f"LinearLR: start_factor must be in (0, 1] (got {start_factor!r}); "
                "a zero start would make every warm-up step a no-op at step 0."
            )
        _check_factor("LinearLR", "end_factor", end_factor, 0.0, 1.0)
        _check_positive_int("LinearLR", "total_iters", total_iters)
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
        self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable], last_epoch: int = -1
    ):
        lambdas = _per_group("LambdaLR", "lr_lambda", lr_lambda, optimizer.param_groups)
        for fn in lambdas:
            if not callable(fn):
                raise TypeError(f"LambdaLR: lr_lambda must be callable (got {type(fn).__name__}).")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * fn(self.last_epoch) for base_lr, fn in zip(self.base_lrs, self.lr_lambdas)]


class SequentialLR(LRScheduler):
    """Run schedulers one after another: ``schedulers[i]`` takes over at ``milestones[i-1]``.

    At global step t, the active scheduler is i = (number of milestones <= t), stepped to its own
    step t - milestones[i-1] (from 0 when it takes over). Example: 5 steps of linear warm-up,
    then cosine decay::

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(opt, T_max=95)
        scheduler = SequentialLR(opt, [warmup, decay], milestones=[5])

    Args:
        optimizer: the optimizer all the schedulers drive.
        schedulers: the schedulers, in order.
        milestones: increasing step indices where the next scheduler starts; one fewer than
            the schedulers.
        last_epoch: see :class:`LRScheduler`. Default: -1.
    """

    def __init__(
        self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int], last_epoch: int = -1
    ):
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR: expected at least one scheduler (got none).")
        for index, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler) or isinstance(scheduler, (ReduceLROnPlateau, SequentialLR)):
                raise TypeError(
                    f"SequentialLR: schedulers[{index}] must be a closed-form LRScheduler "
                    f"(got {type(scheduler).__name__}); ReduceLROnPlateau and SequentialLR cannot be sequenced."
                )
            if scheduler.optimizer is not optimizer:
                raise ValueError(
                    f"SequentialLR: schedulers[{index}] drives a different optimizer; build every scheduler "
                    "on the optimizer given to SequentialLR."
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: expected {len(schedulers) - 1} milestones for {len(schedulers)} schedulers "
                f"(got {len(milestones)})."
            )
        if any(later <= earlier for earlier, later in itertools.pairwise(milestones)) or any(
            isinstance(m, bool) or not isinstance(m, int) or m <= 0 for m in milestones
        ):
            raise ValueError(f"SequentialLR: milestones must be strictly increasing positive ints (got {milestones}).")
        self._schedulers = schedulers
        self._milestones = milestones
        # Building the schedulers already set the groups' lr (each to its own step 0);
        # start over from the first scheduler's step 0.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return self._active().get_lr()

    def _active(self) -> LRScheduler:
        return self._schedulers[bisect.bisect_right(self._milestones, self.last_epoch)]

    def step(self) -> None:
        self.last_epoch += 1
        index = bisect.bisect_right(self._milestones, self.last_epoch)
        start = 0 if index == 0 else self._milestones[index - 1]
        scheduler = self._schedulers[index]
        scheduler._restart_at(self.last_epoch - start)
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        state = {
            key: copy.deepcopy(value) for key, value in self.__dict__.items() if key not in ("optimizer", "_schedulers")
        }
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = copy.deepcopy(state_dict)
        saved = state.pop("_schedulers")
        if len(saved) != len(self._schedulers):
            raise ValueError(
                f"SequentialLR.load_state_dict: the state dict has {len(saved)} schedulers but this one has "
                f"{len(self._schedulers)}."
            )
        self.__dict__.update(state)
        for scheduler, scheduler_state in zip(self._schedulers, saved):
            scheduler.load_state_dict(scheduler_state)


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
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected a deepgrad Optimizer (got {type(optimizer).__name__}).")
        if total_steps is not None:
            _check_positive_int(name, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _check_positive_int(name, "epochs", epochs)
            _check_positive_int(name, "steps_per_epoch", steps_per_epoch)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(f"{name}: give total_steps, or both epochs and steps_per_epoch.")
        _check_factor(name, "pct_start", pct_start, 0.0, 1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear' (got {anneal_strategy!r}).")
        self.total_steps = total_steps
        self.anneal_strategy = anneal_strategy
        self.cycle_momentum = cycle_momentum
        warmup_end = float(pct_start * total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                dict(
                    end_step=warmup_end,
                    start_lr="initial_lr",
                    end_lr="max_lr",
                    start_momentum="max_momentum",
                    end_momentum="base_momentum",
                ),
                dict(
                    end_step=float(2 * pct_start * total_steps) - 2,
                    start_lr="max_lr",
                    end_lr="initial_lr",
                    start_momentum="base_momentum",
                    end_momentum="max_momentum",
                ),
                dict(
                    end_step=total_steps - 1,
                    start_lr="initial_lr",
                    end_lr="min_lr",
                    start_momentum="max_momentum",
                    end_momentum="max_momentum",
                ),
            ]
        else:
            self._schedule_phases = [
                dict(
                    end_step=warmup_end,
                    start_lr="initial_lr",
                    end_lr="max_lr",
                    start_momentum="max_momentum",
                    end_momentum="base_momentum",
                ),
                dict(
                    end_step=total_steps - 1,
                    start_lr="max_lr",
                    end_lr="min_lr",
                    start_momentum="base_momentum",
                    end_momentum="max_momentum",
                ),
            ]
        start = 0.0
        for index, phase in enumerate(self._schedule_phases):
            if not phase["end_step"] > start:
                raise ValueError(
                    f"{name}: phase {index} of the cycle has no steps (pct_start={pct_start}, "
                    f"total_steps={total_steps}); make pct_start·total_steps at least 2 and leave steps after it."
                )
            start = phase["end_step"]
        groups = optimizer.param_groups
        max_lrs = _per_group(name, "max_lr", max_lr, groups)
        if last_epoch == -1:
            for lr, group in zip(max_lrs, groups):
                group["initial_lr"] = lr / div_factor
                group["max_lr"] = lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"{name}: cycle_momentum=True needs an optimizer with momentum or betas "
                    f"(got {type(optimizer).__name__}); pass cycle_momentum=False."
                )
            self._use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group(name, "max_momentum", max_momentum, groups)
            base_momentums = _per_group(name, "base_momentum", base_momentum, groups)
            if last_epoch == -1:
                for top, bottom, group in zip(max_momentums, base_momentums, groups):
                    self._set_momentum(group, top)
                    group["max_momentum"] = top
                    group["base_momentum"] = bottom
        super().__init__(optimizer, last_epoch)

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
                            self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
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
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected a deepgrad Optimizer (got {type(optimizer).__name__}).")
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max' (got {mode!r}).")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: threshold_mode must be 'rel' or 'abs' (got {threshold_mode!r}).")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0.0 <= factor < 1.0:
            raise ValueError(f"{name}: factor must be in [0, 1) (got {factor!r}); the rate can only go down.")
        for option, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: {option} must be an int >= 0 (got {value!r}).")
        _check_factor(name, "threshold", threshold, 0.0, math.inf)
        _check_factor(name, "eps", eps, 0.0, math.inf)
        self.optimizer = optimizer
        self.min_lrs = _per_group(name, "min_lr", min_lr, optimizer.param_groups)
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
