"""The two-moons recipe (``moons``): a small MLP trained in seconds, with its decision boundary."""

from __future__ import annotations

from typing import Any, ClassVar

from deepgrad.backend.random import Generator
from deepgrad.data import TensorDataset
from deepgrad.data.datasets import make_moons
from deepgrad.experiments.config import Option
from deepgrad.experiments.outputs import save_decision_boundary
from deepgrad.experiments.recipes.base import SPLIT_SEED, Recipe, RecipeData
from deepgrad.models.mlp import MLP


class MoonsRecipe(Recipe):
    name = "moons"
    summary = "a small MLP on the two-moons problem (seconds; decision boundary picture)"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 20,
        "batch_size": 32,
        "lr": 1e-2,
        "optimizer": "adam",
        "init": "kaiming",
        "activation": "relu",
        "dropout": 0.0,
    }
    uses = ("init", "activation", "dropout")
    options: ClassVar[dict[str, Option]] = {
        "n": Option(1000, "points (70% training, 15% validation, 15% test)"),
        "noise": Option(0.2, "standard deviation of the noise on the points"),
        "hidden": Option((32, 32), "hidden layer widths"),
    }
    metric_names = ("accuracy",)
    monitor, mode, headline = "val_accuracy", "max", "accuracy"

    def data(self, config):
        o = config.options
        x, y = make_moons(o["n"], o["noise"], generator=Generator().manual_seed(SPLIT_SEED))
        n_train, n_val = int(0.7 * len(x)), int(0.15 * len(x))
        train = (x[:n_train], y[:n_train])
        val = (x[n_train : n_train + n_val], y[n_train : n_train + n_val])
        test = (x[n_train + n_val :], y[n_train + n_val :])
        if config.limit is not None:
            train = tuple(a[: config.limit] for a in train)
            test = tuple(a[: config.limit] for a in test)
        notes = [
            (
                f"data: two moons (noise {o['noise']}): {len(train[0])} training, "
                f"{len(val[0])} validation, "
                f"{len(test[0])} test points"
            )
        ]
        return RecipeData(
            TensorDataset(*train), TensorDataset(*val), TensorDataset(*test), notes, {"test": test}
        )

    def build_model(self, config, data):
        return MLP(
            [2, *config.options["hidden"], 2], config.activation, config.dropout, init=config.init
        )

    def outputs(self, config, model, data, out_dir, plots):
        if not plots:
            return []
        path = out_dir / "decision_boundary.png"
        x, y = data.info["test"]
        save_decision_boundary(
            model, x, y, path, title="two moons: decision regions and test points"
        )
        return [f"decision boundary: {path}"]

    def example_input(self, config, data):
        return (config.batch_size, 2), "float32"


__all__ = ["MoonsRecipe"]
