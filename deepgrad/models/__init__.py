"""Reference models of the seeds, ready to train.

- ``MLP`` and ``mnist_mlp()`` (seed 004's 784-1000-500-100-10 classifier);
- ``LeNet5`` and ``ConvNet`` for 28x28 digits;
- ``ResNet`` (residual, or ``plain=True`` without shortcuts) for 28x28 digits;
- ``Ensemble``: a committee that averages its members' class probabilities;
- autoencoders (seeds 001 and 003): ``Autoencoder`` (tied weights), ``StackedAutoencoder``
  (greedy layer-wise pre-training), ``DenoisingAutoencoder``, ``SparseAutoencoder``;
- generative models: ``VAE``, ``GAN`` and ``DCGAN`` (trained by ``GANTrainer``);
- autoregressive models: ``PixelCNN`` (binary images) and ``WaveNet`` (sequences);
- recurrent models: ``SequenceClassifier`` and ``CharLM`` (RNN, LSTM or GRU);
- ``make_activation`` / ``initialize``: activations by name and the initialization schemes of
  the labs (zeros, N(0, 1/n), Xavier, Kaiming);
- the model zoo (``zoo``): ``list()`` names the pretrained models, ``get(name)`` builds one with
  its weights, each recorded with the recipe, settings, data and test metric that made it.

The recipes behind the ``deepgrad`` command, and ``train_recipe``, live one layer up, in
``deepgrad.experiments``.
"""

from __future__ import annotations

from deepgrad.models.autoencoder import (
    Autoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
    StackedAutoencoder,
)
from deepgrad.models.cnn import ConvNet, LeNet5
from deepgrad.models.common import ACTIVATIONS, INITS, initialize, make_activation
from deepgrad.models.ensemble import Ensemble
from deepgrad.models.gan import DCGAN, GAN, GANTrainer
from deepgrad.models.mlp import MLP, mnist_mlp
from deepgrad.models.pixelcnn import PixelCNN
from deepgrad.models.resnet import ResNet
from deepgrad.models.sequence import CharLM, SequenceClassifier
from deepgrad.models.vae import VAE
from deepgrad.models.wavenet import WaveNet
from deepgrad.models.zoo import get
from deepgrad.models.zoo import list_models as list

__all__ = [
    "ACTIVATIONS",
    "DCGAN",
    "GAN",
    "INITS",
    "MLP",
    "VAE",
    "Autoencoder",
    "CharLM",
    "ConvNet",
    "DenoisingAutoencoder",
    "Ensemble",
    "GANTrainer",
    "LeNet5",
    "PixelCNN",
    "ResNet",
    "SequenceClassifier",
    "SparseAutoencoder",
    "StackedAutoencoder",
    "WaveNet",
    "get",
    "initialize",
    "list",
    "make_activation",
    "mnist_mlp",
]

# the experiment runner moved to deepgrad.experiments; models may not import it (it sits above them)
_MOVED = ("RECIPES", "get_recipe", "train_recipe")


def __getattr__(name: str):
    """Say where the runner's names went (``deepgrad.models.train_recipe`` -> ``experiments``)."""
    if name in _MOVED:
        raise AttributeError(
            f"deepgrad.models.{name} moved to deepgrad.experiments.{name}; "
            f"use `from deepgrad.experiments import {name}`."
        )
    raise AttributeError(f"module 'deepgrad.models' has no attribute {name!r}")
