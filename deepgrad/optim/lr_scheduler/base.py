"""LRScheduler, the base class of the schedulers, and what they share."""

from __future__ import annotations

import abc
import copy
from typing import Any

from deepgrad.backend.validation import int_at_least
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
        check_optimizer(name, optimizer)
        int_at_least(last_epoch, -1, "last_epoch", name, fix="-1 starts a new schedule")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            missing = [
                i for i, group in enumerate(optimizer.param_groups) if "initial_lr" not in group
            ]
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
        return {
            key: copy.deepcopy(value)
            for key, value in self.__dict__.items()
            if key not in self._unsaved
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (the optimizer's own ``lr`` comes from its state dict)."""
        self.__dict__.update(copy.deepcopy(state_dict))

    _unsaved = ("optimizer",)


def check_optimizer(owner: str, optimizer: Any) -> None:
    """Raise TypeError unless ``optimizer`` is a deepgrad Optimizer."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: expected a deepgrad Optimizer (got {type(optimizer).__name__}).")


def per_group(owner: str, option: str, value, groups: list) -> list:
    """One value per parameter group: a list of the right length, or a scalar repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(groups):
            raise ValueError(
                f"{owner}: expected {len(groups)} values of {option}, one per parameter group (got {len(value)})."
            )
        return list(value)
    return [value] * len(groups)
