"""Autoencoders of seeds 001 and 003: tied weights, stacked with greedy layer-wise pre-training,
denoising and sparse.

An autoencoder compresses its input x into a code h and reconstructs x from h alone::

    h = act(x @ W.T + b)          (encoder)
    x_hat = out(h @ W + b')        (decoder; tied: the encoder's W, transposed)

and is trained to make x_hat close to x. Every model here has ``loss(x_hat, x)`` (the
reconstruction error, plus the sparsity penalty for ``SparseAutoencoder``), so training is
``Trainer(model, model.loss, optimizer)`` on batches ``(x, x)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise

from deepgrad import nn
from deepgrad.autograd import Tensor, no_grad
from deepgrad.backend.random import Generator
from deepgrad.backend.validation import (
    in_interval,
    int_at_least,
    non_negative_float,
    one_of,
    positive_int,
    probability,
)
from deepgrad.models.common import check_activation, check_init, initialize, make_activation
from deepgrad.nn import functional as F
from deepgrad.ops.creation import bernoulli, full_like, randn_like

LOSSES = ("mse", "bce")
OUTPUTS = ("sigmoid", "identity")
CORRUPTIONS = ("mask", "gaussian")


def _flat(x: Tensor) -> Tensor:
    return x.reshape(x.shape[0], -1) if x.ndim > 2 else x


class Autoencoder(nn.Module):
    """One-hidden-layer autoencoder, with tied weights by default (seed 001).

    h = act(x @ W.T + b),   x_hat = out(h @ W + b')   (untied: a second matrix W' in place of W.T)

    Args:
        in_features: size of the input (images are flattened). Default: 784.
        code_size: size of the code h. Default: 64.
        activation: the encoder's activation (a name from ``models.ACTIVATIONS``). Default: "sigmoid".
        output: the decoder's output: "sigmoid" (inputs in [0, 1], e.g. pixels), "identity"
            (any real inputs) or an activation name. Default: "sigmoid".
        tied: share the encoder's weight matrix with the decoder (``nn.TiedLinear``). Default: True.
        loss: reconstruction error of ``loss``: "mse" (mean squared error per element) or "bce"
            (binary cross-entropy per element, for inputs in [0, 1]). Default: "mse".
        init: weight initialization (see ``models.initialize``). Default: "xavier".

    Shape:
        x: (N, in_features) or (N, *) with prod(*) = in_features -> x_hat: (N, in_features); code (N, code_size).

    Example:
        >>> import deepgrad as dg
        >>> ae = Autoencoder(784, 32)
        >>> x = dg.rand(8, 784)
        >>> ae(x).shape, ae.encode(x).shape, ae.decoder.weight is ae.encoder.weight
        ((8, 784), (8, 32), True)
    """

    def __init__(
        self,
        in_features: int = 784,
        code_size: int = 64,
        activation: str = "sigmoid",
        output: str = "sigmoid",
        tied: bool = True,
        loss: str = "mse",
        init: str = "xavier",
    ) -> None:
        super().__init__()
        name = type(self).__name__
        positive_int(in_features, "in_features", name)
        positive_int(code_size, "code_size", name)
        check_activation(name, activation)
        if output != "identity":
            check_activation(name, output)
        fix = "'mse' for any inputs, 'bce' for inputs in [0, 1] with a sigmoid output"
        one_of(loss, LOSSES, "loss", name, fix=fix)
        check_init(name, init)
        self.in_features, self.code_size = in_features, code_size
        self.activation_name, self.output_name, self.tied, self.loss_name = (
            activation,
            output,
            bool(tied),
            loss,
        )
        self.encoder = nn.Linear(in_features, code_size)
        self.activation = make_activation(activation, code_size)
        self.decoder = nn.TiedLinear(self.encoder) if tied else nn.Linear(code_size, in_features)
        self.output = (
            nn.Identity() if output == "identity" else make_activation(output, in_features)
        )
        initialize(self, init, activation)

    def encode(self, x: Tensor) -> Tensor:
        """The code h = act(x @ W.T + b), (N, code_size)."""
        return self.activation(self.encoder(_flat(x)))

    def decode(self, h: Tensor) -> Tensor:
        """The reconstruction out(h @ W + b'), (N, in_features)."""
        return self.output(self.decoder(h))

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def reconstruction_loss(self, x_hat: Tensor, x: Tensor) -> Tensor:
        """Mean over elements of (x_hat - x)^2 ("mse") or of -[x log x_hat + (1 - x) log(1 - x_hat)] ("bce")."""
        x = _flat(x)
        if self.loss_name == "mse":
            return F.mse_loss(x_hat, x)
        return F.binary_cross_entropy(x_hat, x)

    def loss(self, x_hat: Tensor, x: Tensor) -> Tensor:
        """The training objective for ``Trainer(model, model.loss, ...)``: the reconstruction error."""
        return self.reconstruction_loss(x_hat, x)

    def extra_repr(self) -> str:
        return (
            f"{self.in_features} -> {self.code_size}, activation={self.activation_name!r}, "
            f"output={self.output_name!r}, tied={self.tied}, loss={self.loss_name!r}"
        )


class DenoisingAutoencoder(Autoencoder):
    """An autoencoder that reconstructs the clean input from a corrupted copy (Vincent et al., 2008).

    In training mode the input is corrupted before encoding; the loss still compares x_hat with the
    clean x. In eval mode the input is used as is.

    - "mask": each input element is set to 0 with probability ``noise``: x~ = x * m, m ~ Bernoulli(1 - noise);
    - "gaussian": x~ = x + noise * e, e ~ N(0, 1).

    Args:
        in_features, code_size, activation, output, tied, loss, init: as in ``Autoencoder``.
        corruption: "mask" or "gaussian". Default: "mask".
        noise: the masking probability, or the Gaussian noise's standard deviation. Default: 0.3.
        generator: source of the corruption noise. Default: deepgrad's default generator.

    Example:
        >>> import deepgrad as dg
        >>> dae = DenoisingAutoencoder(16, 4, noise=0.5)
        >>> dae.corrupt(dg.ones(2, 16)).sum().item() < 32
        True
    """

    def __init__(
        self,
        in_features: int = 784,
        code_size: int = 64,
        activation: str = "sigmoid",
        output: str = "sigmoid",
        tied: bool = True,
        loss: str = "mse",
        init: str = "xavier",
        corruption: str = "mask",
        noise: float = 0.3,
        generator: Generator | None = None,
    ) -> None:
        super().__init__(in_features, code_size, activation, output, tied, loss, init)
        name = "DenoisingAutoencoder"
        one_of(corruption, CORRUPTIONS, "corruption", name)
        if corruption == "mask":
            fix = "with corruption='mask' it is the probability of zeroing each input"
            probability(noise, "noise", name, fix=fix)
        else:
            non_negative_float(noise, "noise", name, fix="it is the Gaussian noise's std")
        self.corruption, self.noise, self.generator = corruption, float(noise), generator

    def corrupt(self, x: Tensor) -> Tensor:
        """The corrupted input x~ (a new tensor; no gradient flows into the noise)."""
        x = _flat(x)
        if self.noise == 0:
            return x
        if self.corruption == "mask":
            return x * bernoulli(full_like(x, 1.0 - self.noise), generator=self.generator)
        return x + self.noise * randn_like(x, generator=self.generator)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(self.corrupt(x) if self.training else x))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", corruption={self.corruption!r}, noise={self.noise}"


class SparseAutoencoder(Autoencoder):
    """An autoencoder whose hidden units are mostly off: a KL-divergence penalty keeps each unit's mean
    activation near a small target rho (Ng, "Sparse autoencoder" lecture notes).

    rho_hat_j = mean over the batch of h_j,
    loss = reconstruction + beta * sum_j [rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j))]

    The penalty reads the code of the last forward pass (``last_code``), so call ``loss`` right
    after ``forward`` on the same batch (as the Trainer does).

    Args:
        in_features, code_size, output, tied, loss, init: as in ``Autoencoder``.
        activation: must be "sigmoid" (rho_hat must lie in (0, 1)). Default: "sigmoid".
        rho: the target mean activation, in (0, 1). Default: 0.05.
        beta: the weight of the sparsity penalty, >= 0. The penalty is added to the reconstruction
            error averaged over elements, not summed over a sample's in_features as in Ng's notes,
            so his beta = 3 corresponds to about 6 / in_features here (0.008 for MNIST). Default: 0.005.

    Example:
        >>> import deepgrad as dg
        >>> sae = SparseAutoencoder(16, 8, rho=0.1)
        >>> x = dg.rand(4, 16)
        >>> float(sae.loss(sae(x), x)) > float(sae.reconstruction_loss(sae(x), x))
        True
    """

    def __init__(
        self,
        in_features: int = 784,
        code_size: int = 64,
        activation: str = "sigmoid",
        output: str = "sigmoid",
        tied: bool = True,
        loss: str = "mse",
        init: str = "xavier",
        rho: float = 0.05,
        beta: float = 0.005,
    ) -> None:
        if activation != "sigmoid":
            raise ValueError(
                f"SparseAutoencoder: activation must be 'sigmoid' (got {activation!r}); the KL penalty needs mean "
                "activations in (0, 1)."
            )
        name = "SparseAutoencoder"
        fix = "it is the target mean activation of each code unit, e.g. 0.05"
        in_interval(rho, "rho", name, low=0, high=1, include_low=False, include_high=False, fix=fix)
        fix = "it weights the sparsity penalty; 0 turns it off"
        non_negative_float(beta, "beta", name, fix=fix)
        super().__init__(in_features, code_size, activation, output, tied, loss, init)
        self.rho, self.beta = float(rho), float(beta)
        self.last_code: Tensor | None = None

    def encode(self, x: Tensor) -> Tensor:
        h = super().encode(x)
        self.last_code = h
        return h

    def sparsity_penalty(self, code: Tensor | None = None) -> Tensor:
        """sum_j KL(rho || rho_hat_j) for a code (N, code_size); default: the last forward's code."""
        h = self.last_code if code is None else code
        if h is None:
            raise RuntimeError(
                "SparseAutoencoder.sparsity_penalty: no code yet; call the model on a batch first."
            )
        eps = 1e-6  # keeps the logs finite when a unit is always (or never) on in a batch
        rho_hat = h.mean(dim=0).clamp(eps, 1.0 - eps)
        rho = self.rho
        kl = rho * (rho / rho_hat).log() + (1.0 - rho) * ((1.0 - rho) / (1.0 - rho_hat)).log()
        return kl.sum()

    def loss(self, x_hat: Tensor, x: Tensor) -> Tensor:
        return self.reconstruction_loss(x_hat, x) + self.beta * self.sparsity_penalty()

    def extra_repr(self) -> str:
        return super().extra_repr() + f", rho={self.rho}, beta={self.beta}"


class StackedAutoencoder(nn.Module):
    """A deep autoencoder built from one-layer autoencoders, pre-trained greedily layer by layer (seed 001:
    "each layer trained by itself, higher layers build on top of lower layers, fine tuning in the end").

    encode: h_k = act(h_{k-1} @ W_k.T + b_k), k = 1..K;   decode: back through the decoders in reverse.

    ``pretrain(loader, epochs)`` trains layer k alone to reconstruct the codes of layer k - 1 (the
    input for k = 1), the layers below it frozen; afterwards ``Trainer(model, model.loss, ...)``
    fine-tunes the whole stack end to end, or ``classifier(num_classes)`` puts a softmax layer on
    the pre-trained encoder for supervised fine-tuning.

    Args:
        sizes: widths from the input to the innermost code, e.g. ``[784, 256, 64]`` (at least two).
        activation: the activation of every code. Default: "sigmoid".
        output: the first layer's output ("sigmoid" for pixels in [0, 1] or "identity"); the inner
            layers reconstruct codes and use ``activation``. Default: "sigmoid".
        tied: tied weights in every layer. Default: True.
        loss: "mse" or "bce" for the input's reconstruction (inner layers use "mse"). Default: "mse".
        noise: > 0 makes every layer a ``DenoisingAutoencoder`` with this masking probability
            (a stacked denoising autoencoder, Vincent et al., 2010). Default: 0.
        init: weight initialization. Default: "xavier".

    Attributes:
        layers: the ``ModuleList`` of the one-layer autoencoders, input side first.

    Example:
        >>> import deepgrad as dg
        >>> sae = StackedAutoencoder([784, 64, 16])
        >>> x = dg.rand(4, 784)
        >>> sae(x).shape, sae.encode(x).shape
        ((4, 784), (4, 16))
    """

    def __init__(
        self,
        sizes: Sequence[int] = (784, 256, 64),
        activation: str = "sigmoid",
        output: str = "sigmoid",
        tied: bool = True,
        loss: str = "mse",
        noise: float = 0.0,
        init: str = "xavier",
    ) -> None:
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2 or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes
        ):
            raise ValueError(
                f"StackedAutoencoder: sizes must list at least two positive ints (got {sizes!r})."
            )
        fix = "it is the probability of zeroing each layer's input; 0 trains plain autoencoders"
        probability(noise, "noise", "StackedAutoencoder", fix=fix)
        self.sizes, self.activation_name, self.noise = sizes, activation, float(noise)
        layers = []
        for k, (n_in, n_out) in enumerate(pairwise(sizes)):
            kwargs = {
                "activation": activation,
                "output": output if k == 0 else activation,
                "tied": tied,
                "loss": loss if k == 0 else "mse",
                "init": init,
            }
            if noise > 0:
                layers.append(
                    DenoisingAutoencoder(n_in, n_out, corruption="mask", noise=noise, **kwargs)
                )
            else:
                layers.append(Autoencoder(n_in, n_out, **kwargs))
        self.layers = nn.ModuleList(layers)

    def encode(self, x: Tensor, depth: int | None = None) -> Tensor:
        """The code after the first ``depth`` layers (default: all of them)."""
        h = _flat(x)
        for layer in list(self.layers)[: len(self.layers) if depth is None else depth]:
            h = layer.encode(h)
        return h

    def decode(self, h: Tensor) -> Tensor:
        """The reconstruction of an innermost code, back through the decoders: (N, sizes[-1]) ->
        (N, sizes[0]).
        """
        for layer in reversed(list(self.layers)):
            h = layer.decode(h)
        return h

    def forward(self, x: Tensor) -> Tensor:
        first = self.layers[0]
        x = _flat(x)
        if self.training and isinstance(first, DenoisingAutoencoder):
            x = first.corrupt(x)
        return self.decode(self.encode(x))

    def loss(self, x_hat: Tensor, x: Tensor) -> Tensor:
        """The end-to-end reconstruction error of the input (the first layer's loss)."""
        return self.layers[0].reconstruction_loss(x_hat, x)

    def pretrain(
        self,
        loader: Iterable,
        epochs: int = 1,
        lr: float = 1e-3,
        optimizer: str = "adam",
        progress: bool = False,
    ) -> list:
        """Greedy layer-wise pre-training: layer k learns to reconstruct the codes of layers 1..k-1.

        The lower layers are fixed (eval mode, no gradients) while layer k trains, with its own
        optimizer, for ``epochs`` passes over ``loader``.

        Args:
            loader: yields batches whose first element is the input x (``(x, y)`` or ``(x,)`` or ``x``).
            epochs: passes over the data per layer. Default: 1.
            lr: learning rate. Default: 1e-3.
            optimizer: "adam" or "sgd" (momentum 0.9). Default: "adam".
            progress: show a progress bar per layer. Default: False.

        Returns:
            One ``History`` per layer (``history["loss"]``: that layer's reconstruction error per epoch).
        """
        from deepgrad.optim import SGD, Adam
        from deepgrad.train import Trainer

        positive_int(epochs, "epochs", "StackedAutoencoder.pretrain")
        one_of(optimizer, ("adam", "sgd"), "optimizer", "StackedAutoencoder.pretrain")
        histories = []
        was_training = self.training
        for k, layer in enumerate(self.layers):
            for lower in list(self.layers)[:k]:
                lower.eval()
            params = list(layer.parameters())
            opt = Adam(params, lr=lr) if optimizer == "adam" else SGD(params, lr=lr, momentum=0.9)
            trainer = Trainer(layer, layer.loss, opt, progress=progress)
            histories.append(trainer.fit(_CodeLoader(self, loader, k), epochs=epochs))
        self.train(was_training)
        return histories

    def classifier(self, num_classes: int) -> nn.Sequential:
        """The pre-trained encoder (shared, not copied) followed by a new Linear layer giving class scores."""
        int_at_least(num_classes, 2, "num_classes", "StackedAutoencoder.classifier")
        modules: list[nn.Module] = [nn.Flatten()]
        for layer in self.layers:
            modules += [layer.encoder, layer.activation]
        modules.append(nn.Linear(self.sizes[-1], num_classes))
        return nn.Sequential(*modules)

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, activation={self.activation_name!r}, noise={self.noise}"


class _CodeLoader:
    """Batches (h, h) with h the input's code after the first ``depth`` layers (computed without gradients)."""

    def __init__(self, model: StackedAutoencoder, loader: Iterable, depth: int) -> None:
        self.model, self.loader, self.depth = model, loader, depth

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            x = batch if isinstance(batch, Tensor) else batch[0]
            with no_grad():
                h = self.model.encode(x, self.depth)
            yield h, h


__all__ = ["Autoencoder", "DenoisingAutoencoder", "SparseAutoencoder", "StackedAutoencoder"]
