"""The generative recipes on MNIST: autoencoders (one layer and stacked), the VAE and the GAN."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from deepgrad.autograd import no_grad
from deepgrad.backend.random import Generator
from deepgrad.experiments.config import Option, make_optimizer
from deepgrad.experiments.outputs import save_image_grid
from deepgrad.experiments.recipes.base import Recipe, RecipeData
from deepgrad.experiments.recipes.mnist import mnist_data
from deepgrad.models.autoencoder import (
    Autoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
    StackedAutoencoder,
)
from deepgrad.models.gan import DCGAN, GAN, GANTrainer
from deepgrad.models.vae import VAE
from deepgrad.ops.creation import tensor
from deepgrad.train.metrics import MeanSquaredError


def _reconstructions(model, data: RecipeData, out_dir, count: int = 10) -> list[str]:
    """inputs.png-style grid: test digits (top row) and their reconstructions (bottom row)."""
    dataset = data.test if data.test is not None else data.val
    # spread over the set, which is ordered by digit: one of each
    x, _ = dataset.get_batch(
        np.linspace(0, len(dataset) - 1, min(count, len(dataset))).astype(np.int64)
    )
    model.eval()
    device = next(iter(model.parameters())).device
    with no_grad():
        out = model(tensor(x, device=device))
        if isinstance(out, tuple):  # a VAE: (logits, mu, logvar); show the means
            out = out[0].sigmoid()
    both = np.concatenate([x.reshape(len(x), -1), out.numpy().reshape(len(x), -1)])
    path = out_dir / "reconstructions.png"
    save_image_grid(
        both, path, title="test digits (top) and their reconstructions", rows=["input", "output"]
    )
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
        "kind": Option(
            "tied",
            "tied weights, untied, denoising or sparse",
            ("tied", "untied", "denoising", "sparse"),
        ),
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
            [784, *o["sizes"]],
            activation=config.activation,
            loss=o["loss"],
            noise=o["noise"],
            init=config.init,
        )

    def prepare(self, config, model, train_loader, progress):
        epochs = config.options["pretrain_epochs"]
        if epochs <= 0:
            return ["pre-training: skipped (pretrain_epochs=0)"]
        histories = model.pretrain(train_loader, epochs=epochs, lr=config.lr, progress=progress)
        return [
            f"pre-training layer {k + 1} ({model.sizes[k]} -> {model.sizes[k + 1]}): "
            f"reconstruction error {h['loss'][0]:.4f} -> {h['loss'][-1]:.4f} "
            f"in {epochs} epoch{'s' if epochs > 1 else ''}"
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
        path = out_dir / "samples.png"
        save_image_grid(
            model.sample(64, generator=Generator().manual_seed(config.seed)),
            path,
            title="VAE samples",
        )
        return [f"samples: {path}", *_reconstructions(model, data, out_dir)]

    def example_input(self, config, data):
        return (config.batch_size, 784), "float32"


class GANRecipe(Recipe):
    name = "gan"
    summary = "a GAN of MNIST digits (MLP or DCGAN-style; non-saturating loss)"
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 15,
        "batch_size": 64,
        "lr": 2e-4,
        "optimizer": "adam",
    }
    options: ClassVar[dict[str, Option]] = {
        "arch": Option("mlp", "generator and discriminator", ("mlp", "dcgan")),
        "latent": Option(64, "size of the noise z"),
        "channels": Option(32, "dcgan: feature maps"),
        "d_steps": Option(1, "discriminator updates per batch"),
        "real_label": Option(
            0.9, "D's target for real digits (0.9: one-sided label smoothing; 1: none)"
        ),
    }
    # no validation criterion says which epoch of a GAN is best: "best" is the latest epoch
    monitor, mode, headline = "epoch", "max", "d_real"
    supports_lr_find = False
    # the logged loss is the generator's, which rises while D learns: not a curve to minimize;
    # the first layer (G's) and the last (D's) belong to two networks, so their gradients are
    # not one chain; and the
    # only sigmoid is G's output, which saturates on purpose (black background pixels)
    doctor_skips = (
        "diverging",
        "flat_loss",
        "overfitting",
        "vanishing_gradients",
        "saturated_units",
    )

    def data(self, config):
        return mnist_data(config, flatten=False)

    def build_model(self, config, data):
        o = config.options
        if o["arch"] == "dcgan":
            return DCGAN(o["latent"], o["channels"], real_label=o["real_label"])
        return GAN(o["latent"], real_label=o["real_label"])

    def make_optimizer(self, config, model):
        return make_optimizer(
            config.optimizer,
            model.parameter_groups(config.lr),
            config.lr,
            config.weight_decay,
            betas=(0.5, 0.999),
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


__all__ = ["AutoencoderRecipe", "GANRecipe", "StackedAutoencoderRecipe", "VAERecipe"]
