"""GPU: single-layer LSTM forward + backward at batch 256 (issue 7): input 32, hidden 128, sequence 50,
loss = sum of the outputs. deepgrad on CUDA vs PyTorch on CUDA (target: at most 2x; PyTorch runs cuDNN's
fused LSTM) and vs deepgrad on the CPU."""

import numpy as np
from harness import Case

from cases._gpu_common import implementations, library_on

T, I, H = 50, 32, 128


def _setup_for(library: str, device: str):
    def setup(config):
        lib, synchronize = library_on(library, device)
        lib.manual_seed(0)
        lstm = lib.nn.LSTM(I, H).to(device)
        x_np = np.random.default_rng(0).standard_normal((T, config["batch"], I)).astype(np.float32)
        x = lib.from_numpy(x_np).to(device)

        def step():
            out, _ = lstm(x)
            out.sum().backward()
            for p in lstm.parameters():
                p.grad = None
            synchronize()

        return step

    return setup


CASE = Case(
    name="gpu_lstm",
    description="GPU: single-layer LSTM fwd+bwd, input 32, hidden 128, sequence 50, batch 256",
    implementations=implementations(_setup_for),
    reference=("torch_cuda", "deepgrad_cpu"),
    config={"batch": 256},
)
