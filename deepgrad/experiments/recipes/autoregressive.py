"""The autoregressive recipe: ``pixelcnn``, a PixelCNN of binarized MNIST digits (deck 003).

The digits are binarized at 0.5 (a pixel is 1 where its gray level is above one half), the
model is trained on -log p(x) and reports the test negative log-likelihood in nats per image,
then draws digits pixel by pixel (``samples.png``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from deepgrad import nn
from deepgrad.autograd import Tensor
from deepgrad.backend.random import Generator
from deepgrad.data import Dataset
from deepgrad.experiments.config import Option, RecipeError, RunConfig
from deepgrad.experiments.outputs import save_image_grid
from deepgrad.experiments.recipes.base import Recipe, RecipeData
from deepgrad.experiments.recipes.mnist import mnist_data
from deepgrad.models.pixelcnn import BLOCKS, PixelCNN
from deepgrad.nn import functional as F
from deepgrad.train.metrics import Metric


class _Binarized(Dataset):
    """(b, b) pairs, b = 1 where the image of a dataset of (x, x) pairs is above ``threshold``."""

    def __init__(self, dataset: Any, threshold: float) -> None:
        self.dataset, self.threshold = dataset, threshold

    def __len__(self) -> int:
        return len(self.dataset)

    def _binary(self, x: Any) -> Any:
        return (x > self.threshold).astype(x.dtype)

    def __getitem__(self, index: int) -> tuple:
        b = self._binary(self.dataset[index][0])
        return b, b

    def get_batch(self, indices: Any, generator: Generator | None = None) -> tuple:
        b = self._binary(self.dataset.get_batch(indices, generator)[0])
        return b, b


class NatsPerImage(Metric):
    """-log p(x) in nats per image from Bernoulli logits: the summed pixel BCE / images.
    Default name: "nll"."""

    name = "nll"

    def reset(self) -> None:
        self._sum = 0.0
        self._count = 0

    def update(self, output: Tensor, target: Tensor) -> None:
        bce = F.binary_cross_entropy_with_logits(output.detach(), target, reduction="sum")
        self._sum += float(bce.item())
        self._count += int(target.shape[0])

    def compute(self) -> float:
        if self._count == 0:
            raise self._empty_error()
        return self._sum / self._count


class PixelCNNRecipe(Recipe):
    name = "pixelcnn"
    summary = "a PixelCNN of binarized MNIST (masked convolutions; test NLL in nats; samples)"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 4,
        "batch_size": 64,
        "lr": 1e-3,
        "optimizer": "adam",
    }
    options: ClassVar[dict[str, Option]] = {
        "block": Option("residual", "the residual blocks", BLOCKS),
        "channels": Option(64, "feature maps of the hidden layers"),
        "blocks": Option(5, "residual blocks after the type-A layer"),
        "first_kernel": Option(7, "odd kernel size of the type-A layer"),
        "threshold": Option(0.5, "a pixel is 1 where its gray level is above this"),
        "samples": Option(36, "digits drawn pixel by pixel into samples.png (0: none)"),
    }
    metric_names = ()
    headline = "nll"

    def check_config(self, config: RunConfig) -> None:
        super().check_config(config)
        o = config.options
        if not 0.0 <= o["threshold"] < 1.0:
            raise RecipeError(f"threshold must be in [0, 1) (got {o['threshold']!r}).")
        if o["samples"] < 0:
            raise RecipeError(f"samples must be >= 0 (got {o['samples']!r}).")

    def data(self, config: RunConfig) -> RecipeData:
        split = mnist_data(config, flatten=False, reconstruction=True)
        threshold = config.options["threshold"]
        train, val, test = (_Binarized(d, threshold) for d in (split.train, split.val, split.test))
        notes = [*split.notes, f"pixels binarized: 1 where the gray level is above {threshold}"]
        return RecipeData(train, val, test, notes)

    def metrics(self) -> list:
        return [NatsPerImage()]

    def build_model(self, config: RunConfig, data: RecipeData) -> PixelCNN:
        o = config.options
        return PixelCNN(
            channels=o["channels"],
            blocks=o["blocks"],
            block=o["block"],
            first_kernel_size=o["first_kernel"],
        )

    def loss_fn(self, model: nn.Module) -> Callable[[Tensor, Tensor], Tensor]:
        return model.loss

    def outputs(
        self, config: RunConfig, model: nn.Module, data: RecipeData, out_dir: Path, plots: bool
    ) -> list[str]:
        count = config.options["samples"]
        if not plots or count <= 0:
            return []
        model.eval()
        images = model.sample(count, generator=Generator().manual_seed(config.seed))
        path = out_dir / "samples.png"
        save_image_grid(images, path, title="PixelCNN samples, drawn pixel by pixel")
        return [f"samples: {path}"]


__all__ = ["NatsPerImage", "PixelCNNRecipe"]
