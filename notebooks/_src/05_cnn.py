# Source of notebooks/05_cnn.ipynb (python notebooks/_build.py writes the notebook).

# %% [markdown]
# # Lab 5 — Convolutional networks (LeNet-5)
#
# An MLP treats an image as a list of 784 unrelated numbers: it does not know that neighbouring
# pixels belong together, and it must learn a "stroke detector" separately for every position.
# A **convolutional** layer slides a small filter (e.g. 5×5) over the image and computes the
# same weighted sum at every position:
#
# $$y_{o}[i, j] = b_o + \sum_{c} \sum_{u, v} w_{o,c}[u, v] \; x_c[i + u, j + v]$$
#
# * **local connections**: each output looks at a small patch;
# * **shared weights**: the same filter everywhere, so far fewer parameters;
# * **pooling** (max over 2×2 windows) then halves the resolution and makes the result less
#   sensitive to small shifts.
#
# LeNet-5 (LeCun et al., 1998) stacks two convolution + pooling stages and three Linear layers.

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
from deepgrad import nn
from deepgrad.data import MNIST, DataLoader, Subset
from deepgrad.models import MLP, LeNet5
from deepgrad.nn import functional as F
from deepgrad.train import Trainer, plots

# %% [markdown]
# ## 1. The data, as images
#
# Without `flatten=True`, MNIST gives images of shape (channels, height, width) = (1, 28, 28);
# a batch is (N, 1, 28, 28).

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the notice that the shipped 5 000-digit subset is used
    train_set = MNIST(root=None, train=True)
    test_set = MNIST(root=None, train=False)
if SMALL:
    train_set = Subset(train_set, list(range(0, len(train_set), 4)))
x_test, y_test = test_set.arrays()
print("one test batch:", x_test[:64].shape)

# %% [markdown]
# ## 2. One convolution by hand
#
# Before learning filters, let's apply two we design ourselves: a vertical-edge detector and
# its transpose, a horizontal-edge detector (Sobel filters). `F.conv2d(x, w)` takes images
# (N, C, H, W) and filters (out channels, in channels, kh, kw).

# %%
sobel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float32)
filters = dg.tensor(np.stack([sobel, sobel.T])[:, None])  # (2 filters, 1 channel, 3, 3)
digit = dg.tensor(x_test[:1])  # (1, 1, 28, 28)
edges = F.conv2d(digit, filters, padding=1)
print("input", digit.shape, "-> output", edges.shape)

# the same number computed by hand at one position: a weighted sum over a 3x3 patch
patch = np.pad(x_test[0, 0], 1)[10:13, 12:15]
print("by hand:", float((patch * sobel).sum()), " conv2d:", float(edges[0, 0, 10, 12].item()))

fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, image, title in zip(
    axes,
    [x_test[0, 0], edges[0, 0].numpy(), edges[0, 1].numpy()],
    ["digit", "vertical edges", "horizontal edges"],
):
    ax.imshow(image, cmap="gray_r" if title == "digit" else "RdBu")
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 3. LeNet-5
#
# `deepgrad.models.LeNet5` is the network of the paper with ReLU and max-pooling. Its summary
# shows the shapes shrinking from 28×28 to 14×14 to 5×5 while the channels grow from 1 to 6
# to 16, and only ~62 000 parameters: 20 times fewer than the MLP of lab 2. For comparison we
# also train a small MLP with about as many parameters (784 → 100 → 10).

# %%
dg.manual_seed(0)
lenet = LeNet5()
print(lenet)
summary = nn.summary(lenet, (64, 1, 28, 28))

# %%
epochs = 2 if SMALL else 6
train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
test_loader = DataLoader(test_set, batch_size=500)
histories = {}
networks = {"LeNet-5": lenet, "MLP 784-100-10": MLP([784, 100, 10])}
for name, network in networks.items():
    dg.manual_seed(1)  # same batches for both
    trainer = Trainer(
        network,
        F.cross_entropy,
        dg.optim.Adam(network.parameters(), lr=1e-3),
        metrics=["accuracy"],
        progress=False,
    )
    histories[name] = trainer.fit(train_loader, test_loader, epochs=epochs)
    count = sum(p.numel() for p in network.parameters())
    print(
        f"{name:15s} {count:6d} parameters, test accuracy {histories[name].epochs[-1]['val_accuracy']:.3f}"
    )

# %%
figure = plots.compare_runs(histories, keys=("loss", "val_accuracy"))

# %% [markdown]
# ## 4. What did the first layer learn?
#
# The 6 filters of the first convolution, and what they make of one digit (the *feature maps*).
# Learned filters often look like stroke and edge detectors, like the Sobel filters above.

# %%
weights = lenet.features[0].weight.detach().numpy()  # (6, 1, 5, 5)
lenet.eval()
with dg.no_grad():
    maps1 = lenet.features[:2](digit).numpy()[0]  # after conv 1 and ReLU: (6, 28, 28)
    maps2 = lenet.features[:5](digit).numpy()[0]  # after conv 2 and ReLU: (16, 10, 10)

fig, axes = plt.subplots(2, 6, figsize=(10, 3.6))
for k in range(6):
    limit = np.abs(weights[k, 0]).max()
    axes[0, k].imshow(weights[k, 0], cmap="RdBu", vmin=-limit, vmax=limit)
    axes[0, k].set_title(f"filter {k}", fontsize=9)
    axes[1, k].imshow(maps1[k], cmap="gray_r")
    axes[1, k].set_title(f"feature map {k}", fontsize=9)
for ax in axes.flat:
    ax.axis("off")
plt.show()

# %% [markdown]
# The second convolution combines the 6 maps into 16 smaller, more abstract ones:

# %%
fig, axes = plt.subplots(2, 8, figsize=(10, 2.8))
for k, ax in enumerate(axes.flat):
    ax.imshow(maps2[k], cmap="gray_r")
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 5. Shifted digits
#
# How do the two networks cope with test digits moved a few pixels to the right? Shared filters
# and pooling make the CNN more tolerant of small shifts, but not immune: to be robust to larger
# ones, train with shifted copies (data augmentation, `deepgrad.data.RandomTranslation`).

# %%
shifts = [0, 1, 2, 3, 4]
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for name, network in networks.items():
    network.eval()
    accuracy = []
    for shift in shifts:
        moved = np.roll(x_test, shift, axis=3)  # the digits sit in the middle: nothing wraps around
        with dg.no_grad():
            predicted = network(dg.tensor(moved)).argmax(dim=1).numpy()
        accuracy.append(np.mean(predicted == y_test))
    ax.plot(shifts, accuracy, "o-", label=name)
ax.set_xlabel("shift to the right (pixels)")
ax.set_xticks(shifts)
ax.set_ylabel("test accuracy")
ax.set_ylim(0, 1)
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# ## Exercises
#
# 1. Build the 1998 original: `LeNet5(activation="tanh", pool="avg")`. Is it slower to train?
# 2. Train LeNet-5 with `deepgrad.data.RandomTranslation` augmentation and redo the shift
#    experiment.
# 3. Replace the first convolution by one with 16 filters. Does the accuracy change? What do
#    the extra filters look like?
