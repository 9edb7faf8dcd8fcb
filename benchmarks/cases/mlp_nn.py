"""MNIST MLP training step through nn (issue 3): nn.Sequential(Linear, ReLU, ...) 784-1000-500-100-10,
CrossEntropyLoss, SGD. Batch 128 (``--config '{"batch": 1000}'`` for the large batch)."""

import itertools

from harness import Case

from cases._mlp_data import SIZES, data, numpy_step, weights

LR = 0.01


def _layers(nn):
    layers = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(SIZES)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(SIZES) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _module_impl(library: str):
    """The same code for deepgrad and PyTorch: deepgrad speaks PyTorch's API."""

    def setup(config):
        import importlib

        lib = importlib.import_module(library)
        nn, optim = lib.nn, importlib.import_module(f"{library}.optim")
        model = _layers(nn)
        linears = [m for m in model if isinstance(m, nn.Linear)]
        for layer, (w, b) in zip(linears, weights()):
            layer.weight.data.copy_(lib.from_numpy(w.T.copy()))
            layer.bias.data.copy_(lib.from_numpy(b))
        x_np, y_np = data(config["batch"])
        x, y = lib.from_numpy(x_np), lib.from_numpy(y_np.astype("int64"))
        loss_fn = nn.CrossEntropyLoss()
        opt = optim.SGD(model.parameters(), lr=LR)

        def step():
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        return step

    return setup


def numpy_impl(config):
    return numpy_step(config["batch"], LR)


CASE = Case(
    name="mlp_nn",
    description="MNIST MLP 784-1000-500-100-10 step: nn.Sequential + CrossEntropyLoss + SGD",
    implementations={
        "deepgrad": _module_impl("deepgrad"),
        "torch": _module_impl("torch"),
        "numpy": numpy_impl,
    },
    config={"batch": 128},
)
