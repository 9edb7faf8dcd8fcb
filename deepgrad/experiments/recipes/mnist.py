"""MNIST for the recipes (fixed training / validation / test splits) and the digit classifiers.

``mnist_data`` is shared by every MNIST recipe (the classifiers here, the autoencoders, the VAE
and the GAN in ``generative``); ``MnistMLP`` is seed 004's main job, ``MnistCNN`` its
convolutional counterpart.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from deepgrad.backend.random import Generator
from deepgrad.data import Dataset
from deepgrad.data.augment import Compose, ElasticDistortion, RandomRotation, RandomTranslation
from deepgrad.data.datasets import MNIST, ImageArrayDataset
from deepgrad.experiments.config import Option, RunConfig
from deepgrad.experiments.recipes.base import SPLIT_SEED, VAL_FRACTION, Recipe, RecipeData
from deepgrad.models.cnn import ConvNet, LeNet5
from deepgrad.models.mlp import MLP


class _Reconstruction(Dataset):
    """(x, x) pairs from a dataset of (x, label): the target of an autoencoder is its input."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        x = self.dataset[index][0]
        return x, x

    def get_batch(self, indices, generator: Generator | None = None) -> tuple:
        x = self.dataset.get_batch(indices, generator)[0]
        return x, x


_MNIST_CACHE: dict[bool, MNIST] = {}


def _mnist(train: bool) -> MNIST:
    """The MNIST training or test set, loaded once per process."""
    if train not in _MNIST_CACHE:
        with warnings.catch_warnings():
            # the "using the embedded subset" notice: the data notes tell it
            warnings.simplefilter("ignore", UserWarning)
            _MNIST_CACHE[train] = MNIST(train=train)
    return _MNIST_CACHE[train]


DISTORTIONS = ("affine", "elastic")


def _augmentation(distortion: str = "affine") -> Compose:
    """Small random rotations (±10°) and shifts (±2 pixels) of the training digits; with
    ``distortion="elastic"`` an elastic distortion (Simard et al. 2003: alpha 34, sigma 4) first."""
    affine = [RandomRotation(10), RandomTranslation(pixels=2)]
    if distortion == "elastic":
        return Compose([ElasticDistortion(34.0, 4.0), *affine])
    return Compose(affine)


def mnist_data(
    config: RunConfig, flatten: bool, reconstruction: bool = False, distortion: str = "affine"
) -> RecipeData:
    """MNIST split into training / validation (10% of the training images) / test, ``--limit``
    applied; with ``--augment`` the training digits are distorted as ``distortion`` says
    ("affine": rotations and shifts; "elastic": elastic distortions, then rotations and shifts)."""
    source, test_source = _mnist(True), _mnist(False)
    rng = np.random.default_rng(SPLIT_SEED)
    order = rng.permutation(len(source))
    test_order = np.arange(len(test_source))
    if config.limit is not None:
        order = order[: config.limit]
        test_order = np.sort(rng.permutation(len(test_source))[: config.limit])
    n_val = max(1, round(VAL_FRACTION * len(order)))
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    transform = _augmentation(distortion) if config.augment else None

    def subset(src, idx, tf=None):
        ds = ImageArrayDataset(
            src.data[idx], src.targets[idx], transform=tf, flatten=flatten, classes=src.classes
        )
        return _Reconstruction(ds) if reconstruction else ds

    kind = (
        "the MNIST subset shipped with deepgrad"
        if source.source == "embedded"
        else f"MNIST from {source.folder}"
    )
    notes = [
        f"data: {kind}: {len(train_idx)} training, {len(val_idx)} validation, "
        f"{len(test_order)} test images"
        + (
            " (training images augmented: "
            + ("elastic distortions, " if distortion == "elastic" else "")
            + "rotations, shifts)"
            if config.augment
            else ""
        )
    ]
    return RecipeData(
        subset(source, train_idx, transform),
        subset(source, val_idx),
        subset(test_source, test_order),
        notes,
    )


class MnistMLP(Recipe):
    name = "mnist-mlp"
    summary = "seed 004's MNIST classifier, an MLP 784-1000-500-100-10 (the main job)"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 15,
        "batch_size": 64,
        "lr": 1e-3,
        "optimizer": "adam",
        "init": "kaiming",
        "activation": "relu",
        "dropout": 0.0,
    }
    uses = ("init", "activation", "dropout", "augment")
    options: ClassVar[dict[str, Option]] = {
        "hidden": Option((1000, 500, 100), "hidden layer widths"),
        "batch_norm": Option(False, "BatchNorm1d after each hidden Linear layer"),
    }
    metric_names = ("accuracy",)
    monitor, mode, headline = "val_accuracy", "max", "accuracy"

    def data(self, config):
        return mnist_data(config, flatten=True)

    def build_model(self, config, data):
        sizes = [784, *config.options["hidden"], 10]
        return MLP(
            sizes, config.activation, config.dropout, config.options["batch_norm"], config.init
        )

    def example_input(self, config, data):
        return (config.batch_size, 784), "float32"


class MnistCNN(Recipe):
    name = "mnist-cnn"
    summary = "a convolutional MNIST classifier: LeNet-5 or a small ConvNet"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 12,
        "batch_size": 64,
        "lr": 1e-3,
        "optimizer": "adam",
        "init": "kaiming",
        "activation": "relu",
        "dropout": 0.0,
    }
    uses = ("init", "activation", "dropout", "augment")
    options: ClassVar[dict[str, Option]] = {
        "arch": Option("lenet5", "the network", ("lenet5", "convnet")),
        "batch_norm": Option(False, "BatchNorm2d after each convolution (convnet)"),
        "distortion": Option(
            "affine",
            "what --augment does: affine (rotations, shifts) or elastic (elastic distortions too)",
            DISTORTIONS,
        ),
    }
    metric_names = ("accuracy",)
    monitor, mode, headline = "val_accuracy", "max", "accuracy"

    def data(self, config):
        return mnist_data(config, flatten=False, distortion=config.options["distortion"])

    def build_model(self, config, data):
        if config.options["arch"] == "lenet5":
            return LeNet5(activation=config.activation, dropout=config.dropout, init=config.init)
        return ConvNet(
            activation=config.activation,
            dropout=config.dropout,
            batch_norm=config.options["batch_norm"],
            init=config.init,
        )


__all__ = ["DISTORTIONS", "MnistCNN", "MnistMLP", "mnist_data"]
