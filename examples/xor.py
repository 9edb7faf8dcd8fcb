"""Fit a 2-layer network on XOR with tensors, autograd and hand-written SGD.

The smallest end-to-end use of deepgrad's core: no nn, no optim. Run:
    python examples/xor.py
"""

import deepgrad as dg


def main(epochs: int = 2000, learning_rate: float = 0.5, seed: int = 0) -> float:
    dg.manual_seed(seed)
    x = dg.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = dg.tensor([[0.0], [1.0], [1.0], [0.0]])
    w1 = (dg.randn(2, 8) * 1.0).requires_grad_()
    b1 = dg.zeros(8, requires_grad=True)
    w2 = (dg.randn(8, 1) * 0.5).requires_grad_()
    b2 = dg.zeros(1, requires_grad=True)
    for epoch in range(epochs):
        p = ((x @ w1 + b1).tanh() @ w2 + b2).sigmoid()
        loss = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
        loss.backward()
        with dg.no_grad():
            for param in (w1, b1, w2, b2):
                param -= learning_rate * param.grad
                param.grad = None
        if epoch % 500 == 0:
            print(f"epoch {epoch:5d}  loss {loss.item():.4f}")
    predictions = (p > 0.5).float()
    accuracy = (predictions == y).float().mean().item()
    print(
        f"final loss {loss.item():.4f}, accuracy {accuracy:.0%}, predictions {predictions.reshape(-1).tolist()}"
    )
    return accuracy


if __name__ == "__main__":
    main()
