"""Per-operation overhead: 100 small elementwise ops on 10-element tensors, forward + backward.

Reported per op. The NumPy implementation is a minimal hand-written tape (forward
saves what backward needs, backward replays it): the floor for a Python autograd.
"""

from harness import Case

N_OPS = 100  # 25 x (mul, add, tanh, sub)


def _tensor_impl(library: str):
    """The same code for deepgrad and PyTorch: deepgrad speaks PyTorch's API."""

    def setup(config):
        import importlib

        lib = importlib.import_module(library)
        lib.manual_seed(0)
        x0 = lib.randn(10, requires_grad=True)
        a = lib.rand(10) * 0.5 + 0.75
        b = lib.randn(10) * 0.1

        def step():
            x = x0
            for _ in range(N_OPS // 4):
                x = x * a
                x = x + b
                x = x.tanh()
                x = x - b
            x.sum().backward()
            x0.grad = None

        return step

    return setup


def numpy_impl(config):
    import numpy as np

    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(10).astype(np.float32)
    a = (rng.random(10) * 0.5 + 0.75).astype(np.float32)
    b = (rng.standard_normal(10) * 0.1).astype(np.float32)

    def step():
        tape = []
        x = x0
        for _ in range(N_OPS // 4):
            x = x * a
            tape.append(("mul", None))
            x = x + b
            tape.append(("add", None))
            x = np.tanh(x)
            tape.append(("tanh", x))
            x = x - b
            tape.append(("sub", None))
        g = np.ones_like(x)
        for op, saved in reversed(tape):
            if op == "mul":
                g = g * a
            elif op == "tanh":
                g = g * (1 - saved * saved)
        return g

    return step


CASE = Case(
    name="op_chain",
    description="chain of 100 elementwise ops on 10-element tensors, forward + backward, time per op",
    implementations={
        "deepgrad": _tensor_impl("deepgrad"),
        "torch": _tensor_impl("torch"),
        "numpy": numpy_impl,
    },
    per=N_OPS,
    unit="us",
)
