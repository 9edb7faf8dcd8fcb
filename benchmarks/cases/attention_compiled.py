"""The attention block's training step compiled (issue 14): deepgrad.compile against eager
deepgrad, PyTorch eager and torch.compile. The pre-norm causal self-attention + MLP block and
data of the ``attention_block`` case (B=32, T=64, d=128, 4 heads, loss = mean of the outputs),
as a whole SGD step: zero_grad, forward, loss, backward, optimizer step (that case times
forward + backward only). Compile times go to stderr.
"""

from harness import Case

from cases._compiled_common import implementations
from cases.attention_block import _block, _data


def _build(lib, config):
    block = _block(lib)
    x = lib.from_numpy(_data())
    opt = lib.optim.SGD(block.parameters(), lr=0.01)

    def train_step(x):
        opt.zero_grad()
        loss = block(x).mean()
        loss.backward()
        opt.step()
        return loss

    return train_step, (x,)


CASE = Case(
    name="attention_compiled",
    description="attention + MLP block SGD step: deepgrad.compile vs eager vs torch(.compile)",
    implementations=implementations("attention_compiled", _build),
    reference=("torch", "torch_compile"),
    config={},
)
