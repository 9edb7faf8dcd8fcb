"""SequentialLR: run closed-form schedulers one after another (warm-up, then decay)."""

from __future__ import annotations

import bisect
import copy
import itertools
from collections.abc import Sequence
from typing import Any

from deepgrad.backend.validation import positive_int
from deepgrad.optim.lr_scheduler.base import LRScheduler
from deepgrad.optim.lr_scheduler.plateau import ReduceLROnPlateau
from deepgrad.optim.optimizer import Optimizer


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
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ):
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR: expected at least one scheduler (got none).")
        for index, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler) or isinstance(
                scheduler, (ReduceLROnPlateau, SequentialLR)
            ):
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
        for index, milestone in enumerate(milestones):
            positive_int(milestone, f"milestones[{index}]", "SequentialLR")
        if any(later <= earlier for earlier, later in itertools.pairwise(milestones)):
            raise ValueError(
                f"SequentialLR: milestones must be strictly increasing positive ints (got {milestones})."
            )
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
            key: copy.deepcopy(value)
            for key, value in self.__dict__.items()
            if key not in ("optimizer", "_schedulers")
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
