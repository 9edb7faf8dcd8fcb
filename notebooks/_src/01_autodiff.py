# Source of notebooks/01_autodiff.ipynb (python notebooks/_build.py writes the notebook).

# %% [markdown]
# # Lab 1 — Automatic differentiation and the computational graph
#
# Deep learning frameworks let us train "large and highly complex models with deeply cascaded
# nonlinearities" because they compute gradients for us. They do it by recording a
# **computational graph** while the forward pass runs, then walking it backwards, applying the
# chain rule at each node (*reverse-mode automatic differentiation*, or *backpropagation*).
#
# This lab takes the small graph from the lecture,
#
# $$a = t_1 + t_2, \qquad b = a \odot t_3, \qquad c = \sum_{ij} b_{ij},$$
#
# computes its gradients **by hand** with NumPy, then lets **deepgrad** compute them, and draws
# the graph that deepgrad recorded.

# %%
import os
import shutil
import sys

SMALL = os.environ.get("DEEPGRAD_NOTEBOOK_SMALL") == "1"  # set by CI: nothing to shrink in this lab

import matplotlib.pyplot as plt
import numpy as np

try:
    import deepgrad as dg
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, os.path.abspath(".."))
    import deepgrad as dg
from deepgrad import nn
from deepgrad.viz import draw_graph, draw_graph_matplotlib

# %% [markdown]
# ## 1. Forward pass with NumPy
#
# Three random $4 \times 5$ tensors, exactly as on the slide (same seed, so the same numbers: the
# slide says $c \approx 8.80812307798$).

# %%
np.random.seed(0)
d1, d2 = 4, 5
t1_np = np.random.rand(d1, d2)
t2_np = np.random.rand(d1, d2)
t3_np = np.random.rand(d1, d2)

a_np = t1_np + t2_np
b_np = a_np * t3_np
c_np = np.sum(b_np)
print(f"c = {c_np:.11f}")
assert abs(c_np - 8.80812307798) < 1e-10  # the value printed on the slide

# %% [markdown]
# ## 2. Gradients by hand
#
# We want $\partial c / \partial t_1$, $\partial c / \partial t_2$ and $\partial c / \partial t_3$.
# Go **backwards** through the graph, one node at a time, multiplying local derivatives
# (the chain rule):
#
# | node | local rule | gradient |
# |---|---|---|
# | $c = \sum b$ | $\partial c / \partial b_{ij} = 1$ | `grad_b = ones` |
# | $b = a \odot t_3$ | $\partial b_{ij} / \partial a_{ij} = t_{3,ij}$, $\partial b_{ij} / \partial t_{3,ij} = a_{ij}$ | `grad_a = grad_b * t3`, `grad_t3 = grad_b * a` |
# | $a = t_1 + t_2$ | $\partial a / \partial t_1 = \partial a / \partial t_2 = 1$ | `grad_t1 = grad_t2 = grad_a` |
#
# Note that the backward pass needs values from the forward pass ($a$ and $t_3$): a framework
# must **save** them while computing forward.

# %%
grad_c = 1.0
grad_b = grad_c * np.ones((d1, d2))
grad_a = grad_b * t3_np
grad_t3 = grad_b * a_np
grad_t1 = grad_a.copy()
grad_t2 = grad_a.copy()
print("dc/dt1 =\n", grad_t1.round(3))

# %% [markdown]
# ## 3. The same with deepgrad
#
# Mark the inputs with `requires_grad=True`, write the forward pass as ordinary code, call
# `c.backward()`, and read `t.grad`. We use float64 so that the results agree with NumPy to the
# last digit (deepgrad computes in float32 by default).

# %%
t1 = dg.tensor(t1_np, requires_grad=True)
t2 = dg.tensor(t2_np, requires_grad=True)
t3 = dg.tensor(t3_np, requires_grad=True)

a = t1 + t2
b = a * t3
c = dg.sum(b)
c.backward()

print("c =", c.item())
for name, tensor, by_hand in [("t1", t1, grad_t1), ("t2", t2, grad_t2), ("t3", t3, grad_t3)]:
    difference = np.abs(tensor.grad.numpy() - by_hand).max()
    print(f"dc/d{name}: largest difference from the hand-computed gradient = {difference:.1e}")
    assert difference < 1e-12

# %% [markdown]
# ## 4. The graph deepgrad recorded
#
# Every tensor that was computed from tensors requiring a gradient keeps a `grad_fn`: the
# **node** of the operation that produced it. A node knows its operation (`node.fn`) and its
# inputs (`node.parents`): other nodes, or the *leaf* tensors we created. That is the whole graph.
# `deepgrad.viz.draw_graph` walks it and writes it in Graphviz's DOT language:

# %%
names = {"t1": t1, "t2": t2, "t3": t3}
print(draw_graph(c, params=names))

# %% [markdown]
# Drawn as a picture (with Graphviz when it is installed, otherwise with matplotlib). Data flows
# downwards: the leaves (blue) at the top, the result `c` (green) at the bottom. `backward()`
# visits the same nodes from the bottom up.

# %%
if shutil.which("dot"):
    from IPython.display import SVG, display

    display(SVG(draw_graph(c, format="svg", params=names)))
else:
    draw_graph_matplotlib(c, params=names)
    plt.show()

# %% [markdown]
# The same walk by hand, printing each node with its inputs. This is what `backward()` does,
# in reverse topological order, calling each operation's `backward` with the gradient flowing in:


# %%
def show(node, depth=0):
    if isinstance(node, dg.Tensor):
        print("    " * depth + f"leaf tensor {node.shape}")
        return
    print("    " * depth + f"{node.fn.__name__} -> output {node.shape}")
    for parent in node.parents:
        show(parent, depth + 1)


show(c.grad_fn)

# %% [markdown]
# ## 5. Checking gradients numerically
#
# How do we know a framework's gradients are right? Compare them with **finite differences**:
# $\frac{\partial c}{\partial x} \approx \frac{c(x + \epsilon) - c(x - \epsilon)}{2\epsilon}$.
# Let's nudge one entry of $t_1$ by hand, then let `deepgrad.autograd.gradcheck` check every entry.

# %%
eps = 1e-6
nudged_up, nudged_down = t1_np.copy(), t1_np.copy()
nudged_up[1, 2] += eps
nudged_down[1, 2] -= eps
numerical = (np.sum((nudged_up + t2_np) * t3_np) - np.sum((nudged_down + t2_np) * t3_np)) / (
    2 * eps
)
print(f"finite difference: {numerical:.8f}   autograd: {t1.grad.numpy()[1, 2]:.8f}")

from deepgrad.autograd import gradcheck

print("gradcheck:", gradcheck(lambda x, y, z: dg.sum((x + y) * z), (t1, t2, t3)))

# %% [markdown]
# ## 6. The graph of a neural network
#
# A neural network is just a bigger graph. Here is the 2-layer network of the lecture,
# $f(x) = W_2\,\mathrm{relu}(W_1 x + b_1) + b_2$, with a cross-entropy loss on a batch of 8
# examples. The parameters are the leaves (named by `model.named_parameters()`); the input batch
# needs no gradient, so it is not part of the graph. (`MatMul` with a `Permute` of the weight is
# how `x @ W.T` is computed; `SoftmaxCrossEntropy` is one fused operation for stability.)

# %%
dg.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
x = dg.randn(8, 4)
y = dg.tensor([0, 1, 1, 0, 1, 0, 0, 1])
loss = nn.functional.cross_entropy(model(x), y)

draw_graph_matplotlib(loss, params=model.named_parameters())
plt.show()

# %% [markdown]
# One `backward()` fills the gradient of every parameter, whatever the size of the graph:

# %%
loss.backward()
for name, parameter in model.named_parameters():
    shape = str(parameter.shape)
    print(f"{name:10s} shape {shape:8s} |grad| = {parameter.grad.norm().item():.4f}")

# %% [markdown]
# ## Exercises
#
# 1. Change the graph to $c = \sum (t_1 \odot t_2 + t_3)^2$. Derive the gradients by hand, then
#    check them with deepgrad and `gradcheck`.
# 2. What happens if you call `c.backward()` twice? Read the error message, then try
#    `c.backward(retain_graph=True)` and look at `t1.grad` after the second call.
# 3. Draw the graph of `dg.sigmoid(w @ x + b)` (the lecture's 1-layer network) for a weight
#    vector `w`, an input `x` and a bias `b`. Which nodes would disappear if `x` did not need a
#    gradient?
