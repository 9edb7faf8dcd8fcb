# Source of notebooks/08_vae_gan.ipynb (python notebooks/_build.py writes the notebook).

# %% [markdown]
# # Lab 8 — Generative models: a VAE and a GAN
#
# A generative model learns to produce **new** samples that look like the training data. The
# lecture names the two big families of latent variable models; we train a small one of each
# on MNIST digits.
#
# **Variational autoencoder (VAE)** (Kingma & Welling, 2014). The encoder does not output one
# code but a distribution over codes, $q(z \mid x) = \mathcal{N}(\mu(x), \sigma^2(x))$; the decoder
# turns a code $z$ back into an image. Training maximizes a lower bound on the data's likelihood
# (the ELBO), i.e. minimizes
#
# $$\underbrace{-\log p(x \mid z)}_{\text{reconstruction}} + \underbrace{\mathrm{KL}\big(q(z \mid x) \,\|\, \mathcal{N}(0, I)\big)}_{\text{keep codes close to } \mathcal{N}(0, I)}$$
#
# with $z = \mu + \sigma \odot \epsilon$, $\epsilon \sim \mathcal{N}(0, I)$ (the *reparameterization
# trick*: the randomness is an input, so gradients flow through $\mu$ and $\sigma$). To generate,
# draw $z \sim \mathcal{N}(0, I)$ and decode.
#
# **Generative adversarial network (GAN)** (Goodfellow et al., 2014). A generator $G$ turns
# noise into images; a discriminator $D$ tries to tell real images from generated ones. They
# are trained in turns, each against the other.

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
from deepgrad.models import DCGAN, VAE
from deepgrad.train import Trainer

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the notice that the shipped 5 000-digit subset is used
    train_set = MNIST(root=None, train=True)
    x_test, y_test = MNIST(root=None, train=False, flatten=True).arrays()
x_train = train_set.arrays()[0].reshape(len(train_set), -1)
if SMALL:
    x_train = x_train[::4]
print(f"{len(x_train)} training images")


def show_grid(images, rows, cols, title=None, size=0.7):
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size))
    for ax, image in zip(axes.flat, images):
        ax.imshow(np.asarray(image).reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    plt.show()


# %% [markdown]
# ## 1. A VAE with a 2-dimensional code
#
# `deepgrad.models.VAE`: encoder 784 → 256 → ($\mu$, $\log\sigma^2$), decoder 2 → 256 → 784.
# A code of only 2 numbers gives blurry digits, but it lets us *see* the whole code space.
# `vae.loss` is the negative ELBO per image (summed binary cross-entropy over the pixels plus
# the KL term).

# %%
dg.manual_seed(0)
vae = VAE(784, hidden=256, latent_dim=2)
print(vae)
trainer = Trainer(vae, vae.loss, dg.optim.Adam(vae.parameters(), lr=2e-3), progress=False)
history = trainer.fit(
    DataLoader(TensorDataset(x_train, x_train), batch_size=128, shuffle=True),
    epochs=3 if SMALL else 25,
)
vae.eval()
print(
    "-ELBO per image:",
    " ".join(f"{r['loss']:.1f}" for r in history.epochs[:: max(1, len(history.epochs) // 8)]),
)

# %% [markdown]
# **The code space.** Every test digit encoded to its mean code $\mu(x)$, coloured by its label.
# The VAE was never told the labels, yet similar digits land close together, and the KL term
# keeps the cloud near the origin, roughly like $\mathcal{N}(0, I)$.

# %%
with dg.no_grad():
    mu, _ = vae.encode(dg.tensor(x_test))
mu = mu.numpy()
fig, ax = plt.subplots(figsize=(6, 5))
points = ax.scatter(mu[:, 0], mu[:, 1], c=y_test, cmap="tab10", s=6)
fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
ax.set_xlabel("$z_1$")
ax.set_ylabel("$z_2$")
ax.set_title("test digits in the VAE's code space")
plt.show()

# %% [markdown]
# **Decoding a grid of codes.** Walk over a regular grid of $z$ (between -2 and 2 standard
# deviations) and decode each point: the digits morph smoothly into each other. Every point of
# the code space decodes to something digit-like: that is what makes the VAE *generative*.

# %%
grid = np.linspace(-2, 2, 12, dtype=np.float32)
codes = np.array([[z1, z2] for z2 in grid[::-1] for z1 in grid], dtype=np.float32)
with dg.no_grad():
    decoded = vae.decode(dg.tensor(codes)).sigmoid().numpy()
show_grid(decoded, 12, 12, size=0.55)

# %% [markdown]
# New digits, sampled from the prior: $z \sim \mathcal{N}(0, I)$, then decoded (`vae.sample`):

# %%
show_grid(vae.sample(32).numpy(), 2, 16)

# %% [markdown]
# ## 2. A small GAN
#
# `deepgrad.models.DCGAN`: a convolutional generator (noise 64 → 7×7 maps → upsampled twice
# with `ConvTranspose2d` → 28×28 image) and a convolutional discriminator (28×28 → 14×14 → 7×7 →
# one logit). One training step, `gan.train_step(real, optimizer)`, plays one round of the game:
#
# ```python
# fake = G(noise).detach()                                   # D's turn: G is fixed
# d_loss = bce(D(real), 1) + bce(D(fake), 0)                 # tell real from fake
# d_loss.backward(); optimizer.step()
# g_loss = bce(D(G(noise)), 1)                               # G's turn: D is fixed
# g_loss.backward(); optimizer.step()                        # fool D
# ```
#
# (`bce(D(G(z)), 1) = -log D(G(z))` is the *non-saturating* generator loss: it still gives G a
# strong gradient when D confidently rejects its samples.) The discriminator learns more slowly
# here (learning rate 1e-4 against 4e-4 for the generator), which keeps the game balanced on
# this small dataset.

# %%
dg.manual_seed(0)
gan = DCGAN(latent_dim=64, channels=16)
optimizer = dg.optim.Adam(gan.parameter_groups(lr=4e-4, d_lr=1e-4), betas=(0.5, 0.999))
loader = DataLoader(
    TensorDataset(x_train.reshape(-1, 1, 28, 28)), batch_size=64, shuffle=True, drop_last=True
)
fixed_noise = gan.noise(
    16, generator=dg.Generator().manual_seed(1)
)  # the same 16 codes at every snapshot

gan_epochs = 2 if SMALL else 20
snapshots, log = {}, []
for epoch in range(1, gan_epochs + 1):
    stats = [gan.train_step(real, optimizer) for (real,) in loader]
    log.append({key: np.mean([s[key] for s in stats]) for key in stats[0]})
    if epoch in (1, 2, 5, 10, gan_epochs):
        gan.generator.eval()
        with dg.no_grad():
            snapshots[epoch] = gan.generator(fixed_noise).numpy()
        gan.generator.train()
    if epoch % 5 == 0 or epoch == gan_epochs:
        print(
            f"epoch {epoch:2d}: D(real) = {log[-1]['d_real']:.2f}, D(fake) = {log[-1]['d_fake']:.2f}"
        )

# %% [markdown]
# **The game.** $D$'s average probability that a real image is real, and that a generated one is.
# At first $D$ wins easily; then $G$ catches up and both settle away from 0 and 1. Had
# $D(\text{fake})$ gone to 0 and stayed there, $D$ would have won and $G$ would get little to
# learn from; both at 0.5 would mean that $D$ can no longer tell real from generated (the
# theoretical end of the game, rarely reached).

# %%
fig, ax = plt.subplots(figsize=(6, 3.4))
ax.plot(range(1, gan_epochs + 1), [r["d_real"] for r in log], "o-", label="D(real image)")
ax.plot(range(1, gan_epochs + 1), [r["d_fake"] for r in log], "s-", label="D(generated image)")
ax.set_xlabel("epoch")
ax.set_ylabel("mean probability of 'real'")
ax.set_ylim(0, 1)
ax.xaxis.get_major_locator().set_params(integer=True)
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# **The same 16 noise vectors**, decoded by the generator as training goes on: from blobs to
# strokes to digit-like shapes.

# %%
fig, axes = plt.subplots(len(snapshots), 16, figsize=(11, 0.8 * len(snapshots)))
for row, (epoch, images) in enumerate(snapshots.items()):
    for col in range(16):
        axes[row, col].imshow(images[col, 0], cmap="gray_r", vmin=0, vmax=1)
        axes[row, col].set_xticks([])
        axes[row, col].set_yticks([])
    axes[row, 0].set_ylabel(f"epoch {epoch}", rotation=0, ha="right", va="center", fontsize=9)
plt.show()

# %%
show_grid(gan.sample(48).numpy(), 3, 16, title="GAN samples")

# %% [markdown]
# GAN samples are sharper than the VAE's (which average over the codes it cannot tell apart),
# but the GAN gives no code for a given image and no loss that says how good it is, and its
# training can fail in ways the VAE's cannot (one player winning, or the generator producing
# only a few kinds of digits: *mode collapse*). With 4 000 images and a few minutes of CPU,
# both are rough; with the full MNIST and longer training both improve a lot.
#
# ## Exercises
#
# 1. Give the VAE a 16-dimensional code. Are the samples better? (You can no longer draw the
#    code space directly.)
# 2. Set `beta=4` in the VAE (`VAE(..., beta=4)`): what happens to the code space and to the
#    reconstructions?
# 3. Train the GAN with equal learning rates for D and G (2e-4). Watch D(real) and D(fake).
# 4. `deepgrad.models.GAN` is the same game with MLPs instead of convolutions. How do its
#    samples compare after the same number of steps?
