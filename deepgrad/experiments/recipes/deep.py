"""Deep MNIST classifiers: a residual network (``mnist-resnet``) and the 6-layer MLP of deck
001's MNIST table (``mnist-deep-mlp``).

``mnist-resnet`` trains ``models.ResNet`` (``--set plain=true``: the same depth without the
shortcuts, for the degradation problem). ``mnist-deep-mlp`` is Ciresan et al. (2010), "Deep, big,
simple neural nets for handwritten digit recognition": 784-2500-2000-1500-1000-500-10 with
elastic distortions of the training digits, 0.35% test error in the table.

Time. Measured on the development machine (2 shared CPU cores, heavily loaded by other jobs,
one BLAS thread, batch 100, the embedded subset of 3,600 training digits): about 28 s per epoch,
of which the distortions (elastic, then affine) take about 3 s (0.08 s per 100 digits) and the
rest is the 12M-weight matrix products. On full MNIST (54,000 training digits; ``deepgrad.data``
downloads it) an epoch is 15 times longer, about 7 min on such a CPU; the paper trained for
about 800 epochs, days on a CPU. On a GPU (``--device cuda``; an estimate, not measured): the
matrix products of an epoch are 12M weights x 6 FLOP x 54,000 digits ~ 4 TFLOP, well under a
second on a current data-centre GPU, so the distortions, drawn on one CPU core, bound the epoch
at about 40 s: some 9 hours for 800 epochs. The paper annealed plain SGD's learning rate over
those epochs; the recipe uses Adam at a constant rate. Its default 10 epochs on the subset
reached 94.0% test accuracy (seed 0, 466 s on the loaded machine above): far from the table's
error, which needs the full data and hundreds of epochs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from deepgrad import nn
from deepgrad.experiments.config import Option, RecipeError, RunConfig
from deepgrad.experiments.recipes.base import Recipe, RecipeData
from deepgrad.experiments.recipes.mnist import DISTORTIONS, mnist_data
from deepgrad.models.mlp import MLP
from deepgrad.models.resnet import ResNet

DEEP_MLP_SIZES = (784, 2500, 2000, 1500, 1000, 500, 10)


class MnistResNet(Recipe):
    name = "mnist-resnet"
    summary = (
        "a small residual network (3 stages of BasicBlocks) on MNIST; plain=true: no shortcuts"
    )
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 8,
        "batch_size": 64,
        "lr": 1e-3,
        "optimizer": "adam",
        "init": "kaiming",
    }
    uses = ("init", "augment")
    options: ClassVar[dict[str, Option]] = {
        "blocks": Option((2, 2, 2), "BasicBlocks in each of the 3 stages (depth 2 + 2 * sum)"),
        "channels": Option((16, 32, 64), "channels of the 3 stages"),
        "plain": Option(False, "leave the shortcuts out: a plain network of the same depth"),
        "distortion": Option(
            "affine",
            "what --augment does: affine (rotations, shifts) or elastic (elastic distortions too)",
            DISTORTIONS,
        ),
    }
    metric_names = ("accuracy",)
    monitor, mode, headline = "val_accuracy", "max", "accuracy"

    def check_config(self, config: RunConfig) -> None:
        super().check_config(config)
        for key in ("blocks", "channels"):
            sizes = config.options[key]
            if len(sizes) != 3:
                shown = self.options[key].format(tuple(sizes))
                raise RecipeError(
                    f"option {key}: expected 3 sizes, one per stage, such as 2x2x2 (got {shown})."
                )

    def data(self, config: RunConfig) -> RecipeData:
        return mnist_data(config, flatten=False, distortion=config.options["distortion"])

    def build_model(self, config: RunConfig, data: RecipeData) -> nn.Module:
        o = config.options
        init = config.init or "kaiming"
        return ResNet(blocks=o["blocks"], channels=o["channels"], plain=o["plain"], init=init)


class MnistDeepMLP(Recipe):
    name = "mnist-deep-mlp"
    summary = (
        "deck 001's 784-2500-2000-1500-1000-500-10 MLP with elastic distortions (Ciresan 2010)"
    )
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 10,
        "batch_size": 100,
        "lr": 1e-4,
        "optimizer": "adam",
        "init": "xavier",
        "activation": "tanh",
        "dropout": 0.0,
    }
    uses = ("init", "activation", "dropout", "augment")
    options: ClassVar[dict[str, Option]] = {
        "hidden": Option(DEEP_MLP_SIZES[1:-1], "hidden layer widths"),
        "distortion": Option(
            "elastic",
            "how the training digits are distorted: elastic (then rotations and shifts) or affine",
            DISTORTIONS,
        ),
    }
    metric_names = ("accuracy",)
    monitor, mode, headline = "val_accuracy", "max", "accuracy"

    def make_config(self, *args: Any, augment: bool | None = None, **kwargs: Any) -> RunConfig:
        """As ``Recipe.make_config``, but the training digits are distorted unless
        ``augment=False`` is passed (the table's network was trained on distorted digits; the
        command line cannot turn it off, ``train_recipe(..., augment=False)`` can)."""
        kwargs["augment"] = True if augment is None else augment
        return super().make_config(*args, **kwargs)

    def data(self, config: RunConfig) -> RecipeData:
        return mnist_data(config, flatten=True, distortion=config.options["distortion"])

    def build_model(self, config: RunConfig, data: RecipeData) -> nn.Module:
        sizes = [DEEP_MLP_SIZES[0], *config.options["hidden"], DEEP_MLP_SIZES[-1]]
        return MLP(
            sizes, config.activation or "tanh", config.dropout or 0.0, init=config.init or "xavier"
        )

    def example_input(self, config: RunConfig, data: RecipeData) -> tuple[tuple[int, ...], str]:
        return (config.batch_size, 784), "float32"


__all__ = ["DEEP_MLP_SIZES", "MnistDeepMLP", "MnistResNet"]
