"""The experiment runner behind the ``deepgrad`` command: recipes, runs and their folders.

It sits above ``deepgrad.train`` and ``deepgrad.models`` (it puts their pieces together); the
command line, ``deepgrad.cli``, is a thin layer over it.

- ``recipes``: what ``deepgrad train RECIPE`` builds (data, model, loss, optimizer, metrics);
  ``RECIPES`` and ``get_recipe(name)``;
- ``config``: ``RunConfig`` (a run's settings, its config.json), ``Option``, ``RecipeError``,
  ``RunFileError`` (a damaged file of a run) and ``make_optimizer`` (optimizers by name);
- ``runs``: ``train_run`` writes a run folder, ``resume_run`` continues one;
  ``train_recipe("mnist-mlp", epochs=5)`` runs a recipe from Python, as the command does;
- ``records``: run folders and their records (``doctor_report`` rereads a run's diagnosis);
- ``compare``: variants of a recipe trained side by side (``deepgrad compare``);
- ``inspection``: ``evaluate_checkpoint``, ``evaluate_pretrained`` (a model-zoo model), ``summarize``
  and ``lr_find_run``;
- ``outputs``: image grids and decision boundaries that recipes leave in their folders.

Example:
    >>> from deepgrad.experiments import train_recipe
    >>> result = train_recipe("moons", epochs=2, progress=False, log=None)  # doctest: +SKIP
"""

from __future__ import annotations

from deepgrad.experiments.compare import Comparison, compare_run
from deepgrad.experiments.config import (
    OPTIMIZERS,
    Option,
    RecipeError,
    RunConfig,
    RunFileError,
    make_optimizer,
)
from deepgrad.experiments.inspection import (
    evaluate_checkpoint,
    evaluate_pretrained,
    lr_find_run,
    summarize,
)
from deepgrad.experiments.recipes import RECIPES, Recipe, RecipeData, get_recipe
from deepgrad.experiments.records import doctor_report, load_history, read_config
from deepgrad.experiments.runs import (
    RunInterrupted,
    RunResult,
    resume_run,
    train_recipe,
    train_run,
)

__all__ = [
    "OPTIMIZERS",
    "RECIPES",
    "Comparison",
    "Option",
    "Recipe",
    "RecipeData",
    "RecipeError",
    "RunConfig",
    "RunFileError",
    "RunInterrupted",
    "RunResult",
    "compare_run",
    "doctor_report",
    "evaluate_checkpoint",
    "evaluate_pretrained",
    "get_recipe",
    "load_history",
    "lr_find_run",
    "make_optimizer",
    "read_config",
    "resume_run",
    "summarize",
    "train_recipe",
    "train_run",
]
