"""Reference models of the seeds, ready to train, and the recipes behind the ``deepgrad`` command.

- ``MLP`` and ``mnist_mlp()`` (seed 004's 784-1000-500-100-10 classifier);
- ``LeNet5`` and ``ConvNet`` for 28x28 digits;
- autoencoders (seeds 001 and 003): ``Autoencoder`` (tied weights), ``StackedAutoencoder``
  (greedy layer-wise pre-training), ``DenoisingAutoencoder``, ``SparseAutoencoder``;
- generative models: ``VAE``, ``GAN`` and ``DCGAN`` (trained by ``GANTrainer``);
- recurrent models: ``SequenceClassifier`` and ``CharLM`` (RNN, LSTM or GRU);
- ``make_activation`` / ``initialize``: activations by name and the initialization schemes of
  the labs (zeros, N(0, 1/n), Xavier, Kaiming);
- ``recipes``: what ``deepgrad train RECIPE`` builds (data, model, loss, optimizer, metrics);
  ``train_recipe("mnist-mlp", epochs=5)`` runs one from Python, as the command does.
"""

from deepgrad.models.autoencoder import Autoencoder, DenoisingAutoencoder, SparseAutoencoder, StackedAutoencoder
from deepgrad.models.cnn import ConvNet, LeNet5
from deepgrad.models.common import ACTIVATIONS, INITS, initialize, make_activation
from deepgrad.models.gan import DCGAN, GAN, GANTrainer
from deepgrad.models.mlp import MLP, mnist_mlp
from deepgrad.models.recipes import RECIPES, get_recipe
from deepgrad.models.runs import train_recipe
from deepgrad.models.sequence import CharLM, SequenceClassifier
from deepgrad.models.vae import VAE

__all__ = [
    "ACTIVATIONS",
    "DCGAN",
    "GAN",
    "INITS",
    "MLP",
    "RECIPES",
    "VAE",
    "Autoencoder",
    "CharLM",
    "ConvNet",
    "DenoisingAutoencoder",
    "GANTrainer",
    "LeNet5",
    "SequenceClassifier",
    "SparseAutoencoder",
    "StackedAutoencoder",
    "get_recipe",
    "initialize",
    "make_activation",
    "mnist_mlp",
    "train_recipe",
]
