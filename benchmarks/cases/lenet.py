"""LeNet-5 training step on 28x28 inputs, batch 128 (issue 3): conv 1->6 5x5, max-pool 2, conv 6->16
5x5, max-pool 2, 256->120->84->10, ReLU, cross-entropy, SGD. The NumPy implementation is a plain
im2col version (one reshape-copy per conv, scatter-add col2im), the "naive NumPy" of docs/performance.md, note 4."""

import numpy as np
from harness import Case

LR = 0.01


def _data(batch):
    rng = np.random.default_rng(0)
    return rng.random((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch)


def _model(nn):
    return nn.Sequential(
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
    )


def _module_impl(library: str):
    """The same code for deepgrad and PyTorch: deepgrad speaks PyTorch's API."""

    def setup(config):
        import importlib

        lib = importlib.import_module(library)
        optim = importlib.import_module(f"{library}.optim")
        lib.manual_seed(0)
        model = _model(lib.nn)
        x_np, y_np = _data(config["batch"])
        x, y = lib.from_numpy(x_np), lib.from_numpy(y_np.astype("int64"))
        loss_fn = lib.nn.CrossEntropyLoss()
        opt = optim.SGD(model.parameters(), lr=LR)

        def step():
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        return step

    return setup


def _im2col(x, k):
    n, c, h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))  # n c oh ow k k
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * k * k), (n, oh, ow)


def _col2im(cols, shape, k):
    n, c, h, w = shape
    oh, ow = h - k + 1, w - k + 1
    cols = cols.reshape(n, oh, ow, c, k, k)
    dx = np.zeros(shape, dtype=cols.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, :, i : i + oh, j : j + ow] += cols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dx


def _pool(x):
    n, c, h, w = x.shape
    r = x.reshape(n, c, h // 2, 2, w // 2, 2)
    y = r.max(axis=(3, 5))
    mask = r == y[:, :, :, None, :, None]
    return y, mask


def numpy_impl(config):
    rng = np.random.default_rng(0)
    x, y = _data(config["batch"])
    batch = len(y)
    onehot = np.eye(10, dtype=np.float32)[y]

    def u(fan_in, shape):
        b = 1 / np.sqrt(fan_in)
        return rng.uniform(-b, b, shape).astype(np.float32)

    p = {
        "w1": u(25, (6, 25)),
        "b1": u(25, 6),
        "w2": u(150, (16, 150)),
        "b2": u(150, 16),
        "w3": u(256, (256, 120)),
        "b3": u(256, 120),
        "w4": u(120, (120, 84)),
        "b4": u(120, 84),
        "w5": u(84, (84, 10)),
        "b5": u(84, 10),
    }

    def step():
        c1, (n, oh, ow) = _im2col(x, 5)
        z1 = (c1 @ p["w1"].T + p["b1"]).reshape(n, oh, ow, 6).transpose(0, 3, 1, 2)
        a1 = np.maximum(z1, 0)
        m1, mask1 = _pool(a1)
        c2, (_, oh2, ow2) = _im2col(m1, 5)
        z2 = (c2 @ p["w2"].T + p["b2"]).reshape(n, oh2, ow2, 16).transpose(0, 3, 1, 2)
        a2 = np.maximum(z2, 0)
        m2, mask2 = _pool(a2)
        f = m2.reshape(n, 256)
        h3 = np.maximum(f @ p["w3"] + p["b3"], 0)
        h4 = np.maximum(h3 @ p["w4"] + p["b4"], 0)
        logits = h4 @ p["w5"] + p["b5"]
        e = np.exp(logits - logits.max(1, keepdims=True))
        g = (e / e.sum(1, keepdims=True) - onehot) / batch
        grads = {"w5": h4.T @ g, "b5": g.sum(0)}
        g = (g @ p["w5"].T) * (h4 > 0)
        grads.update(w4=h3.T @ g, b4=g.sum(0))
        g = (g @ p["w4"].T) * (h3 > 0)
        grads.update(w3=f.T @ g, b3=g.sum(0))
        g = (g @ p["w3"].T).reshape(m2.shape)
        g = (mask2 * g[:, :, :, None, :, None]).reshape(a2.shape) * (z2 > 0)
        g2 = g.transpose(0, 2, 3, 1).reshape(-1, 16)
        grads.update(w2=g2.T @ c2, b2=g2.sum(0))
        g = _col2im(g2 @ p["w2"], m1.shape, 5)
        g = (mask1 * g[:, :, :, None, :, None]).reshape(a1.shape) * (z1 > 0)
        g1 = g.transpose(0, 2, 3, 1).reshape(-1, 6)
        grads.update(w1=g1.T @ c1, b1=g1.sum(0))
        for k, v in grads.items():
            p[k] -= LR * v

    return step


CASE = Case(
    name="lenet",
    description="LeNet-5 training step, 28x28 inputs (conv-pool-conv-pool-3 linear), SGD",
    implementations={
        "deepgrad": _module_impl("deepgrad"),
        "torch": _module_impl("torch"),
        "numpy": numpy_impl,
    },
    config={"batch": 128},
)
