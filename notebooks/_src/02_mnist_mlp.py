# Source of notebooks/02_mnist_mlp.ipynb (python notebooks/_build.py writes the notebook).

# %% [markdown]
# # Lab 2 — An MLP that reads handwritten digits
#
# The lecture's MNIST classifier is a multilayer perceptron (MLP) with three hidden layers:
#
# $$784 \xrightarrow{\text{Linear, ReLU}} 1000 \xrightarrow{\text{Linear, ReLU}} 500
# \xrightarrow{\text{Linear, ReLU}} 100 \xrightarrow{\text{Linear}} 10$$
#
# Each 28×28 image is flattened into 784 numbers; the 10 outputs are one score per digit.
# We train it twice: first **exactly as on the slide** (mean squared error against one-hot
# targets, plain SGD with learning rate 1, batches of 1000), then with today's usual recipe
# (cross-entropy loss, SGD with momentum, batches of 128), and compare.

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
from deepgrad.data import MNIST, DataLoader
from deepgrad.nn import functional as F
from deepgrad.train import Trainer, plots

# %% [markdown]
# ## 1. The data
#
# `MNIST(root=None)` reads the MNIST files from deepgrad's data folder if you downloaded them
# (`MNIST(download=True)`), and otherwise uses the 5 000 real MNIST digits shipped with deepgrad
# (4 000 for training, 1 000 for testing), so this lab runs without a network.
# `flatten=True` gives each image as a vector of 784 pixels in [0, 1].

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the notice that the shipped subset is used
    train_set = MNIST(root=None, train=True, flatten=True)
    test_set = MNIST(root=None, train=False, flatten=True)
x_train, y_train = train_set.arrays()
x_test, y_test = test_set.arrays()

# The shipped digits are stored grouped by class (all 0s first): shuffle once, as the slide's
# train_test_split does, or every batch would hold only one or two digits.
order = np.random.default_rng(0).permutation(len(x_train))
x_train, y_train = x_train[order], y_train[order]
if SMALL:
    x_train, y_train, x_test, y_test = x_train[:1000], y_train[:1000], x_test[:500], y_test[:500]
print(f"training images {x_train.shape}, test images {x_test.shape} ({train_set.source} data)")
print("images per digit in the training set:", np.bincount(y_train))


# %%
def show_digits(images, titles, rows=3, cols=10, size=1.0):
    """A grid of 28x28 digits with a title above each."""
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.2))
    for ax, image, title in zip(axes.flat, images, titles):
        ax.imshow(image.reshape(28, 28), cmap="gray_r")
        ax.set_title(title, fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    plt.show()


show_digits(x_train[:30], [f"label {label}" for label in y_train[:30]])

# %% [markdown]
# ## 2. The network of the slide
#
# `nn.Sequential` chains the layers; `nn.summary` runs a dummy batch through it and lists each
# layer's output shape and number of parameters. Almost all of the 1.3 million parameters sit
# in the first two weight matrices.


# %%
def seed_network():
    return nn.Sequential(
        nn.Linear(784, 1000),
        nn.ReLU(),
        nn.Linear(1000, 500),
        nn.ReLU(),
        nn.Linear(500, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )


model = seed_network()
summary = nn.summary(model, (1000, 784))
# %% [markdown]
# ## 3. Training as on the slide
#
# The slide's loop, with `torch` replaced by `deepgrad`: the targets are one-hot vectors
# (digit 3 → `[0,0,0,1,0,0,0,0,0,0]`) and the loss is the mean squared error between the
# 10 outputs and them. Each epoch walks through the training set in batches of 1000:
# forward, loss, `zero_grad`, `backward`, `step`. After each epoch we measure the accuracy on
# the test images (under `no_grad()`: no graph is recorded when we only evaluate).

# %%
dg.manual_seed(0)
model = seed_network()
criterion = nn.MSELoss()
optimizer = dg.optim.SGD(model.parameters(), lr=1.0)

x = dg.tensor(x_train)
y = F.one_hot(dg.tensor(y_train), 10).float()
xt = dg.tensor(x_test)
batch = 1000
seed_epochs = 3 if SMALL else 40
seed_accuracy = []

for epoch in range(seed_epochs):
    epoch_loss = 0.0
    for i in range(0, x.shape[0], batch):
        y_pred = model(x[i : i + batch])  # forward pass
        loss = criterion(y_pred, y[i : i + batch])
        epoch_loss += loss.item()
        optimizer.zero_grad()  # backward pass
        loss.backward()
        optimizer.step()  # update the weights
    with dg.no_grad():
        accuracy = np.mean(model(xt).argmax(dim=1).numpy() == y_test)
    seed_accuracy.append(accuracy)
    if epoch % 5 == 4 or epoch == seed_epochs - 1:
        print(f"Epoch: {epoch + 1:3d}, Loss: {epoch_loss:.4f}, Accuracy: {accuracy:.3f}")

# %% [markdown]
# It learns, but slowly: with 4 000 images and batches of 1 000 there are only 4 updates per
# epoch, and the squared error gives weak gradients once an output is roughly right. (A
# learning rate of 1 is also large: now and then a step overshoots and the accuracy dips.)
#
# ## 4. Today's recipe
#
# Three changes make a big difference:
#
# * **cross-entropy** loss on the raw scores (`F.cross_entropy` applies the softmax itself):
#   the gradient stays strong for confidently wrong predictions;
# * **smaller batches** (128): more, noisier updates per epoch;
# * **momentum** (0.9): the update keeps a running average of past gradients.
#
# The `Trainer` runs the same loop for us (forward, loss, `zero_grad`, `backward`, `step`),
# evaluates on validation data after each epoch and records everything in a `History`.
# (The same network is `deepgrad.models.mnist_mlp()`, and `deepgrad train mnist-mlp` trains
# it from the command line.)

# %%
dg.manual_seed(0)
model = seed_network()
optimizer = dg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
trainer = Trainer(model, F.cross_entropy, optimizer, metrics=["accuracy"], progress=False)

train_loader = DataLoader(dg.data.TensorDataset(x_train, y_train), batch_size=128, shuffle=True)
test_loader = DataLoader(dg.data.TensorDataset(x_test, y_test), batch_size=500)
epochs = 2 if SMALL else 10
history = trainer.fit(train_loader, test_loader, epochs=epochs)
for record in history.epochs:
    print(
        f"epoch {record['epoch']:2d}: training loss {record['loss']:.3f}, test accuracy {record['val_accuracy']:.3f}"
    )

# %% [markdown]
# `plots.plot_history` draws the learning curves (training: solid, test data used for
# validation: dashed; the faint line is the loss of every batch):

# %%
figure = plots.plot_history(history)
# %% [markdown]
# The two recipes side by side, against the number of epochs:

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(
    range(1, len(seed_accuracy) + 1),
    seed_accuracy,
    "o-",
    markersize=3,
    label="slide: MSE, SGD lr=1, batch 1000",
)
ax.plot(
    [r["epoch"] for r in history.epochs],
    [r["val_accuracy"] for r in history.epochs],
    "s-",
    markersize=3,
    label="cross-entropy, momentum, batch 128",
)
ax.set_xlabel("epoch")
ax.set_ylabel("test accuracy")
ax.set_ylim(0, 1)
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# ## 5. What does it get wrong?
#
# The confusion matrix counts, for each true digit (row), what the network predicted (column).
# The diagonal holds the correct answers; the largest numbers off the diagonal show which
# digits it confuses.

# %%
with dg.no_grad():
    model.eval()
    scores = model(xt)
predicted = scores.argmax(dim=1).numpy()
print(f"test accuracy: {np.mean(predicted == y_test):.3f}")

confusion = np.zeros((10, 10), dtype=int)
np.add.at(confusion, (y_test, predicted), 1)
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.imshow(confusion, cmap="Blues")
for i in range(10):
    for j in range(10):
        if confusion[i, j]:
            color = "white" if confusion[i, j] > confusion.max() / 2 else "black"
            ax.text(j, i, confusion[i, j], ha="center", va="center", fontsize=8, color=color)
ax.set_xticks(range(10))
ax.set_yticks(range(10))
ax.set_xlabel("predicted digit")
ax.set_ylabel("true digit")
ax.set_title("confusion matrix (test set)")
plt.show()

# %% [markdown]
# Some of the misclassified test digits, with the network's answer and its probability
# (softmax of the scores). Many are hard for people too.

# %%
probabilities = F.softmax(scores, dim=1).numpy()
wrong = np.flatnonzero(predicted != y_test)[:20]
show_digits(
    x_test[wrong],
    [f"{predicted[i]} ({probabilities[i, predicted[i]]:.0%}), is {y_test[i]}" for i in wrong],
    rows=2,
    cols=10,
    size=1.3,
)

# %% [markdown]
# ## Exercises
#
# 1. Train the slide's version with cross-entropy instead of MSE (keep lr=1 and batch 1000).
#    Which of the three changes matters most?
# 2. Replace ReLU by sigmoid in all hidden layers. What happens to the learning curve, and why?
# 3. How many parameters would a network with one hidden layer of 100 units have, and how
#    accurate is it?
