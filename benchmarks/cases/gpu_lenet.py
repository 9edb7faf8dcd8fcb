"""GPU: LeNet-5 training step on 28x28 inputs at batch 512 (issue 7): conv 1->6 5x5, max-pool 2, conv 6->16
5x5, max-pool 2, 256->120->84->10, ReLU, cross-entropy, SGD. deepgrad on CUDA vs PyTorch on CUDA (target:
at most 2x) and vs deepgrad on the CPU."""

import numpy as np
from harness import Case

from cases._gpu_common import implementations, library_on

LR = 0.01


def _setup_for(library: str, device: str):
    def setup(config):
        lib, synchronize = library_on(library, device)
        nn = lib.nn
        lib.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(1, 6, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(256, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, 10),
        ).to(device)
        rng = np.random.default_rng(0)
        batch = config["batch"]
        x = lib.from_numpy(rng.random((batch, 1, 28, 28), dtype=np.float32)).to(device)
        y = lib.from_numpy(rng.integers(0, 10, batch).astype("int64")).to(device)
        loss_fn = nn.CrossEntropyLoss()
        opt = lib.optim.SGD(model.parameters(), lr=LR)

        def step():
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            synchronize()

        return step

    return setup


CASE = Case(
    name="gpu_lenet",
    description="GPU: LeNet-5 training step, 28x28 inputs, batch 512, SGD",
    implementations=implementations(_setup_for),
    reference=("torch_cuda", "deepgrad_cpu"),
    config={"batch": 512},
)
