"""ProgressBar: a live tqdm bar on a terminal, one plain line per epoch elsewhere."""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from deepgrad.backend import validation
from deepgrad.train.callbacks.base import Callback


def format_logs(logs: dict[str, Any], skip: tuple[str, ...] = ("epoch", "time")) -> str:
    """``loss 0.1234  accuracy 0.9712  lr 0.001`` from the scalar entries of a log dict."""
    parts = []
    for key, value in logs.items():
        if key in skip or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        parts.append(
            f"{key} {value:.4g}"
            if key == "lr" or (abs(value) < 1e-3 and value != 0)
            else f"{key} {value:.4f}"
        )
    return "  ".join(parts)


class ProgressBar(Callback):
    """Shows training progress.

    On a terminal (``file.isatty()``) a tqdm bar per epoch shows the running mean loss and
    the running training metrics, refreshed at most every ``refresh_seconds``. Elsewhere (logs,
    CI, redirected output) it prints one line per epoch::

        epoch 3/10  loss 0.2345  accuracy 0.9312  val_loss 0.2511  val_accuracy 0.9254  lr 0.01  (1.9s)

    and, when training ends early, why it stopped.

    Args:
        file: where to write. Default: ``sys.stderr``.
        dynamic: True forces the tqdm bar, False the plain lines. Default: None (decide by isatty).
        refresh_seconds: least time between two updates of the bar's numbers. Default: 0.25.
    """

    main_process_only = True  # prints or writes files: rank 0 alone

    def __init__(self, file=None, dynamic: bool | None = None, refresh_seconds: float = 0.25):
        if dynamic not in (None, True, False):
            raise ValueError(f"ProgressBar: dynamic must be True, False or None (got {dynamic!r})")
        validation.non_negative_float(refresh_seconds, "refresh_seconds", "ProgressBar")
        self.file = file
        self.dynamic = dynamic
        self.refresh_seconds = float(refresh_seconds)
        self._bar = None

    def _out(self):
        return self.file if self.file is not None else sys.stderr

    def _is_dynamic(self) -> bool:
        if self.dynamic is not None:
            return self.dynamic
        isatty = getattr(self._out(), "isatty", None)
        return bool(isatty and isatty())

    def on_epoch_start(self, trainer, logs: dict[str, Any]) -> None:
        self._loss_sum = 0.0
        self._seen = 0
        self._next_refresh = 0.0
        if self._is_dynamic():
            from tqdm.auto import tqdm

            loader = trainer._train_loader
            total = len(loader) if hasattr(loader, "__len__") else None
            self._bar = tqdm(
                total=total,
                desc=f"epoch {logs['epoch']}/{trainer.epochs}",
                file=self._out(),
                leave=True,
                dynamic_ncols=True,
            )

    def on_batch_end(self, trainer, logs: dict[str, Any]) -> None:
        if self._bar is None:
            return
        self._loss_sum += logs["loss"] * logs["size"]
        self._seen += logs["size"]
        self._bar.update(1)
        now = time.monotonic()
        if now >= self._next_refresh:
            self._next_refresh = now + self.refresh_seconds
            running = {"loss": self._loss_sum / self._seen}
            for m in trainer.metrics:
                value = m.compute()
                if isinstance(value, float):
                    running[m.name] = value
            self._bar.set_postfix_str(format_logs(running), refresh=False)

    def on_epoch_end(self, trainer, logs: dict[str, Any]) -> None:
        line = f"epoch {logs['epoch']}/{trainer.epochs}  {format_logs(logs)}  ({logs.get('time', math.nan):.1f}s)"
        if self._bar is not None:
            self._bar.set_postfix_str(
                format_logs({k: v for k, v in logs.items() if k != "lr"}), refresh=True
            )
            self._bar.close()
            self._bar = None
        else:
            print(line, file=self._out(), flush=True)

    def on_fit_end(self, trainer, logs: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if logs.get("status") != "completed" and logs.get("stop_reason"):
            print(f"training {logs['status']}: {logs['stop_reason']}", file=self._out(), flush=True)
