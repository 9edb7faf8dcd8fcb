"""Run folders and the records in them: make a folder, write and read back config.json,
history.json, monitor.csv and the Doctor's report (``deepgrad doctor`` recomputes it).

The layout of a run folder is described in ``deepgrad.experiments.runs``.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from deepgrad.experiments.config import RunConfig
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
    """The folder ``out`` (created if missing), or a new ``runs/<name>-<date>-<time>`` when None."""
    if out is None:
        return new_run_dir(name)
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON (arrays become lists, paths strings)."""
    path.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")


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
    """The RunConfig of a run, from its config.json."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no config.json in {Path(run_dir)}; "
            "evaluate reads the run's config.json next to the checkpoint."
        )
    return RunConfig.from_dict(json.loads(path.read_text()))


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
    monitor.to_csv(run_dir / "monitor.csv")
    report = RecipeDoctor(history, monitor, recipe.doctor_skips).report()
    (run_dir / "doctor.txt").write_text(report + "\n")
    return report


# -- reading runs back ---------------------------------------------------------------------------
def load_monitor_csv(path: str | Path) -> Monitor:
    """A Monitor holding the records of a ``monitor.csv`` (for the Doctor; no histograms)."""
    monitor = Monitor()
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            record: dict[str, Any] = {}
            for key in MONITOR_KEYS:
                value = row.get(key, "")
                if key in ("layer", "kind"):
                    record[key] = value
                elif key in ("step", "epoch"):
                    record[key] = int(float(value))
                else:
                    record[key] = float(value) if value not in ("", "nan") else math.nan
            monitor.records.append(record)
            if record["layer"] not in monitor.layers:
                monitor.layers.append(record["layer"])
    return monitor


def load_history(run_dir: str | Path) -> History:
    """The History of a run: from history.json, else from the last checkpoint."""
    run_dir = Path(run_dir)
    history = History()
    if (run_dir / "history.json").is_file():
        history.load_state_dict(json.loads((run_dir / "history.json").read_text()))
        return history
    last = run_dir / "last.safetensors"
    if last.is_file():
        history.load_state_dict(load_checkpoint(last)["history"])
        return history
    raise FileNotFoundError(
        f"doctor: {run_dir} holds no history.json or last.safetensors; "
        "give the folder of a `deepgrad train` run."
    )


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
    "close_figure",
    "doctor_report",
    "load_history",
    "load_monitor_csv",
    "new_run_dir",
    "prepare_dir",
    "read_config",
    "write_json",
    "write_records",
]
