"""Looking at a recipe without training it for good: evaluate a run's checkpoint or a model-zoo
model, summarize a model, run the learning-rate range test (``deepgrad evaluate``, ``summary``
and ``lr-find``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepgrad.experiments.config import RecipeError, RunConfig, RunFileError
from deepgrad.experiments.outputs import have_matplotlib
from deepgrad.experiments.recipes import Recipe, RecipeData, get_recipe
from deepgrad.experiments.records import close_figure, prepare_dir, read_config, write_json
from deepgrad.experiments.runs import build_run
from deepgrad.io import load, load_metadata
from deepgrad.models import zoo
from deepgrad.models.zoo import ZooEntry
from deepgrad.nn import Module
from deepgrad.nn.summary import ModelSummary
from deepgrad.nn.summary import summary as nn_summary
from deepgrad.optim.lr_finder import LRFinderResult, find_lr
from deepgrad.train import plots as train_plots
from deepgrad.train.checkpoint import KIND as CHECKPOINT_KIND


def evaluate_checkpoint(path: str | Path, split: str = "test") -> tuple[RunConfig, dict[str, Any]]:
    """Rebuild a run's model from the config.json beside ``path``, load the weights, evaluate.

    ``path`` is a weights file (best.safetensors) or a full checkpoint (last.safetensors);
    ``split`` is "train", "val" or "test".

    Raises:
        FileNotFoundError: no file ``path``, or no config.json beside it.
        RunFileError: the file (or the config.json) is damaged, or its weights do not fit the
            model of the config.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"evaluate: no checkpoint file {str(path)!r}.")
    if split not in ("train", "val", "test"):
        raise ValueError(f"evaluate: split must be train, val or test (got {split!r}).")
    config = read_config(path.parent)
    recipe, data, model = build_run(config)
    fix = "evaluate best.safetensors or last.safetensors of a run, or train the run again"
    try:
        state = load(path)
        if (load_metadata(path) or {}).get("kind") == CHECKPOINT_KIND:
            state = state["model"]
    except (ValueError, KeyError, TypeError, EOFError) as error:  # SerializationError included
        problem = f"is damaged or not a deepgrad checkpoint ({error})"
        raise RunFileError(path, problem, fix) from None
    try:
        model.load_state_dict(state)
    except (ValueError, KeyError, TypeError, RuntimeError) as error:  # ShapeError included
        raise RunFileError(
            path, f"does not fit the model of {path.parent / 'config.json'} ({error})", fix
        ) from None
    return config, _evaluate_model(recipe, config, data, model, split)


def _evaluate_model(
    recipe: Recipe, config: RunConfig, data: RecipeData, model: Module, split: str
) -> dict[str, Any]:
    """The recipe's metrics of ``model`` on one split of ``data``, as training measured them."""
    loaders = dict(zip(("train", "val", "test"), recipe.loaders(config, data)))
    if loaders[split] is None:
        raise ValueError(f"evaluate: recipe {config.recipe!r} has no {split} data.")
    trainer = recipe.make_trainer(
        config, model, recipe.make_optimizer(config, model), [], False, progress=False
    )
    return trainer.evaluate(loaders[split])


def evaluate_pretrained(
    name: str,
    split: str = "test",
    mirrors: Sequence[str] | None = None,
    cache_dir: str | Path | None = None,
) -> tuple[ZooEntry, dict[str, Any]]:
    """Measure a model-zoo model again, on the data of the recipe that trained it.

    The recipe's data and model are rebuilt from the entry's recorded settings, the zoo's
    weights are loaded (downloaded first for a model that does not ship), and the recipe's
    metrics are computed on ``split``. On "test" the entry's ``metric`` should come out as its
    recorded ``value`` (``deepgrad evaluate NAME`` says whether it does).

    Returns:
        (the zoo entry, {metric: value}).

    Raises:
        ValueError: unknown name or split; DownloadError: the weights could not be fetched.
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"evaluate: split must be train, val or test (got {split!r}).")
    record = zoo.entry(name)
    config = get_recipe(record.recipe).make_config(**record.settings)
    recipe, data, model = build_run(config)
    model.load_state_dict(load(zoo.weights_path(name, mirrors, cache_dir)))
    return record, _evaluate_model(recipe, config, data, model, split)


def summarize(config: RunConfig) -> ModelSummary:
    """``nn.summary`` of the recipe's model on one batch of its input (unprinted)."""
    recipe, data, model = build_run(config)
    shape, dtype = recipe.example_input(config, data)
    return nn_summary(model, shape, dtype=dtype, print_table=False)


def lr_find_run(
    config: RunConfig,
    out: str | Path | None = None,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
) -> tuple[LRFinderResult, Path]:
    """The learning-rate range test on a recipe; writes lr_finder.json (and lr_finder.png).

    Returns:
        (LRFinderResult, folder).
    """
    recipe = get_recipe(config.recipe)
    if not recipe.supports_lr_find:
        raise RecipeError(
            f"lr-find: recipe {config.recipe!r} has no single loss to test learning rates on."
        )
    recipe, data, model = build_run(config)
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
    folder = prepare_dir(out, f"{config.recipe}-lr-find")
    write_json(
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
        close_figure(
            train_plots.plot_lr_finder(
                result,
                path=folder / "lr_finder.png",
                title=f"{config.recipe}: learning-rate range test",
            )
        )
    return result, folder


__all__ = ["evaluate_checkpoint", "evaluate_pretrained", "lr_find_run", "summarize"]
