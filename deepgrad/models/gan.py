"""Generative adversarial networks (Goodfellow et al., 2014): an MLP GAN and a DCGAN-style variant.

A generator G maps noise z ~ N(0, I) to samples; a discriminator D scores samples with a logit
(real: high, generated: low). They are trained in turns, with the non-saturating loss:

    D step:  L_D = BCE(D(x), 1) + BCE(D(G(z)), 0)        (G fixed: its samples are detached; 0.9 for 1
                                                           with one-sided label smoothing)
    G step:  L_G = BCE(D(G(z)), 1) = -log sigmoid(D(G(z)))  (D fixed)

(minimizing -log D(G(z)) instead of log(1 - D(G(z))) keeps G's gradient alive while D wins).
``GAN.train_step(real, optimizer)`` does one D step and one G step; ``GANTrainer`` runs it under
the usual ``Trainer`` (callbacks, checkpoints, logs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from deepgrad import nn
from deepgrad.autograd import Tensor, no_grad
from deepgrad.backend.random import Generator
from deepgrad.backend.validation import in_interval, positive_int, probability
from deepgrad.models.common import DROPOUT_FIX
from deepgrad.nn import functional as F
from deepgrad.ops.creation import ones_like, randn, zeros_like
from deepgrad.train import Callback, Trainer, Updater


class MLPGenerator(nn.Module):
    """z (N, latent_dim) -> (Linear -> [BatchNorm1d] -> LeakyReLU(0.2)) per hidden layer -> Linear -> sigmoid
    -> (N, *image_shape).

    Args:
        latent_dim: size of z. Default: 64.
        image_shape: the shape of one sample. Default: (1, 28, 28).
        hidden: units of the hidden layers. Default: (256, 512).
        batch_norm: BatchNorm1d after each hidden Linear layer (keeps G from collapsing onto one
            sample, as in DCGAN). Default: True.
    """

    def __init__(
        self,
        latent_dim: int = 64,
        image_shape: Sequence[int] = (1, 28, 28),
        hidden=(256, 512),
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        out = math.prod(self.image_shape)
        sizes = [latent_dim, *hidden]
        layers: list[nn.Module] = []
        for n_in, n_out in pairwise(sizes):
            layers.append(nn.Linear(n_in, n_out))
            if batch_norm:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(nn.LeakyReLU(0.2))
        layers += [nn.Linear(sizes[-1], out), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).reshape(z.shape[0], *self.image_shape)


class MLPDiscriminator(nn.Module):
    """x (N, *image_shape) -> flatten -> Linear -> LeakyReLU(0.2) [-> Dropout] ... -> Linear -> (N,) logits.

    Args:
        image_shape: the shape of one sample. Default: (1, 28, 28).
        hidden: units of the hidden layers. Default: (512, 256).
        dropout: dropout after each hidden layer (keeps D from memorizing). Default: 0.3.
    """

    def __init__(
        self, image_shape: Sequence[int] = (1, 28, 28), hidden=(512, 256), dropout: float = 0.3
    ) -> None:
        super().__init__()
        sizes = [math.prod(tuple(image_shape)), *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for n_in, n_out in pairwise(sizes):
            layers += [nn.Linear(n_in, n_out), nn.LeakyReLU(0.2)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(sizes[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).reshape(x.shape[0])


class DCGenerator(nn.Module):
    """DCGAN-style generator (Radford et al., 2016) for 28x28 images, upsampling with ConvTranspose2d:

    z -> Linear -> (2c, 7, 7) -> BN, ReLU -> ConvT 4x4 /2 -> (c, 14, 14) -> BN, ReLU
      -> ConvT 4x4 /2 -> (C, 28, 28) -> sigmoid

    Args:
        latent_dim: size of z. Default: 64.
        channels: c, the width of the last hidden feature map. Default: 32.
        out_channels: C, the image's channels. Default: 1.
    """

    def __init__(self, latent_dim: int = 64, channels: int = 32, out_channels: int = 1) -> None:
        super().__init__()
        positive_int(latent_dim, "latent_dim", "DCGenerator")
        positive_int(channels, "channels", "DCGenerator")
        positive_int(out_channels, "out_channels", "DCGenerator")
        self.project = nn.Sequential(
            nn.Linear(latent_dim, 2 * channels * 7 * 7),
            nn.Unflatten(1, (2 * channels, 7, 7)),
            nn.BatchNorm2d(2 * channels),
            nn.ReLU(),
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, out_channels, 4, stride=2, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.upsample(self.project(z))


class DCDiscriminator(nn.Module):
    """DCGAN-style discriminator for 28x28 images, downsampling with strided convolutions:

    (C, 28, 28) -> Conv 4x4 /2 -> (c, 14, 14) -> LeakyReLU -> Conv 4x4 /2 -> (2c, 7, 7)
      -> BN, LeakyReLU -> Linear -> logit

    Args:
        channels: c. Default: 32.
        in_channels: C. Default: 1.
    """

    def __init__(self, channels: int = 32, in_channels: int = 1) -> None:
        super().__init__()
        positive_int(channels, "channels", "DCDiscriminator")
        positive_int(in_channels, "in_channels", "DCDiscriminator")
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, channels, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1),
            nn.BatchNorm2d(2 * channels),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * channels * 7 * 7, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).reshape(x.shape[0])


class GAN(nn.Module):
    """A generator and a discriminator trained against each other with the non-saturating loss.

    Args:
        latent_dim: size of the noise z. Default: 64.
        image_shape: the shape of one sample; inputs lie in [0, 1]. Default: (1, 28, 28).
        hidden: hidden widths of the MLP generator (the discriminator uses them reversed). Default: (256, 512).
        dropout: dropout in the discriminator. Default: 0.3.
        batch_norm: batch normalization in the MLP generator's hidden layers. Default: True.
        real_label: D's target for real samples; 0.9 is one-sided label smoothing (Salimans et al.,
            2016), which keeps D from growing overconfident and starving G of gradient. Default: 1.0.
        generator, discriminator: modules to use instead of the MLPs (``DCGAN`` passes convolutional ones).
        rng: source of the noise z. Default: deepgrad's default generator.

    Shape:
        ``forward(z)``: (N, latent_dim) -> (N, *image_shape) samples; ``discriminator(x)``: -> (N,) logits.

    Example:
        >>> import deepgrad as dg
        >>> from deepgrad.optim import Adam
        >>> gan = GAN(latent_dim=8, image_shape=(1, 4, 4), hidden=(16, 16))
        >>> opt = Adam(gan.parameters(), lr=2e-4, betas=(0.5, 0.999))
        >>> stats = gan.train_step(dg.rand(6, 1, 4, 4), opt)
        >>> sorted(stats), gan.sample(2).shape
        (['d_fake', 'd_loss', 'd_real', 'g_loss'], (2, 1, 4, 4))
    """

    def __init__(
        self,
        latent_dim: int = 64,
        image_shape: Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (256, 512),
        dropout: float = 0.3,
        batch_norm: bool = True,
        real_label: float = 1.0,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
        rng: Generator | None = None,
    ) -> None:
        super().__init__()
        positive_int(latent_dim, "latent_dim", "GAN")
        fix = "it is D's target for real samples; 1 is plain, 0.9 smooths the labels"
        in_interval(real_label, "real_label", "GAN", low=0.5, high=1, include_low=False, fix=fix)
        image_shape = tuple(image_shape)
        if not image_shape or not all(isinstance(n, int) and n >= 1 for n in image_shape):
            raise ValueError(
                f"GAN: image_shape must be a tuple of positive ints (got {image_shape!r})."
            )
        hidden = tuple(hidden)
        if not hidden or not all(isinstance(n, int) and n >= 1 for n in hidden):
            raise ValueError(f"GAN: hidden must list positive ints (got {hidden!r}).")
        probability(dropout, "dropout", "GAN", fix=DROPOUT_FIX)
        self.latent_dim, self.image_shape, self.rng = latent_dim, image_shape, rng
        self.real_label = float(real_label)
        self.generator = (
            generator
            if generator is not None
            else MLPGenerator(latent_dim, image_shape, hidden, batch_norm)
        )
        self.discriminator = (
            discriminator
            if discriminator is not None
            else MLPDiscriminator(image_shape, hidden[::-1], dropout)
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)

    def noise(self, n: int, generator: Generator | None = None) -> Tensor:
        """z ~ N(0, I), (n, latent_dim), on the parameters' device and dtype."""
        weight = next(iter(self.generator.parameters()))
        return randn(
            n,
            self.latent_dim,
            generator=generator or self.rng,
            dtype=weight.dtype,
            device=weight.device,
        )

    def sample(self, n: int, generator: Generator | None = None) -> Tensor:
        """n generated samples (n, *image_shape), in eval mode and without gradient."""
        positive_int(n, "n", "GAN.sample")
        was_training = self.generator.training
        self.generator.eval()
        try:
            with no_grad():
                return self.generator(self.noise(n, generator))
        finally:
            self.generator.train(was_training)

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """L_D = BCE(D(x), real_label) + BCE(D(G(z)), 0), each averaged over its batch."""
        real = F.binary_cross_entropy_with_logits(
            real_logits, ones_like(real_logits) * self.real_label
        )
        fake = F.binary_cross_entropy_with_logits(fake_logits, zeros_like(fake_logits))
        return real + fake

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        """The non-saturating L_G = BCE(D(G(z)), 1) = mean(-log sigmoid(D(G(z))))."""
        return F.binary_cross_entropy_with_logits(fake_logits, ones_like(fake_logits))

    def train_step(self, real: Tensor, optimizer, d_steps: int = 1) -> dict[str, float]:
        """One round of the game: ``d_steps`` discriminator updates, then one generator update.

        Args:
            real: a batch of real samples (N, *image_shape) (or flat (N, prod(image_shape))).
            optimizer: one optimizer over all of ``self.parameters()`` (give the generator and the
                discriminator their own parameter groups for different rates). Parameters whose
                gradient is None are skipped, so each update moves only the network being trained.
            d_steps: discriminator updates per generator update. Default: 1.

        Afterwards each parameter's ``.grad`` holds the gradient of its own network's last update.

        Returns:
            ``d_loss``, ``g_loss`` and the mean probabilities D gives to real (``d_real``) and to
            generated (``d_fake``, measured before the G step) samples, as floats.
        """
        real = real.reshape(real.shape[0], *self.image_shape) if real.ndim == 2 else real
        n = real.shape[0]
        for _ in range(d_steps):
            fake = self.generator(self.noise(n)).detach()
            real_logits = self.discriminator(real)
            fake_logits = self.discriminator(fake)
            d_loss = self.discriminator_loss(real_logits, fake_logits)
            optimizer.zero_grad()
            d_loss.backward()
            optimizer.step()
        d_params = list(self.discriminator.parameters())
        d_grads = [p.grad for p in d_params]
        self.discriminator.requires_grad_(False)  # G's loss must not move D
        try:
            g_loss = self.generator_loss(self.discriminator(self.generator(self.noise(n))))
            optimizer.zero_grad()
            g_loss.backward()
            optimizer.step()
        finally:
            self.discriminator.requires_grad_(True)
        # each parameter's .grad is again the gradient of its own last update (what a Monitor reads)
        for p, grad in zip(d_params, d_grads):
            p.grad = grad
        return {
            "d_loss": float(d_loss.item()),
            "g_loss": float(g_loss.item()),
            "d_real": float(real_logits.detach().sigmoid().mean().item()),
            "d_fake": float(fake_logits.detach().sigmoid().mean().item()),
        }

    def parameter_groups(self, lr: float = 2e-4, d_lr: float | None = None) -> list[dict[str, Any]]:
        """Two optimizer parameter groups: the generator's, then the discriminator's (rate ``d_lr`` or ``lr``)."""
        return [
            {"params": list(self.generator.parameters()), "lr": lr},
            {"params": list(self.discriminator.parameters()), "lr": lr if d_lr is None else d_lr},
        ]

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, image_shape={self.image_shape}"


class DCGAN(GAN):
    """The DCGAN-style variant for 28x28 images: ``DCGenerator`` and ``DCDiscriminator``.

    Args:
        latent_dim: size of z. Default: 64.
        channels: c of both networks. Default: 32.
        in_channels: the images' channels. Default: 1.
        real_label: D's target for real samples (see ``GAN``). Default: 1.0.
        rng: source of the noise z.

    Example:
        >>> import deepgrad as dg
        >>> DCGAN(latent_dim=8, channels=4).sample(2).shape
        (2, 1, 28, 28)
    """

    def __init__(
        self,
        latent_dim: int = 64,
        channels: int = 32,
        in_channels: int = 1,
        real_label: float = 1.0,
        rng: Generator | None = None,
    ):
        super().__init__(
            latent_dim,
            (in_channels, 28, 28),
            real_label=real_label,
            generator=DCGenerator(latent_dim, channels, in_channels),
            discriminator=DCDiscriminator(channels, in_channels),
            rng=rng,
        )


class GANUpdater(Updater):
    """The Trainer's step for a ``GAN``: ``GAN.train_step``, ``d_steps`` D updates and one G update.

    Batches are ``(x, label)`` or ``(x, x)``; only x is used. The logs are the generator's loss
    as ``loss`` and ``d_loss``, ``d_real``, ``d_fake`` (see ``GAN.train_step``), weighted by
    the batch size. ``GAN.train_step`` steps the optimizer itself, so no ``on_backward_end``
    hook runs between its backward passes and its optimizer steps.

    Args:
        d_steps: discriminator updates per batch. Default: 1.
    """

    def __init__(self, d_steps: int = 1) -> None:
        self.d_steps = positive_int(d_steps, "d_steps", "GANUpdater")

    def update(self, trainer: Trainer, batch: Any) -> dict[str, float]:
        inputs, target = trainer.split_batch(batch)
        real = inputs[0] if inputs else target
        stats = trainer.model.train_step(real, trainer.optimizer, self.d_steps)
        return {
            "loss": stats["g_loss"],
            "size": real.shape[0],
            "d_loss": stats["d_loss"],
            "d_real": stats["d_real"],
            "d_fake": stats["d_fake"],
        }


class GANTrainer(Trainer):
    """A ``Trainer`` whose updater is ``GANUpdater``: one ``GAN.train_step`` per batch.

    The logged ``loss`` is the generator's; ``d_loss``, ``d_real`` and ``d_fake`` (mean D
    probabilities on real and generated samples) are logged per step and as epoch means. A
    healthy game keeps ``d_real`` and ``d_fake`` apart but away from 1 and 0. Batches are
    ``(x, label)`` or ``(x, x)``; only x is used. Everything else (callbacks, checkpoints,
    resume, Monitor) is the Trainer's. ``GAN.train_step`` steps the optimizer itself, so
    callbacks that act in ``on_backward_end`` (``GradientClipping``) are refused.

    Args:
        model: the ``GAN``.
        optimizer: one optimizer over all its parameters, e.g.
            ``Adam(gan.parameter_groups(2e-4), betas=(0.5, 0.999))``.
        callbacks, device, monitor, doctor, progress: as in ``Trainer``.
        d_steps: discriminator updates per batch. Default: 1.
    """

    def __init__(
        self,
        model: GAN,
        optimizer,
        callbacks=None,
        device=None,
        monitor=False,
        doctor=False,
        progress: bool = True,
        d_steps: int = 1,
    ) -> None:
        if not isinstance(model, GAN):
            raise TypeError(f"GANTrainer: model must be a GAN (got {type(model).__name__}).")
        positive_int(d_steps, "d_steps", "GANTrainer")
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if (
                isinstance(cb, Callback)
                and type(cb).on_backward_end is not Callback.on_backward_end
            ):
                raise ValueError(
                    f"GANTrainer: GAN.train_step steps the optimizer itself, so the on_backward_end hook "
                    f"of {type(cb).__name__} would never run; leave it out of the callbacks."
                )
        super().__init__(
            model,
            self._validation_loss,
            optimizer,
            callbacks=callbacks,
            device=device,
            monitor=monitor,
            doctor=doctor,
            progress=progress,
            updater=GANUpdater(d_steps),
        )

    @property
    def d_steps(self) -> int:
        """Discriminator updates per batch (the updater's)."""
        return self.updater.d_steps

    def _validation_loss(self, output: Tensor, target: Tensor) -> Tensor:
        # Trainer.evaluate calls model(x) = G(x): meaningless for real images, so the GAN is not
        # validated that way; evaluate() is overridden below.
        raise TypeError("GANTrainer: a GAN has no validation loss; pass no val_loader.")

    def evaluate(self, loader) -> dict[str, Any]:
        """D's mean probability on the real samples of ``loader`` and on as many generated ones (no training)."""
        gan = self.model
        was_training = gan.training
        gan.eval()
        self.call_hook("on_eval_start", {})
        real_sum = fake_sum = 0.0
        seen = 0
        try:
            with no_grad():
                for batch in loader:
                    real = batch if isinstance(batch, Tensor) else self.split_batch(batch)[0][0]
                    real = real.reshape(real.shape[0], *gan.image_shape) if real.ndim == 2 else real
                    n = real.shape[0]
                    real_sum += float(gan.discriminator(real).sigmoid().sum().item())
                    fake_sum += float(
                        gan.discriminator(gan.generator(gan.noise(n))).sigmoid().sum().item()
                    )
                    seen += n
        finally:
            gan.train(was_training)
        if seen == 0:
            raise ValueError("GANTrainer.evaluate: the loader yielded no batches.")
        results = {"d_real": real_sum / seen, "d_fake": fake_sum / seen}
        self.call_hook("on_eval_end", results)
        return results


__all__ = [
    "DCGAN",
    "GAN",
    "DCDiscriminator",
    "DCGenerator",
    "GANTrainer",
    "GANUpdater",
    "MLPDiscriminator",
    "MLPGenerator",
]
