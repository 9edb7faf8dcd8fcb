"""MLP training step written with tensor ops only (issue 2): 784-1000-500-100-10, ReLU,
softmax cross-entropy written from log/exp/sum, plain SGD. Batch 128 (``--config '{"batch": 1000}'``)."""

from cases._mlp_data import data, numpy_step, weights
from harness import Case

LR = 0.01


def deepgrad_impl(config):
    import deepgrad as dg

    batch = config["batch"]
    x_np, y_np = data(batch)
    x = dg.from_numpy(x_np)
    onehot = dg.from_numpy((y_np[:, None] == range(10)).astype("float32"))
    params = []
    for w, b in weights():
        params += [dg.tensor(w, requires_grad=True), dg.tensor(b, requires_grad=True)]

    def step():
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i < len(params) - 2:
                h = h.relu()
        shifted = h - h.amax(dim=1, keepdim=True).detach()
        log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
        loss = -(log_probs * onehot).sum() / batch
        loss.backward()
        with dg.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None

    return step


def torch_impl(config):
    import torch

    batch = config["batch"]
    x_np, y_np = data(batch)
    x = torch.from_numpy(x_np)
    onehot = torch.from_numpy((y_np[:, None] == range(10)).astype("float32"))
    params = []
    for w, b in weights():
        params += [torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)]

    def step():
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i < len(params) - 2:
                h = h.relu()
        shifted = h - h.amax(dim=1, keepdim=True).detach()
        log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
        loss = -(log_probs * onehot).sum() / batch
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None

    return step


def numpy_impl(config):
    return numpy_step(config["batch"], LR)


CASE = Case(
    name="mlp_tensor",
    description="MLP 784-1000-500-100-10 training step from tensor ops (log/exp/sum CE, SGD)",
    implementations={"deepgrad": deepgrad_impl, "torch": torch_impl, "numpy": numpy_impl},
    config={"batch": 128},
)
