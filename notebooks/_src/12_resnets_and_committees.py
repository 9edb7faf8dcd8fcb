# Source of notebooks/12_resnets_and_committees.ipynb (python notebooks/_build.py writes the notebook).

# %% [markdown]
# # Lab 12 — Residual networks and committees
#
# Two ways to get more out of networks than one plain stack of layers gives:
#
# 1. **Residual connections** (He et al., 2016; deck 002 benchmarks ResNet-50). Stacking more
#    layers should never hurt the *training* loss — the extra layers could learn the identity —
#    yet deep plain networks train to a *higher* training loss than shallower ones: the
#    **degradation problem**. A residual block computes y = relu(F(x) + x): to be the identity
#    it only has to push F to zero.
# 2. **Committees** (deck 001's MNIST table: "committee of 35 conv. nets with elastic
#    distortions"). Networks trained apart, with different seeds, make partly different
#    mistakes; averaging their predicted probabilities errs less often than the average member.

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
from deepgrad import nn
from deepgrad.data import MNIST, DataLoader, Subset
from deepgrad.models import Ensemble, LeNet5, ResNet
from deepgrad.nn import functional as F
from deepgrad.optim import SGD, Adam
from deepgrad.train import Trainer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the notice that the shipped 5 000-digit subset is used
    train_set = MNIST(root=None, train=True)
    test_set = MNIST(root=None, train=False)
n_train = 200 if SMALL else 2000
order = np.random.default_rng(0).permutation(len(train_set))  # the files are sorted by digit
train_small = Subset(train_set, order[:n_train].tolist())
x_test, y_test = test_set.arrays()
if SMALL:
    x_test, y_test = x_test[::5], y_test[::5]
print(f"{len(train_small)} training digits, {len(x_test)} test digits")

# %% [markdown]
# ## 1. The residual block
#
# `nn.BasicBlock(in_channels, out_channels, stride)` is two 3×3 convolutions with batch norm,
# and a shortcut around them:
#
# $$F(x) = \mathrm{bn_2}(\mathrm{conv_2}(\mathrm{relu}(\mathrm{bn_1}(\mathrm{conv_1}(x))))),
# \qquad y = \mathrm{relu}(F(x) + \mathrm{shortcut}(x))$$
#
# When the block halves the image (stride 2) or changes the number of channels, x no longer has
# F(x)'s shape and the shortcut becomes a *projection*: a 1×1 convolution with the same stride,
# and batch norm. With `residual=False` the block is "plain": the same convolutions, no shortcut.

# %%
block = nn.BasicBlock(8, 16, stride=2)
print(block)
x = dg.randn(2, 8, 28, 28)
print("input", x.shape, "-> output", block(x).shape)

# if the residual branch F is zero (bn2's scale gamma = 0), the block passes relu(x) through
same = nn.BasicBlock(8, 8)
nn.init.zeros_(same.bn2.weight)
x = dg.randn(2, 8, 5, 5)
print("F = 0 gives relu(x):", np.allclose(same(x).detach().numpy(), np.maximum(x.numpy(), 0)))

# %% [markdown]
# ## 2. The degradation problem
#
# `models.ResNet(blocks=(n, n, n))` is the CIFAR network of the paper scaled to digits: a stem
# convolution, three stages of n blocks (28×28, 14×14, 7×7 pixels), global average pooling and a
# Linear layer, 6n + 2 layers in all. `plain=True` builds the same layers without shortcuts.
#
# We train three networks the same way (SGD with momentum, same seed, same batches): a shallow
# plain network, a deep plain network and the deep network with residual connections, and
# watch the **training** loss — the degradation problem is about optimization, not overfitting.

# %%
deep_n = 2 if SMALL else 6
channels = (4, 8, 8) if SMALL else (8, 16, 32)
epochs = 1 if SMALL else 3
variants = {
    "plain, shallow": dict(blocks=(1, 1, 1), plain=True),
    "plain, deep": dict(blocks=(deep_n,) * 3, plain=True),
    "residual, deep": dict(blocks=(deep_n,) * 3, plain=False),
}
histories, depths = {}, {}
for name, kwargs in variants.items():
    dg.manual_seed(0)
    net = ResNet(channels=channels, **kwargs)
    optimizer = SGD(net.parameters(), lr=0.05, momentum=0.9)
    trainer = Trainer(net, F.cross_entropy, optimizer, metrics=["accuracy"], progress=False)
    batches = DataLoader(
        train_small, batch_size=50, shuffle=True, generator=dg.Generator().manual_seed(0)
    )
    started = time.perf_counter()
    trainer.fit(batches, epochs=epochs)
    histories[name], depths[name] = trainer.history, net.depth
    print(
        f"{name:15s} depth {net.depth:2d}: final training loss "
        f"{trainer.history.epochs[-1]['loss']:.3f}, training accuracy "
        f"{trainer.history.epochs[-1]['accuracy']:.3f} "
        f"({time.perf_counter() - started:.0f} s)"
    )

# %%
fig, ax = plt.subplots(figsize=(7, 4))
for name, history in histories.items():
    loss = history.step_column("loss")
    smooth = np.convolve(loss, np.ones(5) / 5, mode="valid") if len(loss) > 10 else loss
    ax.plot(smooth, label=f"{name} ({depths[name]} layers)")
ax.set_xlabel("step")
ax.set_ylabel("training loss (moving average of 5 steps)")
ax.set_title("the degradation problem: deeper plain networks train worse")
ax.legend()
plt.show()

# %% [markdown]
# The deep plain network ends with a higher training loss than the shallow one, although it
# could represent everything the shallow one does; with shortcuts the same depth trains fastest.
# Batch norm keeps the deep plain network trainable at all — its gradients do not vanish — yet it
# still optimizes slowly. (We look at the training loss only: after so few steps at this large
# learning rate, batch norm's running statistics, which evaluation uses, have not settled.) The paper saw the same on CIFAR-10 and ImageNet: plain-34 worse than
# plain-18, ResNet-34 better than ResNet-18.
#
# From the command line: `deepgrad train mnist-resnet` (add `--set plain=true` for the plain twin,
# `--set blocks=6x6x6` for depth 38), or both at once with
# `deepgrad compare mnist-resnet --vary plain=false,true --set blocks=6x6x6`.

# %% [markdown]
# ## 3. A committee beats its average member
#
# `models.Ensemble(models)` averages the members' class probabilities,
# p(c | x) = (1/K) Σ_k softmax(f_k(x))_c; its forward returns log p, so `F.cross_entropy` and the
# Trainer's accuracy work on it as on one network. We train K LeNet-5s that differ only in their
# seed (initialization and batch order).

# %%
K = 3 if SMALL else 5
member_epochs = 1 if SMALL else 4
members = []
for seed in range(K):
    dg.manual_seed(seed)
    net = LeNet5()
    trainer = Trainer(net, F.cross_entropy, Adam(net.parameters(), lr=1e-3), progress=False)
    batches = DataLoader(
        train_set if not SMALL else train_small,
        batch_size=64,
        shuffle=True,
        generator=dg.Generator().manual_seed(seed),
    )
    trainer.fit(batches, epochs=member_epochs)
    members.append(net.eval())

committee = Ensemble(members)
x, y = dg.tensor(x_test), np.asarray(y_test)
member_errors = (committee.member_predictions(x).numpy() != y).mean(axis=1)
committee_error = float((committee.predict(x).numpy() != y).mean())
for seed, error in enumerate(member_errors):
    print(f"member {seed}: test error {error:.2%}")
print(f"average member: {member_errors.mean():.2%}   committee of {K}: {committee_error:.2%}")

# %% [markdown]
# How does the error fall as members join? The committee of the first k members, for k = 1..K:

# %%
sizes = list(range(1, K + 1))
errors_by_size = [float((Ensemble(members[:k]).predict(x).numpy() != y).mean()) for k in sizes]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.bar([str(s) for s in range(K)], 100 * member_errors, color="0.75", label="each member")
ax.axhline(100 * member_errors.mean(), ls="--", color="C0", label="average member")
ax.plot(
    [str(k - 1) for k in sizes],
    [100 * e for e in errors_by_size],
    "o-",
    color="C3",
    label="committee of members 0..k",
)
ax.set_xlabel("member")
ax.set_ylabel("test error (%)")
ax.set_ylim(0, 1.5 * 100 * member_errors.max())  # room for the legend above the bars
ax.legend(loc="upper center", ncol=3, fontsize="small")
plt.show()

# %% [markdown]
# The committee errs less often than its average member (usually less than its best member
# too): where one network hesitates or errs, the others often outvote it. The gain is largest
# when the members' mistakes differ — different seeds help a little, different distortions of
# the training digits more (Ciresan et al. trained each of their 35 members on differently
# distorted digits).
#
# From the command line: `deepgrad train mnist-cnn --committee 5 --augment --set
# distortion=elastic` trains five members on elastically distorted digits and writes
# committee.json and committee.png beside the members' run folders.
