"""Callback: the base class of everything that plugs into ``Trainer.fit``."""

from __future__ import annotations

import math
from typing import Any

from deepgrad.backend import validation

MODES = ("min", "max")


class Callback:
    """Base class of callbacks; subclass it and override the hooks you need.

    The hook grammar is ``on_{fit,epoch,batch,eval}_{start,end}(trainer, logs)`` plus
    ``on_backward_end``: nine hooks, always ``start``/``end`` (never begin), always the two
    arguments. The Trainer calls them in this order::

        on_fit_start                     logs: epochs, start_epoch (epochs complete), start_step,
                                               resumed (a resumed run's logs cut back to these)
          on_epoch_start                 logs: epoch (and resumed_at_batch when a checkpoint
                                               taken inside the epoch continues it)
            on_batch_start               logs: epoch, batch, step
              on_backward_end            logs: epoch, step  (after loss.backward(), before
                                               optimizer.step(): read or change gradients)
            on_batch_end                 logs: epoch, batch, step, loss, size, the updater's
                                               other logs, lr
            ...                          (after optimizer.step() and the per-step scheduler)
            on_eval_start                logs: {}          (validation, inside the epoch)
            on_eval_end                  logs: loss and metrics of the evaluation
          on_epoch_end                   logs: the epoch record (loss, metrics, val_*, lr, time)
        on_fit_end                       logs: status ("completed", "stopped", "interrupted"),
                                               stop_reason, epochs_run

    ``on_fit_end`` runs however training ends: after the last epoch, after
    ``trainer.request_stop(reason)``, and when an exception (KeyboardInterrupt included)
    leaves the loop, so cleanup (restoring best weights, closing files) belongs there.
    ``trainer.evaluate(loader)`` called on its own runs only the two eval hooks.

    ``step`` counts optimizer steps over the whole run (1-based in ``on_batch_end``);
    ``epoch`` is 1-based. Stopping goes through ``trainer.request_stop(reason="...")``; the
    reason ends up in ``history.stop_reason``.

    ``on_backward_end`` is called by the Trainer's updater (``StandardUpdater`` calls it once
    per step); an updater that steps the optimizer itself without calling it, such as
    ``GANTrainer``'s, runs no ``on_backward_end`` hooks.

    A callback that must survive a resume returns its state from ``state_dict()`` (numbers,
    strings, lists, dicts and arrays) and takes it back in ``load_state_dict(state)``; the
    Trainer restores it after ``on_fit_start``.

    Data parallelism (several processes, see ``Trainer``): every rank runs the callbacks, with
    the same epoch records on all of them, except those whose class sets ``main_process_only =
    True`` (the progress bar and the loggers: what prints or writes files), which run on rank 0
    only.

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, trainer, logs):
        ...         print(f"epoch {logs['epoch']}: {logs['loss']:.3f}")
    """

    main_process_only: bool = False  # True: only rank 0 runs this callback's hooks

    def on_fit_start(self, trainer, logs: dict[str, Any]) -> None:
        """Before the first epoch."""

    def on_fit_end(self, trainer, logs: dict[str, Any]) -> None:
        """After the last epoch, after a requested stop, or when an exception leaves ``fit``."""

    def on_epoch_start(self, trainer, logs: dict[str, Any]) -> None:
        """Before the first batch of an epoch."""

    def on_epoch_end(self, trainer, logs: dict[str, Any]) -> None:
        """After the epoch's training batches and its validation."""

    def on_batch_start(self, trainer, logs: dict[str, Any]) -> None:
        """Before a training batch's forward pass."""

    def on_batch_end(self, trainer, logs: dict[str, Any]) -> None:
        """After a training batch's optimizer step."""

    def on_backward_end(self, trainer, logs: dict[str, Any]) -> None:
        """After a training batch's ``loss.backward()``, before ``optimizer.step()``."""

    def on_eval_start(self, trainer, logs: dict[str, Any]) -> None:
        """Before an evaluation pass (validation during fit, or ``trainer.evaluate``)."""

    def on_eval_end(self, trainer, logs: dict[str, Any]) -> None:
        """After an evaluation pass; ``logs`` holds its loss and metrics (without ``val_``)."""

    def state_dict(self) -> dict[str, Any]:
        """State to keep in checkpoints (empty: nothing to restore)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what ``state_dict`` returned."""


HOOKS = (
    *(
        f"on_{phase}_{edge}"
        for phase in ("fit", "epoch", "batch", "eval")
        for edge in ("start", "end")
    ),
    "on_backward_end",
)


def check_mode(owner: str, mode: str) -> str:
    return validation.one_of(
        mode, MODES, "mode", owner, fix="'min' for losses, 'max' for accuracies"
    )


def monitored_value(owner: str, monitor: str, logs: dict[str, Any]) -> float:
    """``logs[monitor]`` as a float, or a ValueError naming the keys that are there."""
    if monitor not in logs:
        available = ", ".join(k for k in logs if k not in ("epoch", "time")) or "(none)"
        hint = " (val_* keys need a val_loader in fit)" if monitor.startswith("val_") else ""
        raise ValueError(
            f"{owner}: monitor {monitor!r} is not in the logs{hint}; available: {available}."
        )
    return float(logs[monitor])


def is_improvement(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` (NaN never improves)."""
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta
