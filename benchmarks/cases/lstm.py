"""Single-layer LSTM forward + backward (issue 3): input 32, hidden 128, sequence 50, batch 64,
loss = sum of the outputs. The NumPy implementation goes op by op through the time steps (one
gate GEMM per step, input projection per step), the "op by op" NumPy of docs/performance.md, note 6."""

import numpy as np
from harness import Case

T, B, I, H = 50, 64, 32, 128


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((T, B, I)).astype(np.float32)


def _module_impl(library: str):
    """The same code for deepgrad and PyTorch: deepgrad speaks PyTorch's API."""

    def setup(config):
        import importlib

        lib = importlib.import_module(library)
        lib.manual_seed(0)
        lstm = lib.nn.LSTM(I, H)
        x = lib.from_numpy(_data())

        def step():
            out, _ = lstm(x)
            out.sum().backward()
            for p in lstm.parameters():
                p.grad = None

        return step

    return setup


def _without_numba(setup):
    """deepgrad with its numba kernels switched off (its plain NumPy path), for the same-run comparison."""

    def wrapped(config):
        from deepgrad.backend.kernels import use_numba

        use_numba(False)
        return setup(config)

    return wrapped


def numpy_impl(config):
    rng = np.random.default_rng(0)
    x = _data()
    b = 1 / np.sqrt(H)
    w_ih = rng.uniform(-b, b, (4 * H, I)).astype(np.float32)
    w_hh = rng.uniform(-b, b, (4 * H, H)).astype(np.float32)
    bias = rng.uniform(-b, b, 4 * H).astype(np.float32)

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    def step():
        h = np.zeros((B, H), np.float32)
        c = np.zeros((B, H), np.float32)
        cache = []
        for t in range(T):
            gates = x[t] @ w_ih.T + h @ w_hh.T + bias
            i, f, g, o = (
                sigmoid(gates[:, :H]),
                sigmoid(gates[:, H : 2 * H]),
                np.tanh(gates[:, 2 * H : 3 * H]),
                sigmoid(gates[:, 3 * H :]),
            )
            c_prev, h_prev = c, h
            c = f * c + i * g
            tc = np.tanh(c)
            h = o * tc
            cache.append((i, f, g, o, c_prev, h_prev, tc))
        dw_ih = np.zeros_like(w_ih)
        dw_hh = np.zeros_like(w_hh)
        dbias = np.zeros_like(bias)
        dh_next = np.zeros((B, H), np.float32)
        dc_next = np.zeros((B, H), np.float32)
        for t in reversed(range(T)):
            i, f, g, o, c_prev, h_prev, tc = cache[t]
            dh = 1.0 + dh_next
            do = dh * tc
            dc = dh * o * (1 - tc * tc) + dc_next
            di, dg_, df = dc * g, dc * i, dc * c_prev
            dc_next = dc * f
            dgates = np.concatenate(
                [di * i * (1 - i), df * f * (1 - f), dg_ * (1 - g * g), do * o * (1 - o)], 1
            )
            dw_ih += dgates.T @ x[t]
            dw_hh += dgates.T @ h_prev
            dbias += dgates.sum(0)
            dh_next = dgates @ w_hh
        return dw_ih, dw_hh, dbias

    return step


CASE = Case(
    name="lstm",
    description="single-layer LSTM fwd+bwd, input 32, hidden 128, sequence 50, batch 64",
    implementations={
        "deepgrad": _module_impl("deepgrad"),
        "deepgrad-numpy": _without_numba(_module_impl("deepgrad")),
        "torch": _module_impl("torch"),
        "numpy": numpy_impl,
    },
)
