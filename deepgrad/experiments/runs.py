"""Training runs of recipes: ``train_run`` trains one into a run folder; ``train_recipe`` does it
from Python by name, as ``deepgrad train`` does.

A run folder (``runs/<recipe>-<date>-<time>/`` unless given) holds::

    config.json             the RunConfig (``deepgrad evaluate`` rebuilds the model from it)
    metrics.csv             one row per epoch (CSVLogger)
    history.json            epochs and steps as recorded by the Trainer
    monitor.csv             per-layer statistics of the training Monitor
    best.safetensors        the weights of the best epoch (by the recipe's monitored value)
    last.safetensors        the full checkpoint of the last epoch (resume with
                            Trainer.fit(resume_from=...)), also written on Ctrl-C
    doctor.txt              the Doctor's report
    results.json            test metrics, best epoch, time
    learning_curves.png, monitor.png, activations.png   (with matplotlib)
    tensorboard/            event files (with tensorboardX)

plus what the recipe adds (reconstructions.png, samples.png, sample.txt, decision_boundary.png).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepgrad import nn
from deepgrad.backend.random import manual_seed
from deepgrad.experiments.config import RunConfig
from deepgrad.experiments.outputs import PLOT_HINT, have_matplotlib
from deepgrad.experiments.recipes import Recipe, RecipeData, get_recipe
from deepgrad.experiments.records import close_figure, prepare_dir, write_json, write_records
from deepgrad.io import load
from deepgrad.train import CSVLogger, EarlyStopping, History, ModelCheckpoint, Monitor, ProgressBar
from deepgrad.train import plots as train_plots
from deepgrad.train.callbacks.base import Callback
from deepgrad.train.checkpoint import save_checkpoint

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
        lines: what the run reports after training (pictures and files written, the Doctor's
            report);
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


def build_run(config: RunConfig) -> tuple[Recipe, RecipeData, nn.Module]:
    """The recipe, its data and its fresh model (the generator seeded with ``config.seed``)."""
    recipe = get_recipe(config.recipe)
    data = recipe.data(config)
    manual_seed(config.seed)  # initialization, dropout and noise draws repeat with the seed
    model = recipe.build_model(config, data)
    return recipe, data, model


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
    recipe, data, model = build_run(config)
    run_dir = prepare_dir(out, config.recipe)
    write_json(run_dir / "config.json", config.to_dict())
    for line in [*data.notes, f"model: {describe_model(model)}"]:
        say(line)
    train_loader, val_loader, test_loader = recipe.loaders(config, data)
    optimizer = recipe.make_optimizer(config, model)
    interrupt, checkpoint, callbacks = _callbacks(config, recipe, run_dir, light, progress)
    monitor = Monitor(every=MONITOR_EVERY)
    trainer = recipe.make_trainer(config, model, optimizer, callbacks, monitor, progress=False)
    try:
        for line in recipe.prepare(config, model, train_loader, progress):
            say(line)
        trainer.fit(train_loader, val_loader, epochs=config.epochs)
    except KeyboardInterrupt:
        write_records(trainer.history, monitor, run_dir, recipe)
        raise RunInterrupted(
            run_dir, interrupt.path if interrupt.saved else None, trainer.epoch
        ) from None
    seconds = time.perf_counter() - started
    report = write_records(trainer.history, monitor, run_dir, recipe)

    if checkpoint.best_path is not None:
        model.load_state_dict(load(checkpoint.best_path))
    test = trainer.evaluate(test_loader) if test_loader is not None else None
    tail = (
        _plots(trainer.history, monitor, run_dir, light)
        if plots
        else ["plots skipped (--no-plots)"]
    )
    tail += recipe.outputs(config, model, data, run_dir, plots=plots and have_matplotlib())
    best = checkpoint.best_epoch, checkpoint.best
    lines = [*tail, "", report]
    result = RunResult(
        run_dir, config, trainer.history, test, *best, recipe.monitor, seconds, lines
    )
    _write_results(result)
    return result


def _callbacks(
    config: RunConfig, recipe: Recipe, run_dir: Path, light: bool, progress: bool
) -> tuple[_SaveOnInterrupt, ModelCheckpoint, list[Callback]]:
    """A run's callbacks: save on Ctrl-C, metrics.csv, checkpoints, early stopping, TensorBoard,
    progress bar."""
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
    return interrupt, checkpoint, callbacks


def _plots(history: History, monitor: Monitor | None, run_dir: Path, light: bool) -> list[str]:
    """learning_curves.png, and unless ``light`` monitor.png and activations.png; lines to print."""
    if not have_matplotlib():
        return [f"plots skipped: {PLOT_HINT}"]
    written = []
    close_figure(
        train_plots.plot_history(history, path=run_dir / "learning_curves.png", title=run_dir.name)
    )
    written.append(run_dir / "learning_curves.png")
    if monitor is not None and monitor.records and not light:
        try:
            close_figure(
                train_plots.plot_monitor(
                    monitor, path=run_dir / "monitor.png", title="per-layer statistics"
                )
            )
            written.append(run_dir / "monitor.png")
        except ValueError:
            pass  # no statistic has a value for this model
        if monitor.histograms:
            close_figure(
                train_plots.plot_activation_histograms(
                    monitor, path=run_dir / "activations.png", title="activations"
                )
            )
            written.append(run_dir / "activations.png")
    return [f"learning curves: {written[0]}"] + (
        [f"also: {', '.join(p.name for p in written[1:])}"] if written[1:] else []
    )


def _write_results(result: RunResult) -> None:
    """results.json: test metrics, best epoch and value, epochs run, why training stopped, time."""
    write_json(
        result.run_dir / "results.json",
        {
            "recipe": result.config.recipe,
            "test": result.test,
            "monitor": result.monitor,
            "best_epoch": result.best_epoch,
            "best_value": result.best_value,
            "epochs_run": len(result.history.epochs),
            "stop_reason": result.history.stop_reason,
            "seconds": result.seconds,
        },
    )


def describe_model(model: nn.Module) -> str:
    """Class, sizes if it has them, parameters: ``MLP 784-1000-10 (795,010 parameters)``."""
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
        >>> from deepgrad.experiments import train_recipe
        >>> result = train_recipe("moons", epochs=2, progress=False, log=None)  # doctest: +SKIP
        >>> result.test["accuracy"]                                              # doctest: +SKIP
        0.92
    """
    return train_run(get_recipe(name).make_config(**settings), out, progress, log)


__all__ = [
    "MONITOR_EVERY",
    "RunInterrupted",
    "RunResult",
    "build_run",
    "describe_model",
    "train_recipe",
    "train_run",
]
