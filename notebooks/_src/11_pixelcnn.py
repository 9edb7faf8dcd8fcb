# Source of notebooks/11_pixelcnn.ipynb (python notebooks/_build.py writes the notebook).

# %% [markdown]
# # Lab 11 — Autoregressive models: PixelCNN
#
# Deck 003 lists a third family of generative models besides the VAE and the GAN: the
# *autoregressive* models (Deep NADE, PixelRNN, PixelCNN, WaveNet). They need no latent code.
# The chain rule of probability writes the likelihood of an image $x = (x_1, \dots, x_D)$, its
# pixels taken in raster order (row by row, left to right), as a product of one-pixel
# conditionals:
#
# $$p(x) = \prod_{i=1}^{D} p(x_i \mid x_1, \dots, x_{i-1}).$$
#
# For black-and-white images each factor is a Bernoulli,
# $p(x_i = 1 \mid x_{<i}) = \sigma(\ell_i(x_{<i}))$, and $-\log p(x)$ is the summed binary
# cross-entropy of the logits $\ell_i$ against the image itself: an **exact** likelihood, in
# nats per image, that we can train on and report on test images.
#
# **PixelCNN** (van den Oord et al., 2016) computes all $D$ logits in one pass of a
# convolutional network whose kernels are *masked* so that logit $i$ never sees pixel $i$ or a
# later one (`nn.MaskedConv2d`). Generating is slower: one pass per pixel, each pixel drawn from
# its Bernoulli before the next is computed.

# %%
import os
import sys
import time
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
from deepgrad.models import VAE, Autoencoder, PixelCNN
from deepgrad.nn.masked_conv import causal_mask
from deepgrad.train import Trainer

# %% [markdown]
# The digits shipped with deepgrad, **binarized at 0.5**: a pixel is 1 where its gray level is
# above one half. (The `deepgrad train pixelcnn` recipe uses the same data.)

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the notice that the shipped digit subset is used
    x_train = MNIST(root=None, train=True).arrays()[0].reshape(-1, 1, 28, 28)
    x_test = MNIST(root=None, train=False).arrays()[0].reshape(-1, 1, 28, 28)
x_train = (x_train > 0.5).astype(np.float32)
x_test = (x_test > 0.5).astype(np.float32)
if SMALL:
    x_train, x_test = x_train[::8], x_test[::5]
print(f"{len(x_train)} training and {len(x_test)} test images, pixels 0 or 1")


def show_grid(images, rows, cols, title=None, size=0.7):
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size), squeeze=False)
    for ax, image in zip(axes.flat, images):
        ax.imshow(np.asarray(image).reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    plt.show()


show_grid(x_train[:16], 1, 16)

# %% [markdown]
# ## 1. Masked convolutions
#
# A mask multiplies the kernel before every convolution. Type **A** keeps the taps above the
# centre and to its left: the first layer, so that a pixel does not see its own value. Type
# **B** also keeps the centre: the layers after it, whose input at a pixel already depends only
# on the pixels before it.

# %%
fig, axes = plt.subplots(1, 2, figsize=(5, 2.4))
for ax, (size, kind) in zip(axes, [((7, 7), "A"), ((3, 3), "B")]):
    ax.imshow(causal_mask(size, kind).numpy(), cmap="Greys", vmin=0, vmax=1.4)
    ax.set_title(f"type {kind}, {size[0]}x{size[1]}")
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %% [markdown]
# **What one logit sees**, asked of autograd: the gradient of the logit of the centre pixel
# with respect to every input pixel is non-zero exactly where the logit depends on the input.
# Everything at and after the centre is zero, as the factorization demands. The wedge of zeros
# above and to the right of the centre is the *blind spot* of stacked masked kernels: pixels the
# model is allowed to use but cannot reach (the gated PixelCNN of 2016 removes it with two
# stacks of convolutions).

# %%
dg.manual_seed(0)
probe = PixelCNN(channels=16, blocks=5).double()
x_probe = dg.tensor(x_train[:1].astype(np.float64), requires_grad=True)
probe(x_probe)[0, 0, 14, 14].backward()
seen = np.abs(x_probe.grad.numpy()[0, 0]) > 0
order = np.arange(784).reshape(28, 28)
print("pixels the centre logit depends on:", int(seen.sum()))
print("any at or after the centre?", bool(seen[order >= 14 * 28 + 14].any()))
fig, ax = plt.subplots(figsize=(3, 3))
ax.imshow(seen, cmap="Blues")
ax.plot(14, 14, "rs", markersize=5)
ax.set_title("inputs seen by logit (14, 14)")
ax.set_xticks([])
ax.set_yticks([])
plt.show()

# %% [markdown]
# ## 2. Training a PixelCNN
#
# `deepgrad.models.PixelCNN`: a 7x7 type-A layer, five residual blocks with masked 3x3 type-B
# convolutions inside, then two 1x1 convolutions to one logit per pixel. `model.loss` is
# $-\log p(x)$ per image; `model.nll(x)` gives it image by image.

# %%
dg.manual_seed(0)
pixelcnn = PixelCNN(channels=16 if SMALL else 64, blocks=2 if SMALL else 5, block="residual")
loader = DataLoader(
    TensorDataset(x_train, x_train),
    batch_size=64,
    shuffle=True,
    generator=dg.Generator().manual_seed(0),
)
optimizer = dg.optim.Adam(pixelcnn.parameters(), lr=1e-3)
trainer = Trainer(pixelcnn, pixelcnn.loss, optimizer, progress=False)
started = time.perf_counter()
history = trainer.fit(loader, epochs=1 if SMALL else 4)
print(f"trained in {time.perf_counter() - started:.0f} s")
print("-log p(x) per training image, by epoch:", [round(r["loss"], 1) for r in history.epochs])
pixelcnn_nll = float(pixelcnn.nll(dg.tensor(x_test)).mean())
print(f"PixelCNN test NLL: {pixelcnn_nll:.1f} nats per image")

# %% [markdown]
# ## 3. Samples, pixel by pixel
#
# `pixelcnn.sample(n)` starts from a blank image and fills it in raster order: for every pixel it
# runs the network (on the window of pixels that pixel can see), draws the pixel from its
# Bernoulli, and moves on. 784 passes for a 28x28 image.

# %%
started = time.perf_counter()
samples = pixelcnn.sample(8 if SMALL else 32, generator=dg.Generator().manual_seed(1))
print(f"{len(samples)} samples in {time.perf_counter() - started:.0f} s")
show_grid(samples.numpy(), 1 if SMALL else 2, 8 if SMALL else 16, title="PixelCNN samples")

# %% [markdown]
# ## 4. Against an autoencoder (and a VAE)
#
# A plain MLP autoencoder compresses a digit into a code and decodes Bernoulli pixel
# probabilities from it; its **reconstruction NLL** is the same summed binary cross-entropy,
# $-\log p(x \mid \text{code}(x))$, on the same test images. We train one-hidden-layer
# autoencoders (ReLU code, untied weights) with codes of several sizes, and, for a number that
# *is* a bound on $-\log p(x)$, a VAE (its negative ELBO, averaged over draws of the code).
# A model of independent pixels (each pixel's frequency in the training set) is the floor any
# model should beat.


# %%
def reconstruction_nll(model, x):
    """Summed pixel BCE of the autoencoder's reconstruction, nats per image."""
    with dg.no_grad():
        p = model(dg.tensor(x)).numpy().astype(np.float64).clip(1e-7, 1 - 1e-7)
    flat = x.reshape(len(x), -1)
    return float(-(flat * np.log(p) + (1 - flat) * np.log(1 - p)).sum(axis=1).mean())


flat_train = x_train.reshape(len(x_train), -1)
ae_epochs = 2 if SMALL else 20
results = {}
for code in (2, 8, 32) if SMALL else (2, 8, 16, 32, 64):
    dg.manual_seed(0)
    ae = Autoencoder(784, code, activation="relu", tied=False, loss="bce")
    ae_trainer = Trainer(ae, ae.loss, dg.optim.Adam(ae.parameters(), lr=2e-3), progress=False)
    ae_trainer.fit(
        DataLoader(TensorDataset(flat_train, flat_train), batch_size=64, shuffle=True),
        epochs=ae_epochs,
    )
    results[f"autoencoder, code {code}"] = reconstruction_nll(ae, x_test)

dg.manual_seed(0)
vae = VAE(784, hidden=256, latent_dim=16)
Trainer(vae, vae.loss, dg.optim.Adam(vae.parameters(), lr=1e-3), progress=False).fit(
    DataLoader(TensorDataset(flat_train, flat_train), batch_size=64, shuffle=True),
    epochs=ae_epochs,
)
vae.train()  # the bound needs sampled codes, not the mean code of eval mode
with dg.no_grad():
    flat_test = dg.tensor(x_test.reshape(len(x_test), -1))
    results["VAE, -ELBO (a bound)"] = float(
        np.mean([float(vae.loss(vae(flat_test), flat_test)) for _ in range(5)])
    )
mean = flat_train.mean(axis=0).clip(1e-3, 1 - 1e-3)
flat = x_test.reshape(len(x_test), -1)
results["independent pixels"] = float(
    -(flat * np.log(mean) + (1 - flat) * np.log(1 - mean)).sum(axis=1).mean()
)
results["PixelCNN, -log p(x)"] = pixelcnn_nll
for name, value in sorted(results.items(), key=lambda item: item[1]):
    print(f"{name:28s} {value:7.1f} nats per image")

# %%
names = sorted(results, key=results.get)
fig, ax = plt.subplots(figsize=(7, 3.2))
colors = ["tab:red" if n.startswith("PixelCNN") else "tab:gray" for n in names]
ax.barh(names, [results[n] for n in names], color=colors)
ax.invert_yaxis()
ax.set_xlabel("test NLL, nats per image (lower is better)")
plt.show()
for name, value in results.items():
    if name.startswith("autoencoder"):
        verdict = "below" if pixelcnn_nll < value else "NOT below"
        print(f"PixelCNN ({pixelcnn_nll:.1f}) is {verdict} the {name} ({value:.1f})")

# %% [markdown]
# **Reading the comparison.** The PixelCNN and the VAE score the image itself; the autoencoder
# scores the image *given a code computed from that very image*. Its number therefore falls as
# the code grows (with 784 code units it could copy the input and reach 0), and it is not a
# likelihood: the autoencoder cannot generate a new digit, since nothing tells it which codes
# are digits. A small code leaves most of the digit to guess and the PixelCNN, which sees every
# pixel before the one it predicts, does better; a large code can beat it, for the price of
# transmitting the code, which the reconstruction NLL does not count (the VAE's KL term does).
