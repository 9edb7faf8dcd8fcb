"""Training runs of recipes: ``train_run`` trains one into a run folder; ``train_recipe`` does it
from Python by name, as ``deepgrad train`` does.

A run folder (``runs/<recipe>-<date>-<time>/`` unless given) holds::

    config.json             the RunConfig (``deepgrad evaluate`` rebuilds the model from it)
    metrics.csv             one row per epoch (CSVLogger)
    history.json            epochs and steps as recorded by the Trainer
    monitor.csv             per-layer statistics of the training Monitor
    best.safetensors        the weights of the best epoch (by the recipe's monitored value)
    last.safetensors        the full checkpoint of the last complete epoch
    last.step<N>.safetensors  the full state after step N inside an epoch: every
                            ``checkpoint_every`` steps, and at an interruption (Ctrl-C,
                            SIGTERM, an error between two steps)
    last.latest.json        names the newest of these (``ModelCheckpoint``'s manifest);
                            ``deepgrad train --resume RUN_DIR`` continues from the newest
                            one that loads, to the weights of an uninterrupted run
    doctor.txt              the Doctor's report
    results.json            test metrics, best epoch, time
    learning_curves.png, monitor.png, activations.png   (with matplotlib)
    tensorboard/            event files (with tensorboardX)

plus what the recipe adds (reconstructions.png, samples.png, sample.txt, decision_boundary.png).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn
from deepgrad.backend.random import manual_seed
from deepgrad.experiments.config import RecipeError, RunConfig, RunFileError
from deepgrad.experiments.outputs import PLOT_HINT, have_matplotlib
from deepgrad.experiments.parallel import data_parallel, rank0
from deepgrad.experiments.recipes import Recipe, RecipeData, get_recipe
from deepgrad.experiments.records import (
    checkpoint_state,
    claim_run_dir,
    close_figure,
    load_monitor_csv,
    read_config,
    write_json,
    write_records,
)
from deepgrad.io import load, load_metadata
from deepgrad.train import CSVLogger, EarlyStopping, History, ModelCheckpoint, Monitor, ProgressBar
from deepgrad.train import checkpoint as ckpt
from deepgrad.train import plots as train_plots
from deepgrad.train.callbacks.base import Callback
from deepgrad.train.distributed import broadcast_module, world

MONITOR_EVERY = 10
# steps between the checkpoints taken inside an epoch (a SIGKILL loses at most these steps)
CHECKPOINT_EVERY = 1000


class RunInterrupted(Exception):
    """Training was interrupted (Ctrl-C, SIGTERM); the records were written.

    Attributes:
        run_dir: the run's folder.
        checkpoint: the file holding the state at the interruption, or None when that moment
            was not saved (stopped inside a step, or the write failed): ``--resume`` then
            continues from the newest checkpoint before it.
        epoch: the epoch that was running.
        step: the optimizer steps done.
    """

    def __init__(self, run_dir: Path, checkpoint: Path | None, epoch: int, step: int) -> None:
        super().__init__(f"training interrupted in epoch {epoch}; run folder {run_dir}")
        self.run_dir, self.checkpoint, self.epoch, self.step = run_dir, checkpoint, epoch, step


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


def build_run(config: RunConfig) -> tuple[Recipe, RecipeData, nn.Module]:
    """The recipe, its data and its fresh model (the generators seeded with ``config.seed``).

    deepgrad's default generator, Python's ``random`` and NumPy's global generator are all
    seeded: a checkpoint holds the three, so a resumed run ends in the state of an uninterrupted
    one only if that one started from a known state too.
    """
    recipe = get_recipe(config.recipe)
    data = recipe.data(config)
    manual_seed(config.seed)  # initialization, dropout and noise draws repeat with the seed
    random.seed(config.seed)
    np.random.seed(config.seed)
    model = recipe.build_model(config, data)
    return recipe, data, model


def train_run(
    config: RunConfig,
    out: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    light: bool = False,
    plots: bool = True,
    overwrite: bool = False,
    checkpoint_every: int | None = CHECKPOINT_EVERY,
) -> RunResult:
    """Train a recipe as ``config`` says and write the run folder (see the module docstring).

    Args:
        config: the run's settings (``Recipe.make_config``).
        out: the run folder. Default: a new ``runs/<recipe>-<date>-<time>``.
        progress: show the progress bar. Default: True.
        log: called with each line the run reports as it goes (data, pre-training); None: silent.
        light: skip TensorBoard files and the monitor pictures (comparisons). Default: False.
        plots: draw the pictures (learning curves, the recipe's samples...). Default: True.
        overwrite: replace the run already in ``out``; without it a non-empty ``out`` is
            refused. Default: False.
        checkpoint_every: also write a resumable checkpoint every this many optimizer steps,
            inside epochs (a SIGKILL loses at most these steps); None: at epoch ends and
            interruptions only. It does not change the result. Default: ``CHECKPOINT_EVERY``.

    Raises:
        RecipeError: ``out`` is not empty (use ``resume_run`` or ``overwrite``) or is ``""``.
        RunInterrupted: on Ctrl-C or SIGTERM, after saving the state and the records.
        Exception: whatever stopped the training, after writing the records (history.json,
            monitor.csv, doctor.txt, results.json) of what was done.
    """

    def claim() -> str:
        run_dir = claim_run_dir(out, config.recipe, overwrite)
        write_json(run_dir / "config.json", config.to_dict())
        return str(run_dir)

    run_dir = Path(rank0(claim, "claiming the run folder"))  # several processes: one folder
    return _train_in(run_dir, config, None, progress, log, light, plots, checkpoint_every)


def resume_run(
    run_dir: str | Path,
    settings: dict[str, Any] | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    plots: bool = True,
    checkpoint_every: int | None = CHECKPOINT_EVERY,
) -> RunResult:
    """Continue the run in ``run_dir`` from its newest checkpoint, with its own config.json.

    The run continues from the newest checkpoint that loads (``Trainer.fit(resume_from=
    run_dir)``: the last epoch's, or one taken inside an epoch, every ``checkpoint_every``
    steps or at an interruption), and ends with the weights of an uninterrupted run; it
    starts again when the run stopped before its first checkpoint. ``settings`` are those
    given again (as for ``Recipe.make_config``, None for "not given"): a larger ``epochs``
    extends the run; any other change is refused.

    Args:
        run_dir: a folder written by ``train_run``.
        settings: settings given with the resume (``recipe`` and ``options`` included). Default:
            none.
        progress, log, plots, checkpoint_every: as in ``train_run``.

    Raises:
        FileNotFoundError: ``run_dir`` is not a run folder (no config.json).
        RecipeError: a setting differs from the run's.
        RunFileError: config.json is damaged, or no checkpoint of the run loads.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(
            f"--resume: no run folder {str(run_dir)!r}; give the --out folder of a run."
        )
    saved = read_config(run_dir)
    config = resumed_config(saved, settings or {})
    resume = _newest_checkpoint(run_dir)
    if config != saved:
        rank0(lambda: write_json(run_dir / "config.json", config.to_dict()), "config.json")
    return _train_in(run_dir, config, resume, progress, log, False, plots, checkpoint_every)


def _newest_checkpoint(run_dir: Path) -> tuple[Path, int] | None:
    """(the newest checkpoint of the run that loads, its global step), or None when the run has
    none (stopped before its first): the file ``fit(resume_from=run_dir)`` continues from.

    Raises:
        RunFileError: there are checkpoints, and none loads.
    """
    files = ckpt.checkpoint_files(run_dir)
    if not files:
        return None
    try:
        path = ckpt.latest_checkpoint(run_dir)
    except FileNotFoundError:  # every one is damaged: the error of the newest names it
        checkpoint_state(files[-1], "delete it to train the run again from its start")
        raise
    return path, int(load_metadata(path)["global_step"])


def _processes(checkpoint: Path) -> int:
    """How many processes trained the run up to ``checkpoint`` (its metadata's world_size)."""
    return int((load_metadata(checkpoint) or {}).get("world_size", 1))


def resumed_config(config: RunConfig, given: dict[str, Any]) -> RunConfig:
    """The config of a resumed run: ``config`` with a larger ``epochs`` if given.

    Args:
        config: the run's config (its config.json).
        given: the settings given again; None (or a missing key) means "not given". ``options``
            maps recipe options to values or their text (``{"hidden": "8x8"}``).

    Raises:
        RecipeError: a given setting differs from the run's, or ``epochs`` is smaller; the
            message names the setting, the run's value and the given one.
    """
    recipe = get_recipe(config.recipe)
    epochs = config.epochs
    for key, value in given.items():
        if key == "options" or value is None or (key == "augment" and value is False):
            continue
        ours = getattr(config, key, None) if key != "recipe" else config.recipe
        if key == "epochs" and value >= config.epochs:
            epochs = value
        elif key == "epochs":
            raise RecipeError(
                f"--resume: --epochs must be at least the run's {config.epochs} "
                f"(got {value}); a resumed run may only train longer"
            )
        elif not _same(ours, value):
            _refuse(f"--{key.replace('_', '-')}", ours, value)
    for key, value in (given.get("options") or {}).items():
        if key not in recipe.options:
            recipe.resolve_options({key: value})  # the RecipeError listing the options
        parsed = recipe.options[key].parse(key, value) if isinstance(value, str) else value
        if not _same(config.options.get(key), parsed):
            _refuse(f"--set {key}", recipe.options[key].format(config.options.get(key)), value)
    return dataclasses.replace(config, epochs=epochs)


def _same(ours: Any, given: Any) -> bool:
    if isinstance(ours, float) or isinstance(given, float):
        try:
            return float(ours) == float(given)
        except (TypeError, ValueError):
            return False
    return ours == given


def _refuse(setting: str, ours: Any, given: Any) -> None:
    raise RecipeError(
        f"--resume: {setting} differs from the run's (run: {ours}, given: {given}); "
        f"a resumed run keeps its own settings (only --epochs may grow): leave {setting} out, "
        "or train a new run in another --out folder"
    )


def _train_in(
    run_dir: Path,
    config: RunConfig,
    resume: tuple[Path, int] | None,
    progress: bool,
    log: Callable[[str], None] | None,
    light: bool,
    plots: bool,
    checkpoint_every: int | None = CHECKPOINT_EVERY,
) -> RunResult:
    """Train into ``run_dir`` (config.json written), from the start or from ``resume``: (the
    run's newest checkpoint, its global step)."""
    say = log if log is not None and world()[0] == 0 else (lambda line: None)
    started = time.perf_counter()
    recipe, data, model = build_run(config)
    for line in [*data.notes, f"model: {describe_model(model)}"]:
        say(line)
    train_loader, val_loader, test_loader = recipe.loaders(config, data)
    optimizer = recipe.make_optimizer(config, model)
    checkpoint, callbacks = _callbacks(config, recipe, run_dir, light, progress, checkpoint_every)
    monitor = Monitor(every=MONITOR_EVERY)
    trainer = recipe.make_trainer(config, model, optimizer, callbacks, monitor, progress=False)
    main = world()[0] == 0
    try:
        if resume is None:
            for line in recipe.prepare(config, model, train_loader, progress and main):
                say(line)
        else:
            say(_resumed_monitor(monitor, run_dir, *resume))
        loaders = _parallel_loaders(
            config, trainer, resume, say, train_loader, val_loader, test_loader
        )
        train_loader, val_loader, test_loader = loaders
        # the folder: fit continues from its newest checkpoint that loads (resume[0])
        trainer.fit(train_loader, val_loader, epochs=config.epochs, resume_from=resume and run_dir)
    except BaseException as error:
        seconds = time.perf_counter() - started
        best = checkpoint.best_epoch, checkpoint.best
        failed = RunResult(run_dir, config, trainer.history, None, *best, recipe.monitor, seconds)
        if main:
            _records_after_failure(failed, monitor, recipe, error)
        if isinstance(error, KeyboardInterrupt):
            saved = checkpoint.interrupt_path
            raise RunInterrupted(
                run_dir, saved and Path(saved), trainer.epoch, trainer.global_step
            ) from None
        if isinstance(error, OSError) and error.filename is None:
            error.filename = str(run_dir)  # a full disk while writing a checkpoint or a log
        raise
    seconds = time.perf_counter() - started
    report = write_records(trainer.history, monitor, run_dir, recipe) if main else ""
    _load_best(model, checkpoint.best_path)
    test = trainer.evaluate(test_loader) if test_loader is not None else None  # every rank
    best = checkpoint.best_epoch, checkpoint.best
    result = RunResult(
        run_dir, config, trainer.history, test, *best, recipe.monitor, seconds, ["", report]
    )
    if main:
        _write_results(result, "completed")
        result.lines[:0] = _pictures(result, recipe, model, data, monitor, light, plots)
    return result


def _load_best(model: nn.Module, best_path: str | None) -> None:
    """The best epoch's weights into ``model``: rank 0 reads the file it wrote and the other
    ranks get the weights from it (no shared file system needed)."""
    if best_path is not None:
        if world()[0] == 0:
            model.load_state_dict(load(best_path))
        broadcast_module(model)


def _parallel_loaders(
    config: RunConfig, trainer: Any, resume: tuple[Path, int] | None, say: Callable, *loaders: Any
) -> tuple:
    """The loaders to train with: as the recipe made them, or sharded for data parallelism under
    ``mpiexec -n N`` or when the run was data-parallel before (then also with one process, so
    the samples keep their global order); the trainer's model is wrapped in DDP then."""
    if world()[1] == 1 and (resume is None or _processes(resume[0]) == 1):
        return loaders
    # after pre-training: DDP broadcasts rank 0's weights
    sharded = data_parallel(config, trainer, loaders)
    size = world()[1]
    say(f"data-parallel: {size} process(es), batch {config.batch_size // size} each")
    return sharded


def _pictures(
    result: RunResult,
    recipe: Recipe,
    model: nn.Module,
    data: RecipeData,
    monitor: Monitor,
    light: bool,
    plots: bool,
) -> list[str]:
    """The learning curves and the recipe's own pictures of a finished run; lines to print."""
    if not plots:
        lines = ["plots skipped (--no-plots)"]
    else:
        lines = _plots(result.history, monitor, result.run_dir, light)
    draw = plots and have_matplotlib()
    return lines + recipe.outputs(result.config, model, data, result.run_dir, plots=draw)


def _resumed_monitor(monitor: Monitor, run_dir: Path, checkpoint: Path, step: int) -> str:
    """Put the monitor.csv records up to the checkpoint's ``step`` back into ``monitor``; the line
    to report."""
    path = run_dir / "monitor.csv"
    kept: list[dict[str, Any]] = []
    if path.is_file():
        try:
            kept = [r for r in load_monitor_csv(path).records if r["step"] <= step]
        except RunFileError as error:
            return f"resuming after step {step} ({error.problem}: the monitor starts afresh)"
    monitor.records.extend(kept)
    return f"resuming after step {step} from {checkpoint}"


def _records_after_failure(
    result: RunResult, monitor: Monitor, recipe: Recipe, error: BaseException
) -> None:
    """history.json, monitor.csv, doctor.txt and results.json of a run that did not finish.

    Each is attempted on its own; a failure here (the disk that failed the run is full) never
    hides the error that stopped the run.
    """
    history = result.history
    if history.stop_reason is None:
        history.stop_reason = f"{type(error).__name__}" + (f": {error}" if str(error) else "")
    status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
    for write in (
        lambda: write_records(history, monitor, result.run_dir, recipe),
        lambda: _write_results(result, status),
    ):
        try:
            write()
        except Exception as secondary:
            error.add_note(f"the records of {result.run_dir} were not all written: {secondary!r}")


def _callbacks(
    config: RunConfig,
    recipe: Recipe,
    run_dir: Path,
    light: bool,
    progress: bool,
    checkpoint_every: int | None,
) -> tuple[ModelCheckpoint, list[Callback]]:
    """A run's callbacks: metrics.csv, checkpoints (at epoch ends, every ``checkpoint_every``
    steps and at an interruption), early stopping, TensorBoard, progress bar."""
    checkpoint = ModelCheckpoint(
        run_dir / "best.safetensors",
        monitor=recipe.monitor,
        mode=recipe.mode,
        save_best_only=True,
        save_last=run_dir / "last.safetensors",
        weights_only=True,
        every_n_steps=checkpoint_every,
    )
    callbacks: list[Callback] = [CSVLogger(run_dir / "metrics.csv"), checkpoint]
    if config.early_stopping is not None:
        callbacks.append(EarlyStopping(recipe.monitor, recipe.mode, patience=config.early_stopping))
    if not light and importlib.util.find_spec("tensorboardX") is not None:
        from deepgrad.train import TensorBoardLogger

        callbacks.append(TensorBoardLogger(run_dir / "tensorboard"))
    if progress:
        callbacks.append(ProgressBar())
    return checkpoint, callbacks


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


def _write_results(result: RunResult, status: str) -> None:
    """results.json: how the run ended ("completed", "interrupted" or "failed"), test metrics,
    best epoch and value, epochs run, why training stopped, time."""
    write_json(
        result.run_dir / "results.json",
        {
            "recipe": result.config.recipe,
            "status": status,
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
    "CHECKPOINT_EVERY",
    "MONITOR_EVERY",
    "RunInterrupted",
    "RunResult",
    "build_run",
    "describe_model",
    "resume_run",
    "resumed_config",
    "train_recipe",
    "train_run",
]
