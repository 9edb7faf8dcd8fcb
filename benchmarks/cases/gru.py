"""Single-layer GRU forward + backward (issue 13): input 32, hidden 128, sequence 50, batch 64,
loss = sum of the outputs. The NumPy implementation goes op by op through the time steps (one
hidden GEMM per step, the input projection of all steps in one GEMM), PyTorch's gate layout
(r, z, n) and its formula n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

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
        gru = lib.nn.GRU(I, H)
        x = lib.from_numpy(_data())

        def step():
            out, _ = gru(x)
            out.sum().backward()
            for p in gru.parameters():
                p.grad = None

        return step

    return setup


def numpy_impl(config):
    rng = np.random.default_rng(0)
    x = _data()
    b = 1 / np.sqrt(H)
    w_ih = rng.uniform(-b, b, (3 * H, I)).astype(np.float32)
    w_hh = rng.uniform(-b, b, (3 * H, H)).astype(np.float32)
    b_ih = rng.uniform(-b, b, 3 * H).astype(np.float32)
    b_hh = rng.uniform(-b, b, 3 * H).astype(np.float32)

    def sigmoid(v):
        return 0.5 * np.tanh(0.5 * v) + 0.5

    def step():
        xg = (x.reshape(-1, I) @ w_ih.T + b_ih).reshape(T, B, 3 * H)
        h = np.zeros((B, H), np.float32)
        cache = []
        for t in range(T):
            hg = h @ w_hh.T + b_hh
            r = sigmoid(xg[t, :, :H] + hg[:, :H])
            z = sigmoid(xg[t, :, H : 2 * H] + hg[:, H : 2 * H])
            n = np.tanh(xg[t, :, 2 * H :] + r * hg[:, 2 * H :])
            cache.append((r, z, n, h, hg[:, 2 * H :]))
            h = n + z * (h - n)
        dxg = np.empty_like(xg)
        dhg_all = np.empty((T, B, 3 * H), np.float32)
        dh_next = np.zeros((B, H), np.float32)
        for t in reversed(range(T)):
            r, z, n, h_prev, hn = cache[t]
            dh = 1.0 + dh_next
            dn = dh * (1 - z) * (1 - n * n)
            dz = dh * (h_prev - n) * z * (1 - z)
            dr = dn * hn * r * (1 - r)
            dxg[t, :, :H], dxg[t, :, H : 2 * H], dxg[t, :, 2 * H :] = dr, dz, dn
            dhg = dhg_all[t]
            dhg[:, :H], dhg[:, H : 2 * H], dhg[:, 2 * H :] = dr, dz, dn * r
            dh_next = dh * z + dhg @ w_hh
        hs = np.stack([c[3] for c in cache]).reshape(-1, H)
        dw_hh = dhg_all.reshape(-1, 3 * H).T @ hs
        dw_ih = dxg.reshape(-1, 3 * H).T @ x.reshape(-1, I)
        return dw_ih, dw_hh, dxg.sum((0, 1)), dhg_all.sum((0, 1))

    return step


CASE = Case(
    name="gru",
    description="single-layer GRU fwd+bwd, input 32, hidden 128, sequence 50, batch 64",
    implementations={
        "deepgrad": _module_impl("deepgrad"),
        "torch": _module_impl("torch"),
        "numpy": numpy_impl,
    },
)
