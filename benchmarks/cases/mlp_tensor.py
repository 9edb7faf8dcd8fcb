"""MLP training step written with tensor ops only (issue 2): 784-1000-500-100-10, ReLU,
softmax cross-entropy written from log/exp/sum, plain SGD. Batch 128 (``--config '{"batch": 1000}'``)."""

from harness import Case

from cases._mlp_data import data, numpy_step, weights

LR = 0.01


def _tensor_impl(library: str):
    """The same code for deepgrad and PyTorch: deepgrad speaks PyTorch's API."""

    def setup(config):
        import importlib

        lib = importlib.import_module(library)
        batch = config["batch"]
        x_np, y_np = data(batch)
        x = lib.from_numpy(x_np)
        onehot = lib.from_numpy((y_np[:, None] == range(10)).astype("float32"))
        params = []
        for w, b in weights():
            params += [lib.tensor(w, requires_grad=True), lib.tensor(b, requires_grad=True)]

        def step():
            h = x
            for i in range(0, len(params), 2):
                h = h @ params[i] + params[i + 1]
                if i < len(params) - 2:
                    h = h.relu()
            shifted = h - h.amax(dim=1, keepdim=True).detach()
            log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
            loss = -(log_probs * onehot).sum() / batch
            loss.backward()
            with lib.no_grad():
                for p in params:
                    p -= LR * p.grad
                    p.grad = None

        return step

    return setup


def numpy_impl(config):
    return numpy_step(config["batch"], LR)


CASE = Case(
    name="mlp_tensor",
    description="MLP 784-1000-500-100-10 training step from tensor ops (log/exp/sum CE, SGD)",
    implementations={
        "deepgrad": _tensor_impl("deepgrad"),
        "torch": _tensor_impl("torch"),
        "numpy": numpy_impl,
    },
    config={"batch": 128},
)
