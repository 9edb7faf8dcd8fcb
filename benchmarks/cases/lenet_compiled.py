"""The LeNet-5 training step compiled (issue 14): deepgrad.compile against eager deepgrad, PyTorch
eager and torch.compile. The model, data and SGD step of the ``lenet`` case (28x28 inputs,
batch 128); one step is the whole compiled function: zero_grad, forward, loss, backward,
optimizer step. Compile times go to stderr.
"""

from harness import Case

from cases._compiled_common import implementations
from cases.lenet import LR, _data, _model


def _build(lib, config):
    model = _model(lib.nn)
    x_np, y_np = _data(config["batch"])
    x, y = lib.from_numpy(x_np), lib.from_numpy(y_np.astype("int64"))
    loss_fn = lib.nn.CrossEntropyLoss()
    opt = lib.optim.SGD(model.parameters(), lr=LR)

    def train_step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return train_step, (x, y)


CASE = Case(
    name="lenet_compiled",
    description="LeNet-5 SGD step: deepgrad.compile vs eager vs torch(.compile)",
    implementations=implementations("lenet_compiled", _build),
    reference=("torch", "torch_compile"),
    config={"batch": 128},
)
