"""What ends a run safely: SIGINT and SIGTERM deferred to the next step boundary, and the policy
for a non-finite loss.

``Trainer.fit`` installs ``SignalGuard`` for its duration (main thread only; the previous
handlers come back afterwards). The first SIGINT (Ctrl-C) or SIGTERM (a cluster's preemption)
only sets a flag: the Trainer finishes the step it is in, so model, optimizer and data position
agree, and raises ``TrainingInterrupted`` (a ``KeyboardInterrupt``) there. A second signal
raises ``KeyboardInterrupt`` at once, wherever the run is.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from deepgrad.backend import validation
from deepgrad.train.distributed import world

logger = logging.getLogger("deepgrad.train")

NAN_POLICIES = ("raise", "skip_step", "stop")
SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if s is not None)


class TrainingInterrupted(KeyboardInterrupt):
    """``fit`` stopped at a step boundary after SIGINT or SIGTERM.

    Attributes:
        signal_name: "SIGINT" or "SIGTERM".
        step: the global step after which the run stopped.
    """

    def __init__(self, signal_name: str, step: int) -> None:
        super().__init__(f"{signal_name} received; stopped after step {step}")
        self.signal_name, self.step = signal_name, step


class NonFiniteLossError(FloatingPointError):
    """The loss of a training step was NaN or infinite and ``Trainer(nan_policy='raise')``."""


class SignalGuard:
    """Turns the first SIGINT/SIGTERM into a flag (``received``) while active; see the module.

    Args:
        on_signal: called with the signal's name when the first signal arrives (the Trainer
            asks its loop to stop there).
    """

    def __init__(self, on_signal: Callable[[str], None]) -> None:
        self.on_signal = on_signal
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalGuard:
        self.received = None
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _handle(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            raise KeyboardInterrupt(f"second {name}: stopped at once")
        self.received = name
        self.on_signal(name)


def check_nan_policy(policy: str) -> str:
    return validation.one_of(
        policy,
        NAN_POLICIES,
        "nan_policy",
        "Trainer",
        fix="'raise' stops with an error, 'skip_step' drops the step's update, "
        "'stop' ends the run cleanly",
    )


def nonfinite_message(loss: float, step: int, epoch: int) -> str:
    """The error text for a non-finite loss, naming where it happened and what to try."""
    return (
        f"Trainer: the loss is {loss} at step {step} (epoch {epoch}); "
        "check the inputs for NaN/inf (deepgrad.autograd.detect_anomaly() names the operation), "
        "or lower the learning rate if the loss was growing; Trainer(nan_policy='skip_step' or "
        "'stop') continues or ends the run instead of raising."
    )


class GuardedRun:
    """The Trainer's reaction to a non-finite loss (``nan_policy``) and to a signal.

    A part of ``Trainer`` (a mixin kept beside the guards it applies); it reads and writes the
    Trainer's nan_policy, history, optimizer, epoch, global_step and stop flags.
    """

    # The Trainer's attributes this part uses (set in Trainer.__init__), declared for type checkers.
    nan_policy: str
    history: Any
    optimizer: Any
    updater: Any
    epoch: int
    global_step: int
    _signal: str | None
    _pending_signal: str | None

    if TYPE_CHECKING:

        def request_stop(self, reason: str) -> None: ...

    def check_loss(self, loss: float) -> bool:
        """Apply ``nan_policy`` to the loss of the step in progress; True: do not apply the step.

        Updaters call it with the loss value before ``optimizer.step()`` when the value is not
        finite (``if not math.isfinite(value) and trainer.check_loss(value): return logs``), as
        ``StandardUpdater`` does. For an updater that does not, the Trainer applies the policy
        after the update: "raise" and "stop" work the same, "skip_step" cannot undo the update
        and warns once.

        Raises:
            NonFiniteLossError: the loss is NaN or infinite and ``nan_policy`` is "raise".
        """
        if math.isfinite(loss):
            return False
        step, epoch = self.global_step + 1, self.epoch
        self._checked_step = step
        if self.nan_policy == "raise":  # the failing step stays in the history, for diagnosis
            self.history.add_step(step, epoch, loss, self.optimizer.param_groups[0]["lr"])
            raise NonFiniteLossError(nonfinite_message(loss, step, epoch))
        self._skip_step = True
        if self.nan_policy == "stop":
            self.request_stop(
                f"non-finite loss ({loss}) at step {step} (epoch {epoch}); its update was not applied"
            )
        return True

    def _late_loss_check(self, loss: float) -> None:
        """The policy for a non-finite loss that the updater did not check before its step."""
        step = self.global_step + 1
        if self.nan_policy == "raise":
            raise NonFiniteLossError(nonfinite_message(loss, step, self.epoch))
        if self.nan_policy == "stop":
            self.request_stop(f"non-finite loss ({loss}) at step {step} (epoch {self.epoch})")
        elif not getattr(self, "_warned_late_check", False):
            self._warned_late_check = True
            logger.warning(
                "Trainer(nan_policy='skip_step'): %s applied the update of step %d before the "
                "Trainer saw its loss %s; call trainer.check_loss(loss) before optimizer.step().",
                type(self.updater).__name__,
                step,
                loss,
            )

    def _on_signal(self, name: str) -> None:
        if world()[1] > 1:  # every rank must stop after the same step: the flag travels with
            self._pending_signal = name  # the step's logs (Trainer.reduce_step_logs)
            return
        self._signal = name
        self._stop_requested = True  # the loop looks at this flag after every step


__all__ = ["GuardedRun", "NonFiniteLossError", "SignalGuard", "TrainingInterrupted"]
