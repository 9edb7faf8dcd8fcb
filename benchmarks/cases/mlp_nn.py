"""MNIST MLP training step through nn (issue 3): nn.Sequential(Linear, ReLU, ...) 784-1000-500-100-10,
CrossEntropyLoss, SGD. Batch 128 (``--config '{"batch": 1000}'`` for the large batch)."""

from harness import Case

from cases._mlp_data import SIZES, data, numpy_step, weights

LR = 0.01


def _layers(nn):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(SIZES) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def deepgrad_impl(config):
    import deepgrad as dg
    from deepgrad import nn, optim

    model = _layers(nn)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for layer, (w, b) in zip(linears, weights()):
        layer.weight.data.copy_(dg.from_numpy(w.T.copy()))
        layer.bias.data.copy_(dg.from_numpy(b))
    x_np, y_np = data(config["batch"])
    x, y = dg.from_numpy(x_np), dg.from_numpy(y_np.astype("int64"))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=LR)

    def step():
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def torch_impl(config):
    import torch
    from torch import nn

    model = _layers(nn)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for layer, (w, b) in zip(linears, weights()):
            layer.weight.copy_(torch.from_numpy(w.T.copy()))
            layer.bias.copy_(torch.from_numpy(b))
    x_np, y_np = data(config["batch"])
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np.astype("int64"))
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR)

    def step():
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def numpy_impl(config):
    return numpy_step(config["batch"], LR)


CASE = Case(
    name="mlp_nn",
    description="MNIST MLP 784-1000-500-100-10 step: nn.Sequential + CrossEntropyLoss + SGD",
    implementations={"deepgrad": deepgrad_impl, "torch": torch_impl, "numpy": numpy_impl},
    config={"batch": 128},
)
