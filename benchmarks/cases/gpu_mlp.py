"""GPU: MNIST MLP training step 784-1000-500-100-10 at batch 1000 (issue 7), nn.Sequential + CrossEntropyLoss
+ SGD, deepgrad on CUDA vs PyTorch on CUDA (target: at most 1.3x) and vs deepgrad on the CPU (target: at
least 10x faster on the GPU). The same code runs in both libraries, with the same weights and data."""

import itertools

from harness import Case

from cases._gpu_common import implementations, library_on
from cases._mlp_data import SIZES, data, weights

LR = 0.01


def _setup_for(library: str, device: str):
    def setup(config):
        lib, synchronize = library_on(library, device)
        nn, optim = lib.nn, lib.optim
        layers = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(SIZES)):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(SIZES) - 2:
                layers.append(nn.ReLU())
        model = nn.Sequential(*layers)
        for layer, (w, b) in zip([m for m in model if isinstance(m, nn.Linear)], weights()):
            layer.weight.data.copy_(lib.from_numpy(w.T.copy()))
            layer.bias.data.copy_(lib.from_numpy(b))
        model.to(device)
        x_np, y_np = data(config["batch"])
        x, y = lib.from_numpy(x_np).to(device), lib.from_numpy(y_np.astype("int64")).to(device)
        loss_fn = nn.CrossEntropyLoss()
        opt = optim.SGD(model.parameters(), lr=LR)

        def step():
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            synchronize()

        return step

    return setup


CASE = Case(
    name="gpu_mlp",
    description="GPU: MNIST MLP 784-1000-500-100-10 step, batch 1000, nn.Sequential + CrossEntropyLoss + SGD",
    implementations=implementations(_setup_for),
    reference=("torch_cuda", "deepgrad_cpu"),
    config={"batch": 1000},
)
