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
        path: the ``.jsonl`` file (appended to when ``fit`` resumes or ``append`` is True; a
            resumed run first drops the epochs and steps after its checkpoint).
        steps: also log every optimizer step. Default: False.
        append: keep what the file holds. Default: False.
    """

    main_process_only = True  # prints or writes files: rank 0 alone

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
        if logs.get("resumed", False) and "start_epoch" in logs and os.path.exists(self.path):
            _cut_back(self.path, logs["start_epoch"], logs.get("start_step", math.inf))
        self._file = open(  # noqa: SIM115 - stays open across hooks, closed in on_fit_end
            self.path, "a" if append else "w"
        )
        self._write("fit_start", logs)

    def on_batch_end(self, trainer, logs: dict[str, Any]) -> None:
        if self.steps:
            self._write(
                "step",
                {
                    "step": logs["step"],
                    "epoch": logs["epoch"],
                    "loss": logs["loss"],
                    "lr": logs["lr"],
                },
            )

    def on_epoch_end(self, trainer, logs: dict[str, Any]) -> None:
        self._write("epoch", logs)
        self._file.flush()

    def on_fit_end(self, trainer, logs: dict[str, Any]) -> None:
        if self._file is not None:
            self._write("fit_end", logs)
            self._file.close()
            self._file = None


def _cut_back(path: str, last_epoch: int, last_step: int) -> None:
    """Rewrite the file without the epoch and step records after the checkpoint's."""
    with open(path) as f:
        lines = f.readlines()

    def keep(line: str) -> bool:
        try:
            record = json.loads(line)
        except ValueError:
            return False  # a line cut short by the interruption
        if record.get("event") == "epoch":
            return record.get("epoch", 0) <= last_epoch
        if record.get("event") == "step":
            return record.get("step", 0) <= last_step
        return True

    kept = [line for line in lines if keep(line)]
    if len(kept) != len(lines):
        with open(path, "w") as f:
            f.writelines(kept)
