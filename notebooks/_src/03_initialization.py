# Source of notebooks/03_initialization.ipynb (python notebooks/_build.py writes the notebook).

# %% [markdown]
# # Lab 3 — Weight initialization
#
# Before training, every weight needs a first value. The lecture compares four choices for a
# layer with $n$ inputs ($n_{in}$) and $n_{out}$ outputs, biases starting at 0:
#
# | scheme | weights | idea |
# |---|---|---|
# | zeros | $w = 0$ | "every neuron computes the same output ⇒ same gradients": not recommended |
# | normal | $w \sim \mathcal{N}(0, \sigma^2 = 1/n)$ | keep the output's scale close to the input's |
# | Xavier (Glorot & Bengio, 2010) | $w \sim \mathcal{N}(0, \sigma^2 = 2/(n_{in} + n_{out}))$ | balance the forward and the backward pass |
# | Kaiming (He et al., 2015) | $w \sim \mathcal{N}(0, \sigma^2 = 2/n)$ | ReLU zeroes half its inputs: double the variance to make up for it |
#
# We train the same deep ReLU network (12 hidden layers of 256 units) on MNIST with each
# scheme, and watch what happens to the activations layer by layer with
# `deepgrad.train.Monitor`.

# %%
import itertools
import math
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
from deepgrad.nn import functional as F
from deepgrad.train import Monitor, Trainer, plots

# %% [markdown]
# ## 1. Data and network

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the notice that the shipped 5 000-digit subset is used
    train_set = MNIST(root=None, train=True, flatten=True)
    test_set = MNIST(root=None, train=False, flatten=True)
if SMALL:
    train_set = Subset(train_set, list(range(0, len(train_set), 4)))
train_loader = DataLoader(train_set, batch_size=128, shuffle=True)
test_loader = DataLoader(test_set, batch_size=500)
print(f"{len(train_set)} training images, {len(test_set)} test images")

# %%
DEPTH, WIDTH = 12, 256


def init_(layer: nn.Linear, scheme: str) -> None:
    """Draw the weights of one Linear layer with a scheme of the lecture; biases start at 0."""
    n_in, n_out = layer.in_features, layer.out_features
    if scheme == "zeros":
        nn.init.zeros_(layer.weight)
    elif scheme == "normal":
        nn.init.normal_(layer.weight, mean=0.0, std=math.sqrt(1 / n_in))
    elif scheme == "xavier":
        nn.init.normal_(
            layer.weight, mean=0.0, std=math.sqrt(2 / (n_in + n_out))
        )  # = nn.init.xavier_normal_
    elif scheme == "kaiming":
        nn.init.normal_(
            layer.weight, mean=0.0, std=math.sqrt(2 / n_in)
        )  # = nn.init.kaiming_normal_
    nn.init.zeros_(layer.bias)


def make_network(scheme: str) -> nn.Sequential:
    sizes = [784] + [WIDTH] * DEPTH + [10]
    layers = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    network = nn.Sequential(*layers[:-1])  # no ReLU after the output layer
    for layer in network:
        if isinstance(layer, nn.Linear):
            init_(layer, scheme)
    return network


print(make_network("kaiming"))

# %% [markdown]
# ## 2. Train with each scheme
#
# Same data, same order of batches, same optimizer (SGD with momentum), only the
# initialization changes. A `Monitor` callback records, every few steps, statistics of every
# layer's output (and always the very first step, which shows the network as initialized).

# %%
SCHEMES = ["zeros", "normal", "xavier", "kaiming"]
epochs = 2 if SMALL else 6
histories, monitors, networks = {}, {}, {}
for scheme in SCHEMES:
    dg.manual_seed(0)
    network = make_network(scheme)
    monitor = Monitor(every=25)
    optimizer = dg.optim.SGD(network.parameters(), lr=0.02, momentum=0.9)
    trainer = Trainer(
        network,
        F.cross_entropy,
        optimizer,
        metrics=["accuracy"],
        callbacks=[monitor],
        progress=False,
    )
    histories[scheme] = trainer.fit(train_loader, test_loader, epochs=epochs)
    monitors[scheme], networks[scheme] = monitor, network
    last = histories[scheme].epochs[-1]
    print(
        f"{scheme:8s} training loss {last['loss']:.3f}   test accuracy {last['val_accuracy']:.3f}"
    )

# %% [markdown]
# ## 3. Activations at initialization, layer by layer
#
# First the spread (standard deviation) of each hidden layer's ReLU output, for the batch of
# the first step, before any update:

# %%
relu_layers = [
    name for name, module in networks["kaiming"].named_children() if isinstance(module, nn.ReLU)
]
fig, ax = plt.subplots(figsize=(6, 3.5))
for scheme in SCHEMES:
    first = {r["layer"]: r["act_std"] for r in monitors[scheme].records if r["step"] == 1}
    ax.plot(range(1, DEPTH + 1), [first[name] for name in relu_layers], "o-", label=scheme)
ax.set_xlabel("hidden layer")
ax.set_ylabel("std of the ReLU outputs")
ax.set_title("activations at initialization")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# * **zeros**: every activation is exactly 0.
# * **normal** and **Xavier**: the spread shrinks by about $\sqrt{2}$ per layer — ReLU throws
#   away half of the signal's variance and these schemes do not make up for it. After 12
#   layers the signal is ~$2^6 = 64$ times weaker; in a network of 50 layers it would vanish.
# * **Kaiming**: the factor 2 in $\sigma^2 = 2/n$ compensates exactly; the spread stays constant.
#
# The histograms of the values entering each ReLU (the outputs of the Linear layers) show the
# same thing. Each row is one scheme, each column a layer (every third one), with one x-axis
# per row:

# %%
linear_layers = [
    name for name, module in networks["kaiming"].named_children() if isinstance(module, nn.Linear)
]
shown = [1, 3, 6, 9, 12]  # hidden layers to draw (1-based)
fig, axes = plt.subplots(
    len(SCHEMES), len(shown), figsize=(2.6 * len(shown), 1.7 * len(SCHEMES)), sharex="row"
)
for row, scheme in enumerate(SCHEMES):
    first = {h["layer"]: h for h in monitors[scheme].histograms if h["step"] == 1}
    for col, layer in enumerate(shown):
        name = linear_layers[layer - 1]
        ax = axes[row, col]
        counts, edges = first[name]["counts"], first[name]["edges"]
        ax.stairs(counts, edges, fill=True, color=f"C{row}")
        ax.set_yticks([])
        if row == 0:
            ax.set_title(f"layer {layer}", fontsize=10)
        if col == 0:
            ax.set_ylabel(scheme, fontsize=11)
fig.suptitle("values entering each ReLU at initialization", y=1.0)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Learning curves
#
# `plots.compare_runs` overlays the runs. Zero initialization does not learn at all: the loss
# stays at $\ln 10 \approx 2.30$ (a uniform guess over 10 digits). Kaiming learns fastest;
# the scaled-down signal of *normal* and *Xavier* makes their first epochs slow.

# %%
figure = plots.compare_runs(histories, keys=("loss", "val_accuracy"))

# %%
print(f"{'scheme':8s}  " + "  ".join(f"epoch {e:2d}" for e in range(1, epochs + 1)))
for scheme, history in histories.items():
    print(f"{scheme:8s}  " + "  ".join(f"{r['val_accuracy']:8.3f}" for r in history.epochs))

# %% [markdown]
# ## 5. Why zeros never learn
#
# With all weights 0, every hidden unit outputs ReLU(0) = 0, so the gradient of every hidden
# weight, which is (input of the layer) × (gradient arriving from above), is 0 too: nothing
# moves but the biases of the last layer. Even with a non-zero start that is the same for all
# units, all units of a layer would receive the same gradient and stay copies of each other:
# random initialization is what **breaks the symmetry**.

# %%
first_layer = networks["zeros"][0].weight.detach().numpy()
print("weights of layer 1 after training, largest |w|:", np.abs(first_layer).max())
print("distinct rows (units) in layer 1:", len(np.unique(first_layer, axis=0)))
print("output biases learned:", networks["zeros"][-1].bias.detach().numpy().round(3))

# %% [markdown]
# ## 6. How the activations evolve while training
#
# The Monitor kept histograms for every recorded step. Overlaying the first and the last one
# shows how training reshapes the values entering the ReLUs. With Kaiming initialization every
# layer starts with the same spread; with *normal* initialization the deep layers start
# squeezed around 0 and must first be pulled apart by training, which is what the flat start
# of their learning curves was spent on. (`plots.plot_activation_histograms(monitor)` draws
# the first and last histograms of every watched layer of one run.)

# %%
fig, axes = plt.subplots(2, 3, figsize=(10, 4.5))
for row, scheme in enumerate(["normal", "kaiming"]):
    steps = sorted({h["step"] for h in monitors[scheme].histograms})
    for col, layer in enumerate([1, 6, 12]):
        ax = axes[row, col]
        for step, style in [
            (steps[0], {"fill": True, "alpha": 0.4}),
            (steps[-1], {"linewidth": 1.5}),
        ]:
            (h,) = [
                h
                for h in monitors[scheme].histograms
                if h["layer"] == linear_layers[layer - 1] and h["step"] == step
            ]
            density = h["counts"] / (h["counts"].sum() * np.diff(h["edges"]))
            ax.stairs(density, h["edges"], label=f"step {step}", **style)
        ax.set_title(f"{scheme}: layer {layer}", fontsize=10)
        ax.set_yscale("log")
        ax.legend(fontsize=8)
fig.supxlabel("value entering the ReLU")
fig.supylabel("density (log scale)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Exercises
#
# 1. Replace ReLU by tanh everywhere. Which scheme keeps the spread constant now? (Xavier was
#    designed for tanh-like activations.)
# 2. Make the network 20 layers deep. How many epochs does *normal* need to start learning?
#    And with 4 layers: does the initialization still matter?
# 3. Initialize with $\mathcal{N}(0, 1)$ (no $1/n$): what happens to the first loss, and why?
# 4. `deepgrad.models.MLP(sizes, init="kaiming")` builds such networks for you; read
#    `deepgrad/models/common.py` to see how it draws the weights. From the command line,
#    `deepgrad compare mnist-mlp --vary init=zeros,normal,xavier,kaiming` runs this lab's
#    comparison on the seed's network.
