"""JSONLogger: the run as JSON Lines, one object per epoch (and optionally per step)."""

from __future__ import annotations

import json
import math
import os
from typing import Any

from deepgrad.train.callbacks.base import Callback
from deepgrad.train.history import to_jsonable


def _clean(value):
    value = to_jsonable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Infinity; "nan" / "inf" stay readable
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


class JSONLogger(Callback):
    """Write one JSON object per line: ``{"event": "epoch", ...epoch record}`` after every epoch,
    ``{"event": "step", "step", "epoch", "loss", "lr"}`` after every step when ``steps=True``, and
    ``{"event": "fit_end", "status", "stop_reason", "epochs_run"}`` at the end. Array-valued
    metrics are written as nested lists, NaN and infinities as the strings "nan", "inf".

    Args:
        path: the ``.jsonl`` file (appended to when ``fit`` resumes or ``append`` is True).
        steps: also log every optimizer step. Default: False.
        append: keep what the file holds. Default: False.
    """

    def __init__(self, path: str | os.PathLike, steps: bool = False, append: bool = False):
        self.path = os.fspath(path)
        self.steps = bool(steps)
        self.append = bool(append)
        self._file = None

    def _write(self, event: str, logs: dict[str, Any]) -> None:
        record = {"event": event}
        record.update({k: _clean(v) for k, v in logs.items()})
        self._file.write(json.dumps(record) + "\n")

    def on_fit_start(self, trainer, logs: dict[str, Any]) -> None:
        append = self.append or logs.get("resumed", False)
        self._file = open(  # noqa: SIM115 - stays open across hooks, closed in on_fit_end
            self.path, "a" if append else "w"
        )
        self._write("fit_start", logs)

    def on_batch_end(self, trainer, logs: dict[str, Any]) -> None:
        if self.steps:
            self._write("step", {"step": logs["step"], "epoch": logs["epoch"], "loss": logs["loss"], "lr": logs["lr"]})

    def on_epoch_end(self, trainer, logs: dict[str, Any]) -> None:
        self._write("epoch", logs)
        self._file.flush()

    def on_fit_end(self, trainer, logs: dict[str, Any]) -> None:
        if self._file is not None:
            self._write("fit_end", logs)
            self._file.close()
            self._file = None
