"""What ends a run safely: SIGINT and SIGTERM deferred to the next step boundary, and the policy
for a non-finite loss.

``Trainer.fit`` installs ``SignalGuard`` for its duration (main thread only; the previous
handlers come back afterwards). The first SIGINT (Ctrl-C) or SIGTERM (a cluster's preemption)
only sets a flag: the Trainer finishes the step it is in, so model, optimizer and data position
agree, and raises ``TrainingInterrupted`` (a ``KeyboardInterrupt``) there. A second signal
raises ``KeyboardInterrupt`` at once, wherever the run is.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

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
    if policy not in NAN_POLICIES:
        raise ValueError(
            f"Trainer: nan_policy must be one of {NAN_POLICIES} (got {policy!r}); 'raise' stops "
            "with an error, 'skip_step' drops the step's update, 'stop' ends the run cleanly."
        )
    return policy


def nonfinite_message(loss: float, step: int, epoch: int) -> str:
    """The error text for a non-finite loss, naming where it happened and what to try."""
    return (
        f"Trainer: the loss is {loss} at step {step} (epoch {epoch}); "
        "check the inputs for NaN/inf (deepgrad.autograd.detect_anomaly() names the operation), "
        "or lower the learning rate if the loss was growing; Trainer(nan_policy='skip_step' or "
        "'stop') continues or ends the run instead of raising."
    )


__all__ = ["NonFiniteLossError", "SignalGuard", "TrainingInterrupted"]
