# Source of notebooks/10_compile.ipynb (python notebooks/_build.py writes the notebook).

# %% [markdown]
# # Lab 10 — Compiling a training step: the data-flow graph
#
# The first tools of deep learning did not run your Python line by line. Theano (2010) and
# TensorFlow 1 (2015) had you *build a graph* first: nodes are operations, edges carry arrays.
# The graph was then optimized (repeated work removed, unstable formulas replaced) and run as a
# whole. Today PyTorch runs eagerly, line by line, and `torch.compile` (like JAX's `jit`) turns a
# function back into a graph by *tracing* it.
#
# `deepgrad.compile` does the same, in code you can read (`deepgrad/compile/`):
#
# 1. **trace**: run the function once and record every primitive it calls (`Linear`, `Relu`,
#    ...), the `backward()` call, the optimizer step, in-place updates and random draws;
# 2. **optimize** the graph with small passes: simplification, constant folding, common
#    subexpressions, dead code, elementwise fusion, a memory plan;
# 3. **run** the program: each primitive's own forward and backward on raw arrays, with no
#    autograd bookkeeping in between.

# %%
import os
import sys
import time
import warnings

# set by CI: fewer steps and smaller sizes
SMALL = os.environ.get("DEEPGRAD_NOTEBOOK_SMALL") == "1"

import numpy as np

try:
    import deepgrad as dg
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, os.path.abspath(".."))
    import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn

# %% [markdown]
# ## 1. A first graph, and what the passes do to it
#
# `explain(fn, *args)` traces one call and prints the graph before and after the passes.
# Look for the two rewrites Theano made famous: `log(softmax(x))` becomes `log_softmax(x)`
# (a probability that underflows to 0 would give `-inf`), and `log(1 + x)` becomes `log1p(x)`
# (for tiny `x`, `1 + x` rounds to 1). The `exp` chain of elementwise ops becomes one *fusion
# group*: one generated function of NumPy calls writing into buffers that every call reuses.


# %%
def scores(x):
    p = dg.log(dg.softmax(x, dim=1))
    q = dg.log(1 + x.abs())
    return p, (q * 2.0 + 1.0).exp()


with np.errstate(divide="ignore"):  # the traced call computes log(0) = -inf, on purpose
    report = dg.compile.explain(scores, dg.tensor([[1e-20, 60.0, -60.0]]))

# %% [markdown]
# ## 2. A whole training step
#
# Compile the *whole* step (zero_grad, forward, loss, backward, optimizer step). The first two
# calls run eagerly and trace (the second trace checks that only the data changed); from the
# third call on the compiled program runs. With the same seed, the losses and the weights are
# exactly those of eager mode, dropout masks included: the program draws from the same
# generator, in the same order.

# %%
sizes = (64, 128, 10) if SMALL else (784, 512, 10)
batch, steps = (32, 6) if SMALL else (128, 30)
rng = np.random.default_rng(0)
xs = [dg.tensor(rng.standard_normal((batch, sizes[0])).astype("float32")) for _ in range(steps)]
ys = [dg.tensor(rng.integers(0, sizes[2], batch)) for _ in range(steps)]


def make_step():
    dg.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(sizes[0], sizes[1]), nn.ReLU(), nn.Dropout(0.2), nn.Linear(sizes[1], sizes[2])
    )
    opt = dg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def train_step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, train_step


losses = {}
for mode in ("eager", "compiled"):
    model, train_step = make_step()
    step = dg.compile(train_step) if mode == "compiled" else train_step
    dg.manual_seed(1)
    start = time.perf_counter()
    losses[mode] = [step(x, y).item() for x, y in zip(xs, ys)]
    print(f"{mode:9s} {time.perf_counter() - start:.3f} s for {steps} steps")
print("same losses:", losses["eager"] == losses["compiled"])

# %% [markdown]
# ## 3. What the compiled step runs
#
# The report lists the graph (one `Linear` primitive per layer: deepgrad's fused affine op),
# the backward rules in the order the engine would run them, and the time of each step of one
# compiled call. The matrix products dominate: compiling removes the Python work *around* them,
# so it pays most for small layers and many cheap ops. (`explain` runs the step twice.)

# %%
model, train_step = make_step()
report = dg.compile.explain(train_step, xs[0], ys[0])

# %% [markdown]
# ## 4. Graph breaks
#
# A graph records *operations*, not Python decisions. When the function reads a tensor's value
# into Python (`if loss > 1:`, `float(t)`, `t.item()`), the next operations depend on the data,
# and one graph cannot stand for every call. `deepgrad.compile` reports a *graph break* with the
# line, and the function runs eagerly from then on (`fullgraph=True` raises instead).


# %%
def clipped(x):
    y = (x * x).sum()
    if y > 10:  # a Python decision on a tensor's value
        return y / 10
    return y


with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    dg.compile(clipped)(dg.ones(5))
print(caught[0].message)

# %% [markdown]
# ## Exercises
#
# 1. Compile a step with `passes=()` and with the default passes; compare the `explain`
#    reports and the time per call.
# 2. Write `t = x.exp(); return t.log()` and find the rewrite in the report. When is
#    `exp(log(x)) -> x` *not* the same function?
# 3. Call a compiled function with a new batch size. How many programs does
#    `step.programs` hold afterwards? What does `cache_size_limit` protect against?
