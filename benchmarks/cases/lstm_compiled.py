"""The LSTM training step compiled (issue 14): deepgrad.compile against eager deepgrad, PyTorch
eager and torch.compile. The layer and data of the ``lstm`` case (input 32, hidden 128,
sequence 50, batch 64, loss = mean of the outputs), as a whole SGD step: zero_grad, forward,
loss, backward, optimizer step (the ``lstm`` case times forward + backward only). Compile
times go to stderr.
"""

from harness import Case

from cases._compiled_common import implementations
from cases.lstm import H, I, _data


def _build(lib, config):
    lstm = lib.nn.LSTM(I, H)
    x = lib.from_numpy(_data())
    opt = lib.optim.SGD(lstm.parameters(), lr=0.01)

    def train_step(x):
        opt.zero_grad()
        out, _ = lstm(x)
        loss = out.mean()
        loss.backward()
        opt.step()
        return loss

    return train_step, (x,)


CASE = Case(
    name="lstm_compiled",
    description="LSTM (T=50, B=64, 32->128) SGD step: deepgrad.compile vs eager vs torch(.compile)",
    implementations=implementations("lstm_compiled", _build),
    reference=("torch", "torch_compile"),
    config={},
)
