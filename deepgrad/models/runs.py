"""Runs of recipes: train one into a folder, compare variants, find a learning rate, evaluate a
checkpoint, re-read a run's diagnosis. The ``deepgrad`` command is a thin layer over these.

A run folder (``runs/<recipe>-<date>-<time>/`` unless given) holds::

    config.json             the RunConfig (``deepgrad evaluate`` rebuilds the model from it)
    metrics.csv             one row per epoch (CSVLogger)
    history.json            epochs and steps as recorded by the Trainer
    monitor.csv             per-layer statistics of the training Monitor
    best.safetensors        the weights of the best epoch (by the recipe's monitored value)
    last.safetensors        the full checkpoint of the last epoch (resume with Trainer.fit(resume_from=...)),
                            also written when training is interrupted (Ctrl-C)
    doctor.txt              the Doctor's report
    results.json            test metrics, best epoch, time
    learning_curves.png, monitor.png, activations.png   (with matplotlib)
    tensorboard/            event files (with tensorboardX)

plus what the recipe adds (reconstructions.png, samples.png, sample.txt, decision_boundary.png).
"""

from __future__ import annotations

import csv
import importlib.util
import itertools
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepgrad.backend.random import manual_seed
from deepgrad.io import load, load_metadata
from deepgrad.models.config import RunConfig
from deepgrad.models.outputs import PLOT_HINT, have_matplotlib
from deepgrad.models.recipes import Recipe, RecipeData, RecipeError, get_recipe
from deepgrad.nn.summary import summary as nn_summary
from deepgrad.optim.lr_finder import find_lr
from deepgrad.train import CSVLogger, Doctor, EarlyStopping, History, ModelCheckpoint, Monitor, ProgressBar
from deepgrad.train import plots as train_plots
from deepgrad.train.callbacks.base import Callback
from deepgrad.train.checkpoint import KIND as CHECKPOINT_KIND
from deepgrad.train.checkpoint import save_checkpoint
from deepgrad.train.monitor import KEYS as MONITOR_KEYS

RUNS_ROOT = "runs"
MONITOR_EVERY = 10


class RunInterrupted(Exception):
    """Training was interrupted (Ctrl-C); the last checkpoint and the records were saved."""

    def __init__(self, run_dir: Path, checkpoint: Path | None, epoch: int) -> None:
        super().__init__(f"training interrupted in epoch {epoch}; run folder {run_dir}")
        self.run_dir, self.checkpoint, self.epoch = run_dir, checkpoint, epoch


@dataclass
class RunResult:
    """What ``train_run`` did.

    Attributes:
        run_dir: the run's folder.
        config: its RunConfig.
        history: the Trainer's History.
        test: the test loss and metrics of the best weights (None without test data).
        best_epoch, best_value: the best epoch by ``monitor`` and its value.
        monitor: the epoch-log key that chose the best epoch.
        seconds: wall time of the training (pre-training included).
        lines: what the run reports after training (pictures and files written, the Doctor's report);
            the lines before (data, model, pre-training) went to ``log`` as they came.
    """

    run_dir: Path
    config: RunConfig
    history: History
    test: dict[str, Any] | None
    best_epoch: int | None
    best_value: float | None
    monitor: str
    seconds: float
    lines: list[str] = field(default_factory=list)


class _SaveOnInterrupt(Callback):
    """Writes the full checkpoint when ``fit`` ends by an exception (Ctrl-C), before other callbacks
    (early stopping restoring the best weights) change the model."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved = False

    def on_fit_end(self, trainer, logs: dict[str, Any]) -> None:
        if logs.get("status") == "interrupted":
            save_checkpoint(trainer.state_dict(), self.path)
            self.saved = True


def new_run_dir(name: str, root: str | Path = RUNS_ROOT) -> Path:
    """A fresh folder ``root/name-YYYYmmdd-HHMMSS`` (with -2, -3 ... if taken), created."""
    base = Path(root) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def _prepare_dir(out: str | Path | None, name: str) -> Path:
    if out is None:
        return new_run_dir(name)
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def _build(config: RunConfig) -> tuple[Recipe, RecipeData, Any]:
    recipe = get_recipe(config.recipe)
    data = recipe.data(config)
    manual_seed(config.seed)  # initialization, dropout and noise draws repeat with the seed
    model = recipe.build_model(config, data)
    return recipe, data, model


def _close(fig) -> None:
    """Let go of a saved figure: pyplot keeps every figure it made until closed (plots.py makes pyplot
    figures once pyplot is imported, e.g. by a notebook), which would pile up over many runs."""
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)


def _plots(history: History, monitor: Monitor | None, run_dir: Path, light: bool) -> list[str]:
    if not have_matplotlib():
        return [f"plots skipped: {PLOT_HINT}"]
    written = []
    _close(train_plots.plot_history(history, path=run_dir / "learning_curves.png", title=run_dir.name))
    written.append(run_dir / "learning_curves.png")
    if monitor is not None and monitor.records and not light:
        try:
            _close(train_plots.plot_monitor(monitor, path=run_dir / "monitor.png", title="per-layer statistics"))
            written.append(run_dir / "monitor.png")
        except ValueError:
            pass  # no statistic has a value for this model
        if monitor.histograms:
            _close(
                train_plots.plot_activation_histograms(monitor, path=run_dir / "activations.png", title="activations")
            )
            written.append(run_dir / "activations.png")
    return [f"learning curves: {written[0]}"] + (
        [f"also: {', '.join(p.name for p in written[1:])}"] if written[1:] else []
    )


def train_run(
    config: RunConfig,
    out: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    light: bool = False,
    plots: bool = True,
) -> RunResult:
    """Train a recipe as ``config`` says and write the run folder (see the module docstring).

    Args:
        config: the run's settings (``Recipe.make_config``).
        out: the run folder. Default: a new ``runs/<recipe>-<date>-<time>``.
        progress: show the progress bar. Default: True.
        log: called with each line the run reports as it goes (data, pre-training); None: silent.
        light: skip TensorBoard files and the monitor pictures (comparisons). Default: False.
        plots: draw the pictures (learning curves, the recipe's samples...). Default: True.

    Raises:
        RunInterrupted: on Ctrl-C, after saving ``last.safetensors`` and the records.
    """
    say = log or (lambda line: None)
    started = time.perf_counter()
    recipe, data, model = _build(config)
    run_dir = _prepare_dir(out, config.recipe)
    _write_json(run_dir / "config.json", config.to_dict())
    for line in data.notes:
        say(line)
    say(f"model: {describe_model(model)}")
    train_loader, val_loader, test_loader = recipe.loaders(config, data)
    optimizer = recipe.make_optimizer(config, model)

    interrupt = _SaveOnInterrupt(run_dir / "last.safetensors")
    checkpoint = ModelCheckpoint(
        run_dir / "best.safetensors",
        monitor=recipe.monitor,
        mode=recipe.mode,
        save_best_only=True,
        save_last=run_dir / "last.safetensors",
        weights_only=True,
    )
    callbacks: list[Callback] = [interrupt, CSVLogger(run_dir / "metrics.csv"), checkpoint]
    if config.early_stopping is not None:
        callbacks.append(EarlyStopping(recipe.monitor, recipe.mode, patience=config.early_stopping))
    if not light and importlib.util.find_spec("tensorboardX") is not None:
        from deepgrad.train import TensorBoardLogger

        callbacks.append(TensorBoardLogger(run_dir / "tensorboard"))
    if progress:
        callbacks.append(ProgressBar())
    monitor = Monitor(every=MONITOR_EVERY)
    trainer = recipe.make_trainer(config, model, optimizer, callbacks, monitor, progress=False)

    try:
        for line in recipe.prepare(config, model, train_loader, progress):
            say(line)
        trainer.fit(train_loader, val_loader, epochs=config.epochs)
    except KeyboardInterrupt:
        _write_records(trainer.history, monitor, run_dir, recipe)
        raise RunInterrupted(run_dir, interrupt.path if interrupt.saved else None, trainer.epoch) from None
    seconds = time.perf_counter() - started
    report = _write_records(trainer.history, monitor, run_dir, recipe)

    if checkpoint.best_path is not None:
        model.load_state_dict(load(checkpoint.best_path))
    test = trainer.evaluate(test_loader) if test_loader is not None else None
    tail = _plots(trainer.history, monitor, run_dir, light) if plots else ["plots skipped (--no-plots)"]
    tail += recipe.outputs(config, model, data, run_dir, plots=plots and have_matplotlib())
    best_value = checkpoint.best
    _write_json(
        run_dir / "results.json",
        {
            "recipe": config.recipe,
            "test": test,
            "monitor": recipe.monitor,
            "best_epoch": checkpoint.best_epoch,
            "best_value": best_value,
            "epochs_run": len(trainer.history.epochs),
            "stop_reason": trainer.history.stop_reason,
            "seconds": seconds,
        },
    )
    return RunResult(
        run_dir,
        config,
        trainer.history,
        test,
        checkpoint.best_epoch,
        best_value,
        recipe.monitor,
        seconds,
        tail + ["", report],
    )


def describe_model(model) -> str:
    """``MLP 784-1000-500-100-10 (1,336,610 parameters)``: the class, its sizes if it has them, the parameters."""
    count = sum(p.numel() for p in model.parameters())
    sizes = getattr(model, "sizes", None)
    shape = f" {'-'.join(str(s) for s in sizes)}" if sizes else ""
    return f"{type(model).__name__}{shape} ({count:,} parameters)"


def train_recipe(
    name: str,
    out: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    **settings: Any,
) -> RunResult:
    """Train a recipe from Python, as ``deepgrad train NAME`` does, and write its run folder.

    Args:
        name: the recipe ("mnist-mlp", "vae", ...; see ``RECIPES``).
        out: the run folder. Default: a new ``runs/<name>-<date>-<time>``.
        progress, log: as in ``train_run``.
        **settings: ``Recipe.make_config`` settings: epochs, batch_size, lr, optimizer, init,
            activation, dropout, weight_decay, early_stopping, augment, device, seed, limit, and
            ``options={...}`` for the recipe's own options.

    Example:
        >>> result = train_recipe("moons", epochs=2, progress=False, log=None)  # doctest: +SKIP
        >>> result.test["accuracy"]                                              # doctest: +SKIP
        0.92
    """
    return train_run(get_recipe(name).make_config(**settings), out, progress, log)


class _RecipeDoctor(Doctor):
    """The Doctor without the diagnoses that do not apply to a recipe (``Recipe.doctor_skips``)."""

    def __init__(self, history, monitor=None, skips: tuple[str, ...] = ()) -> None:
        super().__init__(history, monitor)
        self.skips = skips

    def diagnose(self):
        return [d for d in super().diagnose() if d.code not in self.skips]


def _write_records(history: History, monitor: Monitor, run_dir: Path, recipe: Recipe) -> str:
    """history.json, monitor.csv and doctor.txt; returns the Doctor's report."""
    _write_json(run_dir / "history.json", history.state_dict())
    monitor.to_csv(run_dir / "monitor.csv")
    report = _RecipeDoctor(history, monitor, recipe.doctor_skips).report()
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
        from deepgrad.train.checkpoint import load_checkpoint

        history.load_state_dict(load_checkpoint(last)["history"])
        return history
    raise FileNotFoundError(
        f"doctor: {run_dir} holds no history.json or last.safetensors; give the folder of a `deepgrad train` run."
    )


def doctor_report(run_dir: str | Path) -> str:
    """The Doctor's report on a run, recomputed from its records (history and monitor.csv)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"doctor: no run folder {str(run_dir)!r}.")
    history = load_history(run_dir)
    monitor = load_monitor_csv(run_dir / "monitor.csv") if (run_dir / "monitor.csv").is_file() else None
    skips: tuple[str, ...] = ()
    if (run_dir / "config.json").is_file():
        skips = get_recipe(read_config(run_dir).recipe).doctor_skips
    return _RecipeDoctor(history, monitor, skips).report()


def read_config(run_dir: str | Path) -> RunConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no config.json in {Path(run_dir)}; evaluate reads the run's config.json next to the checkpoint."
        )
    return RunConfig.from_dict(json.loads(path.read_text()))


def evaluate_checkpoint(path: str | Path, split: str = "test") -> tuple[RunConfig, dict[str, Any]]:
    """Rebuild a run's model from the config.json beside ``path``, load the weights, evaluate on ``split``.

    ``path`` is a weights file (best.safetensors) or a full checkpoint (last.safetensors).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"evaluate: no checkpoint file {str(path)!r}.")
    if split not in ("train", "val", "test"):
        raise ValueError(f"evaluate: split must be train, val or test (got {split!r}).")
    config = read_config(path.parent)
    recipe, data, model = _build(config)
    state = load(path)
    if (load_metadata(path) or {}).get("kind") == CHECKPOINT_KIND:
        state = state["model"]
    model.load_state_dict(state)
    loaders = dict(zip(("train", "val", "test"), recipe.loaders(config, data)))
    if loaders[split] is None:
        raise ValueError(f"evaluate: recipe {config.recipe!r} has no {split} data.")
    trainer = recipe.make_trainer(config, model, recipe.make_optimizer(config, model), [], False, progress=False)
    return config, trainer.evaluate(loaders[split])


def summarize(config: RunConfig):
    """``nn.summary`` of the recipe's model on one batch of its input (returns the ModelSummary, unprinted)."""
    recipe, data, model = _build(config)
    shape, dtype = recipe.example_input(config, data)
    return nn_summary(model, shape, dtype=dtype, print_table=False)


def lr_find_run(
    config: RunConfig,
    out: str | Path | None = None,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
):
    """The learning-rate range test on a recipe; writes lr_finder.json (and lr_finder.png) to the folder.

    Returns:
        (LRFinderResult, folder).
    """
    recipe = get_recipe(config.recipe)
    if not recipe.supports_lr_find:
        raise RecipeError(f"lr-find: recipe {config.recipe!r} has no single loss to test learning rates on.")
    recipe, data, model = _build(config)
    train_loader, _, _ = recipe.loaders(config, data)
    result = find_lr(
        model,
        recipe.loss_fn(model),
        recipe.make_optimizer(config, model),
        train_loader,
        start_lr=start_lr,
        end_lr=end_lr,
        num_steps=num_steps,
    )
    folder = _prepare_dir(out, f"{config.recipe}-lr-find")
    _write_json(
        folder / "lr_finder.json",
        {
            "config": config.to_dict(),
            "suggestion": result.suggestion,
            "diverged": result.diverged,
            "lrs": result.lrs,
            "losses": result.losses,
            "raw_losses": result.raw_losses,
        },
    )
    if have_matplotlib() and result.lrs:
        _close(
            train_plots.plot_lr_finder(
                result, path=folder / "lr_finder.png", title=f"{config.recipe}: learning-rate range test"
            )
        )
    return result, folder


# -- comparisons -----------------------------------------------------------------------------------
# --vary regularization=... names: which settings each one changes
REGULARIZATIONS: dict[str, dict[str, Any]] = {
    "none": {"weight_decay": 0.0, "dropout": None, "early_stopping": None},
    "l2": {"weight_decay": 5e-4},
    "dropout": {"dropout": 0.3},
    "early-stopping": {"early_stopping": 3},
}
# --vary keys that are settings of make_config, with how to read their values
_SETTINGS: dict[str, Callable[[str], Any]] = {
    "init": str,
    "activation": str,
    "optimizer": str,
    "lr": float,
    "batch_size": int,
    "epochs": int,
    "dropout": float,
    "weight_decay": float,
    "early_stopping": int,
    "seed": int,
}


def vary_keys(recipe: Recipe) -> list[str]:
    """The keys ``--vary`` accepts for a recipe."""
    return [k.replace("_", "-") for k in _SETTINGS] + ["regularization"] + list(recipe.options)


def parse_vary(spec: str, recipe: Recipe) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """``"init=zeros,xavier"`` -> ("init", [("zeros", {"init": "zeros"}), ("xavier", {"init": "xavier"})]).

    Each value comes with the make_config settings it means. RecipeError for a malformed spec or an
    unknown key or value, listing what is allowed.
    """
    if "=" not in spec:
        raise RecipeError(f"--vary expects KEY=VALUE1,VALUE2,... such as init=zeros,xavier (got {spec!r}).")
    key, _, text = spec.partition("=")
    key = key.strip()
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise RecipeError(f"--vary {key}: give at least one value after '=' (got {spec!r}).")
    if len(set(values)) != len(values):
        raise RecipeError(f"--vary {key}: a value is listed twice (got {', '.join(values)}).")
    name = key.replace("-", "_")
    variants = []
    if key == "regularization":
        for value in values:
            if value not in REGULARIZATIONS:
                raise RecipeError(
                    f"--vary regularization: unknown value {value!r}; allowed: {', '.join(REGULARIZATIONS)}."
                )
            variants.append((value, dict(REGULARIZATIONS[value])))
    elif name in _SETTINGS:
        for value in values:
            try:
                parsed = _SETTINGS[name](value)
            except ValueError:
                raise RecipeError(f"--vary {key}: {value!r} is not a valid {key} value.") from None
            variants.append((value, {name: parsed}))
    elif key in recipe.options:
        for value in values:
            variants.append((value, {"options": {key: recipe.options[key].parse(key, value)}}))
    else:
        raise RecipeError(
            f"--vary: unknown key {key!r} for recipe {recipe.name!r}; allowed: {', '.join(vary_keys(recipe))}."
        )
    return key, variants


def _merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in change.items():
        if key == "options":
            merged["options"] = {**merged.get("options", {}), **value}
        else:
            merged[key] = value
    return merged


@dataclass
class Comparison:
    """The result of ``compare_run``: one row per variant, and where it was written."""

    folder: Path
    rows: list[dict[str, Any]]
    columns: list[str]
    runs: dict[str, RunResult]


def plan_variants(recipe: Recipe, settings: dict[str, Any], specs: list[str]) -> list[tuple[str, RunConfig]]:
    """(name, config) of every combination of the ``--vary`` specs, all checked before anything trains."""
    if not specs:
        raise RecipeError("compare: give at least one --vary KEY=VALUE1,VALUE2,...")
    parsed = [parse_vary(spec, recipe) for spec in specs]
    keys = [key for key, _ in parsed]
    if len(set(keys)) != len(keys):
        raise RecipeError(f"compare: each key may be varied once (got {', '.join(keys)}).")
    plan = []
    for combo in itertools.product(*(variants for _, variants in parsed)):
        name = ",".join(f"{key}={value}" for key, (value, _) in zip(keys, combo)) if len(keys) > 1 else combo[0][0]
        change = dict(settings)
        for _, setting in combo:
            change = _merge(change, setting)
        try:
            plan.append((name, recipe.make_config(**change)))
        except RecipeError as error:
            raise RecipeError(f"compare: variant {name!r}: {error}") from None
    return plan


def compare_run(
    recipe_name: str,
    settings: dict[str, Any],
    specs: list[str],
    out: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    plots: bool = True,
) -> Comparison:
    """Train each variant (same seed, same data) and tabulate them; writes comparison.csv/.json/.png.

    Args:
        recipe_name: the recipe.
        settings: the make_config settings shared by all variants (from the command line).
        specs: ``--vary`` specs such as "init=zeros,xavier"; several are combined (a grid).
        out: the folder (each variant in a sub-folder). Default: a new ``runs/<recipe>-compare-...``.
        progress: progress bars. Default: True.
        log: called with progress lines (which variant trains). Default: print.
        plots: draw each variant's learning curves and the overlaid comparison. Default: True.
    """
    say = log or (lambda line: None)
    recipe = get_recipe(recipe_name)
    plan = plan_variants(recipe, settings, specs)
    folder = _prepare_dir(out, f"{recipe_name}-compare")
    metric = recipe.monitor if recipe.monitor.startswith("val_") else "val_loss"
    runs: dict[str, RunResult] = {}
    rows = []
    for index, (name, config) in enumerate(plan, start=1):
        say(f"[{index}/{len(plan)}] {name}")
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        result = train_run(config, folder / slug, progress=progress, log=None, light=True, plots=plots)
        runs[name] = result
        history = result.history
        values = [v for v in history[metric]] if metric in history.keys else []
        finite = [v for v in values if isinstance(v, float) and math.isfinite(v)]
        best = (max if recipe.mode == "max" and metric == recipe.monitor else min)(finite) if finite else math.nan
        row = {
            "variant": name,
            f"final {metric}": values[-1] if values else math.nan,
            f"best {metric}": best,
            "best epoch": values.index(best) + 1 if finite else None,
        }
        if metric != "val_loss" and "val_loss" in history.keys:
            row["final val_loss"] = history["val_loss"][-1]
        row["epochs"] = len(history.epochs)
        row["time (s)"] = result.seconds
        if result.test is not None and recipe.headline in result.test:
            row[f"test {recipe.headline}"] = result.test[recipe.headline]
        rows.append(row)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(folder / "comparison.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    _write_json(folder / "comparison.json", {"recipe": recipe_name, "vary": specs, "rows": rows})
    if plots and have_matplotlib():
        keys = tuple(k for k in ("loss", "val_loss", metric) if any(k in r.history.keys for r in runs.values()))
        _close(
            train_plots.compare_runs(
                {n: r.history for n, r in runs.items()},
                keys=tuple(dict.fromkeys(keys)),
                path=folder / "comparison.png",
                title=f"{recipe_name}: {' x '.join(specs)}",
            )
        )
    return Comparison(folder, rows, columns, runs)


__all__ = [
    "REGULARIZATIONS",
    "Comparison",
    "RunInterrupted",
    "RunResult",
    "compare_run",
    "doctor_report",
    "evaluate_checkpoint",
    "load_history",
    "load_monitor_csv",
    "lr_find_run",
    "new_run_dir",
    "parse_vary",
    "plan_variants",
    "read_config",
    "summarize",
    "train_recipe",
    "train_run",
    "vary_keys",
]
