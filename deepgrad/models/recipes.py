"""Recipes: the data, model, loss, optimizer and metrics behind ``deepgrad train RECIPE``.

A ``Recipe`` knows how to build each piece of one experiment of the seeds from a ``RunConfig``;
``RECIPES`` maps the names the command accepts to them::

    recipe = get_recipe("mnist-mlp")
    config = recipe.make_config(epochs=5)            # the recipe's defaults, then the given settings
    data = recipe.data(config)                       # train / validation / test datasets
    model = recipe.build_model(config, data)
    optimizer = recipe.make_optimizer(config, model)

``deepgrad.models.runs.train_run`` puts them together with a Trainer and writes the run folder.

Data splits are fixed (drawn with seed 0, whatever ``--seed`` is), so every run of a recipe,
and ``deepgrad evaluate`` afterwards, sees the same training, validation and test samples.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from deepgrad import cuda, nn
from deepgrad.backend.random import Generator
from deepgrad.data import DataLoader, Dataset, TensorDataset
from deepgrad.data.augment import Compose, RandomRotation, RandomTranslation
from deepgrad.data.datasets import MNIST, CharVocabulary, ImageArrayDataset, TextDataset, load_corpus, make_moons
from deepgrad.data.datasets.text import split_text
from deepgrad.models.autoencoder import Autoencoder, DenoisingAutoencoder, SparseAutoencoder, StackedAutoencoder
from deepgrad.models.cnn import ConvNet, LeNet5
from deepgrad.models.common import ACTIVATIONS, INITS
from deepgrad.models.config import DEFAULT_LRS, GENERIC, OPTIMIZERS, Option, RecipeError, RunConfig, make_optimizer
from deepgrad.models.gan import DCGAN, GAN, GANTrainer
from deepgrad.models.mlp import MLP
from deepgrad.models.outputs import save_decision_boundary, save_image_grid
from deepgrad.models.sequence import CharLM
from deepgrad.models.vae import VAE
from deepgrad.nn import functional as F
from deepgrad.train import Trainer
from deepgrad.train.metrics import MeanSquaredError

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


class Recipe(ABC):
    """One experiment: how to build its data, model, loss, optimizer, metrics and trainer from a RunConfig.

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
        """The run's settings: what is given (not None), else the recipe's defaults. RecipeError if a
        setting does not apply to this recipe or is out of range."""
        name = self.name
        given_generic = {"init": init, "activation": activation, "dropout": dropout, "augment": augment or None}
        for key, value in given_generic.items():
            if value is not None and key not in self.uses:
                others = [r.name for r in RECIPES.values() if key in r.uses]
                raise RecipeError(f"recipe {name!r} has no {key} setting; recipes with one: {', '.join(others)}.")
        optimizer = optimizer if optimizer is not None else self.defaults["optimizer"]
        if optimizer not in OPTIMIZERS:
            raise RecipeError(f"unknown optimizer {optimizer!r}; allowed: {', '.join(OPTIMIZERS)}.")
        if lr is None:
            lr = self.defaults["lr"] if optimizer == self.defaults["optimizer"] else DEFAULT_LRS[optimizer]
        config = RunConfig(
            recipe=name,
            epochs=self.defaults["epochs"] if epochs is None else epochs,
            batch_size=self.defaults["batch_size"] if batch_size is None else batch_size,
            lr=float(lr),
            optimizer=optimizer,
            weight_decay=0.0 if weight_decay is None else float(weight_decay),
            init=(init or self.defaults.get("init", "kaiming")) if "init" in self.uses else None,
            activation=(activation or self.defaults.get("activation", "relu")) if "activation" in self.uses else None,
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

    def resolve_options(self, given: dict[str, Any]) -> dict[str, Any]:
        """The recipe's options with the given ones in place of the defaults (strings are parsed)."""
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            allowed = ", ".join(self.options) or "(none)"
            raise RecipeError(f"recipe {self.name!r} has no option {unknown[0]!r}; its options: {allowed}.")
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
            need(0.0 <= config.dropout < 1.0, "dropout must be a probability in [0, 1)", config.dropout)
        if config.early_stopping is not None:
            need(config.early_stopping >= 0, "early-stopping patience must be >= 0", config.early_stopping)
        need(config.device in DEVICES, f"device must be one of {', '.join(DEVICES)}", config.device)
        if config.device == "cuda" and not cuda.is_available():
            raise RecipeError(f"device cuda: {cuda.unavailable_reason()}; train on --device cpu instead.")
        if config.limit is not None:
            need(
                config.limit >= self.min_limit, f"limit must be at least {self.min_limit} for {self.name}", config.limit
            )

    # -- the pieces -----------------------------------------------------------------------------
    @abstractmethod
    def data(self, config: RunConfig) -> RecipeData:
        """The training, validation and test datasets (``config.limit`` applied)."""

    @abstractmethod
    def build_model(self, config: RunConfig, data: RecipeData) -> nn.Module:
        """The model, freshly initialized (the caller seeds the generator first)."""

    def loss_fn(self, model: nn.Module):
        return F.cross_entropy

    def metrics(self) -> list:
        return list(self.metric_names)

    def make_optimizer(self, config: RunConfig, model: nn.Module):
        return make_optimizer(config.optimizer, model.parameters(), config.lr, config.weight_decay)

    def loaders(self, config: RunConfig, data: RecipeData) -> tuple:
        """(train, validation, test) DataLoaders; training batches shuffled by a generator seeded with ``config.seed``."""
        shuffle_gen = Generator().manual_seed(config.seed)
        train = DataLoader(data.train, batch_size=config.batch_size, shuffle=True, generator=shuffle_gen)
        val = DataLoader(data.val, batch_size=EVAL_BATCH) if data.val is not None else None
        test = DataLoader(data.test, batch_size=EVAL_BATCH) if data.test is not None else None
        return train, val, test

    def make_trainer(self, config: RunConfig, model, optimizer, callbacks, monitor, progress: bool):
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
        """Work before the Trainer's epochs (e.g. layer-wise pre-training); returns lines to print."""
        return []

    def outputs(self, config: RunConfig, model, data: RecipeData, out_dir, plots: bool) -> list[str]:
        """Extra results written to ``out_dir`` after training (samples, pictures); returns lines to print."""
        return []

    def example_input(self, config: RunConfig, data: RecipeData) -> tuple[tuple[int, ...], str]:
        """(shape, dtype) of one input batch, for ``nn.summary``."""
        return (config.batch_size, 1, 28, 28), "float32"

    def describe_options(self) -> str:
        return ", ".join(f"{k}={opt.format(opt.default)}" for k, opt in self.options.items()) or "(none)"


# -- MNIST ---------------------------------------------------------------------------------------
_MNIST_CACHE: dict[bool, MNIST] = {}


def _mnist(train: bool) -> MNIST:
    if train not in _MNIST_CACHE:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the "using the embedded subset" notice: told in the notes
            _MNIST_CACHE[train] = MNIST(train=train)
    return _MNIST_CACHE[train]


def _augmentation() -> Compose:
    """Small random rotations (±10°) and shifts (±2 pixels) of the training digits."""
    return Compose([RandomRotation(10), RandomTranslation(pixels=2)])


def mnist_data(config: RunConfig, flatten: bool, reconstruction: bool = False) -> RecipeData:
    """MNIST split into training / validation (10% of the training images) / test, ``--limit`` applied."""
    source, test_source = _mnist(True), _mnist(False)
    rng = np.random.default_rng(SPLIT_SEED)
    order = rng.permutation(len(source))
    test_order = np.arange(len(test_source))
    if config.limit is not None:
        order = order[: config.limit]
        test_order = np.sort(rng.permutation(len(test_source))[: config.limit])
    n_val = max(1, round(VAL_FRACTION * len(order)))
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    transform = _augmentation() if config.augment else None

    def subset(src, idx, tf=None):
        ds = ImageArrayDataset(src.data[idx], src.targets[idx], transform=tf, flatten=flatten, classes=src.classes)
        return _Reconstruction(ds) if reconstruction else ds

    kind = "the MNIST subset shipped with deepgrad" if source.source == "embedded" else f"MNIST from {source.folder}"
    notes = [
        f"data: {kind}: {len(train_idx)} training, {len(val_idx)} validation, {len(test_order)} test images"
        + (" (training images augmented: rotations, shifts)" if config.augment else "")
    ]
    return RecipeData(
        subset(source, train_idx, transform), subset(source, val_idx), subset(test_source, test_order), notes
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
        return MLP(sizes, config.activation, config.dropout, config.options["batch_norm"], config.init)

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
    }
    metric_names = ("accuracy",)
    monitor, mode, headline = "val_accuracy", "max", "accuracy"

    def data(self, config):
        return mnist_data(config, flatten=False)

    def build_model(self, config, data):
        if config.options["arch"] == "lenet5":
            return LeNet5(activation=config.activation, dropout=config.dropout, init=config.init)
        return ConvNet(
            activation=config.activation,
            dropout=config.dropout,
            batch_norm=config.options["batch_norm"],
            init=config.init,
        )


def _reconstructions(model, data: RecipeData, out_dir, count: int = 10) -> list[str]:
    """inputs.png-style grid: test digits (top row) and their reconstructions (bottom row)."""
    from deepgrad.autograd import no_grad

    dataset = data.test if data.test is not None else data.val
    # spread over the set, which is ordered by digit: one of each
    x, _ = dataset.get_batch(np.linspace(0, len(dataset) - 1, min(count, len(dataset))).astype(np.int64))
    from deepgrad.ops.creation import tensor

    model.eval()
    device = next(iter(model.parameters())).device
    with no_grad():
        out = model(tensor(x, device=device))
        if isinstance(out, tuple):  # a VAE: (logits, mu, logvar); show the means
            out = out[0].sigmoid()
    both = np.concatenate([x.reshape(len(x), -1), out.numpy().reshape(len(x), -1)])
    path = out_dir / "reconstructions.png"
    save_image_grid(both, path, title="test digits (top) and their reconstructions", rows=["input", "output"])
    return [f"reconstructions: {path}"]


class AutoencoderRecipe(Recipe):
    name = "autoencoder"
    summary = "a one-layer autoencoder of MNIST digits (tied, untied, denoising or sparse)"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 10,
        "batch_size": 64,
        "lr": 1e-2,
        "optimizer": "adam",
        "init": "xavier",
        "activation": "sigmoid",
    }
    uses = ("init", "activation")
    options: ClassVar[dict[str, Option]] = {
        "kind": Option("tied", "tied weights, untied, denoising or sparse", ("tied", "untied", "denoising", "sparse")),
        "code": Option(64, "size of the code"),
        "loss": Option("mse", "reconstruction error", ("mse", "bce")),
        "noise": Option(0.3, "denoising: masking probability or Gaussian std"),
        "corruption": Option("mask", "denoising: the corruption", ("mask", "gaussian")),
        "rho": Option(0.05, "sparse: target mean activation"),
        "beta": Option(0.005, "sparse: weight of the KL penalty"),
    }
    monitor, headline = "val_mse", "mse"

    def data(self, config):
        return mnist_data(config, flatten=True, reconstruction=True)

    def metrics(self):
        return [MeanSquaredError(name="mse")]

    def build_model(self, config, data):
        o = config.options
        common = {
            "in_features": 784,
            "code_size": o["code"],
            "activation": config.activation,
            "loss": o["loss"],
            "init": config.init,
        }
        if o["kind"] == "denoising":
            return DenoisingAutoencoder(**common, corruption=o["corruption"], noise=o["noise"])
        if o["kind"] == "sparse":
            return SparseAutoencoder(**common, rho=o["rho"], beta=o["beta"])
        return Autoencoder(**common, tied=o["kind"] != "untied")

    def loss_fn(self, model):
        return model.loss

    def outputs(self, config, model, data, out_dir, plots):
        return _reconstructions(model, data, out_dir) if plots else []

    def example_input(self, config, data):
        return (config.batch_size, 784), "float32"


class StackedAutoencoderRecipe(AutoencoderRecipe):
    name = "stacked-autoencoder"
    summary = "a deep autoencoder: greedy layer-wise pre-training, then end-to-end fine-tuning"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 10,
        "batch_size": 64,
        "lr": 1e-2,
        "optimizer": "adam",
        "init": "xavier",
        "activation": "sigmoid",
    }
    options: ClassVar[dict[str, Option]] = {
        "sizes": Option((256, 64), "code sizes from the input inwards"),
        "pretrain_epochs": Option(2, "epochs of pre-training per layer (0: none)"),
        "noise": Option(0.0, "masking probability of a stacked denoising autoencoder (0: plain)"),
        "loss": Option("mse", "reconstruction error of the input", ("mse", "bce")),
    }

    def build_model(self, config, data):
        o = config.options
        return StackedAutoencoder(
            [784, *o["sizes"]], activation=config.activation, loss=o["loss"], noise=o["noise"], init=config.init
        )

    def prepare(self, config, model, train_loader, progress):
        epochs = config.options["pretrain_epochs"]
        if epochs <= 0:
            return ["pre-training: skipped (pretrain_epochs=0)"]
        histories = model.pretrain(train_loader, epochs=epochs, lr=config.lr, progress=progress)
        return [
            f"pre-training layer {k + 1} ({model.sizes[k]} -> {model.sizes[k + 1]}): reconstruction error "
            f"{h['loss'][0]:.4f} -> {h['loss'][-1]:.4f} in {epochs} epoch{'s' if epochs > 1 else ''}"
            for k, h in enumerate(histories)
        ]


class VAERecipe(Recipe):
    name = "vae"
    summary = "a variational autoencoder of MNIST digits (ELBO; samples and reconstructions)"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 20,
        "batch_size": 128,
        "lr": 1e-3,
        "optimizer": "adam",
        "activation": "relu",
    }
    uses = ("activation",)
    options: ClassVar[dict[str, Option]] = {
        "hidden": Option(400, "hidden units of encoder and decoder"),
        "latent": Option(20, "size of the code z"),
        "beta": Option(1.0, "weight of the KL term (1: the ELBO)"),
    }
    headline = "loss"

    def data(self, config):
        return mnist_data(config, flatten=True, reconstruction=True)

    def build_model(self, config, data):
        o = config.options
        return VAE(784, o["hidden"], o["latent"], activation=config.activation, beta=o["beta"])

    def loss_fn(self, model):
        return model.loss

    def outputs(self, config, model, data, out_dir, plots):
        if not plots:
            return []
        from deepgrad.backend.random import Generator as Gen

        path = out_dir / "samples.png"
        save_image_grid(model.sample(64, generator=Gen().manual_seed(config.seed)), path, title="VAE samples")
        return [f"samples: {path}", *_reconstructions(model, data, out_dir)]

    def example_input(self, config, data):
        return (config.batch_size, 784), "float32"


class GANRecipe(Recipe):
    name = "gan"
    summary = "a GAN of MNIST digits (MLP or DCGAN-style; non-saturating loss)"
    defaults: ClassVar[dict[str, Any]] = {"epochs": 15, "batch_size": 64, "lr": 2e-4, "optimizer": "adam"}
    options: ClassVar[dict[str, Option]] = {
        "arch": Option("mlp", "generator and discriminator", ("mlp", "dcgan")),
        "latent": Option(64, "size of the noise z"),
        "channels": Option(32, "dcgan: feature maps"),
        "d_steps": Option(1, "discriminator updates per batch"),
        "real_label": Option(0.9, "D's target for real digits (0.9: one-sided label smoothing; 1: none)"),
    }
    # no validation criterion says which epoch of a GAN is best: "best" is the latest epoch
    monitor, mode, headline = "epoch", "max", "d_real"
    supports_lr_find = False
    # the logged loss is the generator's, which rises while D learns: not a curve to minimize; the first
    # layer (G's) and the last (D's) belong to two networks, so their gradients are not one chain; and the
    # only sigmoid is G's output, which saturates on purpose (black background pixels)
    doctor_skips = ("diverging", "flat_loss", "overfitting", "vanishing_gradients", "saturated_units")

    def data(self, config):
        return mnist_data(config, flatten=False)

    def build_model(self, config, data):
        o = config.options
        if o["arch"] == "dcgan":
            return DCGAN(o["latent"], o["channels"], real_label=o["real_label"])
        return GAN(o["latent"], real_label=o["real_label"])

    def make_optimizer(self, config, model):
        return make_optimizer(
            config.optimizer, model.parameter_groups(config.lr), config.lr, config.weight_decay, betas=(0.5, 0.999)
        )

    def make_trainer(self, config, model, optimizer, callbacks, monitor, progress):
        return GANTrainer(
            model,
            optimizer,
            callbacks=callbacks,
            device=config.device if config.device != "cpu" else None,
            monitor=monitor,
            progress=progress,
            d_steps=config.options["d_steps"],
        )

    def outputs(self, config, model, data, out_dir, plots):
        if not plots:
            return []
        path = out_dir / "samples.png"
        save_image_grid(
            model.sample(64, generator=Generator().manual_seed(config.seed)),
            path,
            title=f"{type(model).__name__} samples",
        )
        return [f"samples: {path}"]

    def example_input(self, config, data):
        return (config.batch_size, config.options["latent"]), "float32"


class CharRNNRecipe(Recipe):
    name = "char-rnn"
    summary = "a character-level LSTM/GRU/RNN language model of Alice in Wonderland, with sampled text"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 8,
        "batch_size": 32,
        "lr": 3e-3,
        "optimizer": "adam",
        "dropout": 0.0,
    }
    uses = ("dropout",)
    options: ClassVar[dict[str, Option]] = {
        "cell": Option("lstm", "the recurrent layer", ("lstm", "gru", "rnn")),
        "hidden": Option(128, "recurrent units"),
        "embedding": Option(32, "size of the character embeddings"),
        "layers": Option(1, "stacked recurrent layers"),
        "seq_len": Option(64, "characters per training window"),
        "temperature": Option(0.8, "sampling temperature of the generated text"),
        "sample_length": Option(300, "characters to generate after training"),
        "prefix": Option("Alice ", "the text the sample starts from"),
    }
    min_limit = 2

    def data(self, config):
        text = load_corpus("alice")
        vocab = CharVocabulary(text)
        train_text, val_text, test_text = split_text(text, (0.8, 0.1, 0.1))
        seq_len = config.options["seq_len"]
        train = TextDataset(train_text, seq_len, vocab)
        val, test = TextDataset(val_text, seq_len, vocab), TextDataset(test_text, seq_len, vocab)
        if config.limit is not None:
            from deepgrad.data import Subset

            train = Subset(train, range(min(config.limit, len(train))))
            test = Subset(test, range(min(config.limit, len(test))))
            val = Subset(val, range(min(max(config.limit // 10, 1), len(val))))
        counts = np.bincount(vocab.encode(train_text), minlength=len(vocab)).astype(np.float64)
        p = counts[counts > 0] / counts.sum()
        entropy = float(-(p * np.log(p)).sum())
        notes = [
            (
                f"data: 'Alice's Adventures in Wonderland' (shipped), {len(text)} characters, {len(vocab)} distinct; "
                f"{len(train)} training, {len(val)} validation, {len(test)} test windows of {seq_len}"
            ),
            (
                f"baseline: the unigram entropy of the training text is {entropy:.3f} nats/char "
                f"({entropy / math.log(2):.3f} bits)"
            ),
        ]
        return RecipeData(train, val, test, notes, {"vocab": vocab, "unigram_entropy": entropy})

    def build_model(self, config, data):
        o = config.options
        return CharLM(data.info["vocab"], o["embedding"], o["hidden"], o["layers"], o["cell"], config.dropout)

    def loss_fn(self, model):
        return model.loss

    def make_trainer(self, config, model, optimizer, callbacks, monitor, progress):
        # exploding gradients are the classic failure of recurrent nets; clipping the norm prevents them
        return Trainer(
            model,
            model.loss,
            optimizer,
            callbacks=callbacks,
            device=config.device if config.device != "cpu" else None,
            monitor=monitor,
            progress=progress,
            grad_clip=5.0,
        )

    def outputs(self, config, model, data, out_dir, plots):
        o = config.options
        text = model.generate(
            o["prefix"], o["sample_length"], o["temperature"], generator=Generator().manual_seed(config.seed)
        )
        path = out_dir / "sample.txt"
        path.write_text(text + "\n")
        return [
            f"generated text (temperature {o['temperature']}), also in {path}:",
            "    " + text.replace("\n", "\n    "),
        ]

    def example_input(self, config, data):
        return (config.batch_size, config.options["seq_len"]), "int64"


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
                f"data: two moons (noise {o['noise']}): {len(train[0])} training, {len(val[0])} validation, "
                f"{len(test[0])} test points"
            )
        ]
        return RecipeData(TensorDataset(*train), TensorDataset(*val), TensorDataset(*test), notes, {"test": test})

    def build_model(self, config, data):
        return MLP([2, *config.options["hidden"], 2], config.activation, config.dropout, init=config.init)

    def outputs(self, config, model, data, out_dir, plots):
        if not plots:
            return []
        path = out_dir / "decision_boundary.png"
        x, y = data.info["test"]
        save_decision_boundary(model, x, y, path, title="two moons: decision regions and test points")
        return [f"decision boundary: {path}"]

    def example_input(self, config, data):
        return (config.batch_size, 2), "float32"


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        MnistMLP(),
        MnistCNN(),
        AutoencoderRecipe(),
        StackedAutoencoderRecipe(),
        VAERecipe(),
        GANRecipe(),
        CharRNNRecipe(),
        MoonsRecipe(),
    )
}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; RecipeError listing the recipes otherwise."""
    if name not in RECIPES:
        raise RecipeError(f"unknown recipe {name!r}; allowed: {', '.join(RECIPES)}.")
    return RECIPES[name]


__all__ = ["GENERIC", "RECIPES", "Recipe", "RecipeData", "RecipeError", "get_recipe", "mnist_data"]
