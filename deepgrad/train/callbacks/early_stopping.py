"""EarlyStopping: stop when the monitored value stops improving, and keep the best weights."""

from __future__ import annotations

import logging
from typing import Any

from deepgrad.backend import validation
from deepgrad.train.callbacks.base import Callback, check_mode, is_improvement, monitored_value
from deepgrad.train.distributed import unwrap_model

logger = logging.getLogger("deepgrad.train")


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs (seed 001:
    "monitor validation error; stop when it doesn't improve within n iterations").

    An epoch improves when its value beats the best so far by more than ``min_delta``
    (``value < best - min_delta`` for mode "min"). After ``patience`` epochs in a row without
    improvement, it calls ``trainer.request_stop`` with the reason. With
    ``restore_best_weights`` the model gets the weights of the best epoch back however
    training ends: patience exhausted, last epoch reached, or an exception or Ctrl-C
    leaving ``fit``.

    Args:
        monitor: key of the epoch logs to watch, e.g. "val_loss", "val_accuracy". Checked at
            the first epoch end: a missing key raises ValueError listing the keys present.
            Default: "val_loss".
        mode: "min" (lower is better) or "max". Never guessed from the name. Default: "min".
        patience: epochs without improvement before stopping (0 stops at the first such epoch).
            Default: 5.
        min_delta: the smallest change that counts as an improvement (>= 0). Default: 0.0.
        restore_best_weights: load the best epoch's weights at the end of ``fit``. Default: True.

    Attributes:
        best, best_epoch: the best value seen and its (1-based) epoch.
        stopped_epoch: the epoch after which it stopped training, or None.

    Example:
        >>> stopper = EarlyStopping(monitor="val_accuracy", mode="max", patience=3)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "min",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best_weights: bool = True,
    ):
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                f"EarlyStopping: monitor must be a key of the epoch logs such as 'val_loss' (got {monitor!r})"
            )
        self.mode = check_mode("EarlyStopping", mode)
        validation.non_negative_int(patience, "patience", "EarlyStopping")
        validation.non_negative_float(
            min_delta, "min_delta", "EarlyStopping", fix="mode sets the direction"
        )
        self.monitor = monitor
        self.patience = patience
        self.min_delta = float(min_delta)
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.best_weights: dict | None = None

    def on_fit_start(self, trainer, logs: dict[str, Any]) -> None:
        self._reset()

    def on_epoch_end(self, trainer, logs: dict[str, Any]) -> None:
        value = monitored_value("EarlyStopping", self.monitor, logs)
        epoch = logs.get("epoch")
        if is_improvement(value, self.best, self.mode, self.min_delta):
            self.best = value
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights:
                model = unwrap_model(trainer.model)  # no DDP prefix: resumes with any rank count
                self.best_weights = {k: v._data.copy() for k, v in model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience and self.stopped_epoch is None:
            self.stopped_epoch = epoch
            best = (
                "none yet (every value was NaN)"
                if self.best is None
                else f"best {self.best:.6g} at epoch {self.best_epoch}"
            )
            trainer.request_stop(
                reason=f"early stopping: {self.monitor} did not improve for {self.wait} epochs ({best})"
            )

    def on_fit_end(self, trainer, logs: dict[str, Any]) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            unwrap_model(trainer.model).load_state_dict(self.best_weights)
            logger.info(
                "EarlyStopping: restored the weights of epoch %s (%s = %.6g)",
                self.best_epoch,
                self.monitor,
                self.best,
            )

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.wait = state["wait"]
        self.stopped_epoch = state["stopped_epoch"]
        self.best_weights = state["best_weights"]
