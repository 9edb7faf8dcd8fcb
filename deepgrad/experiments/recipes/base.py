"""The Recipe base class: how one experiment builds its data, model, loss, optimizer and trainer.

A ``Recipe`` knows how to build each piece of one experiment of the seeds from a ``RunConfig``;
``deepgrad.experiments.recipes.RECIPES`` maps the names the command accepts to them::

    recipe = get_recipe("mnist-mlp")
    config = recipe.make_config(epochs=5)            # the defaults, then the given settings
    data = recipe.data(config)                       # train / validation / test datasets
    model = recipe.build_model(config, data)
    optimizer = recipe.make_optimizer(config, model)

``deepgrad.experiments.runs.train_run`` puts them together with a Trainer and writes the run folder.

Data splits are fixed (drawn with seed 0, whatever ``--seed`` is), so every run of a recipe,
and ``deepgrad evaluate`` afterwards, sees the same training, validation and test samples.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from deepgrad import cuda, nn
from deepgrad.backend.random import Generator
from deepgrad.data import DataLoader
from deepgrad.experiments.config import (
    DEFAULT_LRS,
    OPTIMIZERS,
    Option,
    RecipeError,
    RunConfig,
    make_optimizer,
)
from deepgrad.models.common import ACTIVATIONS, INITS
from deepgrad.nn import functional as F
from deepgrad.train import Trainer

VAL_FRACTION = 0.1
EVAL_BATCH = 1000
DEVICES = ("cpu", "cuda")
SPLIT_SEED = 0


@dataclass
class RecipeData:
    """The datasets of a run and what was learned while making them.

    Attributes:
        train, val, test: datasets yielding ``(input, target)``; ``val``/``test`` may be None.
        notes: lines describing the data, printed by the command.
        info: anything the model or the outputs need (a vocabulary, the unigram entropy ...).
    """

    train: Any
    val: Any
    test: Any
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


class Recipe(ABC):
    """One experiment: how to build its data, model, loss, optimizer, metrics and trainer.

    Subclasses set the class attributes and override ``data``, ``build_model`` and, where they
    differ from the defaults, ``loss_fn``, ``metrics``, ``make_optimizer``, ``make_trainer``,
    ``prepare`` (work before training, e.g. pre-training) and ``outputs`` (pictures, samples).

    Attributes:
        name: the name on the command line.
        summary: one line for ``deepgrad train --help``.
        defaults: epochs, batch_size, lr, optimizer and the recipe's values of the generic
            settings it ``uses`` (init, activation, dropout).
        uses: the generic settings (from ``config.GENERIC``) that apply to this recipe.
        options: recipe-specific settings, set with ``--set KEY=VALUE``.
        metric_names: metrics computed on training and validation batches.
        monitor, mode: the epoch-log key that picks the best checkpoint (and early stopping).
        headline: the test metric printed first.
        supports_lr_find: whether the learning-rate range test applies.
        doctor_skips: Doctor diagnoses that do not apply to the recipe's logged loss.
        min_limit: the smallest ``--limit`` that leaves data in every split.
    """

    name = ""
    summary = ""
    defaults: ClassVar[dict[str, Any]] = {}
    uses: tuple[str, ...] = ()
    options: ClassVar[dict[str, Option]] = {}
    metric_names: tuple[str, ...] = ()
    monitor = "val_loss"
    mode = "min"
    headline = "loss"
    supports_lr_find = True
    doctor_skips: tuple[str, ...] = ()
    min_limit = 10

    # -- configuration ------------------------------------------------------------------------
    def make_config(
        self,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        optimizer: str | None = None,
        weight_decay: float | None = None,
        init: str | None = None,
        activation: str | None = None,
        dropout: float | None = None,
        early_stopping: int | None = None,
        augment: bool | None = None,
        device: str | None = None,
        seed: int | None = None,
        limit: int | None = None,
        options: dict[str, Any] | None = None,
    ) -> RunConfig:
        """The run's settings: what is given (not None), else the recipe's defaults.

        Raises:
            RecipeError: a setting does not apply to this recipe or is out of range.
        """
        generic = {
            "init": init,
            "activation": activation,
            "dropout": dropout,
            "augment": augment or None,
        }
        self._check_generic(**generic)
        optimizer, lr = self._optimizer_and_lr(optimizer, lr)
        config = RunConfig(
            recipe=self.name,
            epochs=self.defaults["epochs"] if epochs is None else epochs,
            batch_size=self.defaults["batch_size"] if batch_size is None else batch_size,
            lr=float(lr),
            optimizer=optimizer,
            weight_decay=0.0 if weight_decay is None else float(weight_decay),
            init=(init or self.defaults.get("init", "kaiming")) if "init" in self.uses else None,
            activation=(activation or self.defaults.get("activation", "relu"))
            if "activation" in self.uses
            else None,
            dropout=(float(dropout) if dropout is not None else self.defaults.get("dropout", 0.0))
            if "dropout" in self.uses
            else None,
            early_stopping=early_stopping,
            augment=bool(augment),
            device=device or "cpu",
            seed=0 if seed is None else seed,
            limit=limit,
            options=self.resolve_options(options or {}),
        )
        self.check_config(config)
        return config

    def _check_generic(self, **given: Any) -> None:
        """RecipeError for a generic setting (not None) given to a recipe without it."""
        for key, value in given.items():
            if value is not None and key not in self.uses:
                from deepgrad.experiments.recipes import RECIPES  # the registry imports this module

                others = [r.name for r in RECIPES.values() if key in r.uses]
                raise RecipeError(
                    f"recipe {self.name!r} has no {key} setting; "
                    f"recipes with one: {', '.join(others)}."
                )

    def _optimizer_and_lr(self, optimizer: str | None, lr: float | None) -> tuple[str, float]:
        """The optimizer (default: the recipe's) and its learning rate (default: the recipe's for
        its own optimizer, else ``DEFAULT_LRS``)."""
        optimizer = optimizer if optimizer is not None else self.defaults["optimizer"]
        if optimizer not in OPTIMIZERS:
            raise RecipeError(f"unknown optimizer {optimizer!r}; allowed: {', '.join(OPTIMIZERS)}.")
        if lr is None:
            own = optimizer == self.defaults["optimizer"]
            lr = self.defaults["lr"] if own else DEFAULT_LRS[optimizer]
        return optimizer, float(lr)

    def resolve_options(self, given: dict[str, Any]) -> dict[str, Any]:
        """The recipe's options, the given ones in place of the defaults (strings are parsed)."""
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            allowed = ", ".join(self.options) or "(none)"
            raise RecipeError(
                f"recipe {self.name!r} has no option {unknown[0]!r}; its options: {allowed}."
            )
        resolved = {key: opt.default for key, opt in self.options.items()}
        for key, value in given.items():
            resolved[key] = self.options[key].parse(key, value) if isinstance(value, str) else value
        return resolved

    def check_config(self, config: RunConfig) -> None:
        """RecipeError for values out of range."""

        def need(ok: bool, what: str, value) -> None:
            if not ok:
                raise RecipeError(f"{what} (got {value!r}).")

        for key in ("epochs", "batch_size"):
            value = getattr(config, key)
            need(
                isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                f"{key} must be an int >= 1",
                value,
            )
        need(math.isfinite(config.lr) and config.lr > 0, "lr must be a positive number", config.lr)
        need(
            math.isfinite(config.weight_decay) and config.weight_decay >= 0,
            "weight decay must be >= 0",
            config.weight_decay,
        )
        if config.init is not None:
            need(config.init in INITS, f"init must be one of {', '.join(INITS)}", config.init)
        if config.activation is not None:
            need(
                config.activation in ACTIVATIONS,
                f"activation must be one of {', '.join(ACTIVATIONS)}",
                config.activation,
            )
        if config.dropout is not None:
            need(
                0.0 <= config.dropout < 1.0,
                "dropout must be a probability in [0, 1)",
                config.dropout,
            )
        if config.early_stopping is not None:
            need(
                config.early_stopping >= 0,
                "early-stopping patience must be >= 0",
                config.early_stopping,
            )
        need(config.device in DEVICES, f"device must be one of {', '.join(DEVICES)}", config.device)
        if config.device == "cuda" and not cuda.is_available():
            raise RecipeError(
                f"device cuda: {cuda.unavailable_reason()}; train on --device cpu instead."
            )
        if config.limit is not None:
            need(
                config.limit >= self.min_limit,
                f"limit must be at least {self.min_limit} for {self.name}",
                config.limit,
            )

    # -- the pieces -----------------------------------------------------------------------------
    @abstractmethod
    def data(self, config: RunConfig) -> RecipeData:
        """The training, validation and test datasets (``config.limit`` applied)."""

    @abstractmethod
    def build_model(self, config: RunConfig, data: RecipeData) -> nn.Module:
        """The model, freshly initialized (the caller seeds the generator first)."""

    def loss_fn(self, model: nn.Module):
        """The training loss ``loss(output, target)``: ``F.cross_entropy`` unless overridden."""
        return F.cross_entropy

    def metrics(self) -> list:
        """The Trainer's metrics: the recipe's ``metric_names``."""
        return list(self.metric_names)

    def make_optimizer(self, config: RunConfig, model: nn.Module):
        """The optimizer named by ``config.optimizer`` over all of the model's parameters, with
        ``config.lr`` and ``config.weight_decay``.
        """
        return make_optimizer(config.optimizer, model.parameters(), config.lr, config.weight_decay)

    def loaders(self, config: RunConfig, data: RecipeData) -> tuple:
        """(train, validation, test) DataLoaders.

        Training batches are shuffled by a generator seeded with ``config.seed``.
        """
        shuffle_gen = Generator().manual_seed(config.seed)
        train = DataLoader(
            data.train, batch_size=config.batch_size, shuffle=True, generator=shuffle_gen
        )
        val = DataLoader(data.val, batch_size=EVAL_BATCH) if data.val is not None else None
        test = DataLoader(data.test, batch_size=EVAL_BATCH) if data.test is not None else None
        return train, val, test

    def make_trainer(self, config: RunConfig, model, optimizer, callbacks, monitor, progress: bool):
        """The Trainer that fits ``model``: this recipe's loss and metrics, the given callbacks and
        monitor, on ``config.device``.
        """
        return Trainer(
            model,
            self.loss_fn(model),
            optimizer,
            metrics=self.metrics(),
            callbacks=callbacks,
            device=config.device if config.device != "cpu" else None,
            monitor=monitor,
            progress=progress,
        )

    def prepare(self, config: RunConfig, model, train_loader, progress: bool) -> list[str]:
        """Work before the Trainer's epochs (e.g. layer-wise pre-training); lines to print."""
        return []

    def outputs(
        self, config: RunConfig, model, data: RecipeData, out_dir, plots: bool
    ) -> list[str]:
        """Extra results written to ``out_dir`` after training (pictures, text); lines to print."""
        return []

    def example_input(self, config: RunConfig, data: RecipeData) -> tuple[tuple[int, ...], str]:
        """(shape, dtype) of one input batch, for ``nn.summary``."""
        return (config.batch_size, 1, 28, 28), "float32"

    def describe_options(self) -> str:
        """The options with their defaults, "key=value, ..." or "(none)", for ``--help``."""
        return (
            ", ".join(f"{k}={opt.format(opt.default)}" for k, opt in self.options.items())
            or "(none)"
        )


__all__ = ["DEVICES", "EVAL_BATCH", "SPLIT_SEED", "VAL_FRACTION", "Recipe", "RecipeData"]
