# Source of notebooks/06_rnn_lstm.ipynb (python notebooks/_build.py writes the notebook).

# %% [markdown]
# # Lab 6 — Recurrent networks: RNN vs LSTM
#
# A recurrent network reads a sequence one step at a time and carries a **hidden state** from
# step to step, "allowing information to persist":
#
# $$h_t = \tanh(W x_t + U h_{t-1} + b)$$
#
# Training it means backpropagating *through time*: the gradient that reaches step $t$ has
# been multiplied by $U^\top$ and by $\tanh'$ once for every later step. Over many steps it
# usually shrinks exponentially (**vanishing gradients**), so a plain RNN struggles to learn
# anything that depends on inputs far in the past.
#
# The **LSTM** (Hochreiter & Schmidhuber, 1997) adds a *cell* $c_t$ updated additively,
# $c_t = f_t \odot c_{t-1} + i_t \odot g_t$, with learned gates (forget $f_t$, input $i_t$,
# output $o_t$). When the forget gate stays near 1, information — and gradient — flows through
# many steps unchanged.
#
# We compare both on the **adding problem**, the classic test of long memory.

# %%
import os
import sys

SMALL = os.environ.get("DEEPGRAD_NOTEBOOK_SMALL") == "1"  # set by CI: fewer sequences, fewer epochs

import matplotlib.pyplot as plt
import numpy as np

try:
    import deepgrad as dg
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, os.path.abspath(".."))
    import deepgrad as dg
from deepgrad import nn
from deepgrad.data import DataLoader, TensorDataset, make_adding_problem
from deepgrad.nn import functional as F
from deepgrad.train import Trainer

# %% [markdown]
# ## 1. The adding problem
#
# Each sequence has $T = 50$ steps of two numbers: a random value in [0, 1] and a marker.
# Exactly two markers are 1, one in each half of the sequence. The target is the **sum of the
# two marked values**. To solve it, the network must notice the first marked value, remember
# it for up to 50 steps while ignoring everything else, and add the second.

# %%
dg.manual_seed(0)
T = 50
x_train, y_train = make_adding_problem(1000 if SMALL else 5000, seq_len=T)
x_test, y_test = make_adding_problem(1000, seq_len=T)
print("inputs", x_train.shape, "targets", y_train.shape)

fig, ax = plt.subplots(figsize=(9, 2.6))
ax.bar(range(T), x_train[0, :, 0], color="0.75", label="values")
marked = np.flatnonzero(x_train[0, :, 1])
ax.bar(marked, x_train[0, marked, 0], color="C3", label="marked values")
ax.set_xlabel("time step")
ax.set_title(
    f"one sequence: target = {x_train[0, marked[0], 0]:.3f} + {x_train[0, marked[1], 0]:.3f} = {y_train[0, 0]:.3f}"
)
ax.legend(loc="upper right", fontsize=8)
plt.show()

# %% [markdown]
# A network that learns nothing about the markers can only predict the average target, 1:
# its mean squared error is the variance of a sum of two uniform numbers, $2/12 \approx 0.167$.
# That is the **baseline** to beat.

# %%
baseline = float(np.mean((y_test - 1.0) ** 2))
print(f"MSE of always predicting 1: {baseline:.3f}")

# %% [markdown]
# ## 2. The models
#
# The same model around either cell: read the sequence, take the hidden state after the last
# step, map it to one number with a Linear layer.


# %%
class SequenceRegressor(nn.Module):
    """x (N, T, 2) -> RNN or LSTM -> last hidden state -> Linear -> (N, 1)."""

    def __init__(self, cell: str, hidden_size: int = 32):
        super().__init__()
        recurrent = {"RNN": nn.RNN, "LSTM": nn.LSTM}[cell]
        self.rnn = recurrent(input_size=2, hidden_size=hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        outputs, _ = self.rnn(x)  # (N, T, hidden): the hidden state after every step
        return self.head(outputs[:, -1])


def gradient_through_time(model):
    """|| d loss / d x_t || for every step t, relative to the last step."""
    x = dg.tensor(x_test[:200], requires_grad=True)
    loss = F.mse_loss(model(x), dg.tensor(y_test[:200]))
    loss.backward()
    norms = np.sqrt((x.grad.numpy() ** 2).sum(axis=(0, 2)))
    return norms / norms[-1]


models, before = {}, {}
for cell in ["RNN", "LSTM"]:
    dg.manual_seed(0)
    models[cell] = SequenceRegressor(cell)
    before[cell] = gradient_through_time(models[cell])
    print(cell, sum(p.numel() for p in models[cell].parameters()), "parameters")

# %% [markdown]
# ## 3. Training
#
# Adam with learning rate 0.01, and gradient clipping (`grad_clip=1.0`: if the gradient's norm
# exceeds 1 it is scaled down), the usual guard against the *exploding* gradients that
# recurrent networks also produce.

# %%
epochs = 2 if SMALL else 15
train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=50, shuffle=True)
test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=500)
histories = {}
for cell, model in models.items():
    dg.manual_seed(1)
    trainer = Trainer(
        model, F.mse_loss, dg.optim.Adam(model.parameters(), lr=1e-2), grad_clip=1.0, progress=False
    )
    histories[cell] = trainer.fit(train_loader, test_loader, epochs=epochs)
    print(
        f"{cell:4s} test MSE after each epoch:",
        " ".join(f"{r['val_loss']:.3f}" for r in histories[cell].epochs),
    )

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
for cell, history in histories.items():
    ax.plot(
        [r["epoch"] for r in history.epochs],
        [r["val_loss"] for r in history.epochs],
        "o-",
        label=cell,
    )
ax.axhline(baseline, color="k", linestyle=":", label="baseline (always 1)")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("test MSE")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# The RNN never gets below the baseline: it has not found the connection between the first
# marker and the answer, 25 to 50 steps later. The LSTM hovers at the baseline for a few epochs,
# then suddenly "gets it" and its error drops by two orders of magnitude.
#
# Predictions against targets on the test set:

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 3.8), sharey=True)
for ax, (cell, model) in zip(axes, models.items()):
    with dg.no_grad():
        predicted = model(dg.tensor(x_test)).numpy()
    ax.scatter(y_test[:, 0], predicted[:, 0], s=4, alpha=0.5)
    ax.plot([0, 2], [0, 2], "k:", linewidth=1)
    ax.set_title(f"{cell}: test MSE {np.mean((predicted - y_test) ** 2):.4f}")
    ax.set_xlabel("target")
axes[0].set_ylabel("prediction")
plt.show()

# %% [markdown]
# ## 4. Where does the gradient go?
#
# How strongly does the loss react to the input at step $t$? The norm of $\partial L / \partial x_t$,
# relative to the last step, before training (dashed) and after (solid), on a log scale.
# Before training both networks forget quickly: the gradient from step 1 is 10 orders of
# magnitude smaller than the last step's. The trained LSTM's gradient is as large at step 1 as at step 50 — it has learned
# to keep its memory open — while the RNN's still vanishes.

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
for color, cell in enumerate(models):
    ax.plot(range(1, T + 1), before[cell], "--", color=f"C{color}", label=f"{cell} before training")
    ax.plot(
        range(1, T + 1),
        gradient_through_time(models[cell]),
        "-",
        color=f"C{color}",
        label=f"{cell} trained",
    )
ax.set_yscale("log")
ax.set_xlabel("time step t")
ax.set_ylabel("||dL/dx_t|| / ||dL/dx_T||")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Exercises
#
# 1. Add a GRU (`nn.GRU`) to the comparison. How fast does it solve the task?
# 2. Make the sequences longer (`seq_len=100`). How many epochs does the LSTM need now?
# 3. Forecasting: `deepgrad.data.make_sine_series(window=20)` gives windows of a noisy sine
#    wave and the next value. Train the RNN on it: here the memory needed is short, and the
#    plain RNN does fine.
# 4. `deepgrad.models.SequenceClassifier` wraps the same idea for classification, with
#    embeddings, several layers and bidirectional reading.
