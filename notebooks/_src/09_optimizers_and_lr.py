# Source of notebooks/09_optimizers_and_lr.ipynb (python notebooks/_build.py writes the notebook).

# %% [markdown]
# # Lab 9 — Optimizers and the learning rate
#
# Every optimizer turns the gradient $g$ of the loss into a step for the weights $w$; the
# learning rate $\eta$ sets the size of that step:
#
# | optimizer | one step |
# |---|---|
# | SGD | $w \leftarrow w - \eta\, g$ |
# | SGD with momentum $\mu$ | $v \leftarrow \mu v + g, \quad w \leftarrow w - \eta\, v$ |
# | Adam (Kingma & Ba, 2015) | $m \leftarrow \beta_1 m + (1-\beta_1) g, \quad s \leftarrow \beta_2 s + (1-\beta_2) g^2, \quad w \leftarrow w - \eta\, \hat{m} / (\sqrt{\hat{s}} + \epsilon)$ |
#
# Momentum keeps a running direction, so it accelerates along consistent slopes and damps
# zig-zags; Adam scales every weight's step by the recent size of its gradient ($\hat m$, $\hat s$
# are the averages corrected for their start at 0).
#
# And the learning rate? "Small: converges slowly and gets stuck; large: overshoots, becomes
# unstable and diverges." Rather than trying lots of rates, the **learning-rate range test**
# (Smith, 2017) finds a good one in a single short run.

# %%
import os
import sys
import warnings

# set by CI: fewer steps, epochs and images
SMALL = os.environ.get("DEEPGRAD_NOTEBOOK_SMALL") == "1"

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
from deepgrad.optim import SGD, Adam, find_lr
from deepgrad.train import Trainer, plots

# %% [markdown]
# ## 1. Three optimizers in a narrow curved valley
#
# The Rosenbrock function $f(x, y) = (1 - x)^2 + 100\,(y - x^2)^2$ has its minimum at (1, 1) at
# the bottom of a long, narrow, curved valley: steep across, almost flat along. The point
# $(x, y)$ is a deepgrad tensor, and the optimizers of `deepgrad.optim` move it as they would
# move the weights of a network. (Black dot: the start; star: the minimum.)


# %%
def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


steps = 100 if SMALL else 500
OPTIMIZERS = {
    "SGD (lr 0.001)": lambda params: SGD(params, lr=1e-3),
    "momentum 0.9 (lr 0.001)": lambda params: SGD(params, lr=1e-3, momentum=0.9),
    "Adam (lr 0.05)": lambda params: Adam(params, lr=0.05),
}
paths = {}
for name, make in OPTIMIZERS.items():
    point = dg.tensor([-1.5, 2.0], dtype=dg.float64, requires_grad=True)
    optimizer = make([point])
    path = [point.detach().numpy().copy()]
    for _ in range(steps):
        loss = rosenbrock(point)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        path.append(point.detach().numpy().copy())
    paths[name] = np.array(path)
    print(
        f"{name:24s} after {steps} steps: ({path[-1][0]:+.3f}, {path[-1][1]:+.3f}), f = {rosenbrock(path[-1]):.4f}"
    )

# %%
x, y = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
levels = np.log10(rosenbrock([x, y]) + 1e-3)
fig, axes = plt.subplots(1, 3, figsize=(14, 4.4), sharey=True)
for ax, (color, (name, path)) in zip(axes, enumerate(paths.items())):
    ax.contour(x, y, levels, levels=25, cmap="Greys", linewidths=0.6)
    ax.plot(path[:, 0], path[:, 1], ".-", color=f"C{color}", markersize=2, linewidth=1)
    ax.plot(-1.5, 2, "ko")
    ax.plot(1, 1, "k*", markersize=14)
    ax.set_title(f"{name}: {steps} steps")
    ax.set_xlabel("x")
axes[0].set_ylabel("y")
fig.tight_layout()
plt.show()

# %% [markdown]
# Plain SGD crawls: a larger rate would make it bounce from wall to wall of the valley (try it),
# and this small one barely moves along the flat floor. Momentum builds up speed along the floor
# and reaches the minimum. Adam's per-coordinate scaling makes it take similar-sized steps in
# every direction.
#
# ## 2. The same optimizers on MNIST
#
# An MLP 784 → 256 → 128 → 10, the same initialization and batches, three optimizers with
# their usual learning rates.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the notice that the shipped 5 000-digit subset is used
    train_set = MNIST(root=None, train=True, flatten=True)
    test_set = MNIST(root=None, train=False, flatten=True)
if SMALL:
    train_set = Subset(train_set, list(range(0, len(train_set), 4)))
train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
test_loader = DataLoader(test_set, batch_size=500)
epochs = 2 if SMALL else 8


def train(make_optimizer, epochs=epochs):
    dg.manual_seed(0)
    model = MLP([784, 256, 128, 10])
    trainer = Trainer(
        model,
        F.cross_entropy,
        make_optimizer(model.parameters()),
        metrics=["accuracy"],
        progress=False,
    )
    return trainer.fit(train_loader, test_loader, epochs=epochs)


histories = {
    "SGD lr=0.05": train(lambda params: SGD(params, lr=0.05)),
    "momentum lr=0.05": train(lambda params: SGD(params, lr=0.05, momentum=0.9)),
    "Adam lr=0.001": train(lambda params: Adam(params, lr=1e-3)),
}
figure = plots.compare_runs(histories, keys=("loss", "val_accuracy"))

# %% [markdown]
# Momentum and Adam both learn much faster than plain SGD at the same rate. (With a carefully
# tuned rate SGD catches up a good part of the way: the rate matters as much as the optimizer.)
#
# ## 3. The learning-rate range test
#
# Train for a hundred batches while the learning rate grows exponentially from $10^{-6}$ to 10,
# and record the (smoothed) loss at each rate. At tiny rates nothing happens; then the loss
# starts to fall; at some point it falls fastest; beyond, the steps are too big and the loss
# explodes. `deepgrad.optim.find_lr` runs the test and suggests the rate where the loss falls
# fastest; the model and the optimizer come back exactly as they were.

# %%
dg.manual_seed(0)
model = MLP([784, 256, 128, 10])
optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
result = find_lr(
    model,
    F.cross_entropy,
    optimizer,
    train_loader,
    start_lr=1e-6,
    end_lr=10.0,
    num_steps=40 if SMALL else 100,
)
print(
    f"suggested learning rate: {result.suggestion:.3g}"
    if result.suggestion
    else "no suggestion (too few steps)"
)
figure = plots.plot_lr_finder(result)

# %% [markdown]
# Does the suggestion hold up? Train with it, with a rate 100 times smaller and with one
# 30 times larger (in the region where the range test saw the loss blow up):

# %%
suggested = result.suggestion or 0.05
rates = {"too small": suggested / 100, "suggested": suggested, "too large": suggested * 30}
lr_histories = {
    f"{name} (lr={rate:.2g})": train(
        lambda params, rate=rate: SGD(params, lr=rate, momentum=0.9), epochs=epochs
    )
    for name, rate in rates.items()
}
for name, history in lr_histories.items():
    print(
        f"{name:25s} final training loss {history.epochs[-1]['loss']:.3f}, test accuracy {history.epochs[-1]['val_accuracy']:.3f}"
    )
figure = plots.compare_runs(lr_histories, keys=("loss", "val_accuracy"))

# %% [markdown]
# Too small: learns, but slowly. Too large: the loss stalls at a high value or becomes `nan` —
# the steps overshoot. The suggested rate trains quickly and stably: one 100-batch test
# replaced a search over many full training runs.
#
# ## Exercises
#
# 1. Run the range test for Adam (`Adam(model.parameters())`). Is its best rate close to the
#    usual 0.001?
# 2. On the Rosenbrock valley, raise SGD's rate to 0.002, then 0.003. What happens?
# 3. Add `nesterov=True` to the momentum optimizer, or try `deepgrad.optim.RMSprop`.
# 4. Learning-rate schedules lower the rate while training: try
#    `deepgrad.optim.lr_scheduler.CosineAnnealingLR` with the `Trainer(scheduler=...)`.
