"""LRSchedulerCallback: step a learning-rate scheduler per step or per epoch, after the optimizer."""

from __future__ import annotations

from typing import Any

from deepgrad.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from deepgrad.train.callbacks.base import Callback, monitored_value

INTERVALS = ("step", "epoch")


class LRSchedulerCallback(Callback):
    """Step ``scheduler`` after every optimizer step (``interval="step"``) or every epoch.

    ``on_batch_end`` runs after ``optimizer.step()``, so the schedule never runs ahead of the
    optimizer (PyTorch's step-order pitfall). ``ReduceLROnPlateau`` needs ``monitor``: its
    ``step`` receives that epoch-log value (e.g. "val_loss") at every epoch end.

    Args:
        scheduler: a ``deepgrad.optim.lr_scheduler`` scheduler.
        interval: "step" or "epoch". Default: "epoch".
        monitor: the epoch-log key given to ``ReduceLROnPlateau.step``; only for it. Default: None.

    Example:
        >>> import deepgrad as dg
        >>> from deepgrad.optim.lr_scheduler import StepLR
        >>> opt = dg.optim.SGD([dg.zeros(1, requires_grad=True)], lr=0.1)
        >>> cb = LRSchedulerCallback(StepLR(opt, step_size=10), interval="epoch")
    """

    def __init__(self, scheduler, interval: str = "epoch", monitor: str | None = None):
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(
                f"LRSchedulerCallback: scheduler must be a deepgrad.optim.lr_scheduler scheduler "
                f"(got {type(scheduler).__name__})"
            )
        if interval not in INTERVALS:
            raise ValueError(
                f"LRSchedulerCallback: interval must be one of {INTERVALS} (got {interval!r})"
            )
        plateau = isinstance(scheduler, ReduceLROnPlateau)
        if plateau and monitor is None:
            raise ValueError(
                "LRSchedulerCallback: ReduceLROnPlateau steps on a metric; pass monitor='val_loss' "
                "(or another epoch-log key)."
            )
        if plateau and interval != "epoch":
            raise ValueError(
                "LRSchedulerCallback: ReduceLROnPlateau reads an epoch metric; use interval='epoch'."
            )
        if monitor is not None and not plateau:
            raise ValueError(
                f"LRSchedulerCallback: monitor is only for ReduceLROnPlateau; {type(scheduler).__name__} "
                "steps on its own schedule (remove monitor)."
            )
        self.scheduler = scheduler
        self.interval = interval
        self.monitor = monitor

    def on_batch_end(self, trainer, logs: dict[str, Any]) -> None:
        if self.interval == "step":
            self.scheduler.step()

    def on_epoch_end(self, trainer, logs: dict[str, Any]) -> None:
        if self.interval != "epoch":
            return
        if self.monitor is None:
            self.scheduler.step()
        else:
            self.scheduler.step(monitored_value("LRSchedulerCallback", self.monitor, logs))

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state["scheduler"])
