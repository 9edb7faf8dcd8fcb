"""The MNIST MLP training step compiled (issue 14): deepgrad.compile against eager deepgrad, PyTorch
eager and torch.compile. 784-1000-500-100-10, ReLU, cross-entropy, SGD; batch 128
(``--config '{"batch": 1000}'`` for the large batch).

One step is the whole compiled function: zero_grad, forward, loss, backward, optimizer step.
The compiled implementations run their first calls (the traces, torch.compile's compilation)
in setup and print the compile time to stderr.
"""

import itertools
import sys
import time

from harness import Case

from cases._mlp_data import SIZES, data, weights

LR = 0.01


def _setup(library: str, compiled: bool):
    def setup(config):
        import importlib

        lib = importlib.import_module(library)
        nn, optim = lib.nn, importlib.import_module(f"{library}.optim")
        F = importlib.import_module(f"{library}.nn.functional")
        layers = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(SIZES)):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(SIZES) - 2:
                layers.append(nn.ReLU())
        model = nn.Sequential(*layers)
        linears = [m for m in model if isinstance(m, nn.Linear)]
        for layer, (w, b) in zip(linears, weights()):
            layer.weight.data.copy_(lib.from_numpy(w.T.copy()))
            layer.bias.data.copy_(lib.from_numpy(b))
        x_np, y_np = data(config["batch"])
        x, y = lib.from_numpy(x_np), lib.from_numpy(y_np.astype("int64"))
        opt = optim.SGD(model.parameters(), lr=LR)

        def train_step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        if not compiled:
            return lambda: train_step(x, y)
        fn = lib.compile(train_step)
        start = time.perf_counter()
        for _ in range(3):  # deepgrad traces twice, then runs the program; torch compiles once
            fn(x, y)
        print(
            f"mlp_compiled: {library}.compile: first 3 calls {time.perf_counter() - start:.2f} s",
            file=sys.stderr,
        )
        return lambda: fn(x, y)

    return setup


CASE = Case(
    name="mlp_compiled",
    description="MLP 784-1000-500-100-10 SGD step: deepgrad.compile vs eager vs torch(.compile)",
    implementations={
        "deepgrad": _setup("deepgrad", compiled=False),
        "deepgrad_compiled": _setup("deepgrad", compiled=True),
        "torch": _setup("torch", compiled=False),
        "torch_compile": _setup("torch", compiled=True),
    },
    reference=("torch", "torch_compile"),
    config={"batch": 128},
)
