"""Recipes: the data, model, loss, optimizer and metrics behind ``deepgrad train RECIPE``.

``RECIPES`` maps each name the command accepts to its ``Recipe`` (see ``base`` for the class):

- ``mnist``: the MNIST splits every digit recipe shares, ``mnist-mlp`` and ``mnist-cnn``;
- ``deep``: ``mnist-resnet`` (a residual network) and ``mnist-deep-mlp`` (deck 001's 6-layer MLP);
- ``generative``: ``autoencoder``, ``stacked-autoencoder``, ``vae`` and ``gan``;
- ``text``: ``char-rnn``, a character-level language model;
- ``moons``: ``moons``, a two-dimensional toy problem that trains in seconds;
- ``rl``: ``cartpole-reinforce`` and ``cartpole-dqn``, reinforcement learning on CartPole-v1.
- ``autoregressive``: ``pixelcnn``, a PixelCNN of binarized MNIST digits.
"""

from __future__ import annotations

from deepgrad.experiments.config import GENERIC, RecipeError
from deepgrad.experiments.recipes.autoregressive import PixelCNNRecipe
from deepgrad.experiments.recipes.base import DEVICES, Recipe, RecipeData
from deepgrad.experiments.recipes.deep import MnistDeepMLP, MnistResNet
from deepgrad.experiments.recipes.generative import (
    AutoencoderRecipe,
    GANRecipe,
    StackedAutoencoderRecipe,
    VAERecipe,
)
from deepgrad.experiments.recipes.mnist import MnistCNN, MnistMLP, mnist_data
from deepgrad.experiments.recipes.moons import MoonsRecipe
from deepgrad.experiments.recipes.rl import CartPoleDQN, CartPoleReinforce
from deepgrad.experiments.recipes.text import CharRNNRecipe

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        MnistMLP(),
        MnistCNN(),
        MnistResNet(),
        MnistDeepMLP(),
        AutoencoderRecipe(),
        StackedAutoencoderRecipe(),
        VAERecipe(),
        GANRecipe(),
        CharRNNRecipe(),
        MoonsRecipe(),
        CartPoleReinforce(),
        CartPoleDQN(),
        PixelCNNRecipe(),
    )
}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; RecipeError listing the recipes otherwise."""
    if name not in RECIPES:
        raise RecipeError(f"unknown recipe {name!r}; allowed: {', '.join(RECIPES)}.")
    return RECIPES[name]


__all__ = [
    "DEVICES",
    "GENERIC",
    "RECIPES",
    "AutoencoderRecipe",
    "CharRNNRecipe",
    "GANRecipe",
    "MnistCNN",
    "MnistDeepMLP",
    "MnistMLP",
    "MnistResNet",
    "MoonsRecipe",
    "PixelCNNRecipe",
    "Recipe",
    "RecipeData",
    "RecipeError",
    "StackedAutoencoderRecipe",
    "VAERecipe",
    "get_recipe",
    "mnist_data",
]
