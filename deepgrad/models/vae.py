"""The variational autoencoder (Kingma & Welling, 2014), a latent-variable generative model of seed 003."""

from __future__ import annotations

from deepgrad import nn
from deepgrad.autograd import Tensor, no_grad
from deepgrad.backend.random import Generator
from deepgrad.backend.validation import non_negative_float, positive_int
from deepgrad.models.common import check_activation, make_activation
from deepgrad.nn import functional as F
from deepgrad.ops.creation import randn, randn_like


class VAE(nn.Module):
    """Variational autoencoder with a Gaussian code and Bernoulli pixels.

    encoder:  h = act(x W1 + b1);   mu = h W_mu + b_mu;   logvar = h W_s + b_s
    reparameterization:  z = mu + exp(logvar / 2) * eps,   eps ~ N(0, I)   (gradients flow through mu, logvar)
    decoder:  logits = act(z W2 + b2) W3 + b3;   x_hat = sigmoid(logits)

    Trained by maximizing the evidence lower bound, i.e. minimizing per sample

        -ELBO = BCE(x_hat, x) summed over the pixels + beta * KL(N(mu, diag exp(logvar)) || N(0, I)),
        KL = -1/2 * sum(1 + logvar - mu^2 - exp(logvar))

    (``loss``; beta = 1 is the true bound, beta > 1 the beta-VAE of Higgins et al., 2017).

    In eval mode z = mu: the loss then (validation, test) is deterministic, the reconstruction of
    the most likely code plus the KL term, a little lower than the sampled bound of training.

    Args:
        in_features: size of the (flattened) input, values in [0, 1]. Default: 784.
        hidden: units of the encoder's and the decoder's hidden layer. Default: 400.
        latent_dim: size of the code z. Default: 20.
        activation: the hidden activation's name. Default: "relu".
        beta: the weight of the KL term. Default: 1.0.
        generator: source of eps during training. Default: deepgrad's default generator.

    Shape:
        x: (N, in_features) or (N, *) with prod(*) = in_features; ``forward`` returns
        ``(logits (N, in_features), mu (N, latent_dim), logvar (N, latent_dim))``.

    Example:
        >>> import deepgrad as dg
        >>> vae = VAE(784, hidden=64, latent_dim=8)
        >>> x = dg.rand(5, 784)
        >>> logits, mu, logvar = vae(x)
        >>> logits.shape, mu.shape, vae.loss((logits, mu, logvar), x).shape, vae.sample(3).shape
        ((5, 784), (5, 8), (), (3, 784))
    """

    def __init__(
        self,
        in_features: int = 784,
        hidden: int = 400,
        latent_dim: int = 20,
        activation: str = "relu",
        beta: float = 1.0,
        generator: Generator | None = None,
    ) -> None:
        super().__init__()
        positive_int(in_features, "in_features", "VAE")
        positive_int(hidden, "hidden", "VAE")
        positive_int(latent_dim, "latent_dim", "VAE")
        check_activation("VAE", activation)
        fix = "it weights the KL term; 1 is the plain VAE, > 1 a beta-VAE"
        non_negative_float(beta, "beta", "VAE", fix=fix)
        self.in_features, self.hidden, self.latent_dim = in_features, hidden, latent_dim
        self.beta, self.generator = float(beta), generator
        self.encoder = nn.Sequential(
            nn.Linear(in_features, hidden), make_activation(activation, hidden)
        )
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            make_activation(activation, hidden),
            nn.Linear(hidden, in_features),
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar) of q(z | x)."""
        h = self.encoder(x.reshape(x.shape[0], -1) if x.ndim > 2 else x)
        return self.mu(h), self.logvar(h)

    def reparameterize(self, mu: Tensor, logvar: Tensor) -> Tensor:
        """z = mu + exp(logvar / 2) * eps in training; z = mu in eval mode (the most likely code)."""
        if not self.training:
            return mu
        return mu + (0.5 * logvar).exp() * randn_like(mu, generator=self.generator)

    def decode(self, z: Tensor) -> Tensor:
        """The pixel logits of p(x | z), (N, in_features); ``sigmoid`` gives the pixel means."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    def loss(self, output: tuple[Tensor, Tensor, Tensor], x: Tensor) -> Tensor:
        """-ELBO per sample, averaged over the batch: summed pixel BCE + beta * KL (see the class docstring)."""
        logits, mu, logvar = output
        x = x.reshape(x.shape[0], -1) if x.ndim > 2 else x
        n = x.shape[0]
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
        return reconstruction + self.beta * self.kl_divergence(mu, logvar)

    @staticmethod
    def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
        """KL(N(mu, exp(logvar)) || N(0, I)) = -1/2 sum(1 + logvar - mu^2 - exp(logvar)), averaged over the batch."""
        return -0.5 * (1.0 + logvar - mu * mu - logvar.exp()).sum() / mu.shape[0]

    def sample(self, n: int, generator: Generator | None = None) -> Tensor:
        """n new inputs: z ~ N(0, I), x = sigmoid(decode(z)) (pixel means), (n, in_features), no gradient."""
        positive_int(n, "n", "VAE.sample")
        weight = self.mu.weight
        with no_grad():
            z = randn(
                n, self.latent_dim, generator=generator, dtype=weight.dtype, device=weight.device
            )
            return self.decode(z).sigmoid()

    def reconstruct(self, x: Tensor) -> Tensor:
        """sigmoid(decode(mu(x))): the reconstruction from the most likely code, without gradient."""
        with no_grad():
            mu, _ = self.encode(x)
            return self.decode(mu).sigmoid()

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.hidden} -> z {self.latent_dim}, beta={self.beta}"


__all__ = ["VAE"]
