"""History: what happened during ``Trainer.fit``, epoch by epoch and step by step."""

from __future__ import annotations

import csv
import math
from array import array
from typing import Any, ClassVar

import numpy as np

from deepgrad.backend.validation import one_of

MODES = ("min", "max")


class History:
    """Per-epoch and per-step records of a training run.

    Attributes:
        epochs: one dict per epoch: ``epoch`` (1-based), ``loss`` (mean training loss over the
            epoch's samples), every training metric, ``val_loss`` and ``val_<metric>`` when there
            is validation data, ``lr`` (learning rate of the first parameter group at the epoch's
            last step) and ``time`` (seconds for training and validation).
        steps: one dict per optimizer step: ``step`` (1-based, counted over the whole run),
            ``epoch``, ``loss`` (the batch loss) and ``lr`` (the rate that step used). Stored
            column-wise in ``array.array`` columns (see ``step_column``): recording a step costs
            four appends and 32 bytes, so a run of millions of steps keeps its memory flat.
        stop_reason: why training ended (set by ``Trainer.fit``), e.g. "completed 10 epochs" or
            "early stopping: val_loss did not improve for 5 epochs (best 0.3121 at epoch 7)".

    Example:
        >>> h = History()
        >>> h.add_epoch({"epoch": 1, "loss": 0.9, "val_loss": 1.0})
        >>> h.add_epoch({"epoch": 2, "loss": 0.5, "val_loss": 0.7})
        >>> h["val_loss"]
        [1.0, 0.7]
        >>> h.best("val_loss", "min")["epoch"]
        2
    """

    STEP_KEYS = ("step", "epoch", "loss", "lr")
    # the array.array type of each per-step column: 64-bit integers and doubles
    STEP_TYPES: ClassVar[dict[str, str]] = {"step": "q", "epoch": "q", "loss": "d", "lr": "d"}

    def __init__(self) -> None:
        self.epochs: list[dict[str, Any]] = []
        self._steps: dict[str, array] = {key: array(self.STEP_TYPES[key]) for key in self.STEP_KEYS}
        self.stop_reason: str | None = None

    # -- recording ----------------------------------------------------------------------------
    def add_epoch(self, record: dict[str, Any]) -> None:
        """Append one epoch's record (``{"epoch": 3, "loss": ..., "val_loss": ...}``); the
        Trainer calls it at the end of every epoch."""
        self.epochs.append(record)

    def add_step(self, step: int, epoch: int, loss: float, lr: float) -> None:
        """Append one optimizer step: its global number, epoch, training loss and the first
        group's learning rate (kept in compact columns; ``steps`` builds the dicts)."""
        columns = self._steps
        columns["step"].append(step)
        columns["epoch"].append(epoch)
        columns["loss"].append(loss)
        columns["lr"].append(lr)

    # -- reading ------------------------------------------------------------------------------
    @property
    def steps(self) -> list[dict[str, Any]]:
        """The per-step records as a list of dicts (built on access)."""
        columns = self._steps
        return [
            dict(zip(self.STEP_KEYS, row)) for row in zip(*(columns[k] for k in self.STEP_KEYS))
        ]

    def step_column(self, key: str) -> np.ndarray:
        """One per-step column (``step``, ``epoch``, ``loss`` or ``lr``) as a float64 array."""
        if key not in self._steps:
            raise ValueError(
                f"History.step_column: unknown key {key!r}; allowed: {', '.join(self.STEP_KEYS)}."
            )
        return np.array(self._steps[key], dtype=np.float64)  # a copy: later steps never change it

    @property
    def keys(self) -> list[str]:
        """Every key that appears in some epoch record, in first-seen order."""
        seen: dict[str, None] = {}
        for record in self.epochs:
            for key in record:
                seen.setdefault(key, None)
        return list(seen)

    def __getitem__(self, key: str) -> list:
        """The values of one epoch key (``history["val_loss"]``), NaN where an epoch lacks it."""
        if key not in self.keys:
            raise KeyError(
                f"History: no epoch key {key!r}; available: {', '.join(self.keys) or '(no epochs yet)'}"
            )
        return [record.get(key, math.nan) for record in self.epochs]

    def __len__(self) -> int:
        return len(self.epochs)

    def best(self, monitor: str = "val_loss", mode: str = "min") -> dict[str, Any]:
        """The epoch record with the best value of ``monitor`` (NaN values never win)."""
        one_of(mode, MODES, "mode", "History.best")
        sign = 1.0 if mode == "min" else -1.0
        candidates = [
            (sign * v, i)
            for i, v in enumerate(self[monitor])
            if _is_scalar(v) and not math.isnan(v)
        ]
        if not candidates:
            raise ValueError(f"History.best: {monitor!r} has no finite value in any epoch")
        return self.epochs[min(candidates)[1]]  # ties: the earliest epoch

    # -- writing ------------------------------------------------------------------------------
    def to_csv(self, path, per: str = "epoch") -> None:
        """Write the epoch records (``per="epoch"``) or the step records (``per="step"``) as CSV.

        Only scalar values are written (a confusion matrix stays in ``epochs``).
        """
        if per not in ("epoch", "step"):
            raise ValueError(f"History.to_csv: per must be 'epoch' or 'step' (got {per!r})")
        rows = self.epochs if per == "epoch" else self.steps
        keys = [
            k
            for k in (self.keys if per == "epoch" else self.STEP_KEYS)
            if all(_is_scalar(r.get(k, math.nan)) for r in rows)
        ]
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(keys)
            for record in rows:
                writer.writerow([record.get(k, "") for k in keys])

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the history after a resume (JSON-able)."""
        return {
            "epochs": [{k: to_jsonable(v) for k, v in r.items()} for r in self.epochs],
            "steps": {k: list(v) for k, v in self._steps.items()},
            "stop_reason": self.stop_reason,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the records by those of ``state_dict()`` (to continue a resumed run)."""
        self.epochs = [dict(r) for r in state["epochs"]]
        steps = state["steps"]
        self._steps = {key: _column(self.STEP_TYPES[key], steps[key]) for key in self.STEP_KEYS}
        self.stop_reason = state.get("stop_reason")

    def __repr__(self) -> str:
        last = self.epochs[-1] if self.epochs else {}
        summary = ", ".join(
            f"{k}={v:.4g}" for k, v in last.items() if k != "epoch" and _is_scalar(v)
        )
        return f"History({len(self.epochs)} epochs, {len(self._steps['step'])} steps; last: {summary or '-'})"


def _column(typecode: str, values: Any) -> array:
    """An ``array.array`` of ``typecode`` holding ``values`` (a list, an array or a Tensor)."""
    dtype = np.int64 if typecode == "q" else np.float64
    data = np.asarray(getattr(values, "_data", values), dtype=dtype)
    column = array(typecode)
    column.frombytes(np.ascontiguousarray(data.reshape(-1)).tobytes())
    return column


def _is_scalar(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def to_jsonable(value):
    """Python numbers and nested lists in place of NumPy scalars, arrays and Tensors."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
