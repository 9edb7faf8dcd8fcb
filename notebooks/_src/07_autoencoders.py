# Source of notebooks/07_autoencoders.ipynb (python notebooks/_build.py writes the notebook).

# %% [markdown]
# # Lab 7 — Autoencoders: tied weights and denoising
#
# An autoencoder is "a neural network where the input is the same as the output": an
# **encoder** compresses the input $x$ into a code $h$, a **decoder** rebuilds $\hat{x}$ from the
# code alone, and training minimizes the reconstruction error. No labels are needed.
#
# $$h = \sigma(W x + b), \qquad \hat{x} = \sigma(W^\top h + b')$$
#
# With **tied weights** (as in the lecture) the decoder uses the transpose of the encoder's
# matrix $W$: half the parameters, and each code unit $j$ has one *feature* $W_j$, a 784-pixel
# pattern used both to detect and to redraw.
#
# A **denoising** autoencoder (Vincent et al., 2008) is fed a corrupted copy of the input and must
# reconstruct the *clean* one: it cannot just copy pixels, it has to learn what digits look like.

# %%
import os
import sys
import warnings

SMALL = os.environ.get("DEEPGRAD_NOTEBOOK_SMALL") == "1"  # set by CI: fewer epochs, fewer images

import matplotlib.pyplot as plt
import numpy as np

try:
    import deepgrad as dg
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, os.path.abspath(".."))
    import deepgrad as dg
from deepgrad.data import MNIST, DataLoader, TensorDataset
from deepgrad.models import Autoencoder, DenoisingAutoencoder
from deepgrad.train import Trainer

# %% [markdown]
# ## 1. Data: the images are their own targets

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the notice that the shipped 5 000-digit subset is used
    x_train, _ = MNIST(root=None, train=True, flatten=True).arrays()
    x_test, y_test = MNIST(root=None, train=False, flatten=True).arrays()
if SMALL:
    x_train = x_train[::4]
train_loader = DataLoader(TensorDataset(x_train, x_train), batch_size=64, shuffle=True)
epochs = 2 if SMALL else 20
print(f"{len(x_train)} training images of {x_train.shape[1]} pixels")


def train(model):
    """Minimize the model's reconstruction error (model.loss) with Adam."""
    trainer = Trainer(model, model.loss, dg.optim.Adam(model.parameters(), lr=3e-3), progress=False)
    history = trainer.fit(train_loader, epochs=epochs)
    model.eval()
    return history


def reconstruct(model, x):
    with dg.no_grad():
        return model(dg.tensor(x.astype(np.float32))).numpy()


def show_rows(rows, labels, count=10):
    """One row of digits per entry of rows."""
    _, axes = plt.subplots(len(rows), count, figsize=(count * 0.9, len(rows) * 1.0))
    for r, (images, label) in enumerate(zip(rows, labels)):
        for c in range(count):
            axes[r, c].imshow(images[c].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    plt.show()


# one test digit of each class
examples = x_test[[int(np.flatnonzero(y_test == d)[0]) for d in range(10)]]

# %% [markdown]
# ## 2. A tied-weights autoencoder: 784 → 64 → 784
#
# `deepgrad.models.Autoencoder` with its defaults: tied weights (`nn.TiedLinear` reuses the
# encoder's weight, transposed), sigmoid code and output, mean squared error. The code is 12
# times smaller than the image.

# %%
dg.manual_seed(0)
autoencoder = Autoencoder(784, code_size=64, tied=True)
print(autoencoder)
print(
    "decoder weight is the encoder weight:",
    autoencoder.decoder.weight is autoencoder.encoder.weight,
)
print("parameters:", sum(p.numel() for p in autoencoder.parameters()))
history = train(autoencoder)
print(
    f"reconstruction error (MSE per pixel): {history.epochs[0]['loss']:.4f} after epoch 1, "
    f"{history.epochs[-1]['loss']:.4f} after epoch {len(history.epochs)}"
)

# %%
show_rows([examples, reconstruct(autoencoder, examples)], ["input", "reconstruction"])

# %% [markdown]
# The reconstructions are blurry but every digit is recognizable: 64 numbers are enough to
# describe it. What are the 64 features? Each row $W_j$ of the tied weight, drawn as an image
# (red: positive weights, blue: negative). They are pieces of strokes: the code says how much of
# each piece the digit contains.

# %%
features = autoencoder.encoder.weight.detach().numpy()
fig, axes = plt.subplots(4, 16, figsize=(13, 3.5))
for ax, feature in zip(axes.flat, features):
    limit = np.abs(feature).max()
    ax.imshow(feature.reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 3. Denoising
#
# Now a wider code (256 units): with so much room, a plain autoencoder can learn to copy its
# input almost pixel by pixel, noise included. We train two of them:
#
# * a plain `Autoencoder(784, 256)`;
# * a `DenoisingAutoencoder(784, 256, corruption="mask", noise=0.5)`: during training, half of
#   the input pixels (at random) are set to 0 before encoding, and the loss compares the output
#   with the clean image.
#
# Then we feed both test digits with half of their pixels erased.

# %%
models = {}
for name, make in [
    ("plain", lambda: Autoencoder(784, code_size=256)),
    ("denoising", lambda: DenoisingAutoencoder(784, code_size=256, corruption="mask", noise=0.5)),
]:
    dg.manual_seed(0)
    models[name] = make()
    history = train(models[name])
    print(f"{name:9s} training loss {history.epochs[-1]['loss']:.4f}")

rng = np.random.default_rng(0)
masked = examples * (rng.random(examples.shape) >= 0.5)
show_rows(
    [
        examples,
        masked,
        reconstruct(models["plain"], masked),
        reconstruct(models["denoising"], masked),
    ],
    ["clean", "50% erased", "plain AE", "denoising AE"],
)

# %% [markdown]
# The plain autoencoder reproduces the holes; the denoising one fills them in. Over the whole
# test set, for increasing amounts of erased pixels:

# %%
levels = [0.0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75]
fig, ax = plt.subplots(figsize=(6, 3.6))
for name, model in models.items():
    errors = []
    for level in levels:
        corrupted = x_test * (rng.random(x_test.shape) >= level)
        errors.append(np.mean((reconstruct(model, corrupted) - x_test) ** 2))
    ax.plot(levels, errors, "o-", label=f"{name} autoencoder")
ax.set_xlabel("fraction of input pixels erased")
ax.set_ylabel("error w.r.t. the clean image (MSE)")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# The price: on clean inputs the denoising autoencoder is a little worse (it never saw an
# uncorrupted image while training, and it prefers smooth, typical digits). On damaged inputs
# it is much better: it has learned what digits look like rather than how to copy pixels.
#
# ## Exercises
#
# 1. Make the code of the tied autoencoder smaller (16, then 4 units). When do the digits become
#    unrecognizable?
# 2. Train an untied autoencoder (`tied=False`). Is it better? How many parameters does it have?
# 3. Try `corruption="gaussian"` with `noise=0.5`, and test on Gaussian noise.
# 4. `deepgrad.models.StackedAutoencoder` trains a deep autoencoder layer by layer (each layer
#    on the codes of the one below), as in the lecture's "deep autoencoder", then fine-tunes it.
#    `deepgrad.models.SparseAutoencoder` adds a penalty that keeps most code units off.
