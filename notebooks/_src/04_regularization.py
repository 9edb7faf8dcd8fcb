# Source of notebooks/04_regularization.ipynb (python notebooks/_build.py writes the notebook).

# %% [markdown]
# # Lab 4 — Regularization: fighting overfitting
#
# A network with a million parameters can memorize a thousand training images: the training
# loss goes to zero while the loss on images it has not seen goes **up**. That is
# *overfitting*. The lecture lists the usual remedies:
#
# * **L2 regularization** (weight decay): add $\frac{\lambda}{2}\lVert w \rVert^2$ to the loss, so
#   every step also shrinks the weights a little: $w \leftarrow w - \eta(\nabla L + \lambda w)$;
# * **dropout**: during training, zero each hidden unit with probability $p$ (0.5 "usually works
#   well"), so that no unit can rely on any other; at test time use all units;
# * **early stopping**: watch the loss on held-out *validation* data and stop (keeping the best
#   weights) when it has not improved for a while.
#
# We train the same MLP four times on 1 000 MNIST digits and compare.

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
from deepgrad.data import MNIST, DataLoader, Subset
from deepgrad.models import MLP
from deepgrad.nn import functional as F
from deepgrad.train import EarlyStopping, Trainer, plots

# %% [markdown]
# ## 1. Training, validation and test data
#
# Three disjoint sets: the network learns from the **training** set; we watch the
# **validation** set to choose when to stop; the **test** set is touched once, at the end, to
# report an honest accuracy.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the notice that the shipped 5 000-digit subset is used
    images = MNIST(root=None, train=True, flatten=True)
    test_set = MNIST(root=None, train=False, flatten=True)
order = np.random.default_rng(0).permutation(len(images)).tolist()
n_train = 300 if SMALL else 1000
train_set = Subset(images, order[:n_train])
val_set = Subset(images, order[2000 : 2000 + (300 if SMALL else 1000)])
train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
val_loader = DataLoader(val_set, batch_size=500)
test_loader = DataLoader(test_set, batch_size=500)
print(f"training {len(train_set)}, validation {len(val_set)}, test {len(test_set)} images")

# %% [markdown]
# ## 2. Four runs
#
# The model is `deepgrad.models.MLP([784, 512, 512, 10])`: two hidden ReLU layers, with
# `dropout=0.5` after each hidden layer in the dropout run. L2 regularization is the optimizer's
# `weight_decay` (λ = 0.01). Early stopping is a callback: `EarlyStopping(monitor="val_loss",
# patience=5)` stops after 5 epochs without a new best validation loss and puts the best
# weights back. Everything else (seed, data order, learning rate, epochs) is the same.

# %%
epochs = 8 if SMALL else 60
RUNS = {
    "none": {"dropout": 0.0, "weight_decay": 0.0, "callbacks": []},
    "L2 (weight decay)": {"dropout": 0.0, "weight_decay": 1e-2, "callbacks": []},
    "dropout": {"dropout": 0.5, "weight_decay": 0.0, "callbacks": []},
    "early stopping": {
        "dropout": 0.0,
        "weight_decay": 0.0,
        "callbacks": [EarlyStopping("val_loss", patience=5)],
    },
}
histories, results, models = {}, {}, {}
for name, run in RUNS.items():
    dg.manual_seed(0)
    model = MLP([784, 512, 512, 10], dropout=run["dropout"])
    optimizer = dg.optim.SGD(
        model.parameters(), lr=0.02, momentum=0.9, weight_decay=run["weight_decay"]
    )
    trainer = Trainer(
        model,
        F.cross_entropy,
        optimizer,
        metrics=["accuracy"],
        callbacks=run["callbacks"],
        progress=False,
    )
    histories[name] = trainer.fit(train_loader, val_loader, epochs=epochs)
    results[name] = trainer.evaluate(test_loader)
    models[name] = model
    print(f"{name:18s} {len(histories[name].epochs):2d} epochs ({histories[name].stop_reason})")

# %% [markdown]
# ## 3. Training and validation curves
#
# Solid: training loss; dashed: validation loss (log scale). Without regularization the
# training loss falls towards 0 while the validation loss, after a minimum around epoch 10,
# climbs again: from there on the network learns the training images by heart, not digits.

# %%
fig, axes = plt.subplots(1, 4, figsize=(16, 3.6), sharey=True)
for ax, (color, (name, history)) in zip(axes, enumerate(histories.items())):
    epoch = [r["epoch"] for r in history.epochs]
    val = [r["val_loss"] for r in history.epochs]
    ax.plot(epoch, [r["loss"] for r in history.epochs], "-", color=f"C{color}", label="training")
    ax.plot(epoch, val, "--", color=f"C{color}", label="validation")
    best = int(np.argmin(val))
    ax.plot(
        epoch[best], val[best], "k*", markersize=10, label=f"best validation (epoch {epoch[best]})"
    )
    ax.set_yscale("log")
    ax.set_title(name)
    ax.set_xlabel("epoch")
    ax.set_xlim(0, epochs + 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
axes[0].set_ylabel("cross-entropy loss")
fig.tight_layout()
plt.show()

# %% [markdown]
# * **L2**: the training loss cannot reach 0 any more (large weights cost), and the validation
#   loss stays flat instead of climbing.
# * **Dropout**: the training loss is noisier and higher; the validation loss reaches the lowest
#   minimum of all.
# * **Early stopping**: the same run as *none*, cut 5 epochs after the best validation loss,
#   with the best weights restored. It costs nothing and saves most of the training time.
#
# The validation curves overlaid (`plots.compare_runs`):

# %%
figure = plots.compare_runs(histories, keys=("val_loss", "val_accuracy"))

# %% [markdown]
# ## 4. Test results
#
# The test set, used once. Regularization shows most in the **loss** (how well calibrated the
# predicted probabilities are); on accuracy, dropout helps most here.

# %%
print(
    f"{'':18s} {'epochs':>6s} {'best val loss':>13s} {'test loss':>9s} {'test accuracy':>13s} {'|W|':>6s}"
)
for name, history in histories.items():
    best = min(r["val_loss"] for r in history.epochs)
    norm = np.sqrt(sum(float((p.detach() ** 2).sum()) for p in models[name].parameters()))
    print(
        f"{name:18s} {len(history.epochs):6d} {best:13.3f} {results[name]['loss']:9.3f} "
        f"{results[name]['accuracy']:13.3f} {norm:6.1f}"
    )

# %% [markdown]
# The last column is the norm of all the weights: weight decay keeps them small, which is
# exactly what it penalizes.
#
# ## Exercises
#
# 1. Combine dropout and early stopping. Is the result better than either alone?
# 2. Try λ = 0.1 and λ = 0.001. What happens to the training curve when λ is too large?
# 3. Train on all 4 000 training images without regularization. Does the overfitting go away?
#    (More data is the best regularizer.)
# 4. Dropout behaves differently in training and evaluation (`model.train()` / `model.eval()`).
#    Evaluate the dropout model in training mode on the test set a few times: what do you see?
# 5. `deepgrad compare mnist-mlp --vary regularization=none,l2,dropout,early-stopping` runs the
#    same comparison from the command line, on the seed's network.
