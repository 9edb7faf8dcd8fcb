"""Pre-norm causal self-attention + MLP block, forward + backward (issue 13): B=32, T=64, d=128,
4 heads. x + proj(sdpa(split(qkv(LayerNorm(x))), is_causal)), then + fc2(GELU(fc1(LayerNorm(.)))),
loss = sum of the outputs. The NumPy implementation is the same block written by hand with its
backward (float32, causal mask by -inf, exact erf GELU through scipy.special.erf in float64)."""

import numpy as np
from harness import Case

B, T, D, HEADS = 32, 64, 128, 4


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((B, T, D)).astype(np.float32)


def _block(lib):
    """The block as an nn.Module of ``lib`` (deepgrad or torch: the same code)."""
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
            self.qkv, self.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
            self.fc1, self.fc2 = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
            q, k, v = (z.reshape(b, t, HEADS, d // HEADS).transpose(1, 2) for z in (q, k, v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    return Block()


def _module_impl(library: str):
    """The same code for deepgrad and PyTorch: deepgrad speaks PyTorch's API."""

    def setup(config):
        import importlib

        lib = importlib.import_module(library)
        lib.manual_seed(0)
        block = _block(lib)
        x = lib.from_numpy(_data())

        def step():
            block(x).sum().backward()
            for p in block.parameters():
                p.grad = None

        return step

    return setup


def numpy_impl(config):
    from scipy.special import erf

    rng = np.random.default_rng(0)
    x = _data()
    dh = D // HEADS

    def lin(n_in, n_out):
        b = 1 / np.sqrt(n_in)
        return rng.uniform(-b, b, (n_out, n_in)).astype(np.float32), np.zeros(n_out, np.float32)

    w_qkv, b_qkv = lin(D, 3 * D)
    w_o, b_o = lin(D, D)
    w_1, b_1 = lin(D, 4 * D)
    w_2, _ = lin(4 * D, D)
    g1, g2 = np.ones(D, np.float32), np.ones(D, np.float32)
    causal = np.triu(np.full((T, T), -np.inf, np.float32), 1)
    scale = np.float32(1 / np.sqrt(dh))

    def ln(z, g):
        mu = z.mean(-1, keepdims=True)
        c = z - mu
        inv = 1 / np.sqrt((c * c).mean(-1, keepdims=True) + 1e-5)
        xh = c * inv
        return xh * g, (xh, inv)

    def ln_back(dy, g, cache):
        xh, inv = cache
        dxh = dy * g
        dg = (dy * xh).reshape(-1, D).sum(0)
        dx = inv * (dxh - dxh.mean(-1, keepdims=True) - xh * (dxh * xh).mean(-1, keepdims=True))
        return dx, dg

    def step():
        r = x.reshape(-1, D)
        h1, c1 = ln(r, g1)
        qkv = h1 @ w_qkv.T + b_qkv
        q, k, v = (
            qkv[:, i * D : (i + 1) * D].reshape(B, T, HEADS, dh).transpose(0, 2, 1, 3)
            for i in range(3)
        )
        s = (q @ k.transpose(0, 1, 3, 2)) * scale + causal
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        a = (p @ v).transpose(0, 2, 1, 3).reshape(-1, D)
        x1 = r + a @ w_o.T + b_o
        h2, c2 = ln(x1, g2)
        u = h2 @ w_1.T + b_1
        phi = (0.5 * (1 + erf(u.astype(np.float64) / np.sqrt(2)))).astype(np.float32)
        gel = u * phi
        # backward of sum(x1 + gel @ w_2.T + b_2)
        dy = np.ones_like(x1)
        dw_2, db_2 = dy.T @ gel, dy.sum(0)
        dgel = dy @ w_2
        du = dgel * (phi + u * np.exp(-0.5 * u * u) * np.float32(1 / np.sqrt(2 * np.pi)))
        dw_1, db_1 = du.T @ h2, du.sum(0)
        dx1, dg2 = ln_back(du @ w_1, g2, c2)
        dx1 += dy
        dw_o, db_o = dx1.T @ a, dx1.sum(0)
        da = (dx1 @ w_o).reshape(B, T, HEADS, dh).transpose(0, 2, 1, 3)
        dp = da @ v.transpose(0, 1, 3, 2)
        dv = p.transpose(0, 1, 3, 2) @ da
        ds = p * (dp - (dp * p).sum(-1, keepdims=True)) * scale
        dq, dk = ds @ k, ds.transpose(0, 1, 3, 2) @ q
        dqkv = np.concatenate([z.transpose(0, 2, 1, 3).reshape(-1, D) for z in (dq, dk, dv)], 1)
        dw_qkv, db_qkv = dqkv.T @ h1, dqkv.sum(0)
        dr, dg1 = ln_back(dqkv @ w_qkv, g1, c1)
        return dr + dx1, dw_qkv, db_qkv, dw_o, db_o, dw_1, db_1, dw_2, db_2, dg1, dg2

    return step


CASE = Case(
    name="attention_block",
    description="pre-norm causal attention + MLP block fwd+bwd, B=32 T=64 d=128, 4 heads",
    implementations={
        "deepgrad": _module_impl("deepgrad"),
        "torch": _module_impl("torch"),
        "numpy": numpy_impl,
    },
)
