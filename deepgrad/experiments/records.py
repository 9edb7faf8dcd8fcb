"""Run folders and the records in them: make a folder, write and read back config.json,
history.json, monitor.csv and the Doctor's report (``deepgrad doctor`` recomputes it).

The layout of a run folder is described in ``deepgrad.experiments.runs``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from deepgrad.experiments.config import RecipeError, RunConfig, RunFileError
from deepgrad.experiments.recipes import Recipe, get_recipe
from deepgrad.train import Doctor, History, Monitor
from deepgrad.train.checkpoint import load_checkpoint
from deepgrad.train.doctor import Diagnosis
from deepgrad.train.monitor import KEYS as MONITOR_KEYS

RUNS_ROOT = "runs"


# -- folders and files -----------------------------------------------------------------------
def new_run_dir(name: str, root: str | Path = RUNS_ROOT) -> Path:
    """A fresh folder ``root/name-YYYYmmdd-HHMMSS`` (with -2, -3 ... if taken), created."""
    base = Path(root) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def prepare_dir(out: str | Path | None, name: str) -> Path:
    """The folder ``out`` (created if missing), or a new ``runs/<name>-<date>-<time>`` when None.

    Raises:
        RecipeError: ``out`` is the empty string (it would mean the current folder).
        RunFileError: ``out`` is a file.
    """
    if out is None:
        return new_run_dir(name)
    if os.fspath(out) == "":
        raise RecipeError(
            "--out must name a folder (got ''); "
            "leave --out out for a new runs/NAME-DATE-TIME folder"
        )
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise RunFileError(path, "is a file, not a folder", "give --out a new or empty folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def claim_run_dir(out: str | Path | None, name: str, overwrite: bool = False) -> Path:
    """The folder of a new run: ``prepare_dir``, refusing to mix the run with existing files.

    A non-empty ``out`` is refused unless ``overwrite``; with ``overwrite`` a folder holding a
    run (a config.json) is emptied first. A non-empty folder that holds no run is never emptied.

    Raises:
        RecipeError: ``out`` is not empty (and not an overwritable run), or is ``""``.
        RunFileError: ``out`` is a file.
    """
    if out is not None and os.fspath(out) != "":
        path = Path(out)
        if path.is_dir() and any(path.iterdir()):
            if not overwrite:
                raise RecipeError(
                    f"--out {path} is not empty (got {len(list(path.iterdir()))} entries); "
                    f"use --resume {path} to continue the run in it, or --overwrite to replace it"
                )
            if not (path / "config.json").is_file():
                raise RecipeError(
                    f"--out {path} is not empty and holds no run (no config.json); "
                    "--overwrite only replaces run folders: give a new or empty folder"
                )
            shutil.rmtree(path)
    return prepare_dir(out, name)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file beside it, then a rename.

    A crash or a full disk leaves the previous file whole. An OSError without a file name (a full
    disk) gets ``path`` as its ``filename``, so the report names the file.
    """
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if error.filename is None:
            error.filename = os.fspath(path)
        raise


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON (arrays become lists, paths strings), written atomically."""
    write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def close_figure(fig: Any) -> None:
    """Let go of a saved figure.

    pyplot keeps every figure it made until closed (plots.py makes pyplot figures once pyplot is
    imported, e.g. by a notebook), which would pile up over many runs.
    """
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)


def read_config(run_dir: str | Path) -> RunConfig:
    """The RunConfig of a run, from its config.json.

    Raises:
        FileNotFoundError: no config.json in ``run_dir``.
        RunFileError: config.json is damaged or is not a run's config.
    """
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no config.json in {Path(run_dir)}; "
            "give the folder of a `deepgrad train` run (evaluate reads the config.json "
            "next to the checkpoint)."
        )
    fix = "restore it from a copy, or train the run again"
    data = _read_json(path, fix)
    if not isinstance(data, dict):
        raise RunFileError(path, f"holds a {type(data).__name__}, not a run's settings", fix)
    try:
        return RunConfig.from_dict(data)
    except (TypeError, ValueError) as error:
        raise RunFileError(path, f"is not a valid run config ({_one_line(error)})", fix) from None


def _read_json(path: Path, fix: str) -> Any:
    """The JSON in ``path``; a RunFileError naming the file when it is damaged or unreadable."""
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFileError(path, f"is damaged: not valid JSON ({_one_line(error)})", fix) from None


def _one_line(error: BaseException) -> str:
    """``str(error)`` on one line (a parser's message may span several)."""
    return " ".join(str(error).split()) or type(error).__name__


# -- the Doctor's report ---------------------------------------------------------------------
class RecipeDoctor(Doctor):
    """The Doctor without the diagnoses that do not apply to a recipe (``Recipe.doctor_skips``)."""

    def __init__(
        self, history: History, monitor: Monitor | None = None, skips: tuple[str, ...] = ()
    ) -> None:
        super().__init__(history, monitor)
        self.skips = skips

    def diagnose(self) -> list[Diagnosis]:
        return [d for d in super().diagnose() if d.code not in self.skips]


def write_records(history: History, monitor: Monitor, run_dir: Path, recipe: Recipe) -> str:
    """history.json, monitor.csv and doctor.txt; returns the Doctor's report."""
    write_json(run_dir / "history.json", history.state_dict())
    temporary = run_dir / ".monitor.csv.tmp"
    try:
        monitor.to_csv(temporary)
        os.replace(temporary, run_dir / "monitor.csv")
    finally:
        temporary.unlink(missing_ok=True)
    report = RecipeDoctor(history, monitor, recipe.doctor_skips).report()
    write_text(run_dir / "doctor.txt", report + "\n")
    return report


# -- reading runs back ---------------------------------------------------------------------------
def load_monitor_csv(path: str | Path) -> Monitor:
    """A Monitor holding the records of a ``monitor.csv`` (for the Doctor; no histograms).

    Raises:
        RunFileError: the file is damaged (a truncated or malformed row, a missing column).
    """
    monitor = Monitor()
    line = 1
    try:
        if _cut_short(path):
            raise ValueError("the last row has no line end: the file was cut short")
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = [key for key in MONITOR_KEYS if key not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"no column {', '.join(missing)} in the header")
            for row in reader:
                line = reader.line_num
                monitor.records.append(_monitor_record(row))
                if monitor.records[-1]["layer"] not in monitor.layers:
                    monitor.layers.append(monitor.records[-1]["layer"])
    except (ValueError, TypeError, csv.Error, UnicodeDecodeError) as error:
        raise RunFileError(
            path,
            f"is damaged at line {line} ({_one_line(error)})",
            "delete it to diagnose the run from its history alone",
        ) from None
    return monitor


def _cut_short(path: str | Path) -> bool:
    """Whether a CSV file ends inside a row (a whole file ends its last row with a line end)."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return False
        f.seek(size - 1)
        return f.read(1) != b"\n"


def _monitor_record(row: dict[str, Any]) -> dict[str, Any]:
    """One monitor.csv row as a Monitor record; ValueError for a truncated or malformed row."""
    if None in row or any(row.get(key) is None for key in MONITOR_KEYS):
        raise ValueError("the row has too few or too many fields: the file was cut short")
    record: dict[str, Any] = {}
    for key in MONITOR_KEYS:
        value = row[key]
        if key in ("layer", "kind"):
            record[key] = value
        elif key in ("step", "epoch"):
            record[key] = int(float(value))
        else:
            record[key] = float(value) if value not in ("", "nan") else math.nan
    return record


def load_history(run_dir: str | Path) -> History:
    """The History of a run: from history.json, else from the last checkpoint.

    Raises:
        FileNotFoundError: the folder holds neither.
        RunFileError: the file read is damaged.
    """
    run_dir = Path(run_dir)
    history = History()
    path = run_dir / "history.json"
    fix = "delete it to read the history from last.safetensors, or train the run again"
    if path.is_file():
        state = _read_json(path, fix)
    elif (run_dir / "last.safetensors").is_file():
        path, fix = run_dir / "last.safetensors", "train the run again"
        state = checkpoint_state(path, fix)["history"]
    else:
        raise FileNotFoundError(
            f"doctor: {run_dir} holds no history.json or last.safetensors; "
            "give the folder of a `deepgrad train` run."
        )
    try:
        history.load_state_dict(state)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise RunFileError(path, f"holds no valid history ({_one_line(error)})", fix) from None
    return history


def checkpoint_state(path: Path, fix: str) -> dict[str, Any]:
    """``load_checkpoint(path)``; a RunFileError naming the file when it is damaged.

    Args:
        path: a checkpoint written by ``save_checkpoint`` (last.safetensors).
        fix: what the error tells the user to do.
    """
    try:
        return load_checkpoint(path)
    except (ValueError, KeyError, TypeError, EOFError) as error:  # SerializationError included
        raise RunFileError(
            path, f"is damaged or not a Trainer checkpoint ({_one_line(error)})", fix
        ) from None


def doctor_report(run_dir: str | Path) -> str:
    """The Doctor's report on a run, recomputed from its records (history and monitor.csv)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"doctor: no run folder {str(run_dir)!r}.")
    history = load_history(run_dir)
    monitor = (
        load_monitor_csv(run_dir / "monitor.csv") if (run_dir / "monitor.csv").is_file() else None
    )
    skips: tuple[str, ...] = ()
    if (run_dir / "config.json").is_file():
        skips = get_recipe(read_config(run_dir).recipe).doctor_skips
    return RecipeDoctor(history, monitor, skips).report()


__all__ = [
    "RUNS_ROOT",
    "RecipeDoctor",
    "checkpoint_state",
    "claim_run_dir",
    "close_figure",
    "doctor_report",
    "load_history",
    "load_monitor_csv",
    "new_run_dir",
    "prepare_dir",
    "read_config",
    "write_json",
    "write_records",
    "write_text",
]
