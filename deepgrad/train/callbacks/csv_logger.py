"""CSVLogger: one CSV row per epoch."""

from __future__ import annotations

import csv
import os
from typing import Any

from deepgrad.train.callbacks.base import Callback


class CSVLogger(Callback):
    """Append the scalar entries of every epoch record to a CSV file, flushed each epoch.

    The columns are those of the first epoch (``epoch, loss, <metrics>, val_*, lr, time``);
    array-valued metrics (a confusion matrix) are left out. NaN and infinities are written as
    ``nan``, ``inf``, ``-inf`` (what ``float()`` reads back). A resumed run appends to the file
    after cutting it back to the checkpoint's epochs, so no epoch appears twice.

    Args:
        path: the CSV file.
        append: add rows to an existing file instead of starting it anew. Default: False
            (True when ``fit`` resumes from a checkpoint).
    """

    main_process_only = True  # prints or writes files: rank 0 alone

    def __init__(self, path: str | os.PathLike, append: bool = False):
        self.path = os.fspath(path)
        self.append = bool(append)
        self._file = None
        self._writer = None
        self._columns: list[str] | None = None

    def on_fit_start(self, trainer, logs: dict[str, Any]) -> None:
        append = (self.append or logs.get("resumed", False)) and os.path.exists(self.path)
        self._columns = None
        if append:
            with open(self.path, newline="") as f:
                rows = list(csv.reader(f))
            self._columns = rows[0] if rows and rows[0] else None
            resumed_at = logs.get("start_epoch") if logs.get("resumed", False) else None
            if resumed_at is not None and self._columns and "epoch" in self._columns:
                _cut_back(self.path, rows, self._columns.index("epoch"), resumed_at)
        self._file = open(  # noqa: SIM115 - stays open across hooks, closed in on_fit_end
            self.path, "a" if append else "w", newline=""
        )
        self._writer = csv.writer(self._file)

    def on_epoch_end(self, trainer, logs: dict[str, Any]) -> None:
        if self._columns is None:
            self._columns = [
                k
                for k, v in logs.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            ]
            self._writer.writerow(self._columns)
        self._writer.writerow([logs.get(k, "") for k in self._columns])
        self._file.flush()

    def on_fit_end(self, trainer, logs: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _cut_back(path: str, rows: list[list[str]], column: int, last_epoch: int) -> None:
    """Rewrite the CSV without the rows of epochs after ``last_epoch`` (a resumed run redoes them)."""

    def keep(row: list[str]) -> bool:
        try:
            return float(row[column]) <= last_epoch
        except (IndexError, ValueError):
            return False

    kept = [rows[0], *(row for row in rows[1:] if keep(row))]
    if len(kept) == len(rows):
        return
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(kept)
